"""Rule rendering against kube-proxy: its chain-name hashing, its probabilities, and its full expected output.

``test_kube_proxy_overall_rules`` is kube-proxy's own TestOverallIPTablesRules
(pkg/proxy/iptables/proxier_test.go): the same six Services and slices must
render to exactly the text kube-proxy's test expects.
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from typing import Any

import pytest

from agents.proxy import iptables
from agents.proxy.iptables import Options, probability, render, sep_chain, svc_chain
from agents.proxy.servicemap import ServicePort, service_ports

Obj = dict[str, Any]


def svc(ns: str, name: str, ip: str, *, type_: str = "ClusterIP", port_name: str = "p80", port: int = 80,
        node_port: int | None = None, protocol: str = "TCP", **spec: Any) -> Obj:
    p: Obj = {"name": port_name, "port": port, "protocol": protocol, "targetPort": port}
    if node_port is not None:
        p["nodePort"] = node_port
    status = spec.pop("status", {})
    return {"metadata": {"namespace": ns, "name": name},
            "spec": {"type": type_, "clusterIP": ip, "ports": [p], **spec}, "status": status}


def eps(ns: str, name: str, *addrs: str | tuple[str, str], port_name: str = "p80", port: int = 80,
        protocol: str = "TCP", conditions: Obj | None = None) -> Obj:
    endpoints = []
    for a in addrs:
        ip, node = (a, "") if isinstance(a, str) else a
        e: Obj = {"addresses": [ip]}
        if node:
            e["nodeName"] = node
        if conditions is not None:
            e["conditions"] = conditions
        endpoints.append(e)
    return {"metadata": {"namespace": ns, "name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": port_name, "port": port, "protocol": protocol}]}


def ports_of(services: list[Obj], slices: list[Obj]) -> list[ServicePort]:
    out: list[ServicePort] = []
    for s in services:
        mine = [x for x in slices if x["metadata"]["namespace"] == s["metadata"]["namespace"]
                and x["metadata"]["labels"]["kubernetes.io/service-name"] == s["metadata"]["name"]]
        out += service_ports(s, mine)
    return out


def b32(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


# ---------------------------------------------------------------------------
# hashing and probabilities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "proto", "expected"), [
    # values from kube-proxy's proxier_test.go
    ("ns1/svc1:p80", "tcp", "KUBE-SVC-XPGD46QRK7WJZT7O"),
    ("ns2/svc2:p80", "tcp", "KUBE-SVC-GNZBNJ2PO5MGZ6GT"),
    ("ns3/svc3:p80", "tcp", "KUBE-SVC-X27LE4BHSL4DOUIK"),
    ("ns4/svc4:p80", "tcp", "KUBE-SVC-4SW47YFZTEDKD3PK"),
    ("ns5/svc5:p80", "tcp", "KUBE-SVC-NUKIZ6OKUXPJNT4C"),
])
def test_service_chain_names_match_kube_proxy(name: str, proto: str, expected: str) -> None:
    assert svc_chain(name, proto) == expected
    assert svc_chain(name, proto) == "KUBE-SVC-" + b32(name + proto)


@pytest.mark.parametrize(("name", "endpoint", "expected"), [
    ("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ"),
    ("ns2/svc2:p80", "10.180.0.2:80", "KUBE-SEP-RS4RBKLTHTF2IUXJ"),
    ("ns3/svc3:p80", "10.180.0.3:80", "KUBE-SEP-OYPFS5VJICHGATKP"),
    ("ns4/svc4:p80", "10.180.0.4:80", "KUBE-SEP-UKSFD7AGPMPPLUHC"),
    ("ns4/svc4:p80", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ"),
])
def test_endpoint_chain_names_match_kube_proxy(name: str, endpoint: str, expected: str) -> None:
    assert sep_chain(name, "tcp", endpoint) == expected


def test_other_chain_prefixes_share_the_port_hash() -> None:
    h = b32("ns5/svc5:p80tcp")
    assert iptables.ext_chain("ns5/svc5:p80", "tcp") == "KUBE-EXT-" + h
    assert iptables.fw_chain("ns5/svc5:p80", "tcp") == "KUBE-FW-" + h == "KUBE-FW-NUKIZ6OKUXPJNT4C"
    assert iptables.svl_chain("ns5/svc5:p80", "tcp") == "KUBE-SVL-" + h
    # an unnamed port has no ":name" and the protocol is lower case
    assert svc_chain("default/web", "udp") == "KUBE-SVC-" + b32("default/webudp")


@pytest.mark.parametrize(("n", "text"), [(1, "1.0000000000"), (2, "0.5000000000"), (3, "0.3333333333"),
                                         (7, "0.1428571429")])
def test_probability_format(n: int, text: str) -> None:
    assert probability(n) == text


# ---------------------------------------------------------------------------
# kube-proxy's TestOverallIPTablesRules
# ---------------------------------------------------------------------------

OVERALL = textwrap.dedent("""\
    *filter
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FIREWALL - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
    -A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
    -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    -A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
    COMMIT
    *nat
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
    :KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
    :KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
    :KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
    :KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
    :KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
    :KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
    :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
    :KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
    :KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
    :KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
    :KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
    :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK
    -A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
    -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
    -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    -A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
    -A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
    -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
    -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
    -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
    -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
    -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
    -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
    -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
    -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
    -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
    -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
    -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
    COMMIT
    """)


def test_kube_proxy_overall_rules() -> None:
    services = [
        svc("ns1", "svc1", "172.30.0.41"),
        svc("ns2", "svc2", "172.30.0.42", type_="LoadBalancer", node_port=3001, externalTrafficPolicy="Local",
            externalIPs=["192.168.99.22"], healthCheckNodePort=30000,
            status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}),
        svc("ns3", "svc3", "172.30.0.43", type_="NodePort", node_port=3003),
        svc("ns4", "svc4", "172.30.0.44", type_="NodePort", externalIPs=["192.168.99.33"]),
        svc("ns5", "svc5", "172.30.0.45", type_="LoadBalancer", node_port=3002, externalTrafficPolicy="Cluster",
            healthCheckNodePort=30000, loadBalancerSourceRanges=[" 203.0.113.0/25"], sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}},
            status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}),
        svc("ns6", "svc6", "172.30.0.46"),
    ]
    slices = [
        eps("ns1", "svc1", "10.180.0.1"),
        eps("ns2", "svc2", "10.180.0.2"),  # no nodeName: not local, so Local policy has nothing here
        eps("ns3", "svc3", "10.180.0.3"),
        eps("ns4", "svc4", "10.180.0.4", ("10.180.0.5", "test-node")),
        eps("ns5", "svc5", "10.180.0.3"),
    ]
    got = render(ports_of(services, slices),
                 Options(node_name="test-node", node_ip="192.168.0.2", cluster_cidr="10.0.0.0/8"))
    assert got.splitlines() == OVERALL.splitlines()


# ---------------------------------------------------------------------------
# shapes for ClusterIP, NodePort and LoadBalancer Services with 0, 1 and 3 endpoints
# ---------------------------------------------------------------------------

PODS = ["127.10.1.2", "127.10.2.2", "127.10.3.2"]


def _lines(text: str, chain: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"-A {chain} ")]


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "LoadBalancer"])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_shapes_by_type_and_endpoint_count(kind: str, n: int) -> None:
    extra: Obj = {}
    if kind != "ClusterIP":
        extra["node_port"] = 30050
    if kind == "LoadBalancer":
        extra["status"] = {"loadBalancer": {"ingress": [{"ip": "127.20.0.1"}]}}
    s = svc("demo", "web", "127.96.0.20", type_=kind, port_name="http", port=8080, **extra)
    sl = eps("demo", "web", *[(ip, f"node-{i + 1}") for i, ip in enumerate(PODS[:n])], port_name="http", port=8080)
    text = render(service_ports(s, [sl]), Options(node_name="node-1", node_ip="127.0.1.1",
                                                  cluster_cidr="127.10.0.0/16"))
    name = "demo/web:http"
    svc_c, ext_c = svc_chain(name, "tcp"), iptables.ext_chain(name, "tcp")
    seps = [sep_chain(name, "tcp", f"{ip}:8080") for ip in PODS[:n]]
    nat = text.split("*nat\n", 1)[1]
    services_rules = [r for r in _lines(nat, "KUBE-SERVICES") if "demo/web" in r]
    if n == 0:
        # no endpoints: REJECT in filter for every address, no nat chains at all
        assert "KUBE-SVC-" not in text and "KUBE-SEP-" not in text and "KUBE-EXT-" not in text
        assert services_rules == []
        assert (f'-A KUBE-SERVICES -m comment --comment "{name} has no endpoints" -m tcp -p tcp -d 127.96.0.20 '
                "--dport 8080 -j REJECT") in text
        ext = _lines(text, "KUBE-EXTERNAL-SERVICES")
        if kind == "ClusterIP":
            assert ext == []
        if kind != "ClusterIP":
            assert (f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{name} has no endpoints" -m addrtype '
                    "--dst-type LOCAL -m tcp -p tcp --dport 30050 -j REJECT") in ext
        if kind == "LoadBalancer":
            assert (f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{name} has no endpoints" -m tcp -p tcp '
                    "-d 127.20.0.1 --dport 8080 -j REJECT") in ext
        return
    assert services_rules[0] == (f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" -m tcp -p tcp '
                                 f"-d 127.96.0.20 --dport 8080 -j {svc_c}")
    ladder = [r for r in _lines(text, svc_c) if "->" in r]
    assert [r.split(" -j ")[1] for r in ladder] == seps
    probs = [r.split("--probability ")[1].split()[0] for r in ladder if "--probability" in r]
    assert probs == [probability(n - i) for i in range(n - 1)]  # 1/3, 1/2, then unconditional
    assert "--probability" not in ladder[-1]
    for ip, chain in zip(PODS[:n], seps, strict=True):
        assert _lines(text, chain) == [
            f"-A {chain} -m comment --comment {name} -s {ip} -j KUBE-MARK-MASQ",
            f"-A {chain} -m comment --comment {name} -m tcp -p tcp -j DNAT --to-destination {ip}:8080",
        ]
    nodeports = _lines(text, "KUBE-NODEPORTS")
    if kind == "ClusterIP":
        assert nodeports == [] and ext_c not in text
    else:
        assert nodeports[-1] == f"-A KUBE-NODEPORTS -m comment --comment {name} -m tcp -p tcp --dport 30050 -j {ext_c}"
        assert _lines(text, ext_c) == [
            f'-A {ext_c} -m comment --comment "masquerade traffic for {name} external destinations" -j KUBE-MARK-MASQ',
            f"-A {ext_c} -j {svc_c}",
        ]
    if kind == "LoadBalancer":
        assert (f'-A KUBE-SERVICES -m comment --comment "{name} loadbalancer IP" -m tcp -p tcp -d 127.20.0.1 '
                f"--dport 8080 -j {ext_c}") in services_rules


def test_local_policy_uses_only_this_nodes_endpoints() -> None:
    s = svc("demo", "web", "127.96.0.20", type_="NodePort", node_port=30050, externalTrafficPolicy="Local")
    sl = eps("demo", "web", *[(ip, f"node-{i + 1}") for i, ip in enumerate(PODS)])
    text = render(service_ports(s, [sl]), Options(node_name="node-2", cluster_cidr="127.10.0.0/16"))
    name = "demo/web:p80"
    svl = iptables.svl_chain(name, "tcp")
    assert _lines(text, svl) == [f'-A {svl} -m comment --comment "{name} -> 127.10.2.2:80" '
                                 f"-j {sep_chain(name, 'tcp', '127.10.2.2:80')}"]
    ext = iptables.ext_chain(name, "tcp")
    assert _lines(text, ext)[-1] == f"-A {ext} -j {svl}"
    # a node without local endpoints drops external traffic but still short-circuits pods and the host
    text3 = render(service_ports(s, [eps("demo", "web", (PODS[0], "node-1"))]),
                   Options(node_name="node-3", cluster_cidr="127.10.0.0/16"))
    assert (f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{name} has no local endpoints" -m addrtype '
            "--dst-type LOCAL -m tcp -p tcp --dport 30050 -j DROP") in text3
    assert f"-A {ext} -j " not in text3


def test_terminating_endpoints_are_used_only_when_nothing_is_ready() -> None:
    s = svc("demo", "web", "127.96.0.20")
    ready = eps("demo", "web", PODS[0])
    term = eps("demo", "web", PODS[1], conditions={"ready": False, "serving": True, "terminating": True})
    term["metadata"]["name"] = "web-2"
    both = render(service_ports(s, [ready, term]))
    assert PODS[1] not in both and PODS[0] in both
    only_terminating = render(service_ports(s, [term]))
    assert f"--to-destination {PODS[1]}:80" in only_terminating
    not_serving = eps("demo", "web", PODS[2], conditions={"ready": False, "serving": False, "terminating": True})
    assert "has no endpoints" in render(service_ports(s, [not_serving]))
