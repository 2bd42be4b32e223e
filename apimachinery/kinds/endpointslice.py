"""discovery.k8s.io/v1 EndpointSlice (pkg/registry/discovery/endpointslice)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import Kind, ResourceType

KIND = Kind(
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
                 (), (), (), ("addressType",)),
    zero=MappingProxyType({"addressType": "", "endpoints": None}),
)
