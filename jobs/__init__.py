"""Your jobs: the catalog (`jobs/catalog.py`) and the handlers it runs (`jobs/handlers/`).

This folder is yours. It imports only the top-level `cronflare` package; a newer cronflare
replaces `cronflare/`, `infra/` and `worker_src/` and leaves this folder alone.
"""
