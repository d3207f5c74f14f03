"""cronflare.Client and AsyncClient against a fake Worker (httpx.MockTransport): the exact requests,
how answers and errors are read, and which calls are retried.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pydantic
import pytest

import cronflare
from cronflare import client as client_module
from cronflare.client import (
    AsyncClient,
    BatchItem,
    Client,
    ClientError,
    Schedule,
    ScheduleChanges,
    ScheduleFields,
    SchedulePage,
    ScheduleSpec,
)

URL = "https://cronflare-dev.example.workers.dev"
TOKEN = "app-schedules-token"
STORED = {
    "id": "acme-digest", "job": "digest", "schedule": "0 9 * * 1", "timezone": "Europe/Berlin",
    "args": {"customer": "acme"}, "start": "2026-12-01T00:00:00.000Z", "end": None,
    "jitter": "5m", "paused": False, "external_id": "cust_42",
    "created_at": "2026-11-23T09:00:00.000Z", "updated_at": "2026-11-23T09:00:00.000Z",
    "next": ["2026-12-07T08:00:00.000Z", "2026-12-14T08:00:00.000Z"],
}  # fmt: skip
Answer = httpx.Response | Exception


@dataclass
class FakeWorker:
    """Answers each request with the next of `answers` (the last one repeats); records them."""

    answers: list[Answer] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    by_request: Callable[[httpx.Request], Answer] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = (
            self.by_request(request)
            if self.by_request
            else self.answers[min(len(self.requests), len(self.answers)) - 1]
        )
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        content = self.requests[index].content
        return json.loads(content) if content else None


def ok(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between attempts, recorded instead of slept (sync and async)."""
    slept: list[float] = []

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    monkeypatch.setattr(client_module.asyncio, "sleep", asleep)
    return slept


@pytest.fixture
def worker(sleeps: list[float]) -> FakeWorker:
    return FakeWorker()


@pytest.fixture
def api(worker: FakeWorker) -> Iterator[Client]:
    with Client(URL, TOKEN, transport=httpx.MockTransport(worker.handle)) as c:
        yield c


def async_api(worker: FakeWorker, **options: Any) -> AsyncClient:
    return AsyncClient(URL, TOKEN, transport=httpx.MockTransport(worker.handle_async), **options)


# -- what each call sends, and what it returns ---------------------------------------------------


def test_create_sends_only_the_fields_given_with_the_bearer_token(api: Client, worker: FakeWorker):
    """POST /jobs/<job>/schedules, JSON body of the fields given (instants in UTC with Z), the
    schedules token as Bearer; the 201 comes back as a typed Schedule.
    """
    worker.answers = [ok(STORED, 201)]
    berlin = timezone(timedelta(hours=1))
    made = api.schedules.create(
        "digest",
        id="acme-digest",
        schedule="0 9 * * 1",
        timezone="Europe/Berlin",
        args={"customer": "acme"},
        start=datetime(2026, 12, 1, 1, 0, tzinfo=berlin),
        jitter="5m",
        external_id="cust_42",
    )
    request = worker.last
    assert (request.method, str(request.url)) == ("POST", f"{URL}/jobs/digest/schedules")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert worker.body() == {
        "id": "acme-digest", "schedule": "0 9 * * 1", "timezone": "Europe/Berlin",
        "args": {"customer": "acme"}, "start": "2026-12-01T00:00:00.000Z", "jitter": "5m",
        "external_id": "cust_42",
    }  # fmt: skip
    assert isinstance(made, Schedule)
    assert made.start == datetime(2026, 12, 1, tzinfo=UTC) and made.end is None
    assert made.next == [
        datetime(2026, 12, 7, 8, tzinfo=UTC),
        datetime(2026, 12, 14, 8, tzinfo=UTC),
    ]
    assert (made.schedule, made.every, made.at, made.paused) == ("0 9 * * 1", None, None, False)


def test_create_of_an_existing_id_answers_the_existing_schedule(api: Client, worker: FakeWorker):
    """A 200 (the id exists for this job) is no error: the stored schedule comes back."""
    worker.answers = [ok(STORED, 200)]
    assert api.schedules.create("digest", id="acme-digest", every="15m").id == "acme-digest"


def test_create_sends_an_at_and_false_but_not_none(api: Client, worker: FakeWorker):
    """None means "not given" on create; False is a value and is sent."""
    at = {**STORED, "schedule": None, "at": "2026-12-24T09:00:00.000Z", "paused": True}
    worker.answers = [ok(at, 201)]
    made = api.schedules.create(
        "digest", at=datetime(2026, 12, 24, 9, tzinfo=UTC), paused=False, timezone=None
    )
    assert worker.body() == {"at": "2026-12-24T09:00:00.000Z", "paused": False}
    assert made.at == datetime(2026, 12, 24, 9, tzinfo=UTC) and made.schedule is None


@pytest.mark.parametrize(
    "when",
    [{}, {"schedule": "@daily", "every": "15m"},
     {"every": "1h", "at": datetime(2026, 12, 24, tzinfo=UTC)}],
)  # fmt: skip
def test_create_needs_exactly_one_of_schedule_every_at(
    api: Client, worker: FakeWorker, when: dict[str, Any]
):
    """Refused here, as a ValueError, before anything is sent."""
    with pytest.raises(ValueError, match="exactly one of schedule, every and at"):
        api.schedules.create("digest", **when)
    assert worker.requests == []


def test_naive_datetimes_are_refused_before_sending(api: Client, worker: FakeWorker):
    """A datetime without an offset would mean another instant on the Worker: ValueError."""
    naive = datetime(2026, 12, 1, 9, 0)
    with pytest.raises(ValueError, match="must have a UTC offset"):
        api.schedules.create("digest", every="15m", start=naive)
    with pytest.raises(ValueError, match="must have a UTC offset"):
        api.schedules.update("acme-digest", end=naive)
    with pytest.raises(ValueError, match="must have a UTC offset"):
        api.schedules.create_many("digest", [{"at": "2026-12-24T09:00:00"}])
    assert worker.requests == []


def test_get_percent_encodes_the_id(api: Client, worker: FakeWorker):
    """GET /schedules/<id>: the id is one path segment, whatever it holds."""
    worker.answers = [ok(STORED)]
    assert api.schedules.get("a/b c").job == "digest"
    assert (worker.last.method, worker.last.url.raw_path) == ("GET", b"/schedules/a%2Fb%20c")
    assert worker.last.content == b""


def test_list_sends_only_the_filters_given(api: Client, worker: FakeWorker):
    """external_id, cursor and limit go in the query when given; the page is typed."""
    worker.answers = [ok({"schedules": [STORED], "next_cursor": "c2"})]
    page = api.schedules.list("digest", external_id="cust_42", cursor="c1", limit=50)
    assert worker.last.url.path == "/jobs/digest/schedules"
    assert dict(worker.last.url.params) == {"external_id": "cust_42", "cursor": "c1", "limit": "50"}
    assert isinstance(page, SchedulePage) and page.next_cursor == "c2"
    assert [s.id for s in page.schedules] == ["acme-digest"]
    api.schedules.list("digest")
    assert dict(worker.last.url.params) == {}


def test_iterate_follows_the_cursors_to_the_last_page(api: Client, worker: FakeWorker):
    """Page after page until next_cursor is null, each request with the cursor it was given."""
    pages = {
        None: {"schedules": [{**STORED, "id": "a"}, {**STORED, "id": "b"}], "next_cursor": "b"},
        "b": {"schedules": [{**STORED, "id": "c"}], "next_cursor": "c"},
        "c": {"schedules": [], "next_cursor": None},
    }
    worker.by_request = lambda r: ok(pages[r.url.params.get("cursor")])
    ids = [s.id for s in api.schedules.iterate("digest", external_id="cust_42")]
    assert ids == ["a", "b", "c"]
    assert [dict(r.url.params) for r in worker.requests] == [
        {"external_id": "cust_42"},
        {"external_id": "cust_42", "cursor": "b"},
        {"external_id": "cust_42", "cursor": "c"},
    ]


def test_update_patches_only_the_fields_given_and_none_clears(api: Client, worker: FakeWorker):
    """PATCH /schedules/<id>: the body holds exactly the keywords passed; None goes as null."""
    worker.answers = [ok({**STORED, "jitter": None, "external_id": None})]
    changed = api.schedules.update(
        "acme-digest",
        every="30m",
        schedule=None,
        jitter=None,
        end=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert (worker.last.method, worker.last.url.path) == ("PATCH", "/schedules/acme-digest")
    assert worker.body() == {
        "every": "30m", "schedule": None, "jitter": None, "end": "2027-01-01T00:00:00.000Z",
    }  # fmt: skip
    assert changed.jitter is None


def test_update_refuses_a_field_it_does_not_know(api: Client, worker: FakeWorker):
    """A typo (or `id`, which cannot change) is refused here, never sent."""
    for wrong in ({"timezon": "UTC"}, {"id": "other"}):
        fields: dict[str, Any] = wrong
        with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
            api.schedules.update("acme-digest", **fields)
    assert worker.requests == []


def test_delete_pause_and_resume(api: Client, worker: FakeWorker):
    """DELETE /schedules/<id> returns nothing; pause and resume POST with no body, and answer the
    schedule.
    """
    worker.by_request = lambda r: (
        ok({"id": "acme-digest", "deleted": True})
        if r.method == "DELETE"
        else ok({**STORED, "paused": r.url.path.endswith("/pause"), "next": []})
    )
    assert api.schedules.delete("acme-digest") is None
    assert api.schedules.pause("acme-digest").paused is True
    assert api.schedules.resume("acme-digest").paused is False
    assert [(r.method, r.url.path, r.content) for r in worker.requests] == [
        ("DELETE", "/schedules/acme-digest", b""),
        ("POST", "/schedules/acme-digest/pause", b""),
        ("POST", "/schedules/acme-digest/resume", b""),
    ]


def batch_answer(request: httpx.Request) -> httpx.Response:
    """The Worker's batch answer: item by item, 201 unless the item says otherwise."""
    items = json.loads(request.content)["schedules"]
    return ok({"schedules": [
        {"status": 422, "error": "every: bad", "problems": ["every: bad"]} if i.get("every") == "x"
        else {"status": 201, "schedule": {**STORED, "id": i["id"]}}
        for i in items
    ]})  # fmt: skip


def test_create_many_sends_chunks_of_a_thousand_and_keeps_the_order(
    api: Client, worker: FakeWorker
):
    """2,500 items: three POSTs to .../schedules/batch (1,000, 1,000, 500); one result per item,
    in order, a bad one among them without stopping the rest.
    """
    worker.by_request = batch_answer
    items: list[dict[str, Any] | ScheduleSpec] = [
        {"id": f"s{i}", "every": "x" if i == 1500 else "15m"} for i in range(2499)
    ]
    items.append(ScheduleSpec(id="last", schedule="@daily"))
    results = api.schedules.create_many("digest", items)
    assert [r.url.path for r in worker.requests] == ["/jobs/digest/schedules/batch"] * 3
    assert [len(worker.body(i)["schedules"]) for i in range(3)] == [1000, 1000, 500]
    assert worker.body(0)["schedules"][0] == {"id": "s0", "every": "15m"}
    assert worker.body(2)["schedules"][-1] == {"id": "last", "schedule": "@daily"}
    assert len(results) == 2500 and all(isinstance(r, BatchItem) for r in results)
    assert results[1500] == BatchItem(status=422, error="every: bad", problems=["every: bad"])
    assert results[-1].schedule is not None and results[-1].schedule.id == "last"


def test_create_many_keeps_each_body_within_a_mebibyte(api: Client, worker: FakeWorker):
    """Large args: a chunk closes before its body would pass the Worker's 1 MiB limit."""
    worker.by_request = batch_answer
    blob = "x" * 7000
    items = [{"id": f"s{i}", "every": "15m", "args": {"blob": blob}} for i in range(400)]
    assert len(api.schedules.create_many("digest", items)) == 400
    sizes = [len(r.content) for r in worker.requests]
    assert len(sizes) == 3 and all(size <= 1024 * 1024 for size in sizes), sizes
    assert sum(len(worker.body(i)["schedules"]) for i in range(3)) == 400


def test_timeouts_are_explicit_and_a_batch_waits_longer(worker: FakeWorker):
    """Every request carries the client's timeout; a batch (1,000 inserts) at least 60 s."""
    worker.by_request = lambda r: batch_answer(r) if r.url.path.endswith("/batch") else ok(STORED)
    with Client(URL, TOKEN, timeout=4.0, transport=httpx.MockTransport(worker.handle)) as c:
        c.schedules.get("acme-digest")
        c.schedules.create_many("digest", [{"id": "a", "every": "15m"}])
    timeouts = [r.extensions["timeout"] for r in worker.requests]
    assert timeouts[0] == {"connect": 4.0, "read": 4.0, "write": 4.0, "pool": 4.0}
    assert timeouts[1]["read"] == client_module.BATCH_TIMEOUT_S


# -- errors ------------------------------------------------------------------------------------


def test_a_422_is_a_client_error_with_every_problem(api: Client, worker: FakeWorker):
    """The Worker's `error` is the message, `problems` each field's problem, `status` the HTTP."""
    problems = ["every: '45m' does not divide an hour", "timezone: unknown IANA timezone 'Mars'"]
    worker.answers = [ok({"error": problems[0], "problems": problems}, 422)]
    with pytest.raises(ClientError) as caught:
        api.schedules.create("digest", every="45m", timezone="Mars")
    assert (caught.value.status, caught.value.message) == (422, problems[0])
    assert caught.value.problems == problems and str(caught.value) == problems[0]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, {"error": "no such schedule: nope"}, "no such schedule: nope"),
        (409, {"error": "job hourly does not take runtime schedules (runtime_schedules=True in "
                        "the catalog)"},
         "job hourly does not take runtime schedules (runtime_schedules=True in the catalog)"),
        (401, {"error": "missing or wrong token"}, "missing or wrong token"),
        (400, "bad request body", "bad request body"),
    ],
)  # fmt: skip
def test_each_refusal_carries_the_workers_message(
    api: Client, worker: FakeWorker, status: int, body: Any, message: str
):
    """4xx: ClientError(status, the Worker's error or its text, no problems)."""
    worker.answers = [
        httpx.Response(status, text=body) if isinstance(body, str) else ok(body, status)
    ]
    with pytest.raises(ClientError) as caught:
        api.schedules.get("nope")
    assert (caught.value.status, caught.value.message, caught.value.problems) == (
        status,
        message,
        [],
    )


def test_a_success_that_is_not_json_is_an_error(api: Client, worker: FakeWorker):
    """A 200 that is not the API (a captive portal, a proxy's page) is not a schedule."""
    worker.answers = [httpx.Response(200, text="<html>sign in</html>")]
    with pytest.raises(ClientError, match="not a JSON object"):
        api.schedules.get("acme-digest")


# -- retries: one rule per test ------------------------------------------------------------------


def test_a_get_is_retried_after_a_5xx(api: Client, worker: FakeWorker, sleeps: list[float]):
    """Reads are idempotent: a 503 is tried again, after a pause, and the answer returned."""
    worker.answers = [ok({"error": "busy"}, 503), ok(STORED)]
    assert api.schedules.get("acme-digest").id == "acme-digest"
    assert len(worker.requests) == 2 and sleeps == [0.5]


def test_a_get_is_retried_after_a_connection_failure(
    api: Client, worker: FakeWorker, sleeps: list[float]
):
    """A connection that failed never reached the Worker: try again."""
    worker.answers = [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), ok(STORED)]
    assert api.schedules.get("acme-digest").id == "acme-digest"
    assert len(worker.requests) == 3 and sleeps == [0.5, 1.0]


def test_retries_back_off_and_then_give_up_with_the_last_error(
    api: Client, worker: FakeWorker, sleeps: list[float]
):
    """Three retries, each pause twice the last; then the last 5xx is the ClientError."""
    worker.answers = [ok({"error": "down"}, 502)]
    with pytest.raises(ClientError) as caught:
        api.schedules.list("digest")
    assert caught.value.status == 502 and len(worker.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_429_waits_as_long_as_retry_after_says(
    api: Client, worker: FakeWorker, sleeps: list[float]
):
    """Rate limited: the Worker's Retry-After (capped at 30 s) rather than the backoff."""
    slow = {"error": "slow down"}
    worker.answers = [
        ok(slow, 429, **{"Retry-After": "7"}),
        ok(slow, 429, **{"Retry-After": "600"}),
        ok(STORED),
    ]
    api.schedules.get("acme-digest")
    assert sleeps == [7.0, 30.0]


def test_a_refusal_is_never_retried(api: Client, worker: FakeWorker, sleeps: list[float]):
    """A 4xx other than 429 would be refused again: one request."""
    worker.answers = [ok({"error": "no such schedule: x"}, 404)]
    with pytest.raises(ClientError):
        api.schedules.delete("x")
    assert len(worker.requests) == 1 and sleeps == []


def test_a_read_timeout_is_not_retried(api: Client, worker: FakeWorker, sleeps: list[float]):
    """Only a connection that failed is retried: a request that left may have been acted on."""
    worker.answers = [httpx.ReadTimeout("no answer")]
    with pytest.raises(httpx.ReadTimeout):
        api.schedules.get("acme-digest")
    assert len(worker.requests) == 1


def test_create_without_an_id_is_never_retried(
    api: Client, worker: FakeWorker, sleeps: list[float]
):
    """Each POST without an id makes a new schedule: a 5xx or a failed connection is raised at
    once rather than risk two schedules.
    """
    worker.answers = [ok({"error": "internal error"}, 500)]
    with pytest.raises(ClientError):
        api.schedules.create("digest", every="15m")
    worker.answers = [httpx.ConnectError("refused")]
    with pytest.raises(httpx.ConnectError):
        api.schedules.create("digest", every="15m")
    assert len(worker.requests) == 2 and sleeps == []


def test_create_with_an_id_is_retried(api: Client, worker: FakeWorker, sleeps: list[float]):
    """With an id, a repeat answers the schedule the first attempt made: safe to retry."""
    worker.answers = [ok({"error": "internal error"}, 500), ok(STORED, 200)]
    assert api.schedules.create("digest", id="acme-digest", every="15m").id == "acme-digest"
    assert len(worker.requests) == 2 and worker.body(0) == worker.body(1)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.schedules.update("acme-digest", paused=True),
        lambda c: c.schedules.delete("acme-digest"),
        lambda c: c.schedules.pause("acme-digest"),
        lambda c: c.schedules.resume("acme-digest"),
    ],
    ids=["patch", "delete", "pause", "resume"],
)
def test_changes_that_repeat_safely_are_retried(
    api: Client, worker: FakeWorker, call: Callable[[Client], Any]
):
    """PATCH, DELETE, pause and resume set a state: sending one twice leaves the same state."""
    worker.answers = [ok({"error": "busy"}, 503), ok({**STORED, "id": "acme-digest"})]
    call(api)
    assert len(worker.requests) == 2


def test_a_batch_is_retried_only_when_every_item_has_an_id(
    api: Client, worker: FakeWorker, sleeps: list[float]
):
    """All ids: a repeat answers 200 for what the first made. One item without: not retried."""
    failing = iter([ok({"error": "busy"}, 503)])
    worker.by_request = lambda r: next(failing, None) or batch_answer(r)
    assert len(api.schedules.create_many("digest", [{"id": "a", "every": "15m"}])) == 1
    assert len(worker.requests) == 2
    failing = iter([ok({"error": "busy"}, 503)])
    with pytest.raises(ClientError):
        api.schedules.create_many("digest", [{"id": "a", "every": "15m"}, {"every": "1h"}])
    assert len(worker.requests) == 3


def test_retries_can_be_turned_off(worker: FakeWorker):
    """retries=0: every call is tried once."""
    worker.answers = [ok({"error": "busy"}, 503)]
    with (
        Client(URL, TOKEN, retries=0, transport=httpx.MockTransport(worker.handle)) as c,
        pytest.raises(ClientError),
    ):
        c.schedules.get("acme-digest")
    assert len(worker.requests) == 1


# -- the async twin --------------------------------------------------------------------------------


def test_the_async_client_sends_the_same_requests(worker: FakeWorker):
    """create, get, list, iterate, update, delete, pause, resume and create_many: the same
    requests as the sync client, and the same typed answers.
    """

    def answer(r: httpx.Request) -> httpx.Response:
        if r.url.path.endswith("/batch"):
            return batch_answer(r)
        if r.method == "GET" and r.url.path.startswith("/jobs/"):
            cursor = r.url.params.get("cursor")
            return ok({"schedules": [{**STORED, "id": cursor or "a"}],
                       "next_cursor": None if cursor else "b"})  # fmt: skip
        if r.method == "DELETE":
            return ok({"id": "acme-digest", "deleted": True})
        return ok(STORED, 201 if r.url.path.endswith("/schedules") else 200)

    worker.by_request = answer

    async def main() -> list[Any]:
        async with async_api(worker) as c:
            return [
                await c.schedules.create("digest", id="acme-digest", schedule="0 9 * * 1"),
                await c.schedules.get("acme-digest"),
                await c.schedules.list("digest", limit=1),
                [s.id async for s in c.schedules.iterate("digest")],
                await c.schedules.update("acme-digest", external_id=None),
                await c.schedules.delete("acme-digest"),
                await c.schedules.pause("acme-digest"),
                await c.schedules.resume("acme-digest"),
                await c.schedules.create_many("digest", [{"id": "z", "every": "15m"}]),
            ]

    made, got, page, ids, changed, deleted, paused, resumed, batch = asyncio.run(main())
    assert isinstance(made, Schedule) and made == got == changed == paused == resumed
    assert isinstance(page, SchedulePage) and page.next_cursor == "b"
    assert ids == ["a", "b"] and deleted is None
    assert batch[0].status == 201
    assert [(r.method, r.url.path, dict(r.url.params)) for r in worker.requests] == [
        ("POST", "/jobs/digest/schedules", {}),
        ("GET", "/schedules/acme-digest", {}),
        ("GET", "/jobs/digest/schedules", {"limit": "1"}),
        ("GET", "/jobs/digest/schedules", {}),
        ("GET", "/jobs/digest/schedules", {"cursor": "b"}),
        ("PATCH", "/schedules/acme-digest", {}),
        ("DELETE", "/schedules/acme-digest", {}),
        ("POST", "/schedules/acme-digest/pause", {}),
        ("POST", "/schedules/acme-digest/resume", {}),
        ("POST", "/jobs/digest/schedules/batch", {}),
    ]
    assert worker.body(0) == {"id": "acme-digest", "schedule": "0 9 * * 1"}
    assert worker.body(5) == {"external_id": None}
    assert {r.headers["authorization"] for r in worker.requests} == {f"Bearer {TOKEN}"}


def test_the_async_client_retries_by_the_same_rules(worker: FakeWorker, sleeps: list[float]):
    """A GET after a 503 is retried with the same backoff; a create without an id is not."""
    worker.answers = [ok({"error": "busy"}, 503), ok(STORED)]

    async def main() -> None:
        async with async_api(worker) as c:
            await c.schedules.get("acme-digest")
            worker.requests.clear()
            worker.answers = [ok({"error": "busy"}, 503)]
            with pytest.raises(ClientError) as caught:
                await c.schedules.create("digest", every="15m")
            assert caught.value.status == 503

    asyncio.run(main())
    assert len(worker.requests) == 1 and sleeps == [0.5]


def test_the_async_client_raises_the_same_errors(worker: FakeWorker):
    """A 422's problems reach the caller as on the sync client."""
    worker.answers = [ok({"error": "at: is in the past", "problems": ["at: is in the past"]}, 422)]

    async def main() -> ClientError:
        async with async_api(worker) as c:
            try:
                await c.schedules.create("digest", at=datetime(2020, 1, 1, tzinfo=UTC))
            except ClientError as error:
                return error
        raise AssertionError("no error")

    error = asyncio.run(main())
    assert (error.status, error.problems) == (422, ["at: is in the past"])


# -- the models ----------------------------------------------------------------------------------


def test_the_models_are_frozen_and_the_public_surface_exports_them():
    """Answers cannot be changed by accident; an app imports everything from `cronflare`."""
    schedule = Schedule.model_validate(STORED)
    with pytest.raises(pydantic.ValidationError):
        schedule.paused = True  # type: ignore[misc]
    assert cronflare.Client is Client and cronflare.AsyncClient is AsyncClient
    assert cronflare.Schedule is Schedule and cronflare.ClientError is ClientError


def test_a_schedule_has_exactly_one_of_schedule_every_at():
    """An answer with two (or none) is not a schedule of this API."""
    with pytest.raises(pydantic.ValidationError):
        Schedule.model_validate({**STORED, "every": "15m"})
    with pytest.raises(pydantic.ValidationError):
        Schedule.model_validate({**STORED, "schedule": None})


def test_the_keyword_types_match_the_spec_model():
    """create's and update's keywords are ScheduleSpec's fields (update: all but id)."""
    assert ScheduleFields.__optional_keys__ == set(ScheduleSpec.model_fields)
    assert ScheduleChanges.__optional_keys__ == set(ScheduleSpec.model_fields) - {"id"}
