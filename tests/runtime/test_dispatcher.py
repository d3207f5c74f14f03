"""The dispatcher contract (docs/MODAL.md): every status path, idempotency, concurrency, fuzzing."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronflare.runtime.dispatcher import create_app
from cronflare.runtime.signing import sign_legacy, signed_headers
from cronflare.runtime.store import SqliteStore
from cronflare.runtime.wrapper import catalog_jobs
from tests.conftest import FakeExecutor
from tests.runtime.test_wrapper import wait_for
from tests.signed import dispatch_headers, is_signed_report

KEY, NEXT = "dispatch-key", "dispatch-key-next"


def body(job: str = "quick", minute: str = "2026-11-23T09:00Z", **over) -> dict:
    data = {
        "execution_id": f"{job}@{minute}",
        "job": job,
        "scheduled_time": "2026-11-23T09:00:00Z",
        "trigger": "cron",
        "attempt": 1,
        "callback_url": "http://127.0.0.1:9/runs/x",
    }
    return data | over


@pytest.fixture
def client(test_catalog, fake_executor: FakeExecutor, tmp_path: Path) -> TestClient:
    store = SqliteStore(tmp_path / "store.sqlite3")
    return TestClient(create_app(fake_executor, [KEY, NEXT], store, catalog_jobs()))


def post(client: TestClient, data: dict | bytes | str, key: str = KEY, now: float | None = None):
    raw = data if isinstance(data, bytes | str) else json.dumps(data)
    return client.post("/dispatch", content=raw, headers=dispatch_headers(key, raw, now=now))


def test_a_signed_request_spawns_the_job_with_the_run_as_payload(client, fake_executor):
    res = post(client, body())
    assert res.status_code == 202
    assert res.json() == {
        "execution_id": "quick@2026-11-23T09:00Z",
        "call_id": "fc-1",
        "status": "spawned",
    }
    job, payload = fake_executor.spawned[0]
    assert job == "quick" and payload["execution_id"] == "quick@2026-11-23T09:00Z"
    assert payload["callback_url"] == "http://127.0.0.1:9/runs/x" and payload["attempt"] == 1


def test_the_same_execution_id_is_spawned_once_and_answers_duplicate(client, fake_executor):
    first = post(client, body()).json()
    again = post(client, body(attempt=2))
    assert again.status_code == 202
    assert again.json() == {
        "execution_id": first["execution_id"],
        "call_id": "fc-1",
        "status": "duplicate",
    }
    assert len(fake_executor.spawned) == 1


def test_two_concurrent_requests_for_one_id_spawn_once(client, fake_executor):
    fake_executor.spawn_delay = 0.3
    answers: list[dict] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(client, body()).json()))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_executor.spawned) == 1
    assert sorted(a["status"] for a in answers) == [
        "duplicate",
        "duplicate",
        "duplicate",
        "spawned",
    ]
    assert {a["call_id"] for a in answers} == {"fc-1"}


def test_the_next_key_is_accepted_during_a_rotation(client):
    assert post(client, body(), key=NEXT).status_code == 202


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing"),
        ({"X-Cronflare-Timestamp": "1", "X-Cronflare-Signature": "v1=" + "0" * 64}, "forged"),
    ],
)
def test_bad_or_missing_signatures_are_401_and_spawn_nothing(client, fake_executor, headers, why):
    res = client.post("/dispatch", content=json.dumps(body()), headers=headers)
    assert res.status_code == 401, why
    assert fake_executor.spawned == []


def test_a_replayed_old_request_is_401(client, fake_executor):
    res = post(client, body(), now=time.time() - 301)
    assert res.status_code == 401 and fake_executor.spawned == []
    assert post(client, body(), key="someone-elses-key").status_code == 401


def test_an_unknown_or_disabled_job_is_404(client, fake_executor):
    assert post(client, body(job="nope")).status_code == 404
    assert post(client, body(job="disabled")).status_code == 404
    assert fake_executor.spawned == []


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[]",
        json.dumps(body() | {"extra": 1}),
        json.dumps(body(trigger="cosmic-ray")),
        json.dumps(body(attempt=0)),
        json.dumps(body(callback_url="not a url")),
        json.dumps(body(scheduled_time="yesterday")),
        json.dumps({k: v for k, v in body().items() if k != "job"}),
        json.dumps(body() | {"execution_id": "other-job@2026-11-23T09:00Z"}),
    ],
)
def test_malformed_bodies_are_422(client, fake_executor, bad):
    assert post(client, bad).status_code == 422
    assert fake_executor.spawned == []


def test_oversize_bodies_are_413(client, fake_executor):
    huge = json.dumps(body() | {"pad": "x" * 70_000})
    assert post(client, huge).status_code == 413
    lying = client.post("/dispatch", content=b"{}", headers={"content-length": "999999"})
    assert lying.status_code == 413
    assert fake_executor.spawned == []


def test_a_spawn_failure_is_503_and_the_retry_spawns(client, fake_executor):
    fake_executor.fail = True
    assert post(client, body()).status_code == 503
    fake_executor.fail = False
    assert post(client, body()).json()["status"] == "spawned"


def test_forbid_skips_while_the_last_run_is_running(client, fake_executor):
    first = post(client, body(job="slow-forbid", minute="2026-11-23T09:00Z")).json()
    second = post(client, body(job="slow-forbid", minute="2026-11-23T09:01Z")).json()
    assert (first["status"], second["status"], second["call_id"]) == ("spawned", "skipped", None)
    # a duplicate of the skipped run stays skipped, so the Worker records it so
    assert (
        post(client, body(job="slow-forbid", minute="2026-11-23T09:01Z")).json()["status"]
        == "skipped"
    )
    fake_executor.running.clear()  # the first run ended
    assert (
        post(client, body(job="slow-forbid", minute="2026-11-23T09:02Z")).json()["status"]
        == "spawned"
    )


def test_a_replay_of_a_forbid_skip_asks_the_policy_again(client, fake_executor):
    """Replaying a skipped run is a new question: skipped again while the last run still runs,
    spawned once it has ended; a plain repeat keeps the first answer, and a repeat of the replay
    spawns nothing twice.
    """
    minute = "2026-11-23T09:01Z"
    post(client, body(job="slow-forbid", minute="2026-11-23T09:00Z"))
    assert post(client, body(job="slow-forbid", minute=minute)).json()["status"] == "skipped"
    replay = body(job="slow-forbid", minute=minute, trigger="replay")
    assert post(client, replay).json()["status"] == "skipped"  # the first run still runs
    fake_executor.running.clear()
    assert post(client, body(job="slow-forbid", minute=minute)).json()["status"] == "skipped"
    again = post(client, replay).json()
    assert again["status"] == "spawned" and again["call_id"]
    assert post(client, replay).json() == {**again, "status": "duplicate"}
    assert [p["execution_id"] for _, p in fake_executor.spawned].count(f"slow-forbid@{minute}") == 1


def test_replace_cancels_the_running_call_then_starts(client, fake_executor, callback_server):
    """The running call is cancelled, the new one starts, and the replaced run still ends once:
    a signed `failed` report to its own callback, naming the run that replaced it.
    """
    first = callback_server.url + "/runs/slow-replace%402026-11-23T09%3A00Z"
    post(client, body(job="slow-replace", minute="2026-11-23T09:00Z", callback_url=first))
    later = body(job="slow-replace", minute="2026-11-23T09:01Z", callback_url=callback_server.url)
    res = post(client, later).json()
    assert res["status"] == "spawned" and fake_executor.cancelled == ["fc-1"]
    wait_for(lambda: callback_server.received)
    (report,) = callback_server.received
    assert report.path == "/runs/slow-replace%402026-11-23T09%3A00Z"
    assert is_signed_report(report, [KEY])
    outcome = json.loads(report.body)
    assert outcome["status"] == "failed"
    assert outcome["error"] == (
        "cancelled: replaced by slow-replace@2026-11-23T09:01Z (concurrency replace)"
    )


def test_allow_runs_overlapping(client, fake_executor):
    post(client, body(job="slow-allow", minute="2026-11-23T09:00Z"))
    post(client, body(job="slow-allow", minute="2026-11-23T09:01Z"))
    assert len(fake_executor.spawned) == 2 and fake_executor.cancelled == []


def test_healthz_reports_the_catalog_hash_the_workers_plan_carries(client):
    """The Worker's skew check compares this hash with its plan.js's catalog_hash."""
    from cronflare.catalog.loader import load_catalog
    from cronflare.plan import plan
    from cronflare.settings import local_settings

    body = client.get("/healthz").json()
    assert body == {"ok": True, "jobs": 12, "catalog_hash": body["catalog_hash"]}
    assert body["catalog_hash"] == plan(load_catalog(), local_settings()).catalog_hash


def test_no_key_no_dispatcher(fake_executor, tmp_path):
    with pytest.raises(ValueError, match="needs a signing key"):
        create_app(fake_executor, [None, ""], SqliteStore(tmp_path / "s.db"), {})


json_bodies = st.builds(
    lambda d: json.dumps(d).encode(),
    st.dictionaries(
        st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=30)), max_size=6
    ),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode), json_bodies),
    ts=header_values,
    sig=header_values,
    sign_it=st.booleans(),
)  # fmt: skip
def test_fuzzing_never_gives_5xx_and_never_spawns_unsigned(
    client, fake_executor, raw, ts, sig, sign_it
):
    headers = (
        dispatch_headers(KEY, raw)
        if sign_it
        else {"X-Cronflare-Timestamp": ts, "X-Cronflare-Signature": sig}
    )
    before = len(fake_executor.spawned)
    res = client.post("/dispatch", content=raw, headers=headers)
    assert res.status_code < 500
    if not sign_it:
        assert res.status_code == 401
        assert len(fake_executor.spawned) == before
    else:
        assert res.status_code in {202, 404, 422}


def test_a_runs_own_args_travel_to_the_executor(client, fake_executor):
    """The Worker sends a run's args (a manual override, or the job's): they reach the spawn."""
    assert post(client, body(job="echo", args={"greeting": "hi"})).status_code == 202
    assert post(client, body(job="echo", minute="2026-11-23T09:01Z")).status_code == 202
    (_, first), (_, second) = fake_executor.spawned
    assert first["args"] == {"greeting": "hi"} and second["args"] is None


@pytest.mark.parametrize(
    "args", [[1, 2], "x", {"blob": "x" * 8200}], ids=["array", "string", "over-8-KiB"]
)
def test_args_that_are_not_a_small_json_object_are_422_and_nothing_spawns(
    client, fake_executor, args
):
    res = post(client, body(job="echo", args=args))
    assert res.status_code == 422, res.text
    assert fake_executor.spawned == []


def test_a_target_that_is_not_deployed_is_a_final_404_and_can_be_dispatched_again(
    client, fake_executor
):
    """No retry would find it: the Worker fails the run. The claim is released, so a replay
    after the target is deployed can spawn it.
    """
    fake_executor.missing = True
    res = post(client, body(job="remote"))
    assert res.status_code == 404 and "target not found" in res.json()["error"]
    fake_executor.missing = False
    assert post(client, body(job="remote")).json()["status"] == "spawned"


def _legacy_post(client: TestClient, data: dict, key: str = KEY):
    raw = json.dumps(data)
    ts = int(time.time())
    headers = {"X-Cronflare-Timestamp": str(ts), "X-Cronflare-Signature": sign_legacy(key, ts, raw)}
    return client.post("/dispatch", content=raw, headers=headers)


def test_a_v1_dispatch_is_taken_only_until_the_first_v2_one(test_catalog, fake_executor, tmp_path):
    """The upgrade's Modal side: the old Worker's v1 dispatches still start runs until the new
    Worker's first v2 dispatch; from then on v1 is refused, by this container and any later one.
    """
    store = SqliteStore(tmp_path / "store.sqlite3")
    client = TestClient(create_app(fake_executor, [KEY, NEXT], store, catalog_jobs()))
    assert _legacy_post(client, body(minute="2026-11-23T09:00Z")).json()["status"] == "spawned"
    assert _legacy_post(client, body(minute="2026-11-23T09:01Z"), key="wrong").status_code == 401
    assert post(client, body(minute="2026-11-23T09:02Z")).json()["status"] == "spawned"
    refused = _legacy_post(client, body(minute="2026-11-23T09:03Z"))
    assert refused.status_code == 401 and refused.json()["scheme"] == "cronflare-v2"
    later = TestClient(create_app(fake_executor, [KEY, NEXT], store, catalog_jobs()))
    assert _legacy_post(later, body(minute="2026-11-23T09:04Z")).status_code == 401
    assert len(fake_executor.spawned) == 2


def test_a_dispatch_signature_is_bound_to_the_dispatch_path_and_purpose(client, fake_executor):
    """A valid signature made for another path or purpose starts nothing."""
    raw = json.dumps(body())
    elsewhere = dispatch_headers(KEY, raw, url="http://testserver/other")
    as_report = signed_headers(KEY, "report", "POST", "http://testserver/dispatch", raw)
    for headers in (elsewhere, as_report):
        assert client.post("/dispatch", content=raw, headers=headers).status_code == 401
    assert fake_executor.spawned == []


def post_batch(client: TestClient, runs: list, key: str = KEY):
    """The Worker's batch of these runs: by minute, what they share once (DispatchBatch)."""
    minutes: list[dict] = []
    for run in runs:
        job = run.get("job", "")
        shared = {k: run[k] for k in ("scheduled_time", "trigger", "attempt") if k in run}
        suffix = run.get("execution_id", "x@x")[len(job) :]
        minute = {"suffix": suffix, **shared, "jobs": [job]}
        if "args" in run:
            minute["args"] = {job: run["args"]}
        minutes.append(minute)
    raw = json.dumps({"callback": "http://127.0.0.1:9/runs/", "minutes": minutes})
    headers = dispatch_headers(key, raw, url="http://testserver/dispatch/batch")
    return client.post("/dispatch/batch", content=raw, headers=headers)


def answers_of(res) -> list[dict]:
    """A batch's answers, run by run: each minute's columns, row by row."""
    out = []
    for m in res.json()["minutes"]:
        for i, code in enumerate(m["codes"]):
            out.append({"code": code, "status": m["statuses"][i], "call_id": m["call_ids"][i],
                        "error": m["errors"][i]})  # fmt: skip
    return out


def test_a_batch_answers_each_run_on_its_own_and_one_bad_run_fails_only_itself(
    client, fake_executor
):
    """A valid run spawns, an unknown job is that run's 404, a bad body that run's 422."""
    runs = [body(minute="2026-11-23T09:00Z"), body(job="nosuch"), body(attempt=0)]
    res = post_batch(client, runs)
    assert res.status_code == 200
    answers = answers_of(res)
    assert [a["code"] for a in answers] == [202, 404, 422]
    assert answers[0]["status"] == "spawned" and answers[0]["call_id"]
    assert "no enabled job named 'nosuch'" in answers[1]["error"]
    [(_, payload)] = fake_executor.spawned
    assert payload["execution_id"] == "quick@2026-11-23T09:00Z"
    assert payload["callback_url"] == "http://127.0.0.1:9/runs/quick%402026-11-23T09%3A00Z"


def test_a_batch_that_arrives_twice_spawns_nothing_twice(client, fake_executor):
    """The execution id stays the key: the second delivery answers `duplicate`, same call."""
    runs = [body(minute=f"2026-11-23T09:0{i}Z") for i in range(5)]
    first = answers_of(post_batch(client, runs))
    again = answers_of(post_batch(client, runs))
    assert {a["status"] for a in first} == {"spawned"} and {a["status"] for a in again} == {
        "duplicate"
    }
    assert [a["call_id"] for a in again] == [a["call_id"] for a in first]
    assert len(fake_executor.spawned) == 5


def test_a_batch_keeps_one_jobs_runs_in_order_so_forbid_sees_them(client, fake_executor):
    """Catch-up puts several minutes of a job in one batch: with concurrency forbid the first
    spawns and the rest are skipped, as one by one; other jobs' runs go at the same time.
    """
    runs = [body(job="slow-forbid", minute=f"2026-11-23T09:0{i}Z") for i in range(3)]
    answers = answers_of(post_batch(client, [*runs, body()]))
    assert [a["status"] for a in answers] == ["spawned", "skipped", "skipped", "spawned"]


def test_a_batch_is_limited_to_500_runs_and_1_mib(client, fake_executor):
    """Over either limit is a 413 for the whole batch, and nothing is spawned."""
    runs = [body(minute=f"2026-11-{d:02d}T{h:02d}:00Z") for d in range(1, 23) for h in range(23)]
    assert len(runs) > 500 and post_batch(client, runs).status_code == 413
    raw = json.dumps({"minutes": [], "pad": "x" * (1024 * 1024)})  # checked as it is read
    headers = dispatch_headers(KEY, raw, url="http://testserver/dispatch/batch")
    assert client.post("/dispatch/batch", content=raw, headers=headers).status_code == 413
    assert fake_executor.spawned == []


def test_a_batch_signature_is_bound_to_the_batch_path_and_v2(client, fake_executor):
    """A dispatch signature made for /dispatch is refused at /dispatch/batch, and v1 never works."""
    raw = json.dumps({"callback": "http://127.0.0.1:9/runs/", "minutes": []})
    wrong_path = dispatch_headers(KEY, raw, url="http://testserver/dispatch")
    ts = int(time.time())
    legacy = {"X-Cronflare-Timestamp": str(ts), "X-Cronflare-Signature": sign_legacy(KEY, ts, raw)}
    for headers in (wrong_path, legacy):
        assert client.post("/dispatch/batch", content=raw, headers=headers).status_code == 401
    assert fake_executor.spawned == []


def test_a_spawn_failure_in_a_batch_is_that_runs_503(client, fake_executor):
    """Modal refusing a spawn fails that run's answer with a 503 (the Worker retries it)."""
    fake_executor.fail = True
    [answer] = answers_of(post_batch(client, [body()]))
    assert answer["code"] == 503 and "retry later" in answer["error"]


def test_a_dispatch_signature_replayed_with_another_body_starts_nothing(client, fake_executor):
    """A captured signature covers its body byte for byte: the same headers with another run's
    body, or the same run with other args, are refused.
    """
    raw = json.dumps(body())
    headers = dispatch_headers(KEY, raw)
    for other in (body(minute="2026-11-23T09:01Z"), body(args={"limit": 1}), raw + " "):
        content = other if isinstance(other, str) else json.dumps(other)
        assert client.post("/dispatch", content=content, headers=headers).status_code == 401
    assert fake_executor.spawned == []
    assert client.post("/dispatch", content=raw, headers=headers).status_code == 202
