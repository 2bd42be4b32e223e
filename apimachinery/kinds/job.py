"""batch/v1 Job (pkg/registry/batch/job); defaults and validation in apiserver.admission.job.

Jobs run Pods to completion: the job controller (controllers/job.py) creates them from the template and
records how they ended in the status (counts, conditions Complete/Failed, times).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.podtemplate import template_structs
from apimachinery.kinds.printing import (
    AGE,
    D_CONTAINERS,
    D_IMAGES,
    NAME,
    as_int,
    as_items,
    as_text,
    container_cells,
    dig,
    human_duration,
    parse_time,
    selector_string,
    since,
)
from apimachinery.kinds.tags import BATCH

D_JOB_SELECTOR = (
    "A label query over pods that should match the pod count. Normally, the system sets this field for you. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_D_SUCCEEDED = (
    "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. "
    "However, it may decrease in reaction to scale down of elastic indexed jobs."
)

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Status", "string", "", "Status of the job.", 0),
    ("Completions", "string", "", _D_SUCCEEDED, 0),
    ("Duration", "string", "", "Time required to complete the job.", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", D_JOB_SELECTOR, 1),
)


def has_condition(job: Mapping[str, Any], ctype: str) -> bool:
    """A condition of ``ctype`` with status True (the printer's and the controller's test)."""
    return any(dig(c, "type") == ctype and dig(c, "status") == "True"
               for c in as_items(dig(job, "status", "conditions")))


def _status(job: Mapping[str, Any]) -> str:
    """printJob's STATUS: the first that holds, in kube's order."""
    if has_condition(job, "Complete"):
        return "Complete"
    if has_condition(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    for ctype in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if has_condition(job, ctype):
            return ctype
    return "Running"


def _completions(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    succeeded = as_int(status.get("succeeded"))
    if spec.get("completions") is not None:
        return f"{succeeded}/{as_int(spec.get('completions'))}"
    parallelism = as_int(spec.get("parallelism"))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _duration(status: Mapping[str, Any], now: datetime) -> str:
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime"))
    return human_duration(((end or now) - start).total_seconds())


def _job_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printJob: NAME STATUS COMPLETIONS DURATION AGE, -o wide CONTAINERS IMAGES SELECTOR (FormatLabelSelector)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = selector_string(spec.get("selector"), empty="<none>")
    return [
        as_text(dig(obj, "metadata", "name")),
        _status(obj),
        _completions(spec, status),
        _duration(status, now),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
        "<error>" if selector is None else selector,
    ]


KIND = Kind(
    # kube's JobToSelectableFields also offers status.successful (a count, read as text); not offered here
    ResourceType("batch", "v1", "Job", "jobs", "job", True, (), ("all",), ("status",), gc_finalizers=True),
    schema="apimachinery.schemas.batch.Job",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": BATCH + "JobSpec", **template_structs(),
                              "status": BATCH + "JobStatus",
                              "status.uncountedTerminatedPods": BATCH + "UncountedTerminatedPods"}),
    zero=MappingProxyType({"spec": {"template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}}}}),
    printer=Printer(_COLUMNS, _job_cells),
)
