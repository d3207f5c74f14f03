"""An app's own schedules through the Worker's API: typed answers, sync or async, and retries only
where repeating a request cannot make a second schedule.

Requests are built and answers read once, here (`Call`); `Client` and `AsyncClient` only send.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, field_serializer, field_validator, model_validator

T = TypeVar("T")

TIMEOUT_S = 10.0
BATCH_TIMEOUT_S = 60.0  # up to 1,000 schedules go into D1 in one request
BATCH_MAX_ITEMS = 1000
BATCH_MAX_BYTES = 1024 * 1024
RETRIES = 3
BACKOFF_S = 0.5
RETRY_AFTER_MAX_S = 30.0
WHEN_FIELDS = ("schedule", "every", "at")


class ClientError(Exception):
    """The Worker refused or failed a request: its HTTP status, its `error`, every problem."""

    def __init__(self, status: int, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems)

    def __repr__(self) -> str:
        return f"ClientError({self.status}, {self.message!r}, {self.problems!r})"


def iso_z(moment: datetime) -> str:
    """An aware instant as the Worker writes one, `2026-12-24T09:00:00.000Z`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Fields(BaseModel):
    """What a schedule's owner sets; None is "not given" on create and "clear it" on update."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: str | None = None
    every: str | None = None
    at: datetime | None = None
    timezone: str | None = None
    args: dict[str, Any] | None = None
    start: datetime | None = None
    end: datetime | None = None
    jitter: str | None = None
    paused: bool | None = None
    external_id: str | None = None

    @field_validator("at", "start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("must have a UTC offset, such as 2026-12-01T00:00:00Z")
        return value

    @field_serializer("at", "start", "end")
    def _iso(self, value: datetime | None) -> str | None:
        return None if value is None else iso_z(value)


class ScheduleSpec(_Fields):
    """One schedule to create: exactly one of schedule, every and at, the rest optional."""

    id: str | None = None

    @model_validator(mode="after")
    def _one_when(self) -> Self:
        given = [name for name in WHEN_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of schedule, every and at (given: {', '.join(given) or 'none'})"
            )
        return self


class ScheduleChanges(TypedDict, total=False):
    """The fields `update` may change; one set to None clears it."""

    schedule: str | None
    every: str | None
    at: datetime | None
    timezone: str | None
    args: dict[str, Any] | None
    start: datetime | None
    end: datetime | None
    jitter: str | None
    paused: bool | None
    external_id: str | None


class ScheduleFields(ScheduleChanges, total=False):
    """What `create` takes besides the job: ScheduleSpec's fields, None meaning "not given"."""

    id: str | None


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Schedule(_Answer):
    """A runtime schedule as the Worker keeps it; `next` holds up to 3 nominal fire times."""

    id: str
    job: str
    schedule: str | None = None
    every: str | None = None
    at: datetime | None = None
    timezone: str = "UTC"
    args: dict[str, Any] | None = None
    start: datetime | None = None
    end: datetime | None = None
    jitter: str | None = None
    paused: bool = False
    external_id: str | None = None
    created_at: datetime
    updated_at: datetime
    next: list[datetime] = []

    @model_validator(mode="after")
    def _one_when(self) -> Self:
        given = [name for name in WHEN_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"exactly one of schedule, every and at must be set, not {given}")
        return self


class SchedulePage(_Answer):
    """One page of a job's schedules, in id order; `next_cursor` is None on the last page."""

    schedules: list[Schedule]
    next_cursor: str | None = None


class BatchItem(_Answer):
    """One item of a batch create: 201 created, 200 existed, 409 another job's id, 422 invalid."""

    status: int
    schedule: Schedule | None = None
    error: str | None = None
    problems: list[str] = []


# -- requests and answers, whoever sends them -------------------------------------------------


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request to the Worker and how to read its answer; `idempotent` says whether sending
    it twice is safe, and so whether it may be retried.
    """

    method: str
    path: str
    parse: Callable[[Any], T] = field(repr=False)
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    idempotent: bool = True
    timeout: float | None = None


def _segment(text: str) -> str:
    return quote(text, safe="")


def _schedule(data: Any) -> Schedule:
    return Schedule.model_validate(data)


def _nothing(data: Any) -> None:
    return None


def create_call(job: str, spec: ScheduleSpec) -> Call[Schedule]:
    """POST /jobs/<job>/schedules; with an id the Worker answers the existing one, so it is safe
    to repeat, without one every attempt makes another schedule.
    """
    body = spec.model_dump(mode="json", exclude_none=True)
    return Call(
        "POST",
        f"/jobs/{_segment(job)}/schedules",
        _schedule,
        body=body,
        idempotent=spec.id is not None,
    )


def batch_call(job: str, specs: Sequence[ScheduleSpec]) -> Call[list[BatchItem]]:
    """POST /jobs/<job>/schedules/batch for one chunk; repeatable only if every item has an id."""

    def parse(data: Any) -> list[BatchItem]:
        return [BatchItem.model_validate(item) for item in data["schedules"]]

    body = {"schedules": [s.model_dump(mode="json", exclude_none=True) for s in specs]}
    return Call(
        "POST",
        f"/jobs/{_segment(job)}/schedules/batch",
        parse,
        body=body,
        idempotent=all(s.id is not None for s in specs),
        timeout=BATCH_TIMEOUT_S,
    )


def list_call(
    job: str, external_id: str | None = None, cursor: str | None = None, limit: int | None = None
) -> Call[SchedulePage]:
    """GET /jobs/<job>/schedules: one page, by id; only the filters given go in the query."""
    given = {"external_id": external_id, "cursor": cursor, "limit": limit}
    params = {k: str(v) for k, v in given.items() if v is not None}
    return Call(
        "GET", f"/jobs/{_segment(job)}/schedules", SchedulePage.model_validate, params=params
    )


def get_call(schedule_id: str) -> Call[Schedule]:
    """GET /schedules/<id>."""
    return Call("GET", f"/schedules/{_segment(schedule_id)}", _schedule)


def update_call(schedule_id: str, changes: ScheduleChanges) -> Call[Schedule]:
    """PATCH /schedules/<id> with exactly the fields given: one set to None is sent as null."""
    checked = _Fields.model_validate(changes)
    body = checked.model_dump(mode="json", exclude_unset=True)
    return Call("PATCH", f"/schedules/{_segment(schedule_id)}", _schedule, body=body)


def delete_call(schedule_id: str) -> Call[None]:
    """DELETE /schedules/<id>; the schedule's runs stay in the run log."""
    return Call("DELETE", f"/schedules/{_segment(schedule_id)}", _nothing)


def pause_call(schedule_id: str) -> Call[Schedule]:
    """POST /schedules/<id>/pause; pausing a paused schedule changes nothing, so it repeats."""
    return Call("POST", f"/schedules/{_segment(schedule_id)}/pause", _schedule)


def resume_call(schedule_id: str) -> Call[Schedule]:
    """POST /schedules/<id>/resume; no backfill, so it repeats safely too."""
    return Call("POST", f"/schedules/{_segment(schedule_id)}/resume", _schedule)


def _specs(items: Sequence[dict[str, Any] | ScheduleSpec]) -> list[ScheduleSpec]:
    return [i if isinstance(i, ScheduleSpec) else ScheduleSpec.model_validate(i) for i in items]


def chunks(specs: Sequence[ScheduleSpec]) -> Iterator[list[ScheduleSpec]]:
    """Batches the Worker takes: at most 1,000 items and a 1 MiB body each (a single item over
    the limit goes alone, for the Worker to refuse it by name).
    """
    chunk: list[ScheduleSpec] = []
    size = len(_encode({"schedules": []}))
    for spec in specs:
        item = len(_encode(spec.model_dump(mode="json", exclude_none=True))) + 1
        if chunk and (len(chunk) == BATCH_MAX_ITEMS or size + item > BATCH_MAX_BYTES):
            yield chunk
            chunk, size = [], len(_encode({"schedules": []}))
        chunk.append(spec)
        size += item
    if chunk:
        yield chunk


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _answer(call: Call[T], res: httpx.Response) -> T:
    """The answer read as `call` expects, or ClientError with the Worker's error and problems."""
    try:
        data: Any = res.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not res.is_success:
        error = data.get("error") if isinstance(data, dict) else None
        problems = data.get("problems") if isinstance(data, dict) else None
        message = str(error) if error else (res.text.strip()[:200] or res.reason_phrase)
        listed = [str(p) for p in problems] if isinstance(problems, list) else []
        raise ClientError(res.status_code, message, listed)
    if not isinstance(data, dict):
        raise ClientError(
            res.status_code,
            f"{call.method} {call.path}: the answer is not a JSON object: {res.text[:200]!r}",
        )
    return call.parse(data)


def _retry_after(res: httpx.Response) -> float | None:
    try:
        return min(float(res.headers["retry-after"]), RETRY_AFTER_MAX_S)
    except (KeyError, ValueError):
        return None


class _Sender:
    """What the sync and the async client share: the HTTP client's settings and the retry rule."""

    def __init__(self, url: str, token: str, timeout: float, retries: int, backoff: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._options: dict[str, Any] = {
            "base_url": self.url,
            "headers": {"Authorization": f"Bearer {token}"},
            "timeout": httpx.Timeout(timeout),
            "follow_redirects": False,
        }

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        content = None if call.body is None else _encode(call.body)
        headers = {} if content is None else {"Content-Type": "application/json"}
        timeout = self.timeout if call.timeout is None else max(call.timeout, self.timeout)
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            content=content,
            headers=headers,
            timeout=httpx.Timeout(timeout),
        )

    def _delay(
        self, call: Call[Any], attempt: int, outcome: httpx.Response | httpx.TransportError
    ) -> float | None:
        """Seconds to wait before sending `call` again, or None to stop: only an idempotent call
        is repeated, a few times, after a connection failure, a 5xx or a 429.
        """
        if not call.idempotent or attempt >= self.retries:
            return None
        wait = self.backoff * 2**attempt
        if isinstance(outcome, httpx.Response):
            if outcome.status_code != 429 and outcome.status_code < 500:
                return None
            hinted = _retry_after(outcome) if outcome.status_code == 429 else None
            return wait if hinted is None else hinted
        if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
            return wait
        return None


class Client(_Sender):
    """A Worker's runtime schedules API over httpx.Client: `Client(url, token).schedules`.

    The token is the stack's `schedulesToken` output (or the admin token). Failed requests raise
    ClientError; a Worker that cannot be reached raises httpx's TransportError once retries
    (idempotent calls only) run out.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_S,
        retries: int = RETRIES,
        backoff: float = BACKOFF_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout, retries, backoff)
        self._http = httpx.Client(transport=transport, **self._options)
        self.schedules = Schedules(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, again after a pause while the retry rule allows; its answer, read."""
        attempt = 0
        while True:
            try:
                res = self._http.send(self._request(self._http, call))
            except httpx.TransportError as error:
                wait = self._delay(call, attempt, error)
                if wait is None:
                    raise
            else:
                wait = self._delay(call, attempt, res)
                if wait is None:
                    return _answer(call, res)
                res.close()
            time.sleep(wait)
            attempt += 1


class AsyncClient(_Sender):
    """Client's twin over httpx.AsyncClient, for an async app: `await client.schedules.get(id)`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_S,
        retries: int = RETRIES,
        backoff: float = BACKOFF_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout, retries, backoff)
        self._http = httpx.AsyncClient(transport=transport, **self._options)
        self.schedules = AsyncSchedules(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call, again after a pause while the retry rule allows; its answer, read."""
        attempt = 0
        while True:
            try:
                res = await self._http.send(self._request(self._http, call))
            except httpx.TransportError as error:
                wait = self._delay(call, attempt, error)
                if wait is None:
                    raise
            else:
                wait = self._delay(call, attempt, res)
                if wait is None:
                    return _answer(call, res)
                await res.aclose()
            await asyncio.sleep(wait)
            attempt += 1


class Schedules:
    """`client.schedules`: create, read, change and delete one job's runtime schedules."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, job: str, **fields: Unpack[ScheduleFields]) -> Schedule:
        """Create a schedule (exactly one of schedule, every, at); with an id that exists for
        this job, the existing one comes back unchanged, so an app can create it at every start.
        """
        return self._client.send(create_call(job, ScheduleSpec.model_validate(fields)))

    def create_many(
        self, job: str, items: Sequence[dict[str, Any] | ScheduleSpec]
    ) -> list[BatchItem]:
        """Create many, in batches the Worker takes; one result per item, in order, each with
        its own status, so one bad item does not stop the rest.
        """
        results: list[BatchItem] = []
        for chunk in chunks(_specs(items)):
            results += self._client.send(batch_call(job, chunk))
        return results

    def get(self, schedule_id: str) -> Schedule:
        """One schedule by id."""
        return self._client.send(get_call(schedule_id))

    def list(
        self,
        job: str,
        external_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> SchedulePage:
        """One page of a job's schedules (up to `limit`, 1-500), optionally only one external
        id's; pass `next_cursor` back for the next page, or use `iterate`.
        """
        return self._client.send(list_call(job, external_id, cursor, limit))

    def iterate(self, job: str, external_id: str | None = None) -> Iterator[Schedule]:
        """Every schedule of a job, page after page, without holding them all."""
        cursor: str | None = None
        while True:
            page = self._client.send(list_call(job, external_id, cursor))
            yield from page.schedules
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def update(self, schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
        """Change only the fields given; `field=None` clears it (where it can be empty)."""
        return self._client.send(update_call(schedule_id, changes))

    def delete(self, schedule_id: str) -> None:
        """Delete a schedule; its runs stay, and one in flight ends as usual."""
        self._client.send(delete_call(schedule_id))

    def pause(self, schedule_id: str) -> Schedule:
        """Stop a schedule firing until `resume`."""
        return self._client.send(pause_call(schedule_id))

    def resume(self, schedule_id: str) -> Schedule:
        """Let a paused schedule fire again, from now on: the fires it missed are not made up."""
        return self._client.send(resume_call(schedule_id))


class AsyncSchedules:
    """`async_client.schedules`: Schedules' twin, each method awaited."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, job: str, **fields: Unpack[ScheduleFields]) -> Schedule:
        """Create a schedule; see Schedules.create."""
        return await self._client.send(create_call(job, ScheduleSpec.model_validate(fields)))

    async def create_many(
        self, job: str, items: Sequence[dict[str, Any] | ScheduleSpec]
    ) -> list[BatchItem]:
        """Create many, in batches; see Schedules.create_many."""
        results: list[BatchItem] = []
        for chunk in chunks(_specs(items)):
            results += await self._client.send(batch_call(job, chunk))
        return results

    async def get(self, schedule_id: str) -> Schedule:
        """One schedule by id."""
        return await self._client.send(get_call(schedule_id))

    async def list(
        self,
        job: str,
        external_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> SchedulePage:
        """One page of a job's schedules; see Schedules.list."""
        return await self._client.send(list_call(job, external_id, cursor, limit))

    async def iterate(self, job: str, external_id: str | None = None) -> AsyncIterator[Schedule]:
        """Every schedule of a job, page after page: `async for`."""
        cursor: str | None = None
        while True:
            page = await self._client.send(list_call(job, external_id, cursor))
            for schedule in page.schedules:
                yield schedule
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def update(self, schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
        """Change only the fields given; see Schedules.update."""
        return await self._client.send(update_call(schedule_id, changes))

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule; its runs stay."""
        await self._client.send(delete_call(schedule_id))

    async def pause(self, schedule_id: str) -> Schedule:
        """Stop a schedule firing until `resume`."""
        return await self._client.send(pause_call(schedule_id))

    async def resume(self, schedule_id: str) -> Schedule:
        """Let a paused schedule fire again, from now on."""
        return await self._client.send(resume_call(schedule_id))
