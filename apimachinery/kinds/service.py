"""core/v1 Service (pkg/registry/core/service)."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_int, as_items, as_text, dig, format_labels, since
from apimachinery.kinds.tags import CORE

_D_SVC_TYPE = (
    'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, '
    'ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for '
    "load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by "
    'manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual '
    "IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "
    '"NodePort" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as '
    'the clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in '
    'the current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this '
    "service to the specified externalName. Several other fields do not apply to ExternalName services. More "
    "info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"
)

_D_SVC_CLUSTER_IP = (
    "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified "
    "manually, is in-range (as per system configuration), and is not in use, it will be allocated to the "
    "service; otherwise creation of the service will fail. This field may not be changed through updates "
    "unless the type field is also being changed to ExternalName (which requires this field to be blank) or "
    "the type field is being changed from ExternalName (in which case this field may optionally be "
    'specified, as describe above).  Valid values are "None", empty string (""), or a valid IP address. '
    'Setting this to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint '
    "connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and "
    "LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will "
    "fail. This field will be wiped when updating a Service to type ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)

_D_SVC_EXTERNAL_IPS = (
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this "
    "service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic "
    "arrives at a node with this IP.  A common example is external load-balancers that are not part of the "
    "Kubernetes system."
)

_D_SVC_PORTS = (
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)

_D_SVC_SELECTOR = (
    "Route service traffic to pods with label keys and values matching this selector. If empty or not "
    "present, the service is assumed to have an external process managing its endpoints, which Kubernetes "
    "will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is "
    "ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/"
)

_LOAD_BALANCER_WIDTH = 16


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Type", "string", "", _D_SVC_TYPE, 0),
    ("Cluster-IP", "string", "", _D_SVC_CLUSTER_IP, 0),
    ("External-IP", "string", "", _D_SVC_EXTERNAL_IPS, 0),
    ("Port(s)", "string", "", _D_SVC_PORTS, 0),
    AGE,
    ("Selector", "string", "", _D_SVC_SELECTOR, 1),
)


def _service_external_ip(svc: dict[str, Any]) -> str:
    spec = svc.get("spec") or {}
    svc_type = as_text(spec.get("type"))
    external_ips = [as_text(ip) for ip in as_items(spec.get("externalIPs"))]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        found: set[str] = set()
        for ing in as_items(dig(svc, "status", "loadBalancer", "ingress")):
            ip, host = as_text(dig(ing, "ip")), as_text(dig(ing, "hostname"))
            if ip:
                found.add(ip)
            elif host:
                found.add(host)
        lb_ips = ",".join(sorted(found))  # wide: never clipped to 16 bytes
        if external_ips:
            return ",".join([*(lb_ips.split(",") if lb_ips else []), *external_ips])
        return lb_ips or "<pending>"
    if svc_type == "ExternalName":
        return as_text(spec.get("externalName"))
    return "<unknown>"


def _service_ports(ports: list[Any]) -> str:
    """makePortString: ``80/TCP,443:30443/TCP``."""
    pieces: list[str] = []
    for p in ports:
        port, proto, node_port = as_int(dig(p, "port")), as_text(dig(p, "protocol")), as_int(dig(p, "nodePort"))
        pieces.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return ",".join(pieces)


def _service_cells(svc: dict[str, Any], now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = as_items(spec.get("clusterIPs"))
    if cluster_ips:
        internal_ip = as_text(cluster_ips[0])
    elif as_text(spec.get("clusterIP")):
        internal_ip = as_text(spec.get("clusterIP"))
    elif as_text(spec.get("type")) != "ExternalName":
        # kubelite's ipam controller allocates ClusterIPs after the create; until then the
        # address is pending. kube-apiserver never shows this state.
        internal_ip = "<pending>"
    else:
        internal_ip = "<none>"
    ports = _service_ports(as_items(spec.get("ports"))) or "<none>"
    return [
        as_text(dig(svc, "metadata", "name")),
        as_text(spec.get("type")),
        internal_ip,
        _service_external_ip(svc),
        ports,
        since(dig(svc, "metadata", "creationTimestamp"), now),
        format_labels(spec.get("selector")),
    ]


KIND = Kind(
    ResourceType("", "v1", "Service", "services", "service", True, ("svc",), ("all",), ("status",),
                 filled_after_create=("spec.clusterIP", "spec.clusterIPs", "spec.ports[].nodePort",
                                      "spec.healthCheckNodePort"),
                 return_deleted=True),
    schema="apimachinery.schemas.service.Service",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "ServiceSpec", "status": CORE + "ServiceStatus"}),
    zero=MappingProxyType({"status": {"loadBalancer": {}}}),
    printer=Printer(_COLUMNS, _service_cells),
)
