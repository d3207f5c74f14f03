"""`make bench`: cronflare's figures against DESIGN.md §8, written to bench/results.json."""
