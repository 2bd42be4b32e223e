"""core/v1 Service (pkg/registry/core/service)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType, merge

KIND = Kind(
    ResourceType("", "v1", "Service", "services", "service", True, ("svc",), ("all",), ("status",),
                 filled_after_create=("spec.clusterIP", "spec.clusterIPs", "spec.ports[].nodePort",
                                      "spec.healthCheckNodePort"),
                 return_deleted=True),
    patch=MappingProxyType({**OBJECT_META, "spec.ports": merge("port"), "status.conditions": merge("type")}),
    zero=MappingProxyType({"status": {"loadBalancer": {}}}),
)
