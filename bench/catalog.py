"""Catalogs the bench runs and plans: staggered jobs for latency, a mixed one for scale."""

from cronflare import Catalog, Job

LATENCY_JOBS = 10  # every 5 minutes, staggered: 2 runs a minute, 500 runs in 250 minutes
STAGGER = 5
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
SCHEDULES = (
    "*/5 * * * *",
    "0 * * * *",
    "17 3 * * *",
    "30 9 * * MON-FRI",
    "0 12 * * 1L",
    "45 6 1 * *",
    "0 18 * * 5#2",
    "*/15 8-17 * * *",
)

LATENCY = Catalog(
    jobs=[
        Job(name=f"every-5-{i}", description="bench", handler="bench.handlers:noop",
            schedule=f"{i % STAGGER}-59/{STAGGER} * * * *", timeout="1m")
        for i in range(LATENCY_JOBS)
    ]
)  # fmt: skip


def mixed(count: int) -> Catalog:
    """`count` jobs cycling through cron forms and timezones, as a real catalog mixes them."""
    return Catalog(
        jobs=[
            Job(
                name=f"job-{i:05d}",
                description="bench",
                schedule=SCHEDULES[i % len(SCHEDULES)],
                timezone=TIMEZONES[i // len(SCHEDULES) % len(TIMEZONES)],
                handler="bench.handlers:noop",
            )
            for i in range(count)
        ]
    )


def __getattr__(name: str) -> Catalog:
    # CRONFLARE_CATALOG=bench.catalog:MIXED_<n> selects mixed(n), for the Pulumi program.
    if name.startswith("MIXED_") and name[6:].isdigit():
        return mixed(int(name[6:]))
    raise AttributeError(name)
