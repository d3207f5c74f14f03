"""Typed per-stack settings: the `cronflare:` keys of Pulumi.<stack>.yaml, in one frozen model."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from cronflare.catalog.model import CatalogError, JobOverride, error_message
from cronflare.cost.prices import Prices

NAMESPACE = "cronflare"
TRIGGER_LIMITS = {"free": 5, "paid": 250}  # Cloudflare cron triggers per account, by plan
SECRET_KEYS = frozenset({"alertWebhookUrl"})
ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
STACK_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


class SecretRef:
    """A secret config value seen from outside Pulumi: present, still encrypted, never printed."""

    def __init__(self, ciphertext: str):
        self._ciphertext = ciphertext

    def __repr__(self) -> str:
        return "[secret]"


AlertOn = Literal["dead", "failed", "skipped", "missed"]


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not {value}",
                                  {"value": str(value).lower()})  # fmt: skip
    return value


# Pulumi's `integer` (Pulumi.yaml) refuses true and false, which pydantic alone takes as 1 and 0.
Integer = Annotated[int, BeforeValidator(_not_a_boolean)]


class Settings(BaseModel):
    """One stack's settings. Field names are snake_case; config keys are their camelCase aliases."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
    )

    stack: str = Field(default="local", exclude=True)
    account_id: str | None = None
    cloudflare_plan: Literal["free", "paid"] = "free"
    native_trigger_limit: Integer | None = Field(default=None, ge=0, le=250)
    trigger_mode: Literal["auto", "native", "tick"] = "auto"
    modal_environment: str = Field(default="main", min_length=1)
    catchup_window_minutes: Integer = Field(default=60, ge=0, le=1440)
    # Runs whose scheduled time is older are pruned from the run log; counts over all time stay.
    run_retention_days: Integer = Field(default=90, ge=1, le=3650)
    # What the alert webhook hears of (docs/WORKER.md, Alerts).
    alert_on: tuple[AlertOn, ...] = ("dead",)
    queue_batch_size: Integer = Field(default=10, ge=1, le=100)
    queue_max_retries: Integer = Field(default=5, ge=0, le=100)
    queue_max_wait_time_ms: Integer = Field(default=50, ge=0, le=60_000)
    retry_max_delay_seconds: Integer = Field(default=300, ge=1, le=43_200)
    # The account's workers.dev subdomain: the Worker is served at <script>.<this>.workers.dev.
    workers_subdomain: str | None = None
    # Signing keys are RandomPasswords named by generation; rotation moves these two numbers.
    signing_key_generation: Integer = Field(default=1, ge=1)
    next_signing_key_generation: Integer | None = Field(default=None, ge=1)
    # Output[str] inside a Pulumi program, SecretRef when read from the stack file: never text.
    alert_webhook_url: Any = Field(default=None, repr=False, exclude=True)
    jobs: dict[str, JobOverride] = Field(default_factory=dict)
    # Overrides of the dated price table that `cronflare cost` uses (cronflare/cost/prices.py).
    prices: Prices = Field(default_factory=Prices)

    @field_validator("alert_on")
    @classmethod
    def _alert_on(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names a status twice")
        return value

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str | None) -> str | None:
        if value is not None and not ACCOUNT_ID.match(value):
            raise ValueError("must be the 32-character hex Cloudflare account id")
        return value

    @field_validator("workers_subdomain")
    @classmethod
    def _workers_subdomain(cls, value: str | None) -> str | None:
        if value is not None and not DNS_LABEL.match(value):
            raise ValueError(
                "must be the account's workers.dev subdomain, one lowercase DNS label such as "
                "acme (for acme.workers.dev)"
            )
        return value

    @field_validator("stack")
    @classmethod
    def _stack(cls, value: str) -> str:
        if not STACK_NAME.match(value):
            raise ValueError("stack names must be lowercase letters, digits and '-' (at most 32)")
        return value

    @model_validator(mode="after")
    def _rotation(self) -> Settings:
        if self.next_signing_key_generation == self.signing_key_generation:
            raise PydanticCustomError(
                "rotation",
                "config {ns}:nextSigningKeyGeneration: must differ from signingKeyGeneration "
                "({n}); remove it when no rotation is under way",
                {"ns": NAMESPACE, "n": self.signing_key_generation},
            )
        return self

    @property
    def trigger_limit(self) -> int:
        """How many native Cloudflare cron triggers this stack may use."""
        if self.native_trigger_limit is not None:
            return self.native_trigger_limit
        return TRIGGER_LIMITS[self.cloudflare_plan]

    @property
    def name_prefix(self) -> str:
        """Prefix of every cloud resource name, so that stacks never collide: cronflare-<stack>."""
        return f"{NAMESPACE}-{self.stack}"


CONFIG_KEYS = frozenset(to_camel(name) for name in Settings.model_fields if name != "stack")
# What every stack must set, and how: the program names its resources with both, and Pulumi.yaml
# declares both with no default, so Pulumi itself refuses a stack without them. The model keeps
# them optional for the local stack, which has neither.
REQUIRED_KEYS: dict[str, tuple[str, str]] = {
    "accountId": ("your Cloudflare account id", "<32-hex account id>"),
    "workersSubdomain": (
        "your account's workers.dev subdomain (Workers & Pages → Overview → Subdomain)",
        "<subdomain>",
    ),
}


def settings_from_config(
    values: Mapping[str, Any],
    stack: str,
    *,
    secret_keys: frozenset[str] = frozenset(),
) -> Settings:
    """Build Settings from `cronflare:` config values (keys without the namespace): the model's
    checks only, with no key required. A stack's config goes through check_stack_config().

    Values of `secret_keys` arrive still sealed (a SecretRef, or an Output inside Pulumi).
    """
    problems: list[str] = []
    clean: dict[str, Any] = {"stack": stack}
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f" (did you mean {NAMESPACE}:{close[0]}?)" if close else ""
            problems.append(f"config {NAMESPACE}:{key}: unknown key{hint}")
        elif key in SECRET_KEYS and key not in secret_keys:
            problems.append(
                f"config {NAMESPACE}:{key}: is a secret and must not be stored in clear; set it "
                f"with `pulumi config set --secret {NAMESPACE}:{key} <value>`"
            )
        elif key in secret_keys and key not in SECRET_KEYS:
            problems.append(f"config {NAMESPACE}:{key}: is not a secret; set it in clear")
        else:
            clean[key] = value
    try:
        settings = Settings.model_validate(clean)
    except ValidationError as err:
        raise CatalogError(problems + [_config_line(e) for e in err.errors()]) from None
    if problems:
        raise CatalogError(problems)
    return settings


def check_stack_config(
    values: Mapping[str, Any],
    stack: str,
    *,
    secret_keys: frozenset[str] = frozenset(),
) -> Settings:
    """A stack's Settings, or CatalogError with every problem, one line each: every check that
    `pulumi up` makes on a stack's `cronflare:` config, in one place.

    The Pulumi program (cronflare/pulumi/inputs.py) and the commands that read a stack file
    (load_stack_settings: check, plan, next and cost with --stack) call this, so
    `cronflare check --stack S` passes exactly when the program takes S's config.
    It checks the model (types, ranges, unknown keys, secrets in clear, job overrides, the
    rotation) and that the REQUIRED_KEYS are set; the catalog against the stack is plan()'s.
    """
    missing = [
        f"config {NAMESPACE}:{key}: required: {what}; set it with "
        f"`pulumi config set {NAMESPACE}:{key} {placeholder}`"
        for key, (what, placeholder) in REQUIRED_KEYS.items()
        if values.get(key) is None
    ]
    try:
        settings = settings_from_config(values, stack, secret_keys=secret_keys)
    except CatalogError as error:
        raise CatalogError(error.problems + missing) from None
    if missing:
        raise CatalogError(missing)
    return settings


def _config_line(error: ErrorDetails) -> str:
    loc = [str(p) for p in error["loc"]]
    message = error_message(error)
    if loc and loc[0] == "jobs" and len(loc) >= 3:
        return f"job {loc[1]}: {'.'.join(loc[2:])}: {message} (config {NAMESPACE}:jobs)"
    if not loc:
        return message
    if loc == ["stack"]:
        return f"stack: {message}"
    if loc[0] == "prices" and len(loc) == 2 and error["type"] == "extra_forbidden":
        known = [f.alias or n for n, f in Prices.model_fields.items()]
        close = difflib.get_close_matches(loc[1], known, n=1)
        message += f" (did you mean {close[0]}?)" if close else ""
    return f"config {NAMESPACE}:{'.'.join(loc)}: {message}"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` that holds Pulumi.yaml, else `start` itself."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return start


def load_stack_settings(stack: str, root: Path | None = None) -> Settings:
    """Read Pulumi.<stack>.yaml directly, so that the CLI needs no Pulumi CLI, and check it as the
    program checks the config `pulumi up` hands it: check_stack_config().
    """
    path = find_project_root(root) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise CatalogError([f"stack {stack}: no {path.name} in {path.parent}"])
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise CatalogError([f"stack {stack}: {path.name} is not valid YAML: {err}"]) from None
    config = document.get("config") or {} if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise CatalogError([f"stack {stack}: {path.name}: `config` must be a mapping"])
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != NAMESPACE:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret.add(key)
            value = SecretRef(value["secure"])
        values[key] = value
    return check_stack_config(values, stack, secret_keys=frozenset(secret))


def local_settings(**overrides: Any) -> Settings:
    """Settings for runs with no stack: the local demo and plain `cronflare plan`."""
    return Settings.model_validate({"stack": "local", **overrides})
