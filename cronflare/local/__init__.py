"""The local stack (the real Worker bundle in workerd through miniflare, the dispatcher and
local worker processes on loopback) and `cronflare demo`, which drives it through simulated time.

Imports `cronflare.catalog`, `cronflare.plan`, `cronflare.settings` and `cronflare.bundle`;
it starts the runtime as a separate process (`cronflare serve-dispatcher`).
"""
