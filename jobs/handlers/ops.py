"""Operations jobs: health checks, monitoring, clean-up, backups and cache warming."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
from pathlib import Path

from cronflare import RunContext

KEEP_DAYS = 7


def health_check(ctx: RunContext) -> dict:
    """Check that the output volume is writable and has room, and record the result."""
    probe = ctx.output_dir / ".probe"
    probe.write_text(ctx.execution_id)
    ok = probe.read_text() == ctx.execution_id
    usage = shutil.disk_usage(ctx.output_dir)
    free_pct = round(100 * usage.free / usage.total, 1)
    if not ok or free_pct < 5:
        raise RuntimeError(f"unhealthy: writable={ok} free={free_pct}%")
    return {"writable": ok, "disk_free_pct": free_pct}


def monitor(ctx: RunContext) -> dict:
    """Time a fixed unit of work and append the sample to a CSV, as a latency monitor would."""
    start = time.perf_counter()
    digest = hashlib.sha256(ctx.execution_id.encode() * 2000).hexdigest()
    elapsed_ms = (time.perf_counter() - start) * 1000
    with (ctx.output_dir / "samples.csv").open("a") as f:
        f.write(f"{ctx.scheduled_time.isoformat()},{elapsed_ms:.3f},{digest[:12]}\n")
    return {"elapsed_ms": round(elapsed_ms, 3)}


def warm_cache(ctx: RunContext) -> dict:
    """Precompute a lookup table (the primes below ctx.args["limit"], default 20,000) and store
    it with its checksum.
    """
    limit = int(ctx.args.get("limit", 20_000))
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    primes = [i for i in range(limit) if sieve[i]]
    blob = json.dumps(primes).encode()
    (ctx.output_dir / "primes.json").write_bytes(blob)
    return {"primes": len(primes), "sha256": hashlib.sha256(blob).hexdigest()[:16]}


def nightly_cleanup(ctx: RunContext) -> dict:
    """Delete output files older than a week, measured against the run's scheduled time."""
    root = ctx.output_dir.parent
    cutoff = ctx.scheduled_time.timestamp() - KEEP_DAYS * 86400
    removed = 0
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink()
            removed += 1
    return {"removed": removed, "kept_days": KEEP_DAYS}


def backup(ctx: RunContext) -> dict:
    """Archive every job's output into a tar.gz on the backups Volume, with its SHA-256 beside
    it, and keep the last ctx.args["keep"] archives (default 7).
    """
    root = ctx.output_dir.parent
    backups = ctx.volume("/backups")
    archive = backups / f"backup-{ctx.stamp}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(root.iterdir()):
            if path.is_dir() and path.name != ctx.job:
                tar.add(path, arcname=path.name)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    Path(f"{archive}.sha256").write_text(f"{digest}  {archive.name}\n")
    keep = int(ctx.args.get("keep", 7))
    old = sorted(backups.glob("backup-*.tar.gz"))[:-keep]
    for stale in old:
        stale.unlink()
        Path(f"{stale}.sha256").unlink(missing_ok=True)
    return {"archive": archive.name, "sha256": digest, "pruned": len(old)}
