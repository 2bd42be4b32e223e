"""batch/v1 CronJob (pkg/registry/batch/cronjob); defaults and validation in apiserver.admission.cronjob.

A CronJob makes Jobs from its jobTemplate on a cron schedule (controllers/cronjob.py); the schedule's
grammar is apimachinery.cron.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.job import D_JOB_SELECTOR
from apimachinery.kinds.podtemplate import pod_spec_structs
from apimachinery.kinds.printing import (
    AGE,
    D_CONTAINERS,
    D_IMAGES,
    NAME,
    as_items,
    as_text,
    container_cells,
    dig,
    selector_string,
    since,
)
from apimachinery.kinds.tags import BATCH

_D_SCHEDULE = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."
_D_TIMEZONE = (
    "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. "
    "If not specified, this will default to the time zone of the kube-controller-manager process. The set of "
    "valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API "
    "server during CronJob validation and the controller manager during execution. If no system-wide time zone "
    "database can be found a bundled version of the database is used instead. If the time zone name becomes "
    "invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop "
    "creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can "
    "be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"
)
_D_SUSPEND = (
    "This flag tells the controller to suspend subsequent executions, it does not apply to already started "
    "executions.  Defaults to false."
)

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Schedule", "string", "", _D_SCHEDULE, 0),
    ("Timezone", "string", "", _D_TIMEZONE, 0),
    ("Suspend", "boolean", "", _D_SUSPEND, 0),
    ("Active", "integer", "", "A list of pointers to currently running jobs.", 0),
    ("Last Schedule", "string", "", "Information when was the last time the job was successfully scheduled.", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", D_JOB_SELECTOR, 1),
)


def _bool_ptr(value: Any) -> str:
    """printBoolPtr: ``<unset>`` for nil, else True/False."""
    if not isinstance(value, bool):
        return "<unset>"
    return "True" if value else "False"


def _cronjob_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printCronJob: LAST SCHEDULE and TIMEZONE read ``<none>`` when unset."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    last = status.get("lastScheduleTime")
    tz = spec.get("timeZone")
    job_spec = dig(spec, "jobTemplate", "spec") or {}
    selector = selector_string(dig(job_spec, "selector"), empty="<none>")
    return [
        as_text(dig(obj, "metadata", "name")),
        as_text(spec.get("schedule")),
        tz if isinstance(tz, str) else "<none>",
        _bool_ptr(spec.get("suspend")),
        len(as_items(status.get("active"))),
        "<none>" if last is None else since(last, now),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(dig(job_spec, "template")),
        "<error>" if selector is None else selector,
    ]


KIND = Kind(
    ResourceType("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), ("all",), ("status",),
                 gc_finalizers=True),
    schema="apimachinery.schemas.batch.CronJob",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": BATCH + "CronJobSpec",
                              "spec.jobTemplate.metadata": OBJECT_META,
                              "spec.jobTemplate.spec": BATCH + "JobSpec",
                              "spec.jobTemplate.spec.template.metadata": OBJECT_META,
                              **pod_spec_structs("spec.jobTemplate.spec.template.spec"),
                              "status": BATCH + "CronJobStatus"}),
    zero=MappingProxyType({"spec": {"schedule": "",
                                    "jobTemplate": {"spec": {"template": {"metadata": {"creationTimestamp": None},
                                                                          "spec": {"containers": None}}}}}}),
    printer=Printer(_COLUMNS, _cronjob_cells),
)
