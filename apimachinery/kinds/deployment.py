"""apps/v1 Deployment (pkg/registry/apps/deployment)."""

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
    selector_string,
    since,
)
from apimachinery.kinds.tags import APPS

_D_DEPLOY_UPDATED = (
    "Total number of non-terminated pods targeted by this deployment that have the desired template spec."
)

_D_DEPLOY_AVAILABLE = (
    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."
)

_D_DEPLOY_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by "
    "this deployment."
)


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Ready", "string", "", "Number of the pod with ready state", 0),
    ("Up-to-date", "string", "", _D_DEPLOY_UPDATED, 0),
    ("Available", "string", "", _D_DEPLOY_AVAILABLE, 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", _D_DEPLOY_SELECTOR, 1),
)


def _deployment_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printDeployment: READY is ready/desired; UP-TO-DATE and AVAILABLE are integers."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = selector_string(spec.get("selector"), empty="")
    return [
        as_text(dig(obj, "metadata", "name")),
        f"{as_int(status.get('readyReplicas'))}/{as_int(spec.get('replicas'))}",
        as_int(status.get("updatedReplicas")),
        as_int(status.get("availableReplicas")),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
        "<invalid>" if selector is None else selector,
    ]


KIND = Kind(
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    schema="apimachinery.schemas.apps.Deployment",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "DeploymentSpec", **template_structs(),
                              "status": APPS + "DeploymentStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}},
                                    "strategy": {}}}),
    printer=Printer(_COLUMNS, _deployment_cells),
)
