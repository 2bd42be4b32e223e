"""core/v1 Service (pkg/registry/core/service)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.tags import CORE

KIND = Kind(
    ResourceType("", "v1", "Service", "services", "service", True, ("svc",), ("all",), ("status",),
                 filled_after_create=("spec.clusterIP", "spec.clusterIPs", "spec.ports[].nodePort",
                                      "spec.healthCheckNodePort"),
                 return_deleted=True),
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "ServiceSpec", "status": CORE + "ServiceStatus"}),
    zero=MappingProxyType({"status": {"loadBalancer": {}}}),
)
