"""Admission of Endpoints (ValidateEndpoints, SetDefaults_Endpoints).

The kind itself is declared in apimachinery.kinds.endpoints.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import (
    FieldError,
    invalid,
    not_supported,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_ip,
    is_valid_port_num,
    non_special_ip_errors,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_int,
    as_list,
    as_map,
    as_str,
)

PROTOCOLS = ["SCTP", "TCP", "UDP"]


def dns_label_errors(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def endpoint_ip_errors(ip: str) -> list[str]:
    """ValidateNonSpecialIP, except that loopback is allowed: a kubelite deviation (issue 10).

    kubelite's process runtime gives Pods loopback IPs (127.10.0.0/16) so that
    they really answer on this host; their Endpoints and EndpointSlices must
    be storable. Unspecified and link-local addresses stay refused.
    """
    return [m for m in non_special_ip_errors(ip) if not m.startswith("may not be in the loopback range")]


def _endpoint_address_errors(ip: str, path: str) -> list[FieldError]:
    """IsValidIP followed by ValidateNonSpecialIP, as Endpoints and externalIPs are checked."""
    return [invalid(path, ip, m) for m in is_valid_ip(ip)] + [invalid(path, ip, m) for m in non_special_ip_errors(ip)]


# ---------------------------------------------------------------------------
# Endpoints (ValidateEndpoints, SetDefaults_Endpoints)
# ---------------------------------------------------------------------------


class EndpointsAdmission(Admission):
    """Endpoints names are DNS-1123 subdomains (ValidateEndpointsName), not the Service's DNS-1035 rule."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["endpoints"])

    def default(self, obj: Obj) -> None:
        for subset in as_list(obj.get("subsets")):
            for port in as_list(as_map(subset).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, subset in enumerate(as_list(obj.get("subsets"))):
            subset = as_map(subset)
            path = f"subsets[{i}]"
            addresses, not_ready = as_list(subset.get("addresses")), as_list(subset.get("notReadyAddresses"))
            if not addresses and not not_ready:
                errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
            for key, group in (("addresses", addresses), ("notReadyAddresses", not_ready)):
                for j, address in enumerate(group):
                    errs += _endpoint_address(as_map(address), f"{path}.{key}[{j}]")
            ports = as_list(subset.get("ports"))
            for j, port in enumerate(ports):
                errs += _endpoint_port(as_map(port), f"{path}.ports[{j}]", require_name=len(ports) > 1)
        return errs


def _endpoint_address(address: dict[str, Any], path: str) -> list[FieldError]:
    ip = as_str(address.get("ip"))
    errs = [invalid(f"{path}.ip", ip, m) for m in is_valid_ip(ip)]
    hostname = as_str(address.get("hostname"))
    if hostname:
        errs += dns_label_errors(hostname, f"{path}.hostname")
    node_name = address.get("nodeName")
    if node_name is not None:
        errs += [invalid(f"{path}.nodeName", node_name, m) for m in is_dns1123_subdomain(as_str(node_name))]
    return errs + [invalid(f"{path}.ip", ip, m) for m in endpoint_ip_errors(ip)]


def _endpoint_port(port: dict[str, Any], path: str, *, require_name: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += dns_label_errors(name, f"{path}.name")
    number = as_int(port.get("port")) or 0
    errs += [invalid(f"{path}.port", number, m) for m in is_valid_port_num(number)]
    protocol = as_str(port.get("protocol"))
    if not protocol:
        errs.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    if port.get("appProtocol") is not None:
        app = as_str(port.get("appProtocol"))
        errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app)]
    return errs
