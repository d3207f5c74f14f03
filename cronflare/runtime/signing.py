"""The signed-request contract shared with the Worker: v1=hex(HMAC-SHA256(key, ts + "." + body))."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence

TOLERANCE_S = 300
TIMESTAMP = "X-Cronflare-Timestamp"
SIGNATURE = "X-Cronflare-Signature"
_SIG = re.compile(r"^v1=([0-9a-f]{64})$")
_TS = re.compile(r"^\d{1,12}$")


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(key: str, timestamp: int, body: bytes | str) -> str:
    """The X-Cronflare-Signature value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(key.encode(), str(timestamp).encode() + b"." + _bytes(body), hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(key: str, body: bytes | str, now: float | None = None) -> dict[str, str]:
    """Headers for a signed JSON POST of `body`."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(key, timestamp, body),
    }


def verify(
    keys: Sequence[str | None],
    headers: Mapping[str, str],
    body: bytes | str,
    now: float | None = None,
) -> bool:
    """Whether `body` was signed by one of `keys` (current and next) within ±300 s."""
    lower = {k.lower(): v for k, v in headers.items()}
    ts = lower.get(TIMESTAMP.lower(), "")
    sig = lower.get(SIGNATURE.lower(), "")
    if not _TS.match(ts) or not _SIG.match(sig):
        return False
    if abs((time.time() if now is None else now) - int(ts)) > TOLERANCE_S:
        return False
    ok = False
    for key in keys:  # check every key, so timing does not tell which one matched
        if key and hmac.compare_digest(sign(key, int(ts), body), sig):
            ok = True
    return ok
