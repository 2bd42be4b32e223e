"""core/v1 Namespace (pkg/registry/core/namespace)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Kind, Printer, ResourceType
from apimachinery.kinds.tags import CORE
from apimachinery.objects import as_map


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printNamespace: status.phase."""
    phase = as_map(obj.get("status")).get("phase")
    return [phase if isinstance(phase, str) else ""]

KIND = Kind(
    ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), (), ("status",),
                 ("status.phase",), return_deleted=True, terminating_on_delete=True),
    structs=MappingProxyType({"metadata": OBJECT_META, "status": CORE + "NamespaceStatus"}),
    printer=Printer((("Status", "string", "", "The status of the namespace", 0),), _cells),
)
