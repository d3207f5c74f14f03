"""A GPU-sized job: refresh document embeddings (a small pure-Python stand-in locally)."""

from __future__ import annotations

import hashlib
import json
import math

from cronflare import RunContext

DOCS = ("pricing page", "getting started", "cron semantics", "release notes", "status page")


def _embed(text: str, dims: int = 16) -> list[float]:
    raw = hashlib.sha256(text.encode()).digest()
    vec = [b - 127.5 for b in raw[:dims]]
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec]


def refresh_embeddings(ctx: RunContext) -> dict:
    """Embed each document and store the vectors with the pairwise nearest neighbours."""
    vectors = {doc: _embed(doc) for doc in DOCS}
    nearest = {}
    for a, va in vectors.items():
        scores = {b: sum(x * y for x, y in zip(va, vb, strict=True)) for b, vb in vectors.items()}
        scores.pop(a)
        nearest[a] = max(scores, key=lambda k: scores[k])
    path = ctx.output_dir / f"embeddings-{ctx.stamp}.json"
    path.write_text(json.dumps({"vectors": vectors, "nearest": nearest}))
    return {"file": str(path), "documents": len(vectors)}
