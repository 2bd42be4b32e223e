"""networking.k8s.io/v1 ServiceCIDR (pkg/registry/networking/servicecidr)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.tags import NETWORKING

KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", False, (), (),
                 ("status",)),
    structs=MappingProxyType({"metadata": OBJECT_META, "status": NETWORKING + "ServiceCIDRStatus"}),
)
