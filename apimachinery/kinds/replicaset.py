"""apps/v1 ReplicaSet (pkg/registry/apps/replicaset)."""

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

_D_RS_DESIRED = (
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
    "unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)

_D_RS_CURRENT = (
    "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)

_D_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is empty, it is "
    "defaulted to the labels present on the pod template. Label keys and values that must match in order to be "
    "controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Desired", "integer", "", _D_RS_DESIRED, 0),
    ("Current", "integer", "", _D_RS_CURRENT, 0),
    ("Ready", "integer", "", "The number of ready replicas for this replica set.", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", _D_RS_SELECTOR, 1),
)


def _replica_set_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printReplicaSet: the selector through metav1.FormatLabelSelector (``<none>``, ``<error>``)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = selector_string(spec.get("selector"), empty="<none>")
    return [
        as_text(dig(obj, "metadata", "name")),
        as_int(spec.get("replicas")),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
        "<error>" if selector is None else selector,
    ]


KIND = Kind(
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    schema="apimachinery.schemas.apps.ReplicaSet",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "ReplicaSetSpec", **template_structs(),
                              "status": APPS + "ReplicaSetStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}}}}),
    printer=Printer(_COLUMNS, _replica_set_cells),
)
