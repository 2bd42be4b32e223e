"""Process test: many Services created as fast as possible, two ipam and two nodeport replicas.

With leader election on, the leading replicas are killed with SIGKILL half way
and the standbys must take over within the lease duration; with it off, all
four act at once and only the API-side ledger keeps values unique. Either way
the end state is complete (every Service has an IP and a node port), unique
and in range, and the ledger matches it exactly.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import time
from pathlib import Path
from typing import Any

import pytest
from allocator_procs import FAST_ELECTION, ControllerProcess, eventually, service, start_controller
from conftest import start_apiserver

from apimachinery.resources import BY_KEY
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]
PORTS = BY_KEY["portallocations.kubelite.io"]
N = int(os.environ.get("KUBELITE_SCALE_SERVICES", "500"))
LEASE_DURATION = 4.0  # FAST_ELECTION


async def list_all(c: Client, rt: Any, namespace: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cont: str | None = None
    while True:
        page = await c.list(rt, namespace=namespace, limit=500, continue_=cont)
        items += page["items"]
        cont = page["metadata"].get("continue")
        if not cont:
            return items


async def holder_pid(c: Client, lease: str) -> int | None:
    try:
        spec = (await c.get(LEASES, lease, namespace="kube-system"))["spec"]
    except Exception:
        return None
    holder = str(spec.get("holderIdentity") or "")
    parts = holder.rsplit("_", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


@pytest.mark.slow
@pytest.mark.parametrize("leader_elect", [True, False], ids=["leader-elect", "no-leader-elect"])
async def test_many_services_with_two_replicas_each(tmp_path: Path, leader_elect: bool) -> None:
    api = start_apiserver(tmp_path / "api")
    extra = FAST_ELECTION if leader_elect else ["--no-leader-elect"]
    ctls: list[ControllerProcess] = [
        start_controller(name, api.url, tmp_path / "logs", "--workers", "4", *extra)
        for name in ("ipam", "ipam", "nodeport", "nodeport")
    ]
    killed: dict[str, int] = {}
    try:
        async with Client(api.url, max_connections=32) as c:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scale"}})
            if leader_elect:
                for lease in ("kubelite-ipam", "kubelite-nodeport"):
                    await eventually(functools.partial(holder_pid, c, lease), what=f"{lease} held")
            sem = asyncio.Semaphore(16)

            async def make(i: int) -> None:
                async with sem:
                    await c.create(SERVICES, service(f"s{i:04d}", "scale", type="NodePort"))

            await asyncio.gather(*(make(i) for i in range(N // 2)))
            if leader_elect:
                for lease in ("kubelite-ipam", "kubelite-nodeport"):
                    pid = await holder_pid(c, lease)
                    victim = next(p for p in ctls if p.pid == pid)
                    victim.kill9()
                    killed[lease] = victim.pid
                t_kill = time.monotonic()
            # The second half is created while the takeover is timed: a create waits (--allocation-wait)
            # for its ClusterIP and node port, so it must not add its own latency to the takeover's.
            second = asyncio.ensure_future(asyncio.gather(*(make(i) for i in range(N // 2, N))))

            if leader_elect:
                for lease, dead in killed.items():
                    new = await eventually(functools.partial(_other_holder, c, lease, dead),
                                           timeout=LEASE_DURATION + 10, interval=0.05, what=f"{lease} taken over")
                    assert new in {p.pid for p in ctls}
                takeover = time.monotonic() - t_kill
                # Within the lease duration of the last renewal (+ one jittered retry period of slack).
                assert takeover <= LEASE_DURATION + 2.0, takeover
            await second

            async def complete() -> list[dict[str, Any]] | None:
                svcs = await list_all(c, SERVICES, "scale")
                done = [s for s in svcs if s["spec"].get("clusterIP") and s["spec"]["ports"][0].get("nodePort")]
                return svcs if len(done) == N else None

            svcs = await eventually(complete, timeout=180, interval=0.5, what=f"all {N} services allocated")
            ips = [s["spec"]["clusterIP"] for s in svcs]
            ports = [s["spec"]["ports"][0]["nodePort"] for s in svcs]
            assert len(set(ips)) == N and len(set(ports)) == N
            net = ipaddress.ip_network("10.96.0.0/12")
            assert all(ipaddress.ip_address(ip) in net for ip in ips)
            assert all(30000 <= p <= 32767 for p in ports)

            # The ledger is exactly the allocation: one entry per value, owned by its Service.
            await asyncio.sleep(1.0)
            owner_ip = {o["metadata"]["name"]: o["spec"]["parentRef"]["name"]
                        for o in await list_all(c, IPADDRESSES) if o["spec"]["parentRef"]["namespace"] == "scale"}
            owner_port = {o["metadata"]["name"]: o["spec"]["parentRef"]["name"]
                          for o in await list_all(c, PORTS) if o["spec"]["parentRef"]["namespace"] == "scale"}
            assert owner_ip == {s["spec"]["clusterIP"]: s["metadata"]["name"] for s in svcs}
            assert owner_port == {f"tcp-{s['spec']['ports'][0]['nodePort']}": s["metadata"]["name"] for s in svcs}
    finally:
        codes = [p.stop() for p in ctls]
        api.stop()
    survivors = [code for p, code in zip(ctls, codes, strict=True) if p.pid not in killed.values()]
    assert survivors == [0] * len(survivors)


async def _other_holder(c: Client, lease: str, dead: int) -> int | None:
    pid = await holder_pid(c, lease)
    return pid if pid is not None and pid != dead else None
