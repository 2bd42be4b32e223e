"""discovery.k8s.io/v1 EndpointSlice (pkg/registry/discovery/endpointslice)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, as_text, dig, list_with_more, name_age
from apimachinery.selectors import field_at

_D_EPS_ADDRESS_TYPE = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice "
    "must be the same type. This field is immutable after creation. The following address types are "
    "currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: "
    "Represents a Fully Qualified Domain Name."
)

_D_EPS_PORTS = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a "
    "unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined "
    'with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.'
)

_D_EPS_ENDPOINTS = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."
)


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("AddressType", "string", "", _D_EPS_ADDRESS_TYPE, 0),
    ("Ports", "string", "", _D_EPS_PORTS, 0),
    ("Endpoints", "string", "", _D_EPS_ENDPOINTS, 0),
    AGE,
)


def _slice_ports(ports: list[Any]) -> str:
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for p in ports:
        if len(shown) < limit:
            if isinstance(dig(p, "port"), int):
                shown.append(str(dig(p, "port")))
            elif isinstance(dig(p, "name"), str):
                shown.append(as_text(dig(p, "name")))
            else:
                shown.append("*")
        elif len(shown) == limit:
            more = True
        count += 1
    return list_with_more(shown, more, count=count, limit=limit)


def _slice_endpoints(endpoints: list[Any]) -> str:
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ep in endpoints:
        for address in as_items(dig(ep, "addresses")):
            if len(shown) < limit:
                shown.append(as_text(address))
            elif len(shown) == limit:
                more = True
            count += 1
    return list_with_more(shown, more, count=count, limit=limit)


_CELLS = name_age(
    lambda o: [as_text(o.get("addressType")), _slice_ports(as_items(o.get("ports"))), _slice_endpoints(as_items(o.get("endpoints")))]
)


KIND = Kind(
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
                 (), (), (), (("addressType", field_at("addressType")),)),
    schema="apimachinery.schemas.discovery.EndpointSlice",
    zero=MappingProxyType({"addressType": "", "endpoints": None}),
    printer=Printer(_COLUMNS, _CELLS),
)
