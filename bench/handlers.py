"""The bench's job body: it returns at once, so what is measured is the path to it."""

from cronflare import RunContext


def noop(ctx: RunContext) -> dict:
    """Start, and end: the bench times how long it took to get here."""
    return {"execution_id": ctx.execution_id}
