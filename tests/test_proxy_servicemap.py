"""Service ports and endpoints as kube-proxy sees them, and which endpoints each traffic policy may use."""

from __future__ import annotations

from typing import Any

import pytest

from agents.proxy.servicemap import Endpoint, ServicePort, categorize, service_ports

Obj = dict[str, Any]


def ep(ip: str, node: str = "", *, ready: bool = True, serving: bool | None = None, terminating: bool = False) -> Endpoint:
    return Endpoint(ip, 80, ready=ready, serving=ready if serving is None else serving, terminating=terminating,
                    node_name=node)


def sp(*eps: Endpoint, internal_local: bool = False, external_local: bool = False, node_port: int = 0) -> ServicePort:
    return ServicePort("ns", "svc", "", "TCP", "127.96.0.5", 80, node_port=node_port, internal_local=internal_local,
                       external_local=external_local, endpoints=tuple(eps))


A, B = ep("127.10.1.2", "n1"), ep("127.10.2.2", "n2")
A_TERM = ep("127.10.1.3", "n1", ready=False, serving=True, terminating=True)
B_TERM = ep("127.10.2.3", "n2", ready=False, serving=True, terminating=True)
B_GONE = ep("127.10.2.4", "n2", ready=False, serving=False, terminating=True)


@pytest.mark.parametrize(("port", "cluster", "local", "has_any"), [
    (sp(A, B), [A, B], [], True),
    (sp(A_TERM, B), [B], [], True),  # a terminating endpoint is not used while another is ready
    (sp(A_TERM, B_TERM), [A_TERM, B_TERM], [], True),  # ...but is when nothing is ready
    (sp(B_GONE), [], [], False),  # not serving: never
    (sp(), [], [], False),
    (sp(A, B, internal_local=True), [], [A], True),
    (sp(B, internal_local=True), [], [], True),  # endpoints elsewhere: has_any but nothing local
    (sp(A_TERM, B, internal_local=True), [], [A_TERM], True),  # local falls back to serving terminating
    (sp(A, B, external_local=True, node_port=30000), [A, B], [A], True),
])
def test_categorize_on_n1(port: ServicePort, cluster: list[Endpoint], local: list[Endpoint], has_any: bool) -> None:
    c = categorize(port, "n1")
    assert (list(c.cluster), list(c.local), c.has_any) == (cluster, local, has_any)


def service(**spec: Any) -> Obj:
    status = spec.pop("status", {})
    base = {"type": "ClusterIP", "clusterIP": "127.96.0.5",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                      {"name": "dns", "port": 53, "protocol": "UDP"}]}
    return {"metadata": {"namespace": "ns", "name": "svc"}, "spec": {**base, **spec}, "status": status}


def eslice(*endpoints: Obj, name: str = "svc-1", port_name: str = "http") -> Obj:
    return {"metadata": {"namespace": "ns", "name": name, "labels": {"kubernetes.io/service-name": "svc"}},
            "addressType": "IPv4", "endpoints": list(endpoints),
            "ports": [{"name": port_name, "port": 8080, "protocol": "TCP"}]}


def test_ports_names_and_endpoints() -> None:
    ports = service_ports(service(), [eslice({"addresses": ["127.10.1.9"], "nodeName": "n1"},
                                             {"addresses": ["127.10.1.2"], "conditions": {"ready": False}})])
    http, dns = ports
    assert http.name_string == "ns/svc:http" and dns.protocol == "UDP" and dns.endpoints == ()
    assert http.node_port == 0  # a ClusterIP Service has no node port even if one is written
    assert [str(e) for e in http.endpoints] == ["127.10.1.2:8080", "127.10.1.9:8080"]  # sorted as strings
    assert not http.endpoints[0].ready and http.endpoints[1].node_name == "n1"


def test_the_ready_copy_of_an_endpoint_in_two_slices_wins() -> None:
    ports = service_ports(service(), [eslice({"addresses": ["127.10.1.9"], "conditions": {"ready": True}}),
                                      eslice({"addresses": ["127.10.1.9"], "conditions": {"ready": False}},
                                             name="svc-2")])
    assert ports[0].endpoints[0].ready


@pytest.mark.parametrize(("spec", "check"), [
    ({"clusterIP": "None"}, lambda ps: ps == []),
    ({"type": "ExternalName", "externalName": "x.example"}, lambda ps: ps == []),
    ({"clusterIP": ""}, lambda ps: ps == []),
    ({"type": "NodePort"}, lambda ps: ps[0].node_port == 30080 and ps[0].externally_accessible),
    ({"type": "LoadBalancer", "status": {"loadBalancer": {"ingress": [{"ip": "127.20.0.1"},
                                                                      {"ip": "127.20.0.2", "ipMode": "Proxy"},
                                                                      {"hostname": "lb.example"}]}},
      "loadBalancerSourceRanges": [" 127.0.0.0/8", "bogus"]},
     lambda ps: ps[0].lb_ips == ("127.20.0.1",) and ps[0].lb_source_ranges == ("127.0.0.0/8",)),
    ({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000},
     lambda ps: ps[0].external_local and ps[0].health_check_node_port == 31000),
    ({"type": "NodePort", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000},
     lambda ps: ps[0].external_local and ps[0].health_check_node_port == 0),
    ({"externalTrafficPolicy": "Local"}, lambda ps: not ps[0].external_local),  # not externally accessible
    ({"sessionAffinity": "ClientIP"}, lambda ps: ps[0].affinity_timeout == 10800),
    ({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}}},
     lambda ps: ps[0].affinity_timeout == 30),
    ({"internalTrafficPolicy": "Local"}, lambda ps: ps[0].internal_local and not ps[0].uses_cluster_endpoints),
])
def test_service_fields(spec: Obj, check: Any) -> None:
    assert check(service_ports(service(**spec), []))
