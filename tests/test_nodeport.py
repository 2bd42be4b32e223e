"""The nodeport controller as a process against a real API server: allocation rules, release, repair, full range."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from allocator_procs import FAST_ELECTION, ControllerProcess, eventually, service, start_controller
from conftest import ApiServerProcess, start_apiserver

from apimachinery.resources import BY_KEY
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
EVENTS = BY_KEY["events"]
PORTS = BY_KEY["portallocations.kubelite.io"]
_ns = itertools.count()


@dataclass
class Cluster:
    api: ApiServerProcess
    controller: ControllerProcess


def _cluster(tmp: Path, *server_args: str) -> Iterator[Cluster]:
    api = start_apiserver(tmp / "api", extra=list(server_args))
    ctl = start_controller("nodeport", api.url, tmp / "logs", "--repair-interval", "1s", "--orphan-grace", "1s",
                           *FAST_ELECTION)
    try:
        yield Cluster(api, ctl)
    finally:
        code = ctl.stop()
        api.stop()
    assert code == 0, ctl.text()[-3000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _cluster(tmp_path_factory.mktemp("nodeport"))


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _cluster(tmp_path_factory.mktemp("nodeport4"), "--service-node-port-range", "30000-30003")


async def new_client(cluster: Cluster) -> tuple[Client, str]:
    c = Client(cluster.api.url)
    ns = f"np-{next(_ns)}"
    await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return c, ns


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[tuple[Client, str]]:
    c, ns = await new_client(cluster)
    try:
        yield c, ns
    finally:
        await c.close()


async def node_ports(c: Client, ns: str, name: str) -> list[int] | None:
    """Every port's nodePort once all are set, else None."""
    ports = (await c.get(SERVICES, name, namespace=ns))["spec"].get("ports") or []
    got = [p.get("nodePort") for p in ports]
    return None if not got or None in got else [int(p) for p in got]


async def ledger(c: Client) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in (await c.list(PORTS))["items"]}


async def events_for(c: Client, ns: str, name: str) -> list[dict[str, Any]]:
    return list((await c.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name={name}"))["items"])


def tcp(port: int, name: str) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": "TCP", "targetPort": port}


async def test_allocation_rules(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("np", ns, type="NodePort", ports=[tcp(80, "http"), tcp(443, "https")]))
    await c.create(SERVICES, service("dns", ns, type="NodePort", ports=[
        {"name": "u", "port": 53, "protocol": "UDP", "targetPort": 53}, tcp(53, "t")]))
    await c.create(SERVICES, service("lb", ns, type="LoadBalancer"))
    await c.create(SERVICES, service("lb-none", ns, type="LoadBalancer", allocateLoadBalancerNodePorts=False))
    await c.create(SERVICES, service("cip", ns))

    np = await eventually(lambda: node_ports(c, ns, "np"), what="np ports")
    dns = await eventually(lambda: node_ports(c, ns, "dns"), what="dns ports")
    lb = await eventually(lambda: node_ports(c, ns, "lb"), what="lb ports")
    assert len(set(np)) == 2 and dns[0] == dns[1]  # one node port shared by 53/UDP and 53/TCP
    allocated = [*np, dns[0], *lb]
    assert len(set(allocated)) == len(allocated)
    assert all(30086 <= p <= 32767 for p in allocated)  # dynamic band above the 86-port static band
    book = await ledger(c)
    assert book[f"udp-{dns[0]}"]["spec"]["parentRef"]["name"] == "dns"
    assert book[f"tcp-{dns[0]}"]["spec"] == {"protocol": "TCP", "port": dns[0], "parentRef": {
        "group": "", "resource": "services", "namespace": ns, "name": "dns"}}
    for name in ("lb-none", "cip"):
        ports = (await c.get(SERVICES, name, namespace=ns))["spec"]["ports"]
        assert all("nodePort" not in p for p in ports)
    owners = {o["spec"]["parentRef"]["name"] for o in book.values() if o["spec"]["parentRef"]["namespace"] == ns}
    assert owners == {"np", "dns", "lb"}


async def test_type_change_and_delete_release_ports(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("a", ns, type="NodePort"))
    await c.create(SERVICES, service("b", ns, type="NodePort"))
    [pa] = await eventually(lambda: node_ports(c, ns, "a"))
    [pb] = await eventually(lambda: node_ports(c, ns, "b"))
    await c.patch(SERVICES, "a", {"spec": {"type": "ClusterIP"}}, namespace=ns)
    await c.delete(SERVICES, "b", namespace=ns)

    async def released() -> bool:
        book = await ledger(c)
        return f"tcp-{pa}" not in book and f"tcp-{pb}" not in book

    await eventually(released, what="ports released")
    assert all("nodePort" not in p for p in (await c.get(SERVICES, "a", namespace=ns))["spec"]["ports"])
    await c.patch(SERVICES, "a", {"spec": {"type": "NodePort"}}, namespace=ns)
    [pa2] = await eventually(lambda: node_ports(c, ns, "a"), what="a re-allocated")
    assert (await ledger(c))[f"tcp-{pa2}"]["spec"]["parentRef"]["name"] == "a"


async def test_repair_restores_deleted_port_allocation(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("web", ns, type="NodePort"))
    [port] = await eventually(lambda: node_ports(c, ns, "web"))
    await c.delete(PORTS, f"tcp-{port}")

    async def restored() -> dict[str, Any] | None:
        return (await ledger(c)).get(f"tcp-{port}")

    entry = await eventually(restored, what="PortAllocation restored")
    assert entry["spec"]["parentRef"]["name"] == "web"
    evs = [e for e in await events_for(c, ns, "web") if e["reason"] == "PortNotAllocated"]
    assert evs and evs[0]["message"] == f"Port {port} is not allocated; repairing"


async def test_health_check_node_port_for_local_load_balancer(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("local", ns, type="LoadBalancer", externalTrafficPolicy="Local"))
    await eventually(lambda: node_ports(c, ns, "local"))

    async def health_port() -> int | None:
        hc = (await c.get(SERVICES, "local", namespace=ns))["spec"].get("healthCheckNodePort")
        return int(hc) if hc else None

    try:
        hc = await eventually(health_port, timeout=5, what="healthCheckNodePort")
    except AssertionError:
        evs = [e["message"] for e in await events_for(c, ns, "local")]
        if any("healthCheckNodePort: Forbidden: field is immutable" in m for m in evs):
            pytest.skip("API server refuses setting healthCheckNodePort after create (field is immutable)")
        raise
    [port] = (await node_ports(c, ns, "local")) or [0]
    assert hc != port and 30086 <= hc <= 32767
    assert (await ledger(c))[f"tcp-{hc}"]["spec"]["parentRef"]["name"] == "local"


async def test_full_range_is_an_event_and_a_freed_port_is_reused(small_cluster: Cluster) -> None:
    c, ns = await new_client(small_cluster)
    try:
        for i in range(4):
            await c.create(SERVICES, service(f"s{i}", ns, type="NodePort"))

        async def all_done() -> list[int] | None:
            got = [await node_ports(c, ns, f"s{i}") for i in range(4)]
            return None if None in got else [p[0] for p in got if p]

        ports = await eventually(all_done, what="4 services allocated")
        assert sorted(ports) == [30000, 30001, 30002, 30003]
        await c.create(SERVICES, service("late", ns, type="NodePort"))

        async def full_event() -> list[dict[str, Any]] | None:
            evs = [e for e in await events_for(c, ns, "late") if e["reason"] == "NodePortAllocationFailed"]
            return evs or None

        ev = (await eventually(full_event, what="range-full event"))[0]
        assert ev["type"] == "Warning" and ev["message"] == "failed to allocate a nodePort: range is full"
        await c.delete(SERVICES, "s2", namespace=ns)
        assert await eventually(lambda: node_ports(c, ns, "late"), what="late allocated") == [ports[2]]
    finally:
        await c.close()
