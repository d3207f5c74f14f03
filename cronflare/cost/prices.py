"""The one dated table of Cloudflare and Modal prices and allowances that `cronflare cost` uses.

Every figure has its source in SOURCES. A stack may override any of them with the optional
`cronflare:prices` config object (camelCase keys, such as `workersPaidUsdPerMonth`), which is
validated against this model: a bad key or value is a `config cronflare:prices.<key>: ...` line.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Where each figure comes from. Read on the date below; providers change them, so check.
CF_WORKERS_PRICING = "https://developers.cloudflare.com/workers/platform/pricing/"
CF_WORKERS_LIMITS = "https://developers.cloudflare.com/workers/platform/limits/"
CF_QUEUES_PRICING = "https://developers.cloudflare.com/queues/platform/pricing/"
CF_D1_PRICING = "https://developers.cloudflare.com/d1/platform/pricing/"
CF_D1_LIMITS = "https://developers.cloudflare.com/d1/platform/limits/"
MODAL_PRICING = "https://modal.com/pricing"
MODAL_RESOURCES = "https://modal.com/docs/guide/resources"
MODAL_GPU = "https://modal.com/docs/guide/gpu"
MODAL_COLD_START = "https://modal.com/docs/guide/cold-start"

# Modal's GPU price keys; catalog.model.MODAL_GPUS spellings map onto these in cost.model.
GPU_PRICE_KEYS = (
    "T4",
    "L4",
    "A10",
    "L40S",
    "A100-40GB",
    "A100-80GB",
    "H100",
    "H200",
    "B200",
)
_GPU_USD_PER_SECOND = {
    "T4": 0.000164,
    "L4": 0.000222,
    "A10": 0.000306,
    "L40S": 0.000542,
    "A100-40GB": 0.000583,
    "A100-80GB": 0.000694,
    "H100": 0.001097,
    "H200": 0.001261,
    "B200": 0.001736,
}


class Prices(BaseModel):
    """Prices and free allowances, as of `as_of`; the defaults ARE the table."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )

    as_of: date = date(2026, 11, 23)

    # Cloudflare Workers: the free plan's daily request cap and the paid plan.
    workers_free_requests_per_day: int = Field(default=100_000, ge=0)
    workers_paid_usd_per_month: float = Field(default=5.0, ge=0)
    workers_paid_requests_per_month: int = Field(default=10_000_000, ge=0)
    workers_paid_usd_per_million_requests: float = Field(default=0.30, ge=0)
    # Cloudflare Queues: an operation is a write, read or delete of up to 64 KB.
    queues_free_operations_per_day: int = Field(default=10_000, ge=0)
    queues_paid_operations_per_month: int = Field(default=1_000_000, ge=0)
    queues_paid_usd_per_million_operations: float = Field(default=0.40, ge=0)
    # Cloudflare D1: rows read and written (an index entry is a row written too).
    d1_free_rows_read_per_day: int = Field(default=5_000_000, ge=0)
    d1_free_rows_written_per_day: int = Field(default=100_000, ge=0)
    d1_free_database_mb: int = Field(default=500, ge=0)
    d1_paid_rows_read_per_month: int = Field(default=25_000_000_000, ge=0)
    d1_paid_rows_written_per_month: int = Field(default=50_000_000, ge=0)
    d1_paid_usd_per_million_rows_read: float = Field(default=0.001, ge=0)
    d1_paid_usd_per_million_rows_written: float = Field(default=1.00, ge=0)

    # Modal compute, billed per second on max(request, usage); base rates (no region pinning,
    # preemptible), which is how cronflare.runtime.modal_app deploys.
    modal_cpu_usd_per_core_second: float = Field(default=0.0000131, ge=0)
    modal_memory_usd_per_gib_second: float = Field(default=0.00000222, ge=0)
    modal_gpu_usd_per_second: dict[str, float] = Field(
        default_factory=lambda: dict(_GPU_USD_PER_SECOND)
    )
    # What a container gets when a job leaves cpu or memory unset, and the CPU billing floor.
    modal_default_cpu_cores: float = Field(default=0.125, ge=0)
    modal_min_cpu_cores: float = Field(default=0.125, ge=0)
    modal_default_memory_mib: int = Field(default=128, ge=0)
    # An idle container lingers this long for the next input, billed, before it scales down.
    modal_scaledown_window_seconds: int = Field(default=60, ge=0, le=3600)
    # Modal plans: fee, monthly credits against compute, and the Starter plan's caps.
    modal_starter_usd_per_month: float = Field(default=0.0, ge=0)
    modal_starter_credits_usd_per_month: float = Field(default=30.0, ge=0)
    modal_starter_scheduled_functions: int = Field(default=5, ge=0)
    modal_starter_web_endpoints: int = Field(default=8, ge=0)
    modal_team_usd_per_month: float = Field(default=250.0, ge=0)
    modal_team_credits_usd_per_month: float = Field(default=100.0, ge=0)

    SOURCES: ClassVar[dict[str, tuple[str, ...]]] = {
        "workers_free_requests_per_day": (CF_WORKERS_LIMITS, CF_WORKERS_PRICING),
        "workers_paid_usd_per_month": (CF_WORKERS_PRICING,),
        "workers_paid_requests_per_month": (CF_WORKERS_PRICING,),
        "workers_paid_usd_per_million_requests": (CF_WORKERS_PRICING,),
        "queues_free_operations_per_day": (CF_QUEUES_PRICING,),
        "queues_paid_operations_per_month": (CF_QUEUES_PRICING,),
        "queues_paid_usd_per_million_operations": (CF_QUEUES_PRICING,),
        "d1_free_rows_read_per_day": (CF_D1_PRICING,),
        "d1_free_rows_written_per_day": (CF_D1_PRICING,),
        "d1_free_database_mb": (CF_D1_LIMITS,),
        "d1_paid_rows_read_per_month": (CF_D1_PRICING,),
        "d1_paid_rows_written_per_month": (CF_D1_PRICING,),
        "d1_paid_usd_per_million_rows_read": (CF_D1_PRICING,),
        "d1_paid_usd_per_million_rows_written": (CF_D1_PRICING,),
        "modal_cpu_usd_per_core_second": (MODAL_PRICING,),
        "modal_memory_usd_per_gib_second": (MODAL_PRICING,),
        "modal_gpu_usd_per_second": (MODAL_PRICING, MODAL_GPU),
        "modal_default_cpu_cores": (MODAL_RESOURCES,),
        "modal_min_cpu_cores": (MODAL_PRICING,),
        "modal_default_memory_mib": (MODAL_RESOURCES,),
        "modal_scaledown_window_seconds": (MODAL_COLD_START,),
        "modal_starter_usd_per_month": (MODAL_PRICING,),
        "modal_starter_credits_usd_per_month": (MODAL_PRICING,),
        "modal_starter_scheduled_functions": (MODAL_PRICING,),
        "modal_starter_web_endpoints": (MODAL_PRICING,),
        "modal_team_usd_per_month": (MODAL_PRICING,),
        "modal_team_credits_usd_per_month": (MODAL_PRICING,),
    }

    @field_validator("modal_gpu_usd_per_second", mode="before")
    @classmethod
    def _merge_gpu_prices(cls, value: Any) -> Any:
        # An override names only the GPUs it changes; the rest keep the table's price.
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(map(str, value)) - set(GPU_PRICE_KEYS))
        if unknown:
            raise ValueError(
                f"unknown GPU {', '.join(unknown)}; price one of {', '.join(GPU_PRICE_KEYS)}"
            )
        return {**_GPU_USD_PER_SECOND, **value}

    @field_validator("modal_gpu_usd_per_second")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        if any(price < 0 for price in value.values()):
            raise ValueError("a GPU price cannot be negative")
        return value

    def overridden(self) -> list[str]:
        """The config keys (camelCase) whose value differs from the dated table."""
        table = Prices()
        return [
            to_camel(n) for n in type(self).model_fields if getattr(self, n) != getattr(table, n)
        ]
