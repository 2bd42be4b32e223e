"""apps/v1 DaemonSet (pkg/registry/apps/daemonset); rules in apiserver.admission.daemonset.

Why: one Pod per eligible Node (node selector, required node affinity,
taints), following Nodes as they join and leave; the controller is
controllers/daemonset.py.
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
    selector_string,
    since,
)
from apimachinery.kinds.tags import APPS

_MORE = "More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Desired", "integer", "", "The total number of nodes that should be running the daemon pod (including nodes "
     f"correctly running the daemon pod). {_MORE}", 0),
    ("Current", "integer", "", "The number of nodes that are running at least 1 daemon pod and are supposed to run "
     f"the daemon pod. {_MORE}", 0),
    ("Ready", "integer", "", "numberReady is the number of nodes that should be running the daemon pod and have one "
     "or more of the daemon pod running with a Ready Condition.", 0),
    ("Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod", 0),
    ("Available", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of "
     "the daemon pod running and available (ready for at least spec.minReadySeconds)", 0),
    ("Node Selector", "string", "", "NodeSelector is a selector which must be true for the pod to fit on a node. "
     "Selector which must match a node's labels for the pod to be scheduled on that node. More info: "
     "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/", 0),
    AGE,
    ("Containers", "string", "", D_CONTAINERS, 1),
    ("Images", "string", "", D_IMAGES, 1),
    ("Selector", "string", "", "A label query over pods that are managed by the daemon set. Must match in order to "
     "be controlled. It must match the pod template's labels. More info: "
     "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1),
)


def _cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printDaemonSet: the counts, the template's nodeSelector, and (wide) the selector."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = selector_string(spec.get("selector"), empty="<none>")
    return [
        as_text(dig(obj, "metadata", "name")),
        as_int(status.get("desiredNumberScheduled")),
        as_int(status.get("currentNumberScheduled")),
        as_int(status.get("numberReady")),
        as_int(status.get("updatedNumberScheduled")),
        as_int(status.get("numberAvailable")),
        format_labels(dig(spec, "template", "spec", "nodeSelector")),
        since(dig(obj, "metadata", "creationTimestamp"), now),
        *container_cells(spec.get("template")),
        "<error>" if selector is None else selector,
    ]


KIND = Kind(
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",), ("status",),
                 gc_finalizers=True),
    schema="apimachinery.schemas.daemonset.DaemonSet",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "DaemonSetSpec", **template_structs(),
                              "status": APPS + "DaemonSetStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}},
                                    "updateStrategy": {}},
                           "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                      "desiredNumberScheduled": 0, "numberReady": 0}}),
    printer=Printer(_COLUMNS, _cells),
)
