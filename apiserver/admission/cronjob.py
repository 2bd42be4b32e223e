"""batch/v1 CronJob admission: SetDefaults_CronJob, status reset, ValidateCronJobCreate/Update.

Why: ``kubectl create cronjob`` and the cronjob controller read back kube-apiserver's defaults
(concurrencyPolicy Allow, suspend false, history limits 3 and 1; the jobTemplate's PodSpec defaulted, its
JobSpec not), and a bad schedule is refused with robfig/cron's message (apimachinery.cron), as kube does.
"""

from __future__ import annotations

import re
from typing import Any

from apimachinery import cron
from apimachinery.errors import FieldError, invalid, not_supported, required
from apimachinery.resources import BY_KEY
from apimachinery.validation import validate_nonnegative
from apiserver.admission.apps import go_label_selector
from apiserver.admission.base import Obj, StatusResetAdmission, as_map, as_str, spec_of
from apiserver.admission.job import default_template_pod_spec, validate_job_spec_fields

CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]
# The cronjob controller names a Job <cronjob>-<minutes since the epoch>: 11 more characters, within 63.
MAX_NAME_LENGTH = 63 - 11
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def validate_schedule(schedule: str, *, allow_tz: bool, time_zone: Any, path: str) -> list[FieldError]:
    """validateScheduleFormat: robfig/cron's ParseStandard, and TZ in the schedule only where it was before."""
    errs: list[FieldError] = []
    try:
        cron.parse(schedule)
    except cron.CronError as e:
        errs.append(invalid(path, schedule, str(e)))
    if "TZ" in schedule:
        if allow_tz and time_zone is not None:
            errs.append(invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz:
            errs.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def validate_time_zone(time_zone: Any, path: str) -> list[FieldError]:
    """validateTimeZone: nil, or an IANA zone name the tz database knows (never "Local")."""
    if time_zone is None:
        return []
    tz = as_str(time_zone)
    if not tz:
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [invalid(path, tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    if cron.load_zone(tz) is None:
        return [invalid(path, tz, f"unknown time zone {tz}")]
    return []


def validate_job_template(template: Any, path: str) -> list[FieldError]:
    """ValidateJobTemplateSpec: the JobSpec rules; the selector is always generated."""
    spec = as_map(as_map(template).get("spec"))
    errs = validate_job_spec_fields(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        errs.append(invalid(f"{path}.spec.selector", go_label_selector(spec.get("selector")),
                            "`selector` will be auto-generated"))
    if spec.get("manualSelector") is True:
        errs.append(not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return errs


def validate_cronjob_spec(spec: dict[str, Any], old_spec: dict[str, Any] | None, path: str = "spec") -> list[FieldError]:
    """validateCronJobSpec."""
    errs: list[FieldError] = []
    schedule = as_str(spec.get("schedule"))
    if not schedule:
        errs.append(required(f"{path}.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
        errs += validate_schedule(schedule, allow_tz=allow_tz, time_zone=spec.get("timeZone"),
                                  path=f"{path}.schedule")
    errs += validate_nonnegative(spec.get("startingDeadlineSeconds"), f"{path}.startingDeadlineSeconds")
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs += validate_time_zone(spec.get("timeZone"), f"{path}.timeZone")
    policy = as_str(spec.get("concurrencyPolicy"))
    if not policy:
        errs.append(required(f"{path}.concurrencyPolicy"))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(not_supported(f"{path}.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    errs += validate_job_template(spec.get("jobTemplate"), f"{path}.jobTemplate")
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += validate_nonnegative(spec.get(key), f"{path}.{key}")
    return errs


class CronJobAdmission(StatusResetAdmission):
    """cronJobStrategy: defaults, status reset, ValidateCronJobCreate/ValidateCronJobUpdate."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["cronjobs.batch"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if not spec.get("concurrencyPolicy"):
            spec["concurrencyPolicy"] = "Allow"
        if spec.get("suspend") is None:
            spec["suspend"] = False
        if spec.get("successfulJobsHistoryLimit") is None:
            spec["successfulJobsHistoryLimit"] = 3
        if spec.get("failedJobsHistoryLimit") is None:
            spec["failedJobsHistoryLimit"] = 1
        template = spec.get("jobTemplate")
        if not isinstance(template, dict):
            template = {}
            spec["jobTemplate"] = template
        job_spec = template.get("spec")
        if not isinstance(job_spec, dict):
            job_spec = {}
            template["spec"] = job_spec
        default_template_pod_spec(job_spec)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs = validate_cronjob_spec(as_map(obj.get("spec")), None)
        name = as_str(as_map(obj.get("metadata")).get("name"))
        if len(name) > MAX_NAME_LENGTH:
            errs.append(invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_cronjob_spec(as_map(obj.get("spec")), as_map(old.get("spec")))


__all__ = ["CronJobAdmission", "validate_cronjob_spec", "validate_schedule", "validate_time_zone"]
