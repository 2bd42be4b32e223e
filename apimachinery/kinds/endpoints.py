"""core/v1 Endpoints (pkg/registry/core/endpoint)."""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_int, as_items, as_text, dig, join_host_port, name_age

# EndpointSubset lists carry no tags: subsets are replaced whole.
_D_EP_SUBSETS = (
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to "
    "the IPs they share. A single address with multiple ports, some of which are ready and some of which are "
    "not (because they come from different containers) will result in the address being displayed in "
    "different subsets for the different ports. No address will appear in both Addresses and "
    "NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."
)


_COLUMNS: tuple[Column, ...] = tuple([NAME, ("Endpoints", "string", "", _D_EP_SUBSETS, 0), AGE])


def format_endpoints(endpoints: dict[str, Any]) -> str:
    """formatEndpoints: up to three ``ip:port`` then `` + N more...``; ``<none>`` without subsets."""
    subsets = as_items(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = as_items(dig(ss, "addresses"))
        ports = as_items(dig(ss, "ports"))
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(as_text(dig(addr, "ip")))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(join_host_port(as_text(dig(addr, "ip")), as_int(dig(port, "port"))))
    ret = ",".join(shown)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


_CELLS = name_age(lambda o: [format_endpoints(o)])


KIND = Kind(
    ResourceType("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), allow_create_on_update=True),
    schema="apimachinery.schemas.core.Endpoints",
    printer=Printer(_COLUMNS, _CELLS),
)
