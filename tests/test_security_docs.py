"""docs/SECURITY.md's alert check is code users paste into their webhook: it must take the
Worker's alerts and nothing else signed by the stack.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from cronflare.runtime.signing import (
    purpose_key,
    sign,
    signed_headers,
    signed_path,
    verify_alert,
)
from tests import ROOT
from tests.vectors.generate import SIGNING_PATH

DOC = ROOT / "docs" / "SECURITY.md"
SIGNING_KEY = "test-signing-key"
ALERT_KEY = purpose_key(SIGNING_KEY, "alert")
URL = "https://hooks.example.com/cronflare/alerts?team=ops"
PATH = "/cronflare/alerts"
BODY = json.dumps(
    {
        "event": "run.failed",
        "job": "hourly",
        "execution_id": "hourly@2026-11-23T09:00Z",
        "status": "failed",
        "error": "boom",
        "text": "cronflare: hourly@2026-11-23T09:00Z failed: boom <https://w.test/|dashboard>",
        "allowed_mentions": {"parse": []},
    }
).encode()

Check = Callable[[str, str, Any, bytes], bool]


def snippet() -> str:
    """The one python block under "## Verifying an alert", up to the next section."""
    text = DOC.read_text()
    section = text[text.index("## Verifying an alert\n") :]
    end = section.find("\n## ", 1)
    blocks = re.findall(r"```python\n(.*?)```", section if end < 0 else section[:end], re.S)
    assert len(blocks) == 1, blocks
    return blocks[0]


@pytest.fixture(scope="module")
def check() -> Check:
    """The snippet's verify_alert, as a receiver would have it after pasting."""
    namespace: dict[str, Any] = {}
    exec(compile(snippet(), str(DOC), "exec"), namespace)
    return namespace["verify_alert"]


def test_the_snippet_is_ten_lines_of_standard_library():
    """Short enough to paste and read, and nothing to install in the receiver."""
    code = snippet()
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    tree = ast.parse(code)
    assert not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"hashlib", "hmac", "time"}


def test_it_accepts_an_alert_as_the_worker_signs_it(check: Check):
    """Signed with the stack's signing key for `alert`, verified with the alertSigningKey alone."""
    headers = signed_headers(SIGNING_KEY, "alert", "POST", URL, BODY)
    assert signed_path(URL) == PATH
    assert check(ALERT_KEY, PATH, headers, BODY)
    assert verify_alert(ALERT_KEY, "POST", PATH, headers, BODY)


def test_it_accepts_the_alert_vector_the_worker_is_tested_against(check: Check, monkeypatch):
    """tests/vectors/signing.json's alert case, which worker_src/test/signing.test.ts pins the
    Worker's signature to; the snippet's clock is set 299 s and 301 s past it.
    """
    cases = json.loads(SIGNING_PATH.read_text())["cases"]
    case = next(c for c in cases if c["purpose"] == "alert")
    headers = {
        "X-Cronflare-Timestamp": str(case["timestamp"]),
        "X-Cronflare-Signature": case["signature"],
    }
    key, path, body = case["purpose_key"], case["path"], case["body"].encode()
    for skew, ok in [(299, True), (-299, True), (301, False)]:
        clock = SimpleNamespace(time=lambda skew=skew: case["timestamp"] + skew)
        monkeypatch.setitem(check.__globals__, "time", clock)
        assert check(key, path, headers, body) is ok, skew


def _refusals() -> dict[str, tuple[str, str, dict[str, str], bytes]]:
    """(key, path, headers, body) the snippet must refuse, each one change from a good alert."""
    good = signed_headers(SIGNING_KEY, "alert", "POST", URL, BODY)
    ts = int(good["X-Cronflare-Timestamp"])
    return {
        "a report signature over the same path and body": (
            ALERT_KEY,
            PATH,
            signed_headers(SIGNING_KEY, "report", "POST", URL, BODY),
            BODY,
        ),
        "a dispatch signature over the same path and body": (
            ALERT_KEY,
            PATH,
            signed_headers(SIGNING_KEY, "dispatch", "POST", URL, BODY),
            BODY,
        ),
        "an alert signed with the signing key itself": (
            ALERT_KEY,
            PATH,
            {**good, "X-Cronflare-Signature": sign(SIGNING_KEY, "alert", "POST", PATH, ts, BODY)},
            BODY,
        ),
        "a wrong path": (ALERT_KEY, "/cronflare/other", good, BODY),
        "a run's report path": (ALERT_KEY, "/runs/hourly@2026-11-23T09:00Z", good, BODY),
        "a changed body": (ALERT_KEY, PATH, good, BODY.replace(b'"failed"', b'"succeeded"')),
        "a body with a byte added": (ALERT_KEY, PATH, good, BODY + b" "),
        "a stale timestamp (301 s)": (
            ALERT_KEY,
            PATH,
            signed_headers(SIGNING_KEY, "alert", "POST", URL, BODY, now=time.time() - 301),
            BODY,
        ),
        "a timestamp 301 s ahead": (
            ALERT_KEY,
            PATH,
            signed_headers(SIGNING_KEY, "alert", "POST", URL, BODY, now=time.time() + 301),
            BODY,
        ),
        "another stack's alert key": (purpose_key("other-key", "alert"), PATH, good, BODY),
        "no headers": (ALERT_KEY, PATH, {}, BODY),
        "a timestamp that is not a number": (
            ALERT_KEY,
            PATH,
            {**good, "X-Cronflare-Timestamp": "12e3"},
            BODY,
        ),
        "a non-ASCII digit timestamp": (
            ALERT_KEY,
            PATH,
            {**good, "X-Cronflare-Timestamp": "²"},
            BODY,
        ),
        "a non-ASCII signature": (ALERT_KEY, PATH, {**good, "X-Cronflare-Signature": "v2=é"}, BODY),
    }


@pytest.mark.parametrize("name", list(_refusals()))
def test_it_refuses_anything_but_that_alert(check: Check, name: str):
    """Refused without raising, as cronflare.runtime.signing.verify_alert refuses it."""
    key, path, headers, body = _refusals()[name]
    assert check(key, path, headers, body) is False
    assert verify_alert(key, "POST", path, headers, body) is False
