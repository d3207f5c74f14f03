"""The signed-request contract shared with the Worker (docs/SECURITY.md, "What is signed").

v2=hex(HMAC-SHA256(purpose key, the lines "cronflare-v2", purpose, METHOD, path, ts, then body)),
each purpose (dispatch, report, alert) with its own key derived from the stack's signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote, urlsplit

TOLERANCE_S = 300
SCHEME = "cronflare-v2"
TIMESTAMP = "X-Cronflare-Timestamp"
SIGNATURE = "X-Cronflare-Signature"
Purpose = Literal["dispatch", "report", "alert"]
PURPOSES: tuple[Purpose, ...] = ("dispatch", "report", "alert")
_SIG = re.compile(r"^v2=([0-9a-f]{64})$")
_LEGACY_SIG = re.compile(r"^v1=([0-9a-f]{64})$")
_TS = re.compile(r"^\d{1,12}$")


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def _hmac(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


@lru_cache(maxsize=64)
def purpose_key(signing_key: str, purpose: Purpose) -> str:
    """The key one purpose signs with; holding it signs nothing else (the alert key is handed to
    webhook receivers, who must not be able to sign a report or a dispatch).
    """
    return _hmac(signing_key, f"{SCHEME} purpose {purpose}".encode())


def signed_path(url: str) -> str:
    """The path a signature covers: percent-decoded, as the receiving framework routes it."""
    return unquote(urlsplit(url).path)


def canonical(purpose: Purpose, method: str, path: str, timestamp: int, body: bytes | str) -> bytes:
    """What a signature covers, a field a line: nothing signed for one thing reads as another."""
    head = f"{SCHEME}\n{purpose}\n{method.upper()}\n{path}\n{timestamp}\n"
    return head.encode() + _bytes(body)


def sign(
    key: str, purpose: Purpose, method: str, path: str, timestamp: int, body: bytes | str
) -> str:
    """The X-Cronflare-Signature value, made with a purpose key (see purpose_key)."""
    return f"v2={_hmac(key, canonical(purpose, method, path, timestamp, body))}"


def signed_headers(
    signing_key: str,
    purpose: Purpose,
    method: str,
    url: str,
    body: bytes | str,
    now: float | None = None,
) -> dict[str, str]:
    """Headers for a signed JSON request of `body` to `url`, with the stack's signing key."""
    timestamp = int(time.time() if now is None else now)
    key = purpose_key(signing_key, purpose)
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(key, purpose, method, signed_path(url), timestamp, body),
    }


def _fresh(headers: Mapping[str, str], pattern: re.Pattern[str], now: float | None):
    lower = {k.lower(): v for k, v in headers.items()}
    ts = lower.get(TIMESTAMP.lower(), "")
    sig = lower.get(SIGNATURE.lower(), "")
    if not _TS.match(ts) or not pattern.match(sig):
        return None
    if abs((time.time() if now is None else now) - int(ts)) > TOLERANCE_S:
        return None
    return int(ts), sig


def verify(
    signing_keys: Sequence[str | None],
    purpose: Purpose,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | str,
    now: float | None = None,
) -> bool:
    """Whether a request was signed for this purpose, method and path by one of the stack's
    signing keys (current and next generation) within ±300 s.
    """
    fresh = _fresh(headers, _SIG, now)
    if fresh is None:
        return False
    ts, sig = fresh
    ok = False
    for key in signing_keys:  # every key, so timing does not tell which one matched
        made = key and sign(purpose_key(key, purpose), purpose, method, path, ts, body)
        if made and hmac.compare_digest(made, sig):
            ok = True
    return ok


def verify_alert(
    alert_key: str, method: str, path: str, headers: Mapping[str, str], body: bytes | str
) -> bool:
    """What an alert receiver runs, with the `alertSigningKey` stack output (docs/SECURITY.md)."""
    fresh = _fresh(headers, _SIG, None)
    return fresh is not None and hmac.compare_digest(
        sign(alert_key, "alert", method, path, fresh[0], body), fresh[1]
    )


def sign_legacy(signing_key: str, timestamp: int, body: bytes | str) -> str:
    """The pre-v2 scheme, v1=hex(HMAC(key, ts + "." + body)), which binds no run, path or purpose.
    The wrapper uses it only toward a Worker that does not speak v2 yet, during an upgrade.
    """
    return f"v1={_hmac(signing_key, str(timestamp).encode() + b'.' + _bytes(body))}"


def verify_legacy(
    signing_keys: Sequence[str | None],
    headers: Mapping[str, str],
    body: bytes | str,
    now: float | None = None,
) -> bool:
    """A v1 signature: the dispatcher takes it only until the new Worker's first v2 dispatch."""
    fresh = _fresh(headers, _LEGACY_SIG, now)
    if fresh is None:
        return False
    ok = False
    for key in signing_keys:
        if key and hmac.compare_digest(sign_legacy(key, fresh[0], body), fresh[1]):
            ok = True
    return ok
