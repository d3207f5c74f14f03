"""Run the real Pulumi program (infra/__main__.py) in-process under mocks; record what it does."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from tests import ROOT

MAIN = ROOT / "infra" / "__main__.py"
ACCOUNT = "0123456789abcdef0123456789abcdef"

# Type tokens, as pulumi/examples testing-unit-py matches them.
SCRIPT = "cloudflare:index/workersScript:WorkersScript"
TRIGGERS = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
QUEUE = "cloudflare:index/queue:Queue"
CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
D1 = "cloudflare:index/d1Database:D1Database"
SUBDOMAIN = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
PASSWORD = "random:index/randomPassword:RandomPassword"
COMPONENT = "cronflare:index:Scheduler"
MODAL = "pulumi-python:dynamic/cronflare:ModalDeployment"
MIGRATIONS = "pulumi-python:dynamic/cronflare:D1Migrations"
# What one Scheduler registers, by type: one script, two queues and their consumers, triggers,
# D1, a subdomain, three generated secrets, the Modal deployment and the migrations.
SCHEDULER_RESOURCES = {
    COMPONENT: 1,
    SCRIPT: 1,
    QUEUE: 2,
    CONSUMER: 2,
    TRIGGERS: 1,
    D1: 1,
    SUBDOMAIN: 1,
    PASSWORD: 3,
    MODAL: 1,
    MIGRATIONS: 1,
}


def sealed(value: Any) -> dict[str, Any]:
    """A value as a provider returns a secret output (random's `result` is one)."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def unseal(value: Any, path: str = "", found: set[str] | None = None) -> tuple[Any, set[str]]:
    """The plain value of mock inputs, and the paths that arrived sealed as secrets."""
    found = set() if found is None else found
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            found.add(path)
            return unseal(value["value"], path, found)[0], found
        return {k: unseal(v, f"{path}.{k}", found)[0] for k, v in value.items()}, found
    if isinstance(value, list):
        return [unseal(v, f"{path}[{i}]", found)[0] for i, v in enumerate(value)], found
    return value, found


def mock_dispatcher_url(app_name: str, environment: str) -> str:
    """The URL the mocked ModalDeployment reports for an app."""
    return f"https://mock-{environment}--{app_name}.modal.run"


def mock_secret(name: str) -> str:
    """The value the mocks give a RandomPassword: recognisable wherever it leaks to."""
    return f"mock-secret-of-{name}"


class Mocks(pulumi.runtime.Mocks):
    """Outputs per type token: what the providers would compute, recognisably fake."""

    def __init__(self) -> None:
        self.resources: list[Resource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs, secret_paths = unseal(args.inputs)
        self.resources.append(Resource(args.typ, args.name, inputs, secret_paths))
        outputs = dict(inputs)
        if args.typ == PASSWORD:
            outputs["result"] = sealed(mock_secret(args.name))
        elif args.typ == D1:
            outputs["uuid"] = f"d1-uuid-of-{args.name}"
        elif args.typ == QUEUE:
            outputs["queueId"] = f"queue-id-of-{args.name}"
        elif args.typ == MODAL:
            outputs["dispatcher_url"] = mock_dispatcher_url(
                inputs["app_name"], inputs["environment"]
            )
            outputs["deployed_hash"] = inputs["source_hash"]
        elif args.typ == MIGRATIONS:
            outputs["applied"] = inputs["migrations"]
            outputs["applied_count"] = len(inputs["migrations"])
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """The mocks' monitor, also recording each resource's URN and explicit dependencies."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.urns: dict[str, str] = {}
        self.depends_on: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.urns[request.name] = response.urn
        self.depends_on[request.name] = set(request.dependencies)
        return response


@dataclass
class Resource:
    """One registered resource: its type token, name, plain inputs, and which inputs were secret."""

    typ: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: set[str]

    @property
    def urn(self) -> str:
        """Enough of the URN to find the resource in a failure message."""
        return f"urn:pulumi:{self.typ}::{self.name}"


@dataclass
class Run:
    """What one run of the program registered and exported."""

    stack: str
    resources: list[Resource]
    monitor: RecordingMonitor
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def depends_on(self, name: str) -> set[str]:
        """The names of the resources `name` was registered to depend on."""
        by_urn = {urn: n for n, urn in self.monitor.urns.items()}
        return {by_urn.get(urn, urn) for urn in self.monitor.depends_on[name]}

    def of(self, typ: str) -> list[Resource]:
        """Every registered resource of one type token."""
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Resource:
        """The only resource of a type (and name), or fail naming what there was."""
        found = [r for r in self.of(typ) if name is None or r.name == name]
        names = [r.name for r in self.of(typ)]
        assert len(found) == 1, f"expected one {typ} named {name!r}, found {names}"
        return found[0]

    def bindings(self) -> dict[str, dict[str, Any]]:
        """The Worker script's bindings by name."""
        return {b["name"]: b for b in self.one(SCRIPT).inputs["bindings"]}


def stack_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """`cronflare:` config as `pulumi up` hands it to the program: the project's declared
    defaults under Pulumi.<stack>.yaml's values, then `overrides` (None removes a key).
    """
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {
        k: d["default"]
        for k, d in project["config"].items()
        if isinstance(d, dict) and "default" in d
    }
    path = ROOT / f"Pulumi.{stack}.yaml"
    if path.is_file():
        stack_values = yaml.safe_load(path.read_text())["config"]
        values.update({k.partition(":")[2]: v for k, v in stack_values.items()})
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def _wire(value: Any) -> str:
    # Pulumi passes every config value as text; objects and numbers as JSON.
    return value if isinstance(value, str) else json.dumps(value)


def run_program(
    stack: str,
    config: Mapping[str, Any],
    *,
    secret_keys: tuple[str, ...] = (),
    check: Callable[[dict[str, Any]], None] | None = None,
    monkeypatch: Any,
) -> Run:
    """Run infra/__main__.py under mocks for `stack`; `check` gets the resolved exports inside
    Output.all(...).apply, as pulumi's unit-test examples do.
    """
    mocks = Mocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="cronflare", stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        {f"cronflare:{k}": _wire(v) for k, v in config.items()},
        [f"cronflare:{k}" for k in secret_keys],
    )
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    run = Run(stack=stack, resources=mocks.resources, monitor=monitor)

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        runpy.run_path(str(MAIN), run_name="__main__")
        names = sorted(exported)
        outputs = [pulumi.Output.from_input(exported[n]) for n in names]

        def resolved(values: list[Any]) -> None:
            run.exports.update(zip(names, values, strict=True))
            if check is not None:
                check(run.exports)

        return pulumi.Output.all(*outputs).apply(resolved)

    program()
    for name, value in exported.items():
        if isinstance(value, pulumi.Output) and _sync_await(value.is_secret()):
            run.secret_exports.add(name)
    return run
