"""Billing: the catalog schedules `billing/sync_invoices`, a function the billing team already
deploys on Modal. This is its local stand-in, which `make demo` runs in its place.
"""

from __future__ import annotations


def sync_invoices_locally(since_hours: int = 24, dry_run: bool = False) -> dict:
    """Stand in for billing/sync_invoices: take the same keyword arguments, touch nothing."""
    if since_hours <= 0:
        raise ValueError(f"since_hours must be positive, got {since_hours}")
    return {"stand_in": True, "since_hours": since_hours, "dry_run": dry_run, "synced": 0}
