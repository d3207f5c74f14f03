"""Job bodies. Each takes a RunContext, does small real work, and returns a JSON-able summary.

Heavy imports belong inside the function, so that importing a handler module stays cheap.
"""
