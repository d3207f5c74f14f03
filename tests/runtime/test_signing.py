"""cronflare/runtime/signing.py against the shared vectors, the time window, and key rotation."""

from __future__ import annotations

import json

import pytest

from cronflare.runtime.signing import sign, signed_headers, verify
from tests.vectors.generate import SIGNING_PATH

VECTORS = json.loads(SIGNING_PATH.read_text())["cases"]
NOW = 1_795_424_400


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["key"][:12])
def test_signatures_match_the_vectors_the_worker_also_checks(case):
    assert sign(case["key"], case["timestamp"], case["body"]) == case["signature"]
    assert sign(case["key"], case["timestamp"], case["body"].encode()) == case["signature"]


def test_verify_accepts_within_300_seconds_only():
    headers = signed_headers("k1", b"{}", now=NOW)
    assert verify(["k1"], headers, b"{}", now=NOW + 300)
    assert verify(["k1"], headers, b"{}", now=NOW - 300)
    assert not verify(["k1"], headers, b"{}", now=NOW + 301)
    assert not verify(["k1"], headers, b"{}", now=NOW - 301)


def test_both_the_current_and_the_next_key_are_accepted():
    for key in ("current", "next"):
        assert verify(["current", "next"], signed_headers(key, "x", now=NOW), "x", now=NOW)
    assert not verify(["current", None], signed_headers("next", "x", now=NOW), "x", now=NOW)
    assert not verify([None, None], signed_headers("next", "x", now=NOW), "x", now=NOW)


def test_a_changed_body_or_malformed_headers_fail():
    headers = signed_headers("k", b'{"a":1}', now=NOW)
    assert not verify(["k"], headers, b'{"a":2}', now=NOW)
    assert verify(["k"], {k.lower(): v for k, v in headers.items()}, b'{"a":1}', now=NOW)
    for ts, sig in [("", ""), ("soon", headers["X-Cronflare-Signature"]), (str(NOW), "v2=00")]:
        bad = {"X-Cronflare-Timestamp": ts, "X-Cronflare-Signature": sig}
        assert not verify(["k"], bad, b'{"a":1}', now=NOW)
