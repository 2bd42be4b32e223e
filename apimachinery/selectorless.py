"""Endpoints and EndpointSlices of a Service without a selector, written by the server behind it.

Why here: in Kubernetes the API servers keep ``default/kubernetes``'s endpoints themselves (no selector,
so the endpoints controller leaves them alone); in kubelite the cluster DNS server keeps
``kube-system/kube-dns``'s the same way, since it runs as a process, not as Pods. Both write objects of
the same shape, built here once.

Invariant: the objects are complete desired states (labels, subsets/endpoints, ports), so a writer
compares them with what is stored and writes only when they differ.
"""

from __future__ import annotations

import ipaddress
from typing import Any

Port = dict[str, Any]  # {"name": ..., "port": ..., "protocol": ...}
Group = tuple[list[Port], list[str]]  # the ports every address of the group serves, the addresses


def endpoints(namespace: str, name: str, groups: list[Group], *, labels: dict[str, str]) -> dict[str, Any]:
    """The Endpoints ``namespace/name``: one subset per group (an Endpoints subset has one port list)."""
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "subsets": [{"addresses": [{"ip": a} for a in addresses], "ports": [dict(p) for p in ports]}
                        for ports, addresses in groups if addresses]}


def endpoint_slice(namespace: str, name: str, group: Group, *, labels: dict[str, str]) -> dict[str, Any]:
    """One EndpointSlice of ready addresses; IPv6 when every address is, else IPv4."""
    ports, addresses = group
    v6 = bool(addresses) and all(ipaddress.ip_address(a).version == 6 for a in addresses)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "addressType": "IPv6" if v6 else "IPv4",
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
            "ports": [dict(p) for p in ports]}
