"""Band arithmetic, reserved addresses, allocation order and per-Service needs (pure, table-driven)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from apimachinery.ledger import parse_port_allocation_name
from controllers.allocation import (
    IPRange,
    PortNeed,
    PortRange,
    claimed_node_ports,
    cluster_ips,
    ip_range_offset,
    needs_cluster_ip,
    next_free,
    node_port_needs,
    parent_key,
    port_range_offset,
    seen_through,
    wanted_families,
)


class FixedStart:
    """A stand-in for random.Random whose randrange returns queued values."""

    def __init__(self, *starts: int) -> None:
        self.starts = list(starts)

    def randrange(self, n: int) -> int:
        v = self.starts.pop(0)
        assert 0 <= v < n
        return v


@pytest.mark.parametrize(
    ("cidr", "offset"),
    [
        ("10.96.0.0/29", 0),  # 8 addresses
        ("10.96.0.0/28", 0),  # 16: too small for a static band
        ("10.96.0.0/27", 16),  # 32/16 = 2 -> at least 16
        ("10.96.0.0/24", 16),  # 256/16 = 16
        ("10.96.0.0/22", 64),  # 1024/16
        ("10.96.0.0/21", 128),
        ("10.96.0.0/20", 256),  # 4096/16 = 256
        ("10.96.0.0/16", 256),  # capped
        ("10.96.0.0/12", 256),  # the default range
        ("fd00::/124", 0),
        ("fd00::/120", 16),
        ("fd00::/108", 256),
        ("fd00::/64", 256),
    ],
)
def test_ip_static_band_size(cidr: str, offset: int) -> None:
    assert ip_range_offset(ipaddress.ip_network(cidr)) == offset


@pytest.mark.parametrize(
    ("size", "offset"),
    [(1, 0), (16, 0), (17, 16), (512, 16), (544, 17), (1024, 32), (2768, 86), (4096, 128), (65535, 128)],
)
def test_port_static_band_size(size: int, offset: int) -> None:
    assert port_range_offset(size) == offset


@pytest.mark.parametrize(
    ("cidr", "first", "last", "size", "band"),
    [
        ("10.96.0.0/12", "10.96.0.1", "10.111.255.254", 2**20 - 2, ("10.96.0.1", "10.96.1.0")),
        ("10.96.0.0/24", "10.96.0.1", "10.96.0.254", 254, ("10.96.0.1", "10.96.0.16")),
        ("10.96.0.0/28", "10.96.0.1", "10.96.0.14", 14, None),
        ("10.96.0.5/28", "10.96.0.1", "10.96.0.14", 14, None),  # host bits ignored
        ("fd00::/120", "fd00::1", "fd00::ff", 255, ("fd00::1", "fd00::10")),  # IPv6 keeps the last address
    ],
)
def test_ip_range_bounds(cidr: str, first: str, last: str, size: int, band: tuple[str, str] | None) -> None:
    r = IPRange.parse(cidr)
    assert str(ipaddress.ip_address(r.first)) == first
    assert str(ipaddress.ip_address(r.last)) == last
    assert r.size == size
    assert r.static_band() == band


@pytest.mark.parametrize(
    ("ip", "inside"),
    [("10.96.0.0", False), ("10.96.0.1", True), ("10.96.0.14", True), ("10.96.0.15", False),
     ("10.96.0.16", False), ("fd00::1", False), ("bogus", False), ("", False)],
)
def test_ip_range_contains(ip: str, inside: bool) -> None:
    assert IPRange.parse("10.96.0.0/28").contains(ip) is inside


@pytest.mark.parametrize(
    ("cidr", "reserved"),
    [
        ("10.96.0.0/12", {"default/kubernetes": "10.96.0.1", "kube-system/kube-dns": "10.96.0.10"}),
        ("10.100.0.0/16", {"default/kubernetes": "10.100.0.1", "kube-system/kube-dns": "10.100.0.10"}),
        ("10.96.0.0/28", {"default/kubernetes": "10.96.0.1", "kube-system/kube-dns": "10.96.0.10"}),
        ("10.96.0.0/29", {"default/kubernetes": "10.96.0.1"}),  # the 10th address is past the end
        ("fd00::/120", {"default/kubernetes": "fd00::1", "kube-system/kube-dns": "fd00::a"}),
    ],
)
def test_reserved_addresses(cidr: str, reserved: dict[str, str]) -> None:
    assert IPRange.parse(cidr).reserved() == reserved


@pytest.mark.parametrize(
    ("cidr", "starts", "head"),
    [
        # /27: static band .1-.16, dynamic band .17-.30; upper band from a random start, wrapping, then lower
        ("10.0.0.0/27", (3, 5),
         ["10.0.0.20", "10.0.0.21", "10.0.0.22", "10.0.0.23", "10.0.0.24", "10.0.0.25", "10.0.0.26",
          "10.0.0.27", "10.0.0.28", "10.0.0.29", "10.0.0.30", "10.0.0.17", "10.0.0.18", "10.0.0.19",
          "10.0.0.6", "10.0.0.7"]),
        # /28 has no static band: one walk over .1-.14
        ("10.0.0.0/28", (12,), ["10.0.0.13", "10.0.0.14", "10.0.0.1", "10.0.0.2"]),
        # the default range never starts in the static band
        ("10.96.0.0/12", (0, 0), ["10.96.1.1", "10.96.1.2"]),
    ],
)
def test_ip_allocation_order(cidr: str, starts: tuple[int, ...], head: list[str]) -> None:
    r = IPRange.parse(cidr)
    seq = r.candidates(FixedStart(*starts))  # type: ignore[arg-type]
    got = [next(seq) for _ in range(len(head))]
    assert got == head


@pytest.mark.parametrize("cidr", ["10.0.0.0/27", "10.0.0.0/28", "10.0.0.0/24", "fd00::/122"])
def test_ip_candidates_cover_every_address_once_upper_band_first(cidr: str) -> None:
    import random

    r = IPRange.parse(cidr)
    seq = list(r.candidates(random.Random(7)))
    assert len(seq) == len(set(seq)) == r.size
    upper = [int(ipaddress.ip_address(a)) >= r.first + r.offset for a in seq]
    assert upper == sorted(upper, reverse=True)  # all upper-band addresses come first


@pytest.mark.parametrize(
    ("text", "base", "last", "band"),
    [
        ("30000-32767", 30000, 32767, (30000, 30085)),
        ("30000-30015", 30000, 30015, None),
        ("30000-30099", 30000, 30099, (30000, 30015)),
        ("8080", 8080, 8080, None),
        (" 1-65535 ", 1, 65535, (1, 128)),
    ],
)
def test_port_range_parse_and_band(text: str, base: int, last: int, band: tuple[int, int] | None) -> None:
    r = PortRange.parse(text)
    assert (r.base, r.last) == (base, last)
    assert r.static_band() == band
    assert str(r) == f"{base}-{last}"


@pytest.mark.parametrize("text", ["", "abc", "0-10", "200-100", "30000-70000", "1-2-3"])
def test_port_range_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        PortRange.parse(text)


@pytest.mark.parametrize(
    ("text", "starts", "head"),
    [
        ("30000-30099", (0, 15), [30016, 30017]),
        ("30000-30099", (83, 15), [30099, 30016]),  # wraps within the upper band
        ("30000-30015", (4,), [30004, 30005]),
    ],
)
def test_port_allocation_order(text: str, starts: tuple[int, ...], head: list[int]) -> None:
    seq = PortRange.parse(text).candidates(FixedStart(*starts))  # type: ignore[arg-type]
    assert [next(seq) for _ in range(len(head))] == head


def test_port_candidates_end_with_the_static_band() -> None:
    r = PortRange.parse("30000-30099")
    seq = list(r.candidates(FixedStart(10, 3)))  # type: ignore[arg-type]
    assert len(seq) == len(set(seq)) == 100
    assert seq[:84] == sorted(seq[:84], key=lambda p: (p < 30026, p))  # 30026.. then wrap to 30016..
    assert seq[84:] == [*range(30003, 30016), 30000, 30001, 30002]


@pytest.mark.parametrize(
    ("candidates", "taken", "want"),
    [([1, 2, 3], set(), 1), ([1, 2, 3], {1, 2}, 3), ([1, 2], {1, 2}, None), ([], set(), None)],
)
def test_next_free(candidates: list[int], taken: set[int], want: int | None) -> None:
    assert next_free(iter(candidates), taken.__contains__) == want


@pytest.mark.parametrize(
    ("spec", "needs_ip", "ips", "families"),
    [
        ({}, True, [], ["IPv4"]),
        ({"type": "NodePort", "clusterIP": "10.96.0.5"}, True, ["10.96.0.5"], ["IPv4"]),
        ({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5", "fd00::5"], "ipFamilies": ["IPv4", "IPv6"]},
         True, ["10.96.0.5", "fd00::5"], ["IPv4", "IPv6"]),
        ({"clusterIP": "None", "clusterIPs": ["None"]}, False, [], ["IPv4"]),
        ({"type": "ExternalName", "externalName": "example.com"}, False, [], ["IPv4"]),
        ({"ipFamilies": ["IPv6"]}, True, [], ["IPv6"]),
    ],
)
def test_cluster_ip_needs(spec: dict[str, Any], needs_ip: bool, ips: list[str], families: list[str]) -> None:
    assert needs_cluster_ip(spec) is needs_ip
    assert cluster_ips(spec) == ips
    assert wanted_families(spec) == families


def _p(port: int, proto: str = "TCP", node_port: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"port": port, "protocol": proto}
    if node_port:
        d["nodePort"] = node_port
    return d


@pytest.mark.parametrize(
    ("spec", "needs"),
    [
        ({"type": "ClusterIP", "ports": [_p(80)]}, []),
        ({"type": "ExternalName"}, []),
        ({"type": "NodePort", "ports": [_p(80), _p(443)]},
         [PortNeed(80, ("TCP",), (0,)), PortNeed(443, ("TCP",), (1,))]),
        # DNS: one service port number, two protocols, one node port
        ({"type": "NodePort", "ports": [_p(53, "UDP"), _p(53, "TCP")]}, [PortNeed(53, ("TCP", "UDP"), (0, 1))]),
        # one of the pair already has a node port: the other gets the same
        ({"type": "NodePort", "ports": [_p(53, "UDP", 30053), _p(53, "TCP")]},
         [PortNeed(53, ("TCP", "UDP"), (1,), 30053)]),
        ({"type": "NodePort", "ports": [_p(80, node_port=30080)]}, []),
        ({"type": "LoadBalancer", "ports": [_p(80)]}, [PortNeed(80, ("TCP",), (0,))]),
        ({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "ports": [_p(80)]}, []),
    ],
)
def test_node_port_needs(spec: dict[str, Any], needs: list[PortNeed]) -> None:
    assert node_port_needs(spec) == needs


@pytest.mark.parametrize(
    ("spec", "claimed"),
    [
        ({"type": "ClusterIP", "ports": [_p(80, node_port=30080)]}, set()),
        ({"type": "NodePort", "ports": [_p(80, node_port=30080), _p(81)]}, {"tcp-30080"}),
        ({"type": "NodePort", "ports": [_p(53, "UDP", 30053), _p(53, "TCP", 30053)]}, {"udp-30053", "tcp-30053"}),
        ({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000,
          "ports": [_p(80, "SCTP", 30080)]}, {"sctp-30080", "tcp-31000"}),
    ],
)
def test_claimed_node_ports(spec: dict[str, Any], claimed: set[str]) -> None:
    assert claimed_node_ports(spec) == claimed


@pytest.mark.parametrize(
    ("name", "parsed"),
    [("tcp-30080", ("TCP", 30080)), ("sctp-1", ("SCTP", 1)), ("udp-", None), ("30080", None), ("tcp-x", None)],
)
def test_parse_ledger_port_name(name: str, parsed: tuple[str, int] | None) -> None:
    assert parse_port_allocation_name(name) == parsed


@pytest.mark.parametrize(
    ("ref", "key"),
    [
        ({"group": "", "resource": "services", "namespace": "ns", "name": "web"}, "ns/web"),
        ({"resource": "services", "namespace": "ns", "name": "web"}, "ns/web"),
        ({"group": "gateway.networking.k8s.io", "resource": "gateways", "namespace": "ns", "name": "g"}, None),
        ({"group": "", "resource": "services", "namespace": "ns"}, None),
        (None, None),
    ],
)
def test_parent_key(ref: dict[str, str] | None, key: str | None) -> None:
    assert parent_key({"spec": {"parentRef": ref}}) == key


@pytest.mark.parametrize(
    ("view", "obj", "seen"),
    [("10", "9", True), ("10", "10", True), ("9", "10", False), ("", "1", False), ("x", "1", False),
     ("10", None, False)],
)
def test_seen_through(view: str, obj: str | None, seen: bool) -> None:
    assert seen_through(view, obj) is seen
