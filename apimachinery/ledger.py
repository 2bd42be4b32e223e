"""The allocation ledger's vocabulary, shared by the API server that enforces it and the allocators.

Every ClusterIP a Service holds is a networking.k8s.io/v1 IPAddress named after the IP, every NodePort a
kubelite.io/v1 PortAllocation named ``<protocol>-<port>``, both with ``spec.parentRef`` to the Service.
The API server (apiserver.ledger) refuses a Service write whose IP or port another Service holds, or that
lies outside the valid range, with kube-apiserver's 422; the allocators (controllers.ipam,
controllers.nodeport) must tell that refusal from any other 422 to choose again.

Why here: the names, the objects and the refusal texts are written by one side and read by the other;
with one home they cannot drift. The wire stays kube-apiserver's (``FieldValueInvalid`` causes with its
messages); ``refusals`` turns the causes into typed ``Refusal`` values, so an allocator reads a reason and
a field, never the words of a message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apimachinery.labels import LABEL_IP_FAMILY, LABEL_IPADDRESS_MANAGED_BY

IPADDRESS_MANAGED_BY = "ipallocator.k8s.io"

# kube-apiserver's details (pkg/registry/core/service/ipallocator and portallocator errors)
IP_ALREADY_ALLOCATED = "provided IP is already allocated"
PORT_ALREADY_ALLOCATED = "provided port is already allocated"
_IP_NOT_IN_RANGE = "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
_PORT_NOT_IN_RANGE = "provided port is not in the valid range. The range of valid ports is {range}"

CLUSTER_IPS_FIELD = "spec.clusterIPs"
HEALTH_CHECK_FIELD = "spec.healthCheckNodePort"
_NODE_PORT_FIELD = re.compile(r"spec\.ports\[\d+\]\.nodePort\Z")


def parent_ref(namespace: str, name: str) -> dict[str, str]:
    """``spec.parentRef`` of a ledger object held by the Service ``namespace/name``."""
    return {"group": "", "resource": "services", "namespace": namespace, "name": name}


def ip_family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def ip_address_object(ip: str, *, namespace: str, name: str) -> dict[str, Any]:
    """The IPAddress ledger entry of ``ip`` (as kube-apiserver's allocator writes it)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {"name": ip, "labels": {LABEL_IP_FAMILY: ip_family(ip),
                                            LABEL_IPADDRESS_MANAGED_BY: IPADDRESS_MANAGED_BY}},
        "spec": {"parentRef": parent_ref(namespace, name)},
    }


def port_allocation_name(protocol: str, port: int) -> str:
    """Name of the PortAllocation ledger object of one node port: ``tcp-30080``."""
    return f"{protocol.lower()}-{port}"


def parse_port_allocation_name(name: str) -> tuple[str, int] | None:
    """``tcp-30080`` -> ("TCP", 30080); None for names that are not ledger port names."""
    proto, sep, port = name.rpartition("-")
    if not sep or not proto or not port.isdigit():
        return None
    return proto.upper(), int(port)


def port_allocation_object(protocol: str, port: int, *, namespace: str, name: str) -> dict[str, Any]:
    """The PortAllocation ledger entry of ``protocol``/``port``."""
    return {
        "apiVersion": "kubelite.io/v1",
        "kind": "PortAllocation",
        "metadata": {"name": port_allocation_name(protocol, port)},
        "spec": {"protocol": protocol, "port": port, "parentRef": parent_ref(namespace, name)},
    }


# ---- refusals -------------------------------------------------------------------


class Reason(enum.StrEnum):
    """Why the ledger refused a value."""

    ALLOCATED = "Allocated"  # another Service holds it
    OUT_OF_RANGE = "OutOfRange"  # outside every ServiceCIDR / the node port range


def ip_refusal_detail(ip: str, reason: Reason, *, valid_range: str = "") -> str:
    """The field error detail kube-apiserver writes for a refused ClusterIP."""
    why = IP_ALREADY_ALLOCATED if reason is Reason.ALLOCATED else _IP_NOT_IN_RANGE.format(ip=ip, range=valid_range)
    return f"failed to allocate IP {ip}: {why}"


def port_refusal_detail(reason: Reason, *, valid_range: str = "") -> str:
    """The field error detail kube-apiserver writes for a refused node port."""
    return PORT_ALREADY_ALLOCATED if reason is Reason.ALLOCATED else _PORT_NOT_IN_RANGE.format(range=valid_range)


@dataclass(frozen=True)
class Refusal:
    """One ledger refusal read back from a 422's causes: which field, and why."""

    field: str
    reason: Reason

    @property
    def ip(self) -> bool:
        return self.field == CLUSTER_IPS_FIELD

    @property
    def port(self) -> bool:
        return self.field == HEALTH_CHECK_FIELD or bool(_NODE_PORT_FIELD.match(self.field))


def _reason(field: str, message: str) -> Reason | None:
    if field == CLUSTER_IPS_FIELD:
        if message.endswith(": " + IP_ALREADY_ALLOCATED):
            return Reason.ALLOCATED
        head, sep, _ = _IP_NOT_IN_RANGE.partition("{range}")
        if sep and head.split("{ip}")[-1] in message:
            return Reason.OUT_OF_RANGE
        return None
    if field == HEALTH_CHECK_FIELD or _NODE_PORT_FIELD.match(field):
        if message.endswith(": " + PORT_ALREADY_ALLOCATED):
            return Reason.ALLOCATED
        if _PORT_NOT_IN_RANGE.partition("{range}")[0] in message:
            return Reason.OUT_OF_RANGE
    return None


def refusals(causes: Iterable[Mapping[str, Any]]) -> list[Refusal]:
    """The ledger refusals among a 422's ``details.causes`` (``FieldValueInvalid`` on a ledger field)."""
    out: list[Refusal] = []
    for cause in causes:
        if cause.get("reason") != "FieldValueInvalid":
            continue
        field, message = str(cause.get("field") or ""), str(cause.get("message") or "")
        reason = _reason(field, message)
        if reason is not None:
            out.append(Refusal(field, reason))
    return out
