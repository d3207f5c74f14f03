"""Run a cronflare project's own Pulumi program (infra/__main__.py, in the current directory)
under pulumi's mocks, with its dev stack's settings; print what it made, as JSON. Needs only the
installed wheel (pulumi and yaml come with it), so it runs in a user's fresh virtualenv.
"""

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import yaml

# The two keys every stack must set; a new project's Pulumi.dev.yaml leaves them to the user.
FILLED = {"accountId": "0123456789abcdef0123456789abcdef", "workersSubdomain": "acme"}


class Mocks(pulumi.runtime.Mocks):
    """Each resource's inputs as its outputs, a random password's result as a secret."""

    def __init__(self) -> None:
        self.types: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.types.append(args.typ)
        inputs = args.inputs
        outputs = dict(inputs)
        # What each provider would compute, as tests/infra/program_harness.py's mocks give it.
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"mock-secret-of-{args.name}"
        elif args.typ == "cloudflare:index/d1Database:D1Database":
            outputs["uuid"] = f"d1-uuid-of-{args.name}"
        elif args.typ == "cloudflare:index/queue:Queue":
            outputs["queueId"] = f"queue-id-of-{args.name}"
        elif args.typ == "pulumi-python:dynamic/cronflare:ModalDeployment":
            outputs["dispatcher_url"] = f"https://mock--{inputs['app_name']}.modal.run"
            outputs["deployed_hash"] = inputs["source_hash"]
        elif args.typ == "pulumi-python:dynamic/cronflare:D1Migrations":
            outputs["applied"] = inputs["migrations"]
            outputs["applied_count"] = len(inputs["migrations"])
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def main() -> None:
    project = yaml.safe_load(Path("Pulumi.yaml").read_text())
    declared = project.get("config") or {}
    values = {
        k: d["default"] for k, d in declared.items() if isinstance(d, dict) and "default" in d
    }
    stack = yaml.safe_load(Path("Pulumi.dev.yaml").read_text()).get("config") or {}
    values.update({k.partition(":")[2]: v for k, v in stack.items()})
    values.update(FILLED)
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=project["name"], stack="dev", preview=False)
    pulumi.runtime.set_all_config(
        {f"cronflare:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    )
    exported: dict[str, Any] = {}
    pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        runpy.run_path("infra/__main__.py", run_name="__main__")
        return pulumi.Output.all(*exported.values()).apply(lambda _: None)

    program()
    print(json.dumps({"types": sorted(set(mocks.types)), "outputs": sorted(exported)}))


if __name__ == "__main__":
    main()
