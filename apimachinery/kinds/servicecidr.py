"""networking.k8s.io/v1 ServiceCIDR (pkg/registry/networking/servicecidr)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, as_text, dig, name_age
from apimachinery.kinds.tags import NETWORKING

_D_CIDRS = (
    'CIDRs defines the IP blocks in CIDR notation (e.g. "192.168.0.0/24" or "2001:db8::/64") from which to '
    "assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable."
)


KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", False, (), (),
                 ("status",)),
    schema="apimachinery.schemas.networking.ServiceCIDR",
    structs=MappingProxyType({"metadata": OBJECT_META, "status": NETWORKING + "ServiceCIDRStatus"}),
    printer=Printer((NAME, ("CIDRs", "string", "", _D_CIDRS, 0), AGE),
                    name_age(lambda o: [",".join(as_text(c) for c in as_items(dig(o, "spec", "cidrs")))])),
)
