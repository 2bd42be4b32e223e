"""The proxy's data plane: which addresses it serves, how it picks endpoints, and real forwarding on loopback."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.proxy.dataplane import Dataplane, Route, wanted
from agents.proxy.servicemap import Endpoint, ServicePort

NODE_IP = "127.0.3.1"


def ep(ip: str, node: str = "n1", port: int = 80, **kw: Any) -> Endpoint:
    return Endpoint(ip, port, node_name=node, **kw)


def sp(*eps: Endpoint, cluster_ip: str = "127.96.0.5", port: int = 80, **kw: Any) -> ServicePort:
    return ServicePort("ns", "svc", "", kw.pop("protocol", "TCP"), cluster_ip, port, endpoints=tuple(eps), **kw)


def kinds(port: ServicePort, node: str = "n1") -> list[str]:
    return [f"{fe.kind}@{fe.ip}:{fe.port}" for fe, _ in wanted(port, node_name=node, node_ip=NODE_IP)]


@pytest.mark.parametrize(("port", "expected"), [
    (sp(), []),  # no endpoints: nothing listens, so clients are refused
    (sp(ep("127.10.1.2")), ["cluster@127.96.0.5:80"]),
    (sp(ep("127.10.1.2"), node_port=30001), ["cluster@127.96.0.5:80", "nodeport@127.0.3.1:30001"]),
    (sp(ep("127.10.2.2", "n2"), node_port=30001, lb_ips=("127.20.0.1",)),
     ["cluster@127.96.0.5:80", "nodeport@127.0.3.1:30001", "loadbalancer@127.20.0.1:80"]),
    # Local: a node without local endpoints does not announce the LB IP (MetalLB layer 2)
    (sp(ep("127.10.2.2", "n2"), node_port=30001, lb_ips=("127.20.0.1",), external_local=True,
        health_check_node_port=32000),
     ["healthcheck@127.0.3.1:32000", "cluster@127.96.0.5:80", "nodeport@127.0.3.1:30001"]),
    (sp(health_check_node_port=32000, external_local=True, node_port=30001), ["healthcheck@127.0.3.1:32000"]),
    (sp(ep("127.10.1.2"), protocol="SCTP"), []),
])
def test_wanted(port: ServicePort, expected: list[str]) -> None:
    assert kinds(port) == expected


def dp(**kw: Any) -> Dataplane:
    d = Dataplane(node_name="n1", node_ip=NODE_IP, cluster_cidr="127.10.0.0/16", **kw)
    d.set_nodes([("n1", NODE_IP, "127.10.1.0/24"), ("n2", "127.0.3.2", "127.10.2.0/24")])
    return d


A, B, C = ep("127.10.1.2"), ep("127.10.1.3"), ep("127.10.2.2", "n2")


def test_round_robin_and_sources() -> None:
    d = dp()
    route = Route(sp(A, B, C), "cluster", "n1")
    firsts = [d.plan(route, "127.0.0.1")[0][0] for _ in range(6)]
    assert firsts == [A, B, C, A, B, C]
    # a client outside the cluster CIDR is masqueraded to the node IP; a Pod keeps its address
    assert {s for _, s in d.plan(route, "127.0.0.1")} == {NODE_IP}
    assert {s for _, s in d.plan(route, "127.10.2.9")} == {"127.10.2.9"}
    # every endpoint is in the plan, so a refused dial moves on
    assert sorted(str(e) for e, _ in d.plan(route, "127.0.0.1")) == sorted(str(e) for e in (A, B, C))


def test_internal_local_uses_the_clients_node() -> None:
    d = dp()
    route = Route(sp(A, B, C, internal_local=True), "cluster", "n1")
    assert {e for e, _ in d.plan(route, "127.10.2.77")} == {C}  # a client in n2's pod CIDR
    assert {e for e, _ in d.plan(route, "127.0.3.2")} == {C}  # n2's own address
    assert {e for e, _ in d.plan(route, "127.0.0.1")} == {A, B}  # unknown: this node


def test_external_local_keeps_the_client_and_short_circuits_pods() -> None:
    d = dp()
    route = Route(sp(A, C, node_port=30001, external_local=True), "nodeport", "n1")
    assert d.plan(route, "127.0.0.1") == [(A, "127.0.0.1")]
    assert {e for e, _ in d.plan(route, "127.10.2.9")} == {A, C}  # a Pod: cluster endpoints
    cluster_policy = Route(sp(A, C, node_port=30001), "nodeport", "n1")
    assert {s for _, s in d.plan(cluster_policy, "127.0.0.1")} == {NODE_IP}


def test_affinity_pins_and_expires() -> None:
    d = dp()
    route = Route(sp(A, B, C, affinity_timeout=60), "cluster", "n1")
    first = d.plan(route, "127.0.0.1")[0][0]
    d.remember(route, "127.0.0.1", first)
    assert {d.plan(route, "127.0.0.1")[0][0] for _ in range(5)} == {first}
    d._affinity[("ns/svc/TCP", "127.0.0.1")] = (first, 0.0)  # expired
    assert {d.plan(route, "127.0.0.1")[0][0] for _ in range(3)} == {A, B, C}


def test_terminating_endpoints_get_no_new_connections() -> None:
    term = ep("127.10.1.9", ready=False, serving=True, terminating=True)
    d = dp()
    assert {e for e, _ in d.plan(Route(sp(A, term), "cluster", "n1"), "127.0.0.1")} == {A}
    assert {e for e, _ in d.plan(Route(sp(term), "cluster", "n1"), "127.0.0.1")} == {term}


def test_non_loopback_endpoints_are_never_dialled() -> None:
    d = dp()
    assert d.plan(Route(sp(ep("10.0.0.5")), "cluster", "n1"), "127.0.0.1") == []


# ---------------------------------------------------------------------------
# real forwarding
# ---------------------------------------------------------------------------


def _vip() -> str:
    return f"127.99.{random.randint(1, 254)}.{random.randint(1, 254)}"


@pytest.fixture
async def backends() -> AsyncIterator[list[tuple[str, int]]]:
    """Two TCP servers that answer ``<name>:<what they read>`` and close."""
    servers = []
    addrs = []
    for name, ip in (("one", "127.0.0.1"), ("two", "127.0.0.2")):
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, name: str = name) -> None:
            data = await r.read()  # until the client's half-close
            w.write(name.encode() + b":" + data)
            await w.drain()
            w.close()
        srv = await asyncio.start_server(handle, ip, 0)
        servers.append(srv)
        addrs.append((ip, int(srv.sockets[0].getsockname()[1])))
    yield addrs
    for s in servers:
        s.close()


async def roundtrip(ip: str, port: int, payload: bytes = b"hi") -> bytes:
    r, w = await asyncio.open_connection(ip, port)
    w.write(payload)
    w.write_eof()
    data = await r.read()
    w.close()
    return data


async def test_forwarding_round_robin_half_close_and_retry(backends: list[tuple[str, int]]) -> None:
    d = dp()
    vip, port = _vip(), random.randint(20000, 30000)
    eps = [Endpoint(ip, p) for ip, p in backends]
    dead = Endpoint("127.0.0.3", 1)  # refuses: the dial moves on
    await d.update("ns/svc", [sp(*eps, dead, cluster_ip=vip, port=port)])
    try:
        answers = [await roundtrip(vip, port, b"x" * 100_000) for _ in range(6)]
        assert {a.split(b":")[0] for a in answers} == {b"one", b"two"}
        assert all(a.endswith(b"x" * 100_000) for a in answers)
        assert d.counters.retried >= 1 and d.counters.failed == 0
        # endpoints gone: the listener closes and clients are refused
        await d.update("ns/svc", [sp(cluster_ip=vip, port=port)])
        with pytest.raises(ConnectionRefusedError):
            await roundtrip(vip, port)
        # every endpoint refuses: the client is reset
        await d.update("ns/svc", [sp(dead, cluster_ip=vip, port=port)])
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError)):
            data = await roundtrip(vip, port)
            if not data:
                raise ConnectionResetError
        assert d.counters.failed >= 1
    finally:
        await d.close()


async def test_udp_sessions() -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.t.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

    t, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = int(t.get_extra_info("sockname")[1])
    d = dp()
    vip, vport = _vip(), random.randint(20000, 30000)
    await d.update("ns/svc", [sp(Endpoint("127.0.0.1", port), cluster_ip=vip, port=vport, protocol="UDP")])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.connect((vip, vport))
            s.send(b"ping")
            data = await asyncio.wait_for(loop.sock_recv(s, 100), 2)
        assert data == b"echo:ping"
    finally:
        await d.close()
        t.close()
