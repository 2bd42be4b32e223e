"""apps/v1 StatefulSet (pkg/registry/apps/statefulset); rules in apiserver.admission.statefulset.

Why: the workload with stable identities: ordinal Pods ``<name>-N`` whose
hostname and subdomain (``spec.serviceName``) give each its own DNS record
behind a headless Service. The controller is controllers/statefulset.py.
"""

from __future__ import annotations

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
    as_text,
    container_cells,
    dig,
    since,
)
from apimachinery.kinds.tags import APPS

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Ready", "string", "", "Number of the pod with ready state", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
)


def _cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printStatefulSet: READY is readyReplicas/spec.replicas."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        as_text(dig(obj, "metadata", "name")),
        f"{as_int(status.get('readyReplicas'))}/{as_int(spec.get('replicas'))}",
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
    ]


KIND = Kind(
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    schema="apimachinery.schemas.statefulset.StatefulSet",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "StatefulSetSpec", **template_structs(),
                              "status": APPS + "StatefulSetStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}},
                                    "updateStrategy": {}},
                           "status": {"replicas": 0, "availableReplicas": 0}}),
    printer=Printer(_COLUMNS, _cells),
)
