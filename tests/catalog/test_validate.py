"""Catalog validation: every rule, with the exact `job <name>: <field>: <message>` shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cronflare.catalog.model import (
    Catalog,
    CatalogError,
    Defaults,
    Image,
    Job,
    JobOverride,
    Resources,
    RetryPolicy,
)
from cronflare.catalog.validate import resolve
from jobs.catalog import CATALOG

H = "jobs.handlers.ops:monitor"


def job(name: str = "a", **kw) -> Job:
    kw.setdefault("schedule", "0 * * * *")
    return Job(name=name, description="d", handler=kw.pop("handler", H), **kw)


def problems(*jobs: Job, overrides=None, defaults: Defaults | None = None) -> list[str]:
    catalog = Catalog(jobs=list(jobs), defaults=defaults or Defaults())
    with pytest.raises(CatalogError) as err:
        resolve(catalog, overrides)
    return err.value.problems


def test_the_example_catalog_is_valid_and_has_what_the_brief_asks_for():
    resolved = resolve(CATALOG)
    jobs = {j.name: j for j in resolved.jobs}
    assert len(jobs) >= 12 and resolved.warnings == ()
    assert jobs["weekly-report"].cloudflare_cron == "0 9 * * MON"
    assert jobs["daily-analytics-sync"].cron == "0 6 * * *"
    assert jobs["nightly-cleanup"].cron == "0 3 * * *"
    assert jobs["monitoring"].cron == "*/5 * * * *"
    assert jobs["bi-hourly-sync"].cron == "0 */2 * * *"
    assert jobs["hourly-health-check"].cron == "0 * * * *"
    assert jobs["berlin-digest"].timezone == "Europe/Berlin"
    assert jobs["cache-warm"].schedule == "every 15m"
    assert (jobs["month-end-close"].cron or "").split()[2] == "L"
    assert jobs["embeddings-refresh"].resources.gpu == "T4"


def test_duplicate_names_are_reported_once():
    assert problems(job("a"), job("a"), job("b")) == [
        "job a: name: is used by 2 jobs; job names must be unique"
    ]


def test_all_problems_of_all_jobs_come_back_together():
    got = problems(
        job("a", schedule="0 25 * * *"),
        job("b", schedule="0 0 * * *", timezone="Europe/Berln"),
        job("c", schedule=None, every="7m"),
    )
    assert got[0].startswith("job a: schedule: hour field '25' is not valid")
    assert got[1] == (
        "job b: timezone: unknown IANA timezone 'Europe/Berln' (did you mean Europe/Berlin?)"
    )
    assert got[2].startswith("job c: every: every='7m' (7m) does not divide an hour or a day")


def test_schedule_and_every_are_exclusive():
    assert problems(job("a", every="5m")) == [
        "job a: schedule: give exactly one of schedule= (a cron or @macro) or every= (such as 15m)"
    ]
    assert problems(job("a", schedule=None))[0].startswith("job a: schedule: give exactly one")


def test_an_interval_with_a_non_utc_timezone_is_an_error():
    got = problems(job("a", schedule=None, every="15m", timezone="Europe/Berlin"))
    assert got == [
        "job a: timezone: every= runs on elapsed UTC time, so timezone Europe/Berlin would have no "
        "effect; drop the timezone, or write a cron schedule to follow that wall clock"
    ]


def test_an_interval_ignores_a_catalog_default_timezone():
    catalog = Catalog(
        jobs=[job("a", schedule=None, every="15m")], defaults=Defaults(timezone="Europe/Berlin")
    )
    assert resolve(catalog).jobs[0].timezone == "UTC"


def test_unknown_fields_are_rejected_at_construction_naming_the_job():
    with pytest.raises(CatalogError) as err:
        Job(name="x", description="d", handler=H, schedule="@daily", colour="blue")  # type: ignore[call-arg]
    assert err.value.problems == ["job x: colour: unknown field"]


def test_type_errors_name_the_job_and_field():
    with pytest.raises(CatalogError) as err:
        Job(name="x", description="d", handler=H, schedule="@daily", timeout="ten minutes")
    assert err.value.problems == [
        "job x: timeout: 'ten minutes' is not a duration such as 30s, 15m, 2h or 1h30m"
    ]
    with pytest.raises(CatalogError) as err:
        Job(name="x", description="d", handler=H, schedule="@daily", timeout="2d")
    assert err.value.problems == ["job x: timeout: must be between 10s and 1d"]
    with pytest.raises(CatalogError) as err:
        Job(name="x", description="d", handler=H, schedule="@daily", concurrency="skip")  # type: ignore[arg-type]
    assert err.value.problems == [
        "job x: concurrency: Input should be 'allow', 'forbid' or 'replace'"
    ]


def test_expected_duration_must_be_longer_than_zero_and_fit_the_timeout():
    """expected_duration is a positive duration no longer than the job's timeout, whether the
    job or the catalog defaults give it.
    """
    with pytest.raises(CatalogError) as err:
        job("z", expected_duration="0s")
    assert err.value.problems == ["job z: expected_duration: must be longer than 0s"]
    assert problems(job("a", timeout="1m", expected_duration="90s")) == [
        "job a: expected_duration: 1m30s is longer than the timeout (1m); a run that long would "
        "be killed"
    ]
    assert problems(job("b", timeout="1m"), defaults=Defaults(expected_duration="5m")) == [
        "job b: expected_duration: the default 5m is longer than the timeout (1m); a run that "
        "long would be killed"
    ]
    catalog = Catalog(jobs=[job("c"), job("d", expected_duration="2m")],
                      defaults=Defaults(expected_duration="30s"))  # fmt: skip
    assert [j.expected_duration for j in resolve(catalog).jobs] == [30, 120]
    assert resolve(Catalog(jobs=[job("e")])).jobs[0].expected_duration is None


def test_resources_and_retries_use_modal_bounds():
    with pytest.raises(ValidationError, match="unknown GPU 'T5'"):
        Resources(gpu="T5")
    with pytest.raises(ValidationError, match="less than or equal to 11"):
        RetryPolicy(attempts=12)
    assert Resources(gpu="a100-80gb:2").gpu == "A100-80GB:2"
    with pytest.raises(CatalogError) as err:
        job("g", resources={"gpu": "H100:9"})  # type: ignore[arg-type]
    assert err.value.problems == ["job g: resources.gpu: GPU count '9' must be 1 to 8"]


def test_bad_names_secrets_and_handlers():
    got = problems(
        job("Bad_Name"),
        job("s", secrets=["ok-secret", "no spaces"]),
        job("h", handler="jobs.handlers.ops:nope"),
        job("m", handler="jobs.handlers.missing:fn"),
    )
    assert got == [
        "job Bad_Name: name: must be a lowercase slug of letters, digits and '-' (at most 63)",
        "job s: secrets: 'no spaces' is not a valid Modal secret name",
        "job h: handler: 'jobs.handlers.ops' has no attribute 'nope'",
        "job m: handler: cannot import 'jobs.handlers.missing': ModuleNotFoundError: "
        "No module named 'jobs.handlers.missing'",
    ]


def test_a_handler_must_be_a_module_level_function():
    with pytest.raises(CatalogError) as err:
        job("l", handler=lambda ctx: None)
    assert err.value.problems == [
        "job l: handler: must be a module-level function, importable on Modal by its path"
    ]


def test_a_schedule_that_never_fires_is_a_warning_not_an_error():
    resolved = resolve(Catalog(jobs=[job("feb", schedule="0 0 30 2 *")]))
    assert resolved.warnings == ("job feb: schedule: '0 0 30 2 *' never fires (no date matches)",)
    assert resolved.jobs[0].never_fires


def test_overrides_change_one_stack_and_must_name_real_jobs():
    catalog = Catalog(jobs=[job("a", resources=Resources(cpu=1, memory=512)), job("b")])
    resolved = resolve(
        catalog,
        {
            "a": JobOverride(enabled=False, every="30m", resources=Resources(memory=2048)),
            "b": JobOverride(schedule="0 9 * * 1", timezone="Europe/Paris"),
        },
    )
    a, b = resolved.jobs
    assert (a.enabled, a.cron, a.resources.cpu, a.resources.memory) == (
        False,
        "*/30 * * * *",
        1,
        2048,
    )
    assert (b.cron, b.timezone, b.cloudflare_cron) == ("0 9 * * 1", "Europe/Paris", None)
    assert problems(job("a"), overrides={"aa": JobOverride(enabled=False)}) == [
        "job aa: jobs: stack override names no job in the catalog (did you mean a?)"
    ]


def test_defaults_are_inherited_and_job_fields_win():
    catalog = Catalog(
        defaults=Defaults(
            timeout="5m",
            concurrency="forbid",
            secrets=("shared",),
            tags=("t",),
            resources=Resources(cpu=0.5, memory=256),
        ),
        jobs=[
            job("a"),
            job(
                "b",
                timeout=30,
                concurrency="allow",
                secrets=["own"],
                resources=Resources(memory=1024),
            ),
        ],
    )
    a, b = resolve(catalog).jobs
    assert (a.timeout, a.concurrency, a.secrets, a.resources.cpu) == (
        300,
        "forbid",
        ("shared",),
        0.5,
    )
    assert (b.timeout, b.concurrency, b.secrets) == (30, "allow", ("shared", "own"))
    assert (b.resources.cpu, b.resources.memory) == (0.5, 1024)


# -- images, volumes, targets and args ------------------------------------------------------


def test_equal_image_specs_are_equal_and_a_reference_is_checked():
    a, b = (
        Image(pip=["pandas==2.2.3"], apt=["ffmpeg"]),
        Image(apt=["ffmpeg"], pip=["pandas==2.2.3"]),
    )
    assert a.key() == b.key()
    jobs = resolve(Catalog(jobs=[job("a", image=a), job("b", image="tests.fixtures.images:GPU"),
                                 job("c")])).jobs  # fmt: skip
    assert [j.image for j in jobs] == [a, "tests.fixtures.images:GPU", None]


def test_an_image_that_cannot_be_built_is_a_catalog_error():
    got = problems(
        job("p", image=Image(pip=["pandas==", "numpy>=2"])),
        job("a", image=Image(apt=["FFmpeg", "libpq-dev", "ffmpeg=7:5.1"])),
        job("e", image=Image(env={"1X": "y", "CRONFLARE_CATALOG": "x"})),
        job("r", image="tests.fixtures.images:NOT_AN_IMAGE"),
        job("m", image="tests.fixtures.nope:GPU"),
        job("s", image="not a path"),
    )
    assert [line.split(":", 2)[:2] for line in got] == [
        ["job p", " image"], ["job a", " image"], ["job e", " image"], ["job e", " image"],
        ["job r", " image"], ["job m", " image"], ["job s", " image"],
    ]  # fmt: skip
    assert got[0].startswith("job p: image: pip requirement 'pandas==' is not valid")
    assert got[1] == "job a: image: apt package 'FFmpeg' is not a valid Debian package name"
    assert "CRONFLARE_ variables are cronflare's own" in got[3]
    assert (
        got[4] == "job r: image: 'tests.fixtures.images:NOT_AN_IMAGE' is a dict, not a modal.Image"
    )
    assert got[5].startswith("job m: image: cannot import 'tests.fixtures.nope'")


def test_a_python_version_outside_modals_is_refused_at_construction():
    with pytest.raises(ValidationError, match=r"python\n  String should match"):
        Image(python="3.9")
    assert Image(python="3.13").python == "3.13"


def test_volumes_merge_defaults_job_and_override_and_each_bad_mount_is_named():
    defaults = Defaults(volumes={"/cache": "shared-cache"})
    [j] = resolve(Catalog(jobs=[job("a", volumes={"/data": "warehouse"})], defaults=defaults),
                  {"a": JobOverride(volumes={"/data": "warehouse-dev"})}).jobs  # fmt: skip
    assert j.volumes == {"/cache": "shared-cache", "/data": "warehouse-dev"}
    got = problems(
        job("r", volumes={"data": "v"}),
        job("s", volumes={"/etc/app": "v", "/root": "w", "/": "x", "/cronflare/mine": "y",
                          "/usr/local/../lib/x": "z", "/lib64/y": "u"}),
        job("o", volumes={"/data": "v", "/data/": "w", "/data/sub": "x"}),
        job("n", volumes={"/data": "bad name!"}),
    )  # fmt: skip
    assert got == [
        "job r: volumes: 'data' is not an absolute path",
        "job s: volumes: '/etc/app' is under the system or reserved directory /etc",
        "job s: volumes: '/root' is the system or reserved directory /root",
        "job s: volumes: '/' is the root directory; mount a volume on a directory of its own, "
        "such as /data",
        "job s: volumes: '/cronflare/mine' is under the system or reserved directory /cronflare",
        "job s: volumes: '/usr/local/../lib/x' is under the system or reserved directory /usr",
        "job s: volumes: '/lib64/y' is under the system or reserved directory /lib64",
        "job o: volumes: '/data/' and '/data' overlap: one volume per path",
        "job o: volumes: '/data/sub' and '/data' overlap: one volume per path",
        "job n: volumes: /data: 'bad name!' is not a valid Modal Volume name",
    ]


def target(name: str = "t", **kw) -> Job:
    kw.setdefault("schedule", "0 * * * *")
    return Job(name=name, description="d", target=kw.pop("target", "billing/sync"), **kw)


def test_a_target_job_names_a_deployed_function_and_nothing_about_its_container():
    [t] = resolve(Catalog(jobs=[target(args={"x": 1}, target_environment="billing",
                                       estimate_resources=Resources(cpu=2))],
                          defaults=Defaults(image=Image(pip=["x"]), volumes={"/d": "v"},
                                            resources=Resources(memory=512)))).jobs  # fmt: skip
    assert (t.handler, t.target, t.target_environment) == (None, "billing/sync", "billing")
    assert (t.image, t.volumes, t.resources, t.args) == (None, {}, Resources(cpu=2), {"x": 1})
    got = problems(
        target("i", image=Image(pip=["pandas"])),
        target("v", volumes={"/d": "v"}),
        target("r", resources=Resources(cpu=1)),
        target("o"),
        target("f", target="no-slash"),
        target("s", stand_in="jobs.handlers.nope:fn"),
        Job(name="b", description="d", schedule="@daily", handler=H, target="a/b"),
        Job(name="n", description="d", schedule="@daily"),
        job("h", stand_in="jobs.handlers.ops:monitor"),
        overrides={"o": JobOverride(volumes={"/x": "y"})},
    )
    assert got == [
        "job i: image: a target job runs billing/sync, deployed with its own image; drop image=",
        "job v: volumes: a target job runs billing/sync, deployed with its own volumes; "
        "drop volumes=",
        "job r: resources: a target job runs billing/sync, deployed with its own resources; "
        "drop resources= (estimate_resources= feeds `cronflare cost`)",
        "job o: volumes: a target job runs billing/sync, deployed with its own volumes; "
        "drop volumes=",
        "job f: target: 'no-slash' is not 'app-name/function-name'",
        "job s: stand_in: cannot import 'jobs.handlers.nope': ModuleNotFoundError: "
        "No module named 'jobs.handlers.nope'",
        "job b: handler: give exactly one of handler= (a function to run) or target= "
        "(an already deployed Modal function, 'app-name/function-name')",
        "job n: handler: give exactly one of handler= (a function to run) or target= "
        "(an already deployed Modal function, 'app-name/function-name')",
        "job h: stand_in: only a target job takes it; a handler job states its own resources",
    ]


def test_args_are_a_json_object_of_at_most_8_kib_and_an_override_replaces_them():
    [j] = resolve(Catalog(jobs=[job("a", args={"keep": 7})]),
                  {"a": JobOverride(args={"keep": 1, "dry": True})}).jobs  # fmt: skip
    assert j.args == {"keep": 1, "dry": True}
    assert problems(job("big", args={"blob": "x" * 8200})) == [
        "job big: args: is 8211 bytes serialized; at most 8192 (8 KiB)"
    ]
    with pytest.raises(CatalogError, match=r"^job d: args\.when: input was not a valid JSON"):
        job("d", args={"when": object()})
    with pytest.raises(CatalogError, match=r"^job l: args: Input should be a valid dictionary"):
        job("l", args=[1, 2])  # type: ignore[arg-type]


def test_a_stack_override_may_change_a_jobs_image():
    """One stack may build a job on another image: the override wins over job and defaults."""
    base, dev = Image(pip=["pandas==2.2.3"]), Image(pip=["pandas==2.2.3", "debugpy"])
    [j] = resolve(Catalog(jobs=[job("a", image=base)]), {"a": JobOverride(image=dev)}).jobs
    assert j.image == dev
    assert problems(job("b"), overrides={"b": JobOverride(image=Image(apt=["Bad_Name"]))}) == [
        "job b: image: apt package 'Bad_Name' is not a valid Debian package name"
    ]
