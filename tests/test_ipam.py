"""The ipam controller as a process against a real API server: allocation, release, reuse, repair, full range."""

from __future__ import annotations

import functools
import ipaddress
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from allocator_procs import FAST_ELECTION, ControllerProcess, eventually, service, start_controller
from conftest import ApiServerProcess, start_apiserver

from apimachinery.resources import BY_KEY
from kubeclient import errors
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
EVENTS = BY_KEY["events"]
IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]
_ns = itertools.count()


@dataclass
class Cluster:
    api: ApiServerProcess
    controllers: list[ControllerProcess]


def _cluster(tmp: Path, *server_args: str) -> Iterator[Cluster]:
    api = start_apiserver(tmp / "api", extra=list(server_args))
    ctl = start_controller("ipam", api.url, tmp / "logs", "--repair-interval", "1s", "--orphan-grace", "1s",
                           *FAST_ELECTION)
    try:
        yield Cluster(api, [ctl])
    finally:
        codes = [c.stop() for c in [ctl]]
        api.stop()
    assert codes == [0], ctl.text()[-3000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _cluster(tmp_path_factory.mktemp("ipam"))


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _cluster(tmp_path_factory.mktemp("ipam28"), "--service-cluster-ip-range", "10.96.0.0/28")


async def new_client(cluster: Cluster) -> tuple[Client, str]:
    c = Client(cluster.api.url)
    ns = f"ipam-{next(_ns)}"
    await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return c, ns


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[tuple[Client, str]]:
    c, ns = await new_client(cluster)
    try:
        yield c, ns
    finally:
        await c.close()


async def allocated(c: Client, ns: str, name: str) -> str | None:
    ip = (await c.get(SERVICES, name, namespace=ns))["spec"].get("clusterIP")
    return str(ip) if ip and ip != "None" else None


async def ledger(c: Client) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in (await c.list(IPADDRESSES))["items"]}


async def events_for(c: Client, ns: str, name: str) -> list[dict[str, Any]]:
    return list((await c.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name={name}"))["items"])


async def test_allocation_by_service_type(api: tuple[Client, str]) -> None:
    c, ns = api
    for name, spec in [("cip", {}), ("np", {"type": "NodePort"}), ("lb", {"type": "LoadBalancer"}),
                       ("headless", {"clusterIP": "None"}),
                       ("ext", {"type": "ExternalName", "externalName": "example.com"})]:
        await c.create(SERVICES, service(name, ns, **spec))
    ips = {n: await eventually(functools.partial(allocated, c, ns, n), what=f"{n} allocated")
           for n in ("cip", "np", "lb")}
    assert len(set(ips.values())) == 3
    net = ipaddress.ip_network("10.96.0.0/12")
    for ip in ips.values():
        addr = ipaddress.IPv4Address(ip)
        assert addr in net
        assert addr >= ipaddress.IPv4Address("10.96.1.1")  # dynamic band: above the 256-address static band
    book = await ledger(c)
    for name, ip in ips.items():
        svc = await c.get(SERVICES, name, namespace=ns)
        assert svc["spec"]["clusterIPs"] == [ip]
        assert book[ip]["spec"]["parentRef"] == {"group": "", "resource": "services", "namespace": ns, "name": name}
        assert book[ip]["metadata"]["labels"]["ipaddress.kubernetes.io/managed-by"] == "ipallocator.k8s.io"
    assert (await c.get(SERVICES, "headless", namespace=ns))["spec"]["clusterIP"] == "None"
    assert not (await c.get(SERVICES, "ext", namespace=ns))["spec"].get("clusterIP")
    owners = {(o["spec"]["parentRef"]["namespace"], o["spec"]["parentRef"]["name"]) for o in book.values()}
    assert (ns, "headless") not in owners and (ns, "ext") not in owners


async def test_type_change_and_delete_release_the_address(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("a", ns))
    await c.create(SERVICES, service("b", ns))
    ip_a = await eventually(lambda: allocated(c, ns, "a"))
    ip_b = await eventually(lambda: allocated(c, ns, "b"))

    await c.patch(SERVICES, "a", {"spec": {"type": "ExternalName", "externalName": "a.example.com"}}, namespace=ns)
    await c.delete(SERVICES, "b", namespace=ns)

    async def released() -> bool:
        book = await ledger(c)
        return ip_a not in book and ip_b not in book

    await eventually(released, what="addresses released")
    await c.patch(SERVICES, "a", {"spec": {"type": "ClusterIP", "externalName": None}}, namespace=ns)
    new_a = await eventually(lambda: allocated(c, ns, "a"), what="a re-allocated")
    assert (await ledger(c))[new_a]["spec"]["parentRef"]["name"] == "a"


async def test_repair_restores_deleted_ipaddress_and_deletes_leaks(api: tuple[Client, str]) -> None:
    c, ns = api
    await c.create(SERVICES, service("web", ns))
    ip = await eventually(lambda: allocated(c, ns, "web"))
    await c.delete(IPADDRESSES, ip)

    async def restored() -> dict[str, Any] | None:
        return (await ledger(c)).get(ip)

    entry = await eventually(restored, what="IPAddress restored")
    assert entry["spec"]["parentRef"]["name"] == "web"
    reasons = [e["reason"] for e in await events_for(c, ns, "web")]
    assert "ClusterIPNotAllocated" in reasons

    leak = "10.100.0.77"
    await c.create(IPADDRESSES, {
        "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
        "metadata": {"name": leak, "labels": {"ipaddress.kubernetes.io/ip-family": "IPv4",
                                              "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"}},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": "ghost"}}})

    async def leak_gone() -> bool:
        return leak not in await ledger(c)

    await eventually(leak_gone, timeout=30, what="leaked IPAddress deleted")
    evs = await events_for(c, "default", leak)
    assert [e["message"] for e in evs] == [
        f"IPAddress: {leak} for Service {ns}/ghost appears to have leaked: cleaning up"]


async def test_reserved_address_goes_to_kube_dns(api: tuple[Client, str]) -> None:
    c, _ = api
    assert await allocated(c, "default", "kubernetes") == "10.96.0.1"
    dns = await c.get(SERVICES, "kube-dns", namespace="kube-system")
    await c.delete(SERVICES, "kube-dns", namespace="kube-system")
    await eventually(lambda: _absent(c, "10.96.0.10"), what="10.96.0.10 released")
    spec = {k: v for k, v in dns["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    await c.create(SERVICES, {"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": "kube-dns", "namespace": "kube-system",
                                           "labels": dns["metadata"].get("labels", {})},
                              "spec": spec})
    assert await eventually(lambda: allocated(c, "kube-system", "kube-dns")) == "10.96.0.10"


async def _absent(c: Client, ip: str) -> bool:
    try:
        await c.get(IPADDRESSES, ip)
    except errors.NotFound:
        return True
    return False


async def test_full_range_is_an_event_and_a_freed_address_is_reused(small_cluster: Cluster) -> None:
    c, ns = await new_client(small_cluster)
    try:
        # 10.96.0.0/28: 14 addresses, .1 and .10 held by kubernetes and kube-dns, 12 for everyone else.
        for i in range(12):
            await c.create(SERVICES, service(f"s{i}", ns))

        async def all_done() -> list[str] | None:
            ips = [await allocated(c, ns, f"s{i}") for i in range(12)]
            return None if None in ips else [str(ip) for ip in ips]

        ips = await eventually(all_done, what="12 services allocated")
        assert sorted(ips, key=ipaddress.ip_address) == [f"10.96.0.{n}" for n in range(2, 15) if n != 10]
        await c.create(SERVICES, service("late", ns))

        async def full_event() -> list[dict[str, Any]] | None:
            evs = [e for e in await events_for(c, ns, "late") if e["reason"] == "ClusterIPAllocationFailed"]
            return evs or None

        ev = (await eventually(full_event, what="range-full event"))[0]
        assert ev["type"] == "Warning" and ev["message"] == "failed to allocate a serviceIP: range is full"
        assert await allocated(c, ns, "late") is None
        await c.delete(SERVICES, "s3", namespace=ns)
        assert await eventually(lambda: allocated(c, ns, "late"), what="late allocated") == ips[3]
    finally:
        await c.close()


async def test_repair_reports_out_of_range_and_duplicate_ips() -> None:
    """Inconsistencies only a broken or reconfigured server could create, fed through a fake API."""
    import asyncio

    from kubefake import fake_apiserver

    from controllers.ipam import IpamController

    async with fake_apiserver() as fake, Client(fake.url) as c:
        fake.put_object(BY_KEY["servicecidrs.networking.k8s.io"],
                        {"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/12"]}})
        fake.put_object(SERVICES, service("far", "default", clusterIP="10.0.0.5", clusterIPs=["10.0.0.5"]))
        for name in ("first", "second"):
            fake.put_object(SERVICES, service(name, "default", clusterIP="10.96.5.5", clusterIPs=["10.96.5.5"]))
        fake.put_object(IPADDRESSES, {"metadata": {"name": "10.96.5.5"}, "spec": {"parentRef": {
            "group": "", "resource": "services", "namespace": "default", "name": "first"}}})
        ctl = IpamController(c, repair_interval=3600)
        task = asyncio.create_task(ctl.run())
        try:
            async def reported() -> list[tuple[str, str, str]] | None:
                evs = sorted((e["involvedObject"]["name"], e["reason"], e["message"])
                             for e in fake.list_objects(EVENTS))
                return evs if len(evs) >= 2 else None

            assert await eventually(reported, timeout=10) == [
                ("far", "ClusterIPOutOfRange",
                 "Cluster IP [IPv4]: 10.0.0.5 is not within any configured Service CIDR; please recreate service"),
                ("second", "ClusterIPAlreadyAllocated",
                 "Cluster IP [IPv4]:10.96.5.5 was assigned to multiple services; please recreate service"),
            ]
            assert "10.0.0.5" not in {o["metadata"]["name"] for o in fake.list_objects(IPADDRESSES)}
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
