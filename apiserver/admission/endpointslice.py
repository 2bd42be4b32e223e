"""Admission of EndpointSlice, discovery.k8s.io/v1 (ValidateEndpointSlice).

The kind itself is declared in apimachinery.kinds.endpointslice.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import (
    FieldError,
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_ipv4_address,
    is_valid_ipv6_address,
    validate_fqdn,
    validate_immutable,
    validate_labels,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_list,
    as_map,
    as_str,
)
from apiserver.admission.endpoints import PROTOCOLS, dns_label_errors, endpoint_ip_errors

# ---------------------------------------------------------------------------
# EndpointSlice, discovery.k8s.io/v1 (ValidateEndpointSlice)
# ---------------------------------------------------------------------------

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


class EndpointSliceAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["endpointslices.discovery.k8s.io"])

    def default(self, obj: Obj) -> None:
        for port in as_list(obj.get("ports")):
            if isinstance(port, dict):
                if port.get("name") is None:
                    port["name"] = ""
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        address_type = as_str(obj.get("addressType"))
        if not address_type:
            errs.append(required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
        errs += _slice_endpoint_errors(as_list(obj.get("endpoints")), address_type)
        errs += _slice_port_errors(as_list(obj.get("ports")))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate_create(obj) + validate_immutable(obj.get("addressType"), old.get("addressType"),
                                                               "addressType")


def _slice_endpoint_errors(endpoints: list[Any], address_type: str) -> list[FieldError]:
    if len(endpoints) > 1000:
        return [too_many("endpoints", len(endpoints), 1000)]
    errs: list[FieldError] = []
    for i, ep in enumerate(endpoints):
        ep = as_map(ep)
        path = f"endpoints[{i}]"
        addresses = [str(a) for a in as_list(ep.get("addresses"))]
        if not addresses:
            errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(too_many(f"{path}.addresses", len(addresses), 100))
        for j, address in enumerate(addresses):
            apath = f"{path}.addresses[{j}]"
            if address_type == "IPv4":
                errs += [invalid(apath, address, m) for m in is_valid_ipv4_address(address)]
                errs += [invalid(apath, address, m) for m in endpoint_ip_errors(address)]
            elif address_type == "IPv6":
                errs += [invalid(apath, address, m) for m in is_valid_ipv6_address(address)]
                errs += [invalid(apath, address, m) for m in endpoint_ip_errors(address)]
            elif address_type == "FQDN":
                errs += validate_fqdn(apath, address)
        if ep.get("nodeName") is not None:
            node = as_str(ep.get("nodeName"))
            errs += [invalid(f"{path}.nodeName", node, m) for m in is_dns1123_subdomain(node)]
        topology = as_map(ep.get("deprecatedTopology"))
        if len(topology) > 16:
            errs.append(too_many(f"{path}.deprecatedTopology", len(topology), 16))
        errs += validate_labels(topology, f"{path}.deprecatedTopology")
        if ep.get("hostname") is not None:
            errs += dns_label_errors(as_str(ep.get("hostname")), f"{path}.hostname")
    return errs


def _slice_port_errors(ports: list[Any]) -> list[FieldError]:
    if len(ports) > 100:
        return [too_many("ports", len(ports), 100)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port = as_map(port)
        path = f"ports[{i}]"
        name = as_str(port.get("name"))
        if name:
            errs += dns_label_errors(name, f"{path}.name")
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(f"{path}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
        if port.get("appProtocol") is not None:
            app = as_str(port.get("appProtocol"))
            errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app)]
    return errs
