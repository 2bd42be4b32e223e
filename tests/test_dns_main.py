"""The DNS process against a live API server: answers follow creates, changes and
deletes of Services, EndpointSlices and Pods; dig resolves through the real
process; SERVFAIL while the API is unreachable."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.query
import dns.rcode
import httpx
import pytest
from conftest import ApiServerProcess, free_port
from dns_objects import endpoint, eps, service

from servers.dns.main import run
from servers.dns.view import ClusterView

HOST = "127.0.0.1"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"


class Dns:
    """The DNS controller running in this event loop, its port and its view."""

    def __init__(self, view: ClusterView, port: int) -> None:
        self.view = view
        self.port = port

    async def ask(self, name: str, rdtype: str = "A") -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        return await dns.asyncquery.udp(q, HOST, port=self.port, timeout=2)

    async def values(self, name: str, rdtype: str = "A") -> list[str]:
        msg = await self.ask(name, rdtype)
        return sorted(rd.to_text() for rrset in msg.answer for rd in rrset)

    async def until(self, name: str, expected: list[str], rdtype: str = "A", *, timeout: float = 5.0) -> float:
        """Seconds until ``name`` resolves to ``expected`` (polling every millisecond)."""
        start = time.perf_counter()
        while True:
            got = await self.values(name, rdtype)
            if got == expected:
                return time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                raise AssertionError(f"{name} {rdtype}: {got} != {expected}")
            await asyncio.sleep(0.001)

    async def rcode_until(self, name: str, rcode: dns.rcode.Rcode, *, timeout: float = 5.0) -> None:
        deadline = time.perf_counter() + timeout
        while (await self.ask(name)).rcode() != rcode:
            assert time.perf_counter() < deadline, f"{name} never got {dns.rcode.to_text(rcode)}"
            await asyncio.sleep(0.001)


async def _start(server: str, **options: Any) -> tuple[Dns, asyncio.Task[None]]:
    view = ClusterView(**{k: options.pop(k) for k in ("pods_mode",) if k in options})
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run(server=server, port=0, view=view, on_ready=bound.set_result, **options))
    port = await asyncio.wait_for(bound, 10)
    return Dns(view, port), task


@pytest.fixture
async def live(apiserver: ApiServerProcess) -> AsyncIterator[Dns]:
    d, task = await _start(apiserver.url)
    try:
        deadline = time.monotonic() + 10
        while not d.view.synced:
            assert time.monotonic() < deadline and not task.done(), "DNS never synced"
            await asyncio.sleep(0.01)
        yield d
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def aapi(apiserver: ApiServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=apiserver.url, timeout=10) as c:
        yield c


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_answers_follow_the_api(live: Dns, aapi: httpx.AsyncClient, ns: str) -> None:
    svc_url = f"/api/v1/namespaces/{ns}/services"
    name = f"the-bus.{ns}.svc.cluster.local."
    # a Service and its SRV record
    await _ok(await aapi.post(svc_url, json=service(ns, "the-bus", clusterIP="10.96.77.1", clusterIPs=["10.96.77.1"],
                                                     ports=[{"name": "http", "port": 80}])))
    await live.until(name, ["10.96.77.1"])
    await live.until(f"_http._tcp.{name}", [f"0 100 80 {name}"], "SRV")
    await live.until("1.77.96.10.in-addr.arpa.", [name], "PTR")
    # a change of ports moves the SRV record
    body = await _ok(await aapi.get(f"{svc_url}/the-bus"))
    body["spec"]["ports"] = [{"name": "web", "port": 8080}]
    await _ok(await aapi.put(f"{svc_url}/the-bus", json=body))
    await live.until(f"_web._tcp.{name}", [f"0 100 8080 {name}"], "SRV")
    await live.rcode_until(f"_http._tcp.{name}", dns.rcode.NXDOMAIN)
    # delete: NXDOMAIN, and the reverse name is no longer ours
    await _ok(await aapi.delete(f"{svc_url}/the-bus"))
    await live.rcode_until(name, dns.rcode.NXDOMAIN)

    # a headless Service follows its EndpointSlice's ready endpoints
    db = f"db.{ns}.svc.cluster.local."
    await _ok(await aapi.post(svc_url, json=service(ns, "db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])))
    await live.rcode_until(db, dns.rcode.NXDOMAIN)  # no ready endpoint yet
    slice_ = eps(ns, "db-1", "db", [endpoint("10.244.7.1", hostname="db-0"), endpoint("10.244.7.2")],
                 [{"name": "pg", "port": 5432, "protocol": "TCP"}])
    await _ok(await aapi.post(SLICES.format(ns=ns), json=slice_))
    await live.until(db, ["10.244.7.1", "10.244.7.2"])
    await live.until(f"db-0.{db}", ["10.244.7.1"])
    await live.until("1.7.244.10.in-addr.arpa.", [f"db-0.{db}"], "PTR")
    body = await _ok(await aapi.get(f"{SLICES.format(ns=ns)}/db-1"))
    body["endpoints"][1]["conditions"] = {"ready": False}
    await _ok(await aapi.put(f"{SLICES.format(ns=ns)}/db-1", json=body))
    await live.until(db, ["10.244.7.1"])
    await _ok(await aapi.delete(f"{SLICES.format(ns=ns)}/db-1"))
    await live.rcode_until(db, dns.rcode.NXDOMAIN)

    # ExternalName
    await _ok(await aapi.post(svc_url, json=service(ns, "ext", type="ExternalName", externalName="www.example.com")))
    await live.until(f"ext.{ns}.svc.cluster.local.", ["www.example.com."])

    # a Pod's record appears with its IP (verified mode) and goes with it
    pod_url = f"/api/v1/namespaces/{ns}/pods"
    await _ok(await aapi.post(pod_url, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                             "spec": {"containers": [{"name": "c", "image": "x"}]}}))
    pod_name = f"10-244-8-9.{ns}.pod.cluster.local."
    await live.rcode_until(pod_name, dns.rcode.NXDOMAIN)
    await _ok(await aapi.patch(f"{pod_url}/p/status", json={"status": {"podIP": "10.244.8.9"}},
                               headers={"Content-Type": "application/merge-patch+json"}))
    await live.until(pod_name, ["10.244.8.9"])
    await _ok(await aapi.delete(f"{pod_url}/p", params={"gracePeriodSeconds": "0"}))
    await live.rcode_until(pod_name, dns.rcode.NXDOMAIN)


async def test_programming_latency(live: Dns, aapi: httpx.AsyncClient, ns: str) -> None:
    """Service create to resolvable: the view is updated within one watch event."""
    latencies = []
    for i in range(20):
        ip = f"10.96.78.{i + 1}"
        start = time.perf_counter()
        await _ok(await aapi.post(f"/api/v1/namespaces/{ns}/services",
                                  json=service(ns, f"s{i}", clusterIP=ip, clusterIPs=[ip], ports=[{"port": 80}])))
        await live.until(f"s{i}.{ns}.svc.cluster.local.", [ip])
        latencies.append(time.perf_counter() - start)
    print(f"create->resolvable: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert statistics.median(latencies) < 0.1
    assert max(latencies) < 1.0


async def test_servfail_while_the_api_is_unreachable() -> None:
    d, task = await _start(f"http://{HOST}:{free_port()}")
    try:
        assert (await d.ask("kube-dns.kube-system.svc.cluster.local.")).rcode() == dns.rcode.SERVFAIL
        assert (await d.ask("nope.cluster.local.")).rcode() == dns.rcode.SERVFAIL
        assert (await d.ask("www.example.com.")).rcode() == dns.rcode.REFUSED
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# ---- the real process, resolved with dig ---------------------------------------------------

DIG = shutil.which("dig")
needs_dig = pytest.mark.skipif(DIG is None and os.environ.get("KUBELITE_REQUIRE_DIG") != "1",
                               reason="dig (bind9-dnsutils) is not installed")


@pytest.fixture
def dns_process(apiserver: ApiServerProcess) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "servers.dns.main", "--server", apiserver.url,
                             "--port", str(port), "--log-level", "warning"])
    try:
        deadline = time.monotonic() + 15
        while True:  # ready once kube-dns (created by the API server) resolves
            assert proc.poll() is None and time.monotonic() < deadline, "DNS process did not start"
            try:
                r = dns.query.udp(dns.message.make_query("kube-dns.kube-system.svc.cluster.local.", "A"), HOST,
                                  port=port, timeout=0.2)
                if r.rcode() == dns.rcode.NOERROR:
                    break
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def dig(port: int, *args: str) -> list[str]:
    assert DIG is not None, "dig is required (KUBELITE_REQUIRE_DIG=1)"
    out = subprocess.run([DIG, f"@{HOST}", "-p", str(port), "+short", "+tries=1", "+time=2", *args],
                         capture_output=True, text=True, timeout=20, check=True).stdout
    return sorted(line for line in out.splitlines() if line)


def dig_until(port: int, expected: list[str], *args: str) -> None:
    deadline = time.monotonic() + 5
    while (got := dig(port, *args)) != expected:
        assert time.monotonic() < deadline, f"dig {args}: {got} != {expected}"
        time.sleep(0.02)


@needs_dig
def test_dig_against_the_dns_process(dns_process: int, api: httpx.Client, ns: str) -> None:
    port = dns_process
    kube_dns = api.get("/api/v1/namespaces/kube-system/services/kube-dns").json()
    ip = kube_dns["spec"]["clusterIP"]
    assert dig(port, "kube-dns.kube-system.svc.cluster.local") == [ip]
    assert dig(port, "-x", ip) == ["kube-dns.kube-system.svc.cluster.local."]
    assert dig(port, "SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local") == [
        "0 100 53 kube-dns.kube-system.svc.cluster.local."]
    assert dig(port, "TXT", "dns-version.cluster.local") == ['"1.1.0"']

    r = api.post(f"/api/v1/namespaces/{ns}/services",
                 json=service(ns, "the-bus", clusterIP="10.96.79.1", clusterIPs=["10.96.79.1"],
                              ports=[{"name": "http", "port": 80}]))
    assert r.status_code == 201, r.text
    dig_until(port, ["10.96.79.1"], f"the-bus.{ns}.svc.cluster.local")
    assert dig(port, "SRV", f"_http._tcp.the-bus.{ns}.svc.cluster.local") == [
        f"0 100 80 the-bus.{ns}.svc.cluster.local."]
    assert api.delete(f"/api/v1/namespaces/{ns}/services/the-bus").status_code == 200
    dig_until(port, [], f"the-bus.{ns}.svc.cluster.local")

    # 300 endpoints: dig gets TC over UDP and the whole answer over TCP
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=service(ns, "big", clusterIP="None",
                                                                  ports=[{"name": "http", "port": 80}]))
    assert r.status_code == 201, r.text
    big = [endpoint(f"10.245.{i // 200}.{i % 200 + 1}") for i in range(300)]
    r = api.post(SLICES.format(ns=ns), json=eps(ns, "big-1", "big", big,
                                                [{"name": "http", "port": 80, "protocol": "TCP"}]))
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 5
    while len(dig(port, f"big.{ns}.svc.cluster.local")) != 300:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(dig(port, "+noedns", "SRV", f"_http._tcp.big.{ns}.svc.cluster.local")) == 300
