"""core/v1 Node (pkg/registry/core/node)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType, merge

KIND = Kind(
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",), ("spec.unschedulable",),
                 allow_create_on_update=True),
    patch=MappingProxyType({
        **OBJECT_META,
        "spec.podCIDRs": merge(),
        "status.conditions": merge("type"),
        "status.addresses": merge("type"),
    }),
)
