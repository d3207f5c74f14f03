"""The local stack (the real Worker bundle in workerd through miniflare, the dispatcher and
local worker processes on loopback) and `cronflare demo`, which drives it through simulated time.

Imports `cronflare.catalog`, `cronflare.plan`, `cronflare.settings`, `cronflare.bundle` and
`cronflare.client` (the demo creates runtime schedules as a user's app would); it starts the
runtime as a separate process (`cronflare serve-dispatcher`).
"""
