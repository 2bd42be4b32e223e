"""core/v1 ReplicationController (pkg/registry/core/replicationcontroller): the legacy ReplicaSet.

Its ``spec.selector`` is a label map, not a LabelSelector (``map_selector``); the replicaset
controller's logic keeps it (controllers.replicationcontroller), admission in
apiserver.admission.replicationcontroller.
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
    format_labels,
    since,
)
from apimachinery.kinds.tags import CORE

_D_DESIRED = (
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
    "unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"
)
_D_CURRENT = (
    "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"
)
_D_SELECTOR = (
    "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is "
    "defaulted to the labels present on the Pod template. Label keys and values that must match in order to be "
    "controlled by this replication controller, if empty defaulted to labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Desired", "integer", "", _D_DESIRED, 0),
    ("Current", "integer", "", _D_CURRENT, 0),
    ("Ready", "integer", "", "The number of ready replicas for this replication controller.", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", _D_SELECTOR, 1),
)


def _cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printReplicationController: the selector through labels.FormatLabels (``<none>`` when empty)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        as_text(dig(obj, "metadata", "name")),
        as_int(spec.get("replicas")),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
        format_labels(spec.get("selector")),
    ]


KIND = Kind(
    ResourceType("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", True,
                 ("rc",), ("all",), ("status", "scale"), gc_finalizers=True, map_selector=True),
    schema="apimachinery.schemas.replicationcontroller.ReplicationController",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "ReplicationControllerSpec",
                              **template_structs(), "status": CORE + "ReplicationControllerStatus"}),
    printer=Printer(_COLUMNS, _cells),
)
