"""networking.k8s.io/v1 IPAddress (pkg/registry/networking/ipaddress)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import Kind, ResourceType

KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "IPAddress", "ipaddresses", "ipaddress", False, ("ip",)),
    zero=MappingProxyType({"spec": {"parentRef": None}}),
)
