"""The one seam between the Pulumi providers and Modal: the modal CLI, the SDK, the credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cronflare.pulumi.providers import project_root

# Where `modal deploy` runs, so that `python -m` puts the project (its `jobs`) on sys.path.
ROOT = project_root()


class ModalError(Exception):
    """A Modal operation failed: the message names the command and Modal's own words."""


def check_credentials() -> None:
    """Fail clearly, before any Modal call, when no credentials can be found."""
    token_id, token_secret = os.environ.get("MODAL_TOKEN_ID"), os.environ.get("MODAL_TOKEN_SECRET")
    if token_id and token_secret:
        return
    if token_id or token_secret:
        missing = "MODAL_TOKEN_SECRET" if token_id else "MODAL_TOKEN_ID"
        raise ModalError(f"Modal credentials: {missing} is not set (its pair is); set both")
    config = Path(os.environ.get("MODAL_CONFIG_PATH", Path.home() / ".modal.toml"))
    if not config.is_file():
        raise ModalError(
            "Modal credentials: none found; set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, or run "
            f"`modal token new` (which writes {config})"
        )


def modal_cli(args: list[str], *, env: dict[str, str] | None = None) -> str:
    """Run `python -m modal <args>` in the project root with this environment plus `env`;
    return stdout, or raise ModalError with the command and the tail of its output.
    """
    argv = [sys.executable, "-m", "modal", *args]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ModalError(f"`modal {' '.join(args)}` failed (exit {done.returncode}): {tail}")
    return done.stdout


def modal_json(args: list[str]) -> Any:
    """A modal CLI command run with --json, parsed."""
    out = modal_cli([*args, "--json"])
    try:
        return json.loads(out)
    except ValueError as err:
        raise ModalError(f"`modal {' '.join(args)} --json` did not print JSON: {err}") from None


def web_url(app_name: str, function: str, environment: str) -> str:
    """A deployed web function's URL, through the modal SDK."""
    import modal

    url = modal.Function.from_name(app_name, function, environment_name=environment).get_web_url()
    if not url:
        raise ModalError(f"{app_name}.{function} in environment {environment} has no web URL")
    return url
