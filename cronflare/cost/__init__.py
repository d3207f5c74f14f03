"""`cronflare cost`: the cost model (runs, Modal compute, Cloudflare usage, hybrid against
Modal-only) and its dated price table.

`prices` imports nothing else of cronflare; `model` imports the catalog, the plan, settings and
`runtime.image` (the watcher's request, a few constants), never Modal.
"""
