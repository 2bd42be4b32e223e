"""core/v1 Node (pkg/registry/core/node)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.tags import CORE

KIND = Kind(
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",), ("spec.unschedulable",),
                 allow_create_on_update=True),
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "NodeSpec", "status": CORE + "NodeStatus"}),
)
