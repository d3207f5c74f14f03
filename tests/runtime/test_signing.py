"""cronflare/runtime/signing.py against the shared vectors, the time window, key rotation, and
the bindings: a signature made for one purpose, method, path or body verifies for no other.
"""

from __future__ import annotations

import json

import pytest

from cronflare.runtime.signing import (
    PURPOSES,
    Purpose,
    purpose_key,
    sign,
    sign_legacy,
    signed_headers,
    verify,
    verify_legacy,
)
from tests.vectors.generate import SIGNING_PATH

VECTORS = json.loads(SIGNING_PATH.read_text())["cases"]
NOW = 1_795_424_400
URL = "https://w.test/runs/job-a@2026-11-23T09:00Z"
PATH = "/runs/job-a@2026-11-23T09:00Z"


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: f"{c['purpose']}-{c['key'][:8]}")
def test_signatures_match_the_vectors_the_worker_also_checks(case):
    key = purpose_key(case["key"], case["purpose"])
    assert key == case["purpose_key"]
    args = (case["purpose"], case["method"], case["path"], case["timestamp"])
    assert sign(key, *args, case["body"]) == case["signature"]
    assert sign(key, *args, case["body"].encode()) == case["signature"]


def test_verify_accepts_within_300_seconds_only():
    headers = signed_headers("k1", "report", "POST", URL, b"{}", now=NOW)
    for now, ok in [(NOW + 300, True), (NOW - 300, True), (NOW + 301, False), (NOW - 301, False)]:
        assert verify(["k1"], "report", "POST", PATH, headers, b"{}", now=now) is ok


def test_both_the_current_and_the_next_key_are_accepted_for_every_purpose():
    for purpose in PURPOSES:
        for key in ("current", "next"):
            headers = signed_headers(key, purpose, "POST", URL, "x", now=NOW)
            assert verify(["current", "next"], purpose, "POST", PATH, headers, "x", now=NOW)
        headers = signed_headers("next", purpose, "POST", URL, "x", now=NOW)
        assert not verify(["current", None], purpose, "POST", PATH, headers, "x", now=NOW)
        assert not verify([None, None], purpose, "POST", PATH, headers, "x", now=NOW)


def test_a_signature_is_bound_to_its_purpose_method_path_and_body():
    headers = signed_headers("k", "report", "POST", URL, b'{"a":1}', now=NOW)
    assert verify(["k"], "report", "post", PATH, headers, b'{"a":1}', now=NOW)
    others: list[tuple[Purpose, str, str, bytes]] = [
        ("dispatch", "POST", PATH, b'{"a":1}'),
        ("alert", "POST", PATH, b'{"a":1}'),
        ("report", "PUT", PATH, b'{"a":1}'),
        ("report", "POST", "/runs/job-b@2026-11-23T09:00Z", b'{"a":1}'),
        ("report", "POST", PATH + "/replay", b'{"a":1}'),
        ("report", "POST", PATH, b'{"a":2}'),
    ]
    for purpose, method, path, body in others:
        assert not verify(["k"], purpose, method, path, headers, body, now=NOW), (purpose, path)


def test_the_signed_path_is_the_decoded_one_the_receiver_routes():
    encoded = "https://w.test/runs/job-a%402026-11-23T09%3A00Z"
    headers = signed_headers("k", "report", "POST", encoded, "{}", now=NOW)
    assert verify(["k"], "report", "POST", PATH, headers, "{}", now=NOW)


def test_purpose_keys_differ_from_each_other_and_from_the_signing_key():
    keys = {purpose_key("k", p) for p in PURPOSES}
    assert len(keys) == 3 and "k" not in keys


def test_malformed_headers_fail():
    headers = signed_headers("k", "dispatch", "POST", "http://d/dispatch", b"{}", now=NOW)
    for ts, sig in [("", ""), ("soon", headers["X-Cronflare-Signature"]), (str(NOW), "v2=00")]:
        bad = {"X-Cronflare-Timestamp": ts, "X-Cronflare-Signature": sig}
        assert not verify(["k"], "dispatch", "POST", "/dispatch", bad, b"{}", now=NOW)


def test_v1_and_v2_never_verify_as_each_other():
    v2 = signed_headers("k", "dispatch", "POST", "http://d/dispatch", b"{}", now=NOW)
    assert not verify_legacy(["k"], v2, b"{}", now=NOW)
    v1 = {**v2, "X-Cronflare-Signature": sign_legacy("k", NOW, b"{}")}
    assert verify_legacy(["k"], v1, b"{}", now=NOW)
    assert not verify(["k"], "dispatch", "POST", "/dispatch", v1, b"{}", now=NOW)
