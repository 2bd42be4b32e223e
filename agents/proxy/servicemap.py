"""What kube-proxy knows about one Service: its ports, their endpoints, and which endpoints a node may use.

Why pure: the data plane, the iptables rendering and the tests all need
the same answer to "where may traffic for this service port go from this
node?", so it is computed once from the API objects.

Rules (pkg/proxy: serviceport.go, endpointslicecache.go, topology.go):
- a Service without a cluster IP (headless, ExternalName, not yet
  allocated) is not proxied; only its IPv4 side is (kubelite is
  single-stack);
- every port is a ``ServicePort`` named ``namespace/name:port`` (no
  ``:port`` for an unnamed port); LoadBalancer ingress IPs (except
  ``ipMode: Proxy``), externalIPs and loadBalancerSourceRanges (trimmed,
  invalid ones dropped) are kept; session affinity ClientIP carries its
  timeout (default 10800 s); a healthCheckNodePort counts only for a
  LoadBalancer with externalTrafficPolicy Local;
- endpoints come from the EndpointSlices labelled with the Service name,
  matched to a port by (name, protocol); an endpoint is its first address
  and the port; ready when ``conditions.ready`` is unset or true, serving
  defaults to ready, terminating to false; an address present in several
  slices keeps its ready copy; endpoints are sorted as strings;
- ``categorize`` is CategorizeEndpoints without topology hints: Cluster
  policy uses the ready endpoints, or, when none is ready anywhere, the
  serving terminating ones; Local policy uses this node's ready endpoints,
  else its serving terminating ones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery.labels import LABEL_SERVICE_NAME
from apimachinery.objects import as_list, as_map

Obj = dict[str, Any]

DEFAULT_AFFINITY_TIMEOUT = 10800


def is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    zone: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"

    def is_local(self, node_name: str) -> bool:
        return bool(node_name) and self.node_name == node_name


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    lb_source_ranges: tuple[str, ...] = ()
    affinity_timeout: int | None = None
    internal_local: bool = False
    external_local: bool = False
    health_check_node_port: int = 0
    endpoints: tuple[Endpoint, ...] = field(default=())

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def name_string(self) -> str:
        """ServicePortName.String(): ``ns/name:port`` (``ns/name`` for an unnamed port)."""
        return self.service_key + (f":{self.port_name}" if self.port_name else "")

    @property
    def externally_accessible(self) -> bool:
        return self.node_port != 0 or bool(self.lb_ips) or bool(self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        return not self.internal_local or (self.externally_accessible and not self.external_local)

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or (self.externally_accessible and self.external_local)


@dataclass(frozen=True)
class Categorized:
    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    reachable: tuple[Endpoint, ...]
    has_any: bool


def categorize(sp: ServicePort, node_name: str) -> Categorized:
    """CategorizeEndpoints (no topology hints): the endpoints each policy may use from ``node_name``."""
    eps = sp.endpoints
    cluster: tuple[Endpoint, ...] = ()
    has_any = False
    if sp.uses_cluster_endpoints:
        cluster = tuple(e for e in eps if e.ready)
        if not cluster:
            cluster = tuple(e for e in eps if e.serving and e.terminating)
        has_any = bool(cluster)
    if not sp.uses_local_endpoints:
        return Categorized(cluster, (), cluster, has_any)
    local_ready = local_terminating = False
    for e in eps:
        if e.ready:
            has_any = True
            local_ready = local_ready or e.is_local(node_name)
        elif e.serving and e.terminating:
            has_any = True
            local_terminating = local_terminating or e.is_local(node_name)
    local: tuple[Endpoint, ...] = ()
    serving_terminating = False
    if local_ready:
        local = tuple(e for e in eps if e.is_local(node_name) and e.ready)
    elif local_terminating:
        serving_terminating = True
        local = tuple(e for e in eps if e.is_local(node_name) and e.serving and e.terminating)
    if not sp.uses_cluster_endpoints:
        return Categorized(cluster, local, local, has_any)
    if not serving_terminating:
        return Categorized(cluster, local, cluster, has_any)
    merged = {str(e): e for e in (*cluster, *local)}
    return Categorized(cluster, local, tuple(merged[k] for k in sorted(merged)), has_any)


def _cidrs(values: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for v in values:
        try:
            net = ipaddress.ip_network(str(v).strip(), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            out.append(str(net))
    return tuple(out)


def _slice_endpoints(slices: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Endpoint]]:
    """(port name, protocol) -> endpoints, merged over the IPv4 slices (ready copies win), sorted."""
    by_port: dict[tuple[str, str], dict[str, Endpoint]] = {}
    for s in slices:
        if s.get("addressType") not in (None, "IPv4"):
            continue
        for port in as_list(s.get("ports")):
            port = as_map(port)
            number = port.get("port")
            if not isinstance(number, int):
                continue
            key = (str(port.get("name") or ""), str(port.get("protocol") or "TCP"))
            bucket = by_port.setdefault(key, {})
            for ep in as_list(s.get("endpoints")):
                ep = as_map(ep)
                addresses = as_list(ep.get("addresses"))
                if not addresses or not is_ipv4(str(addresses[0])):
                    continue
                cond = as_map(ep.get("conditions"))
                ready = cond.get("ready") is not False
                serving = ready if cond.get("serving") is None else bool(cond.get("serving"))
                e = Endpoint(str(addresses[0]), number, ready=ready, serving=serving,
                             terminating=cond.get("terminating") is True, node_name=str(ep.get("nodeName") or ""),
                             zone=str(ep.get("zone") or ""))
                if str(e) not in bucket or e.ready:
                    bucket[str(e)] = e
    return {k: [v[s] for s in sorted(v)] for k, v in by_port.items()}


def service_ports(service: Mapping[str, Any], slices: Sequence[Mapping[str, Any]]) -> list[ServicePort]:
    """Every proxied port of ``service``, with its endpoints from ``slices``."""
    meta, spec = as_map(service.get("metadata")), as_map(service.get("spec"))
    svc_type = str(spec.get("type") or "ClusterIP")
    cluster_ip = str(spec.get("clusterIP") or "")
    if svc_type == "ExternalName" or not is_ipv4(cluster_ip):
        return []
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    external_ips = tuple(str(ip) for ip in as_list(spec.get("externalIPs")) if is_ipv4(str(ip)))
    lb_ips: tuple[str, ...] = ()
    if svc_type == "LoadBalancer":
        lb_ips = tuple(str(as_map(i).get("ip")) for i in as_list(as_map(as_map(service.get("status")).get("loadBalancer"))
                                                              .get("ingress"))
                       if is_ipv4(str(as_map(i).get("ip") or "")) and as_map(i).get("ipMode") != "Proxy")
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        timeout = as_map(as_map(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        affinity = int(timeout) if isinstance(timeout, int) and timeout > 0 else DEFAULT_AFFINITY_TIMEOUT
    accessible_type = svc_type in ("NodePort", "LoadBalancer") or bool(external_ips)
    external_local = accessible_type and spec.get("externalTrafficPolicy") == "Local"
    hc = spec.get("healthCheckNodePort")
    health = int(hc) if svc_type == "LoadBalancer" and external_local and isinstance(hc, int) else 0
    eps = _slice_endpoints(slices)
    out = []
    for port in as_list(spec.get("ports")):
        port = as_map(port)
        protocol = str(port.get("protocol") or "TCP")
        port_name = str(port.get("name") or "")
        node_port = port.get("nodePort")
        out.append(ServicePort(
            namespace=ns, name=name, port_name=port_name, protocol=protocol, cluster_ip=cluster_ip,
            port=int(port.get("port") or 0),
            node_port=int(node_port) if isinstance(node_port, int) and svc_type in ("NodePort", "LoadBalancer") else 0,
            external_ips=external_ips, lb_ips=lb_ips,
            lb_source_ranges=_cidrs(as_list(spec.get("loadBalancerSourceRanges"))) if lb_ips else (),
            affinity_timeout=affinity, internal_local=spec.get("internalTrafficPolicy") == "Local",
            external_local=external_local, health_check_node_port=health,
            endpoints=tuple(eps.get((port_name, protocol), ())),
        ))
    return out


def slices_of(slices: Iterable[Mapping[str, Any]], namespace: str, name: str) -> list[Mapping[str, Any]]:
    return [s for s in slices if as_map(s.get("metadata")).get("namespace") == namespace
            and as_map(as_map(s.get("metadata")).get("labels")).get(LABEL_SERVICE_NAME) == name]
