"""`make bench`: the figures of docs/ARCHITECTURE.md, measured here into bench/results.json."""
