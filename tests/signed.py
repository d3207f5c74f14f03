"""Test shorthands for v2 signatures: a dispatch as the Worker signs it, a report as received."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from cronflare.runtime.signing import signed_headers, verify


def dispatch_headers(key: str, raw: bytes | str, url: str = "http://testserver/dispatch",
                     now: float | None = None) -> dict[str, str]:  # fmt: skip
    """Headers of a dispatch POST to `url`, signed as the Worker signs one."""
    return signed_headers(key, "dispatch", "POST", url, raw, now=now)


def is_signed_report(received: Any, keys: list[str | None]) -> bool:
    """Whether a report the callback server received was signed for its own run's path."""
    body = received.body
    return verify(
        keys, "report", "POST", unquote(received.path.split("?")[0]), received.headers, body
    )
