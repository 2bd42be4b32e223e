"""core/v1 Pod (pkg/registry/core/pod)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.podtemplate import pod_spec_structs
from apimachinery.kinds.tags import CORE

_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)

KIND = Kind(
    ResourceType("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",), ("status", "binding", "log"),
                 _FIELDS, return_deleted=True, graceful_deletion=True),
    structs=MappingProxyType({"metadata": OBJECT_META, **pod_spec_structs("spec"), "status": CORE + "PodStatus"}),
    zero=MappingProxyType({"spec": {"containers": None}}),
)
