"""networking.k8s.io/v1 ServiceCIDR (pkg/registry/networking/servicecidr)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Kind, Printer, ResourceType
from apimachinery.kinds.tags import NETWORKING
from apimachinery.objects import as_list, as_map

_D_CIDRS = (
    'CIDRs defines the IP blocks in CIDR notation (e.g. "192.168.0.0/24" or "2001:db8::/64") from which to '
    "assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable."
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printServiceCIDR: spec.cidrs, comma-separated."""
    return [",".join(c if isinstance(c, str) else "" for c in as_list(as_map(obj.get("spec")).get("cidrs")))]

KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", False, (), (),
                 ("status",)),
    structs=MappingProxyType({"metadata": OBJECT_META, "status": NETWORKING + "ServiceCIDRStatus"}),
    printer=Printer((("CIDRs", "string", "", _D_CIDRS, 0),), _cells),
)
