"""cronflare's Pulumi program: settings, then the plan, then the scheduler, then the outputs."""

import pulumi

from cronflare.pulumi import Scheduler, SchedulerArgs, program_inputs

settings, plan, bundle = program_inputs()

scheduler = Scheduler(settings.name_prefix, SchedulerArgs.from_settings(settings, plan, bundle))

pulumi.export("workerUrl", scheduler.worker_url)
pulumi.export("dispatcherUrl", scheduler.dispatcher_url)
pulumi.export("mode", plan.mode)
pulumi.export("modeReason", plan.mode_reason)
pulumi.export("cronTriggers", list(plan.cron_triggers))
pulumi.export("d1DatabaseId", scheduler.d1_database_id)
pulumi.export("queueNames", {"jobs": plan.queues.jobs, "deadLetter": plan.queues.dead_letter})
pulumi.export("jobCount", len(plan.jobs))
pulumi.export("enabledJobCount", sum(j.enabled for j in plan.jobs))
pulumi.export("adminToken", scheduler.admin_token)
pulumi.export("schedulesToken", scheduler.schedules_token)  # what an app's cronflare.Client uses
pulumi.export("signingKey", scheduler.signing_key)
# What alert receivers verify with (docs/SECURITY.md, "Verifying an alert"); the next one only
# while a rotation is underway, so a receiver can take both before the swap.
pulumi.export("alertSigningKey", scheduler.alert_signing_key)
if scheduler.alert_signing_key_next is not None:
    pulumi.export("alertSigningKeyNext", scheduler.alert_signing_key_next)
