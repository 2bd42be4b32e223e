"""networking.k8s.io/v1 Ingress (pkg/registry/networking/ingress); validation in apiserver.admission.ingress.

kubelite runs no ingress controller: an Ingress is stored and validated but
gets no address (status.loadBalancer stays empty), as on a cluster where no
controller implements its class.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, as_text, dig, name_age
from apimachinery.kinds.tags import NETWORKING

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Class", "string", "", "The name of the IngressClass resource that should be used for this Ingress", 0),
    ("Hosts", "string", "", "Hosts that incoming requests are matched against before the ingress rule", 0),
    ("Address", "string", "", "Address is a list containing ingress points for the load-balancer", 0),
    ("Ports", "string", "", "Ports of TLS configurations that open", 0),
    AGE,
)

_MAX_HOSTS = 3


def _hosts(rules: list[Any]) -> str:
    """formatHosts: the first three hosts, ``*`` when none."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == _MAX_HOSTS:
            more = True
        host = as_text(dig(rule, "host"))
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - _MAX_HOSTS} more..." if more else text


def _address(obj: dict[str, Any]) -> str:
    """ingressLoadBalancerStatusStringer, wide (the server's tables never clip): sorted, each once."""
    found: set[str] = set()
    for ing in as_items(dig(obj, "status", "loadBalancer", "ingress")):
        ip, host = as_text(dig(ing, "ip")), as_text(dig(ing, "hostname"))
        if ip:
            found.add(ip)
        elif host:
            found.add(host)
    return ",".join(sorted(found))


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printIngress."""
    spec = obj.get("spec") or {}
    class_name = spec.get("ingressClassName")
    return ["<none>" if class_name is None else as_text(class_name), _hosts(as_items(spec.get("rules"))),
            _address(obj), "80, 443" if as_items(spec.get("tls")) else "80"]


KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",), (), ("status",)),
    schema="apimachinery.schemas.ingress.Ingress",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": NETWORKING + "IngressSpec",
                              "status": NETWORKING + "IngressStatus"}),
    zero=MappingProxyType({"status": {"loadBalancer": {}}}),
    printer=Printer(_COLUMNS, name_age(_cells)),
)
