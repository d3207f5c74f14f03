"""THE job catalog: edit this file to add, change or remove scheduled jobs.

Schedules are Unix cron (0 or 7 = Sunday, 1 = Monday), a macro such as "@daily", or an
interval such as every="15m". cronflare translates them for Cloudflare, whose own cron
dialect numbers Sunday 1, so "0 9 * * 1" here really does mean Mondays. `expected_duration`
(how long a run usually takes) only feeds the estimates of `cronflare cost` (docs/COST.md).
"""

from cronflare import Catalog, Defaults, Image, Job, Resources, RetryPolicy
from jobs.handlers import analytics, billing, ml, ops, reports

CATALOG = Catalog(
    defaults=Defaults(
        timezone="UTC",
        timeout="10m",
        retries=RetryPolicy(attempts=3, initial_delay="2s", backoff_coefficient=2.0),
        resources=Resources(cpu=0.25, memory=256),
        tags=("example",),
    ),
    jobs=[
        # The six jobs of the original hybrid-scheduling write-up, meaning kept.
        Job(
            name="daily-analytics-sync",
            description="Aggregate yesterday's page views for reporting.",
            schedule="0 6 * * *",
            handler=analytics.daily_sync,
            expected_duration="2m",
            tags=("analytics",),
        ),
        Job(
            name="hourly-health-check",
            description="Check that storage is writable and has room.",
            schedule="@hourly",
            handler=ops.health_check,
            timeout="1m",
            expected_duration="5s",
        ),
        Job(
            name="weekly-report",
            description="Weekly traffic report, every Monday at 09:00 UTC.",
            schedule="0 9 * * 1",
            handler=reports.weekly_report,
            image=Image(pip=["rich==15.0.0"]),  # renders its table with rich
            tags=("analytics",),
        ),
        Job(
            name="monitoring",
            description="Latency probe every five minutes.",
            every="5m",
            handler=ops.monitor,
            timeout="1m",
            expected_duration="3s",
            concurrency="forbid",
        ),
        Job(
            name="bi-hourly-sync",
            description="Merge CRM changes into the ledger every two hours.",
            schedule="0 */2 * * *",
            handler=analytics.bi_hourly_sync,
            concurrency="forbid",
        ),
        Job(
            name="nightly-cleanup",
            description="Delete output older than a week, at 03:00 UTC.",
            schedule="0 3 * * *",
            handler=ops.nightly_cleanup,
        ),
        # Beyond the write-up: time zones, intervals, month ends and bigger machines.
        Job(
            name="berlin-digest",
            description="Morning digest for the Berlin office, weekdays at 08:00 local time.",
            schedule="0 8 * * MON-FRI",
            timezone="Europe/Berlin",
            handler=reports.weekday_digest,
        ),
        Job(
            name="cache-warm",
            description="Rebuild the lookup cache every fifteen minutes.",
            every="15m",
            handler=ops.warm_cache,
            args={"limit": 20_000},
            concurrency="replace",
        ),
        Job(
            name="month-end-close",
            description="Close the books on the last day of each month at 23:30 UTC.",
            schedule="30 23 L * *",
            handler=reports.month_end_close,
            retries=RetryPolicy(attempts=5, initial_delay="10s", max_delay="60s"),
        ),
        Job(
            name="embeddings-refresh",
            description="Re-embed the documentation nightly on a GPU.",
            schedule="0 2 * * *",
            handler=ml.refresh_embeddings,
            resources=Resources(gpu="T4", memory=8192, cpu=2),
            timeout="30m",
            expected_duration="12m",
            concurrency="replace",
        ),
        Job(
            name="nightly-backup",
            description="Archive every job's output with a SHA-256 checksum, at 01:00 UTC.",
            schedule="0 1 * * *",
            handler=ops.backup,
            volumes={"/backups": "cronflare-backups"},  # kept apart from the output it archives
            args={"keep": 7},
            expected_duration="4m",
            resources=Resources(memory=1024),
        ),
        Job(
            name="quarterly-archive",
            description="Index the quarter's reports on the first day of each quarter.",
            schedule="0 4 1 */3 *",
            handler=reports.quarterly_archive,
        ),
        Job(
            name="new-york-sla-report",
            description="Friday SLA summary at 17:30 New York time.",
            schedule="30 17 * * FRI",
            timezone="America/New_York",
            handler=reports.sla_report,
        ),
        # A function another team already deploys on Modal, scheduled by name with arguments.
        Job(
            name="invoice-sync",
            description="Pull the last day's invoices into billing, every six hours.",
            schedule="0 */6 * * *",
            target="billing/sync_invoices",
            args={"since_hours": 24},
            stand_in=billing.sync_invoices_locally,  # what `make demo` runs in its place
            estimate_resources=Resources(cpu=1, memory=1024),  # for `cronflare cost` only
            expected_duration="3m",
        ),
        # No schedule of its own: the app creates one per customer at runtime (cronflare.Client).
        Job(
            name="customer-digest",
            description="One customer's digest, on the schedule the app made for that customer.",
            handler=reports.customer_digest,
            runtime_schedules=True,
            timeout="2m",
            expected_duration="2s",
        ),
    ],
)
