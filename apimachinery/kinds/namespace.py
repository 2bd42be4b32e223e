"""core/v1 Namespace (pkg/registry/core/namespace)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_text, dig, name_age
from apimachinery.kinds.tags import CORE
from apimachinery.selectors import field_at

KIND = Kind(
    ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), (), ("finalize", "status"),
                 (("status.phase", field_at("status.phase")),), return_deleted=True, terminating_on_delete=True),
    schema="apimachinery.schemas.core.Namespace",
    structs=MappingProxyType({"metadata": OBJECT_META, "status": CORE + "NamespaceStatus"}),
    printer=Printer((NAME, ("Status", "string", "", "The status of the namespace", 0), AGE),
                    name_age(lambda o: [as_text(dig(o, "status", "phase"))])),
)
