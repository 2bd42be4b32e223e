"""networking.k8s.io/v1 IPAddress (pkg/registry/networking/ipaddress)."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import NAME, as_text, dig

_D_PARENT_REF = (
    "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a "
    "parent object."
)


_COLUMNS: tuple[Column, ...] = tuple([NAME, ("ParentRef", "string", "", _D_PARENT_REF, 0)])


def _ip_address_cells(ip: dict[str, Any], now: datetime) -> list[Any]:
    ref = dig(ip, "spec", "parentRef")
    parent = "<none>"
    if isinstance(ref, dict):
        group, resource = as_text(ref.get("group")), as_text(ref.get("resource"))
        parent = (f"{resource}.{group}" if group else resource).lower()
        if as_text(ref.get("namespace")):
            parent += "/" + as_text(ref.get("namespace"))
        parent += "/" + as_text(ref.get("name"))
    # kube-apiserver also appends an Age cell without a column; kubectl drops it, so do we.
    return [as_text(dig(ip, "metadata", "name")), parent]


KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "IPAddress", "ipaddresses", "ipaddress", False, ("ip",)),
    schema="apimachinery.schemas.networking.IPAddress",
    zero=MappingProxyType({"spec": {"parentRef": None}}),
    printer=Printer(_COLUMNS, _ip_address_cells),
)
