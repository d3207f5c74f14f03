"""Scheduler: one stack's Modal app, and the Worker with its triggers, queues and D1."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Self

import pulumi
import pulumi_cloudflare as cloudflare
import pulumi_random as random

from cronflare.bundle import Bundle, worker_files
from cronflare.plan import WORKER_PLAN_MODULE, DeployPlan
from cronflare.pulumi.providers.d1_migrations import D1Migrations, D1MigrationsArgs
from cronflare.pulumi.providers.modal_deploy import (
    ModalDeployment,
    ModalDeploymentArgs,
    source_hash,
)
from cronflare.runtime.signing import purpose_key
from cronflare.settings import Settings

MAIN_MODULE = "worker.js"
COMPATIBILITY_DATE: str = json.loads(worker_files().config.read_text())["compatibility_date"]
# The dead-letter consumer only marks runs dead and alerts: a few retries, then Cloudflare drops.
DLQ_CONSUMER_RETRIES = 3


@dataclass(frozen=True)
class SchedulerArgs:
    """What the scheduler needs: the plan, where it lives, and the few values the plan has not."""

    account_id: str
    plan: DeployPlan
    bundle: Bundle
    workers_subdomain: str
    modal_environment: str
    job_overrides: str = "{}"  # the stack's per-job overrides, as JSON: Modal applies them too
    signing_key_generation: int = 1
    next_signing_key_generation: int | None = None
    alert_webhook_url: pulumi.Input[str] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, plan: DeployPlan, bundle: Bundle) -> Self:
        """Args for a stack whose settings program_inputs() has checked for a deploy."""
        if not (settings.account_id and settings.workers_subdomain):
            raise ValueError("settings were not checked for a deploy: use program_inputs()")
        overrides = json.dumps(
            {n: o.model_dump(mode="json", exclude_none=True) for n, o in settings.jobs.items()},
            sort_keys=True,
        )
        return cls(
            account_id=settings.account_id,
            plan=plan,
            bundle=bundle,
            workers_subdomain=settings.workers_subdomain,
            modal_environment=settings.modal_environment,
            job_overrides=overrides,
            signing_key_generation=settings.signing_key_generation,
            next_signing_key_generation=settings.next_signing_key_generation,
            alert_webhook_url=settings.alert_webhook_url,
        )


def _signing_key(name: str, generation: int, parent: pulumi.Resource) -> random.RandomPassword:
    # Named by generation, so a rotation adds and later drops a key without touching the other.
    return random.RandomPassword(
        f"{name}-signing-key-{generation}",
        length=48,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _alert_key(signing: random.RandomPassword) -> pulumi.Output[str]:
    """The key alert receivers verify with: derived, so it is no resource and signs only alerts."""
    return pulumi.Output.secret(signing.result.apply(lambda k: purpose_key(k, "alert")))


class Scheduler(pulumi.ComponentResource):
    """Everything one stack runs on, Modal and Cloudflare. Children are named after it."""

    worker_url: pulumi.Output[str]
    dispatcher_url: pulumi.Output[str]
    script_name: pulumi.Output[str]
    d1_database_id: pulumi.Output[str]
    admin_token: pulumi.Output[str]
    schedules_token: pulumi.Output[str]
    signing_key: pulumi.Output[str]
    alert_signing_key: pulumi.Output[str]
    alert_signing_key_next: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: SchedulerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cronflare:index:Scheduler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan, account = args.plan, args.account_id
        script = plan.name_prefix

        signing = _signing_key(name, args.signing_key_generation, self)
        signing_next = (
            _signing_key(name, args.next_signing_key_generation, self)
            if args.next_signing_key_generation is not None
            else None
        )
        admin = random.RandomPassword(f"{name}-admin-token", length=40, special=False, opts=child)
        # An app's token: the Worker opens only the runtime schedules routes to it.
        schedules = random.RandomPassword(
            f"{name}-schedules-token", length=40, special=False, opts=child
        )
        keys = [signing.result] + ([signing_next.result] if signing_next is not None else [])
        modal = ModalDeployment(
            f"{name}-modal",
            ModalDeploymentArgs(
                app_name=script,
                environment=args.modal_environment,
                source_hash=source_hash(
                    [j.model_dump(mode="json") for j in (*plan.jobs, *plan.modal_jobs)],
                    args.job_overrides,
                ),
                signing_keys=pulumi.Output.all(*keys),
                job_overrides=args.job_overrides,
            ),
            opts=child,
        )

        db = cloudflare.D1Database(
            f"{name}-db", account_id=account, name=f"{script}-runs", opts=child
        )
        migrations = D1Migrations(
            f"{name}-migrations", D1MigrationsArgs.from_folder(account, db.uuid), opts=child
        )
        jobs_queue = cloudflare.Queue(
            f"{name}-jobs", account_id=account, queue_name=plan.queues.jobs, opts=child
        )
        dead_letter = cloudflare.Queue(
            f"{name}-jobs-dlq", account_id=account, queue_name=plan.queues.dead_letter, opts=child
        )

        worker_url = f"https://{script}.{args.workers_subdomain}.workers.dev"
        bindings: list[cloudflare.WorkersScriptBindingArgs] = [
            cloudflare.WorkersScriptBindingArgs(name="DB", type="d1", id=db.uuid),
            cloudflare.WorkersScriptBindingArgs(
                name="JOBS_QUEUE", type="queue", queue_name=jobs_queue.queue_name
            ),
            cloudflare.WorkersScriptBindingArgs(
                name="DISPATCH_URL",
                type="plain_text",
                text=pulumi.Output.concat(modal.dispatcher_url, "/dispatch"),
            ),
            cloudflare.WorkersScriptBindingArgs(
                name="PUBLIC_URL", type="plain_text", text=worker_url
            ),
            cloudflare.WorkersScriptBindingArgs(
                name="SIGNING_KEY", type="secret_text", text=signing.result
            ),
            cloudflare.WorkersScriptBindingArgs(
                name="ADMIN_TOKEN", type="secret_text", text=admin.result
            ),
            cloudflare.WorkersScriptBindingArgs(
                name="SCHEDULES_TOKEN", type="secret_text", text=schedules.result
            ),
        ]
        if signing_next is not None:
            bindings.append(
                cloudflare.WorkersScriptBindingArgs(
                    name="SIGNING_KEY_NEXT", type="secret_text", text=signing_next.result
                )
            )
        if args.alert_webhook_url is not None:
            bindings.append(
                cloudflare.WorkersScriptBindingArgs(
                    name="ALERT_WEBHOOK_URL",
                    type="secret_text",
                    text=pulumi.Output.secret(args.alert_webhook_url),
                )
            )

        plan_module = plan.worker_module().encode()
        worker = cloudflare.WorkersScript(
            f"{name}-worker",
            account_id=account,
            script_name=script,
            main_module=MAIN_MODULE,
            content=args.bundle.content,
            content_sha256=args.bundle.sha256,
            # The plan travels as a module beside the bundle: a binding is capped at 5 KB.
            files={
                WORKER_PLAN_MODULE: cloudflare.WorkersScriptFilesArgs(
                    content_type="application/javascript+module",
                    content_base64=base64.b64encode(plan_module).decode(),
                    content_sha256=hashlib.sha256(plan_module).hexdigest(),
                )
            },
            compatibility_date=COMPATIBILITY_DATE,
            bindings=bindings,
            observability=cloudflare.WorkersScriptObservabilityArgs(enabled=True),
            # The new code may read a column the migration adds: schema first, then code.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[migrations]),
        )

        q = plan.queues

        def consumer(suffix: str, queue: cloudflare.Queue, retries: int, **dlq: Any) -> None:
            cloudflare.QueueConsumer(
                f"{name}-{suffix}",
                account_id=account,
                queue_id=queue.queue_id,
                type="worker",
                script_name=worker.script_name,
                settings=cloudflare.QueueConsumerSettingsArgs(
                    batch_size=q.batch_size,
                    max_retries=retries,
                    max_wait_time_ms=q.max_wait_time_ms,
                ),
                opts=child,
                **dlq,
            )

        consumer(
            "jobs-consumer", jobs_queue, q.max_retries, dead_letter_queue=dead_letter.queue_name
        )
        # The Worker consumes its dead letters too: there a run becomes `dead`, with an alert.
        consumer("jobs-dlq-consumer", dead_letter, DLQ_CONSUMER_RETRIES)
        cloudflare.WorkersCronTrigger(
            f"{name}-triggers",
            account_id=account,
            script_name=worker.script_name,
            schedules=[
                cloudflare.WorkersCronTriggerScheduleArgs(cron=cron) for cron in plan.cron_triggers
            ],
            opts=child,
        )
        subdomain = cloudflare.WorkersScriptSubdomain(
            f"{name}-workers-dev",
            account_id=account,
            script_name=worker.script_name,
            enabled=True,
            previews_enabled=False,
            opts=child,
        )

        self.script_name = worker.script_name
        self.dispatcher_url = modal.dispatcher_url
        self.worker_url = subdomain.enabled.apply(lambda _: worker_url)
        self.d1_database_id = db.uuid
        self.admin_token = pulumi.Output.secret(admin.result)
        self.schedules_token = pulumi.Output.secret(schedules.result)
        self.signing_key = pulumi.Output.secret(signing.result)
        self.alert_signing_key = _alert_key(signing)
        self.alert_signing_key_next = _alert_key(signing_next) if signing_next else None
        outputs: dict[str, Any] = {
            "worker_url": self.worker_url,
            "script_name": self.script_name,
            "dispatcher_url": self.dispatcher_url,
            "d1_database_id": self.d1_database_id,
            "admin_token": self.admin_token,
            "schedules_token": self.schedules_token,
            "signing_key": self.signing_key,
            "alert_signing_key": self.alert_signing_key,
        }
        if self.alert_signing_key_next is not None:
            outputs["alert_signing_key_next"] = self.alert_signing_key_next
        self.register_outputs(outputs)
