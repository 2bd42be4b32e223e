"""StatefulSets end to end: an API server, two node agents, the statefulset, endpoints and gc controllers and the DNS server.

Every component is its own process, as ``kubelite up`` runs them. Checked as
a user sees it: ordinal Pods created one at a time (the Pod watch shows
``web-1`` only after ``web-0`` is Ready), each Pod's own DNS record through
the headless Service (``dig web-0.nginx.<ns>.svc.cluster.local``), scale
down removing the highest ordinal first, a rolling update replacing Pods
from the highest ordinal down, ``kubectl rollout status|history|undo sts``,
a partition, and OnDelete. Ordering is read from the watch stream, never
from timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from apimachinery.resources import BY_KEY
from kubeclient.client import Client
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import free_port, start_apiserver
from tests.test_deployments_e2e import Cluster, eventually, is_ready, kubectl

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

PODS = BY_KEY["pods"]
SERVICES = BY_KEY["services"]
STS = BY_KEY["statefulsets.apps"]
REVISIONS = BY_KEY["controllerrevisions.apps"]
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, int]]:
    base = tmp_path_factory.mktemp("statefulsets")
    c = Cluster(start_apiserver(base / "api"), base)
    dns_port = free_port()
    dns_log = base / "dns.log"
    dns_proc = subprocess.Popen([sys.executable, "-m", "servers.dns.main", "--server", c.url, "--port",
                                 str(dns_port), "--log-level", "warning"], stdout=dns_log.open("ab"),
                                stderr=subprocess.STDOUT)
    c.procs.append(("dns", dns_proc, dns_log))
    try:
        for name in ("statefulset", "endpoints", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        for i in (1, 2):
            c.spawn(f"node-{i}", "node", "--name", f"node-{i}", "--pod-cidr", f"10.87.{i}.0/24",
                    "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
                    "--leader-elect-retry-period", "0.5s")
        (base / "kubeconfig").write_text(render_kubeconfig(c.url))
        yield c, dns_port
    finally:
        c.stop()


@pytest.fixture
async def client(cluster: tuple[Cluster, int]) -> AsyncIterator[Client]:
    async with Client(cluster[0].url, timeout=30) as c:
        yield c


_ns = iter(range(1, 1000))


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"sts-{os.getpid()}-{next(_ns)}"
    await client.create(BY_KEY["namespaces"], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def stateful_set(name: str, replicas: int, *, service: str = "", image: str = "kubelite/echo:v1",
                 **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": service,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"terminationGracePeriodSeconds": 0,
                                  "containers": [{"name": "web", "image": image,
                                                  "ports": [{"containerPort": 80, "name": "web"}]}]}},
            **spec,
        },
    }


class PodLog:
    """Every Pod watch event of a namespace, in the server's order, from before the test acts."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Obj]] = []
        self.started = asyncio.Event()

    async def follow(self, client: Client, ns: str) -> None:
        listed = await client.list(PODS, namespace=ns)
        rv = listed["metadata"]["resourceVersion"]
        self.started.set()
        while True:
            async for ev in client.watch(PODS, namespace=ns, resource_version=rv, allow_bookmarks=False):
                etype, obj = ev[0], ev[1]
                rv = obj["metadata"]["resourceVersion"]
                self.events.append((etype, obj))

    def first_index(self, pred: Any) -> int:
        return next((i for i, (t, o) in enumerate(self.events) if pred(t, o)), -1)


@contextlib.asynccontextmanager
async def pod_log(client: Client, ns: str) -> AsyncIterator[PodLog]:
    log = PodLog()
    task = asyncio.create_task(log.follow(client, ns))
    await asyncio.wait_for(log.started.wait(), 30)
    try:
        yield log
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def named(name: str) -> Any:
    return lambda _t, o: o["metadata"]["name"] == name


def ready_named(name: str) -> Any:
    return lambda t, o: t != "DELETED" and o["metadata"]["name"] == name and is_ready(o)


def leaving(name: str) -> Any:
    return lambda t, o: o["metadata"]["name"] == name and (t == "DELETED" or o["metadata"].get("deletionTimestamp"))


async def get_sts(client: Client, ns: str, name: str) -> Obj:
    return await client.get(STS, name, namespace=ns)


async def rolled_out(client: Client, ns: str, name: str) -> Obj | None:
    """The set once every Pod is ready at the update revision and the status says so."""
    sts = await get_sts(client, ns, name)
    st, replicas = sts.get("status") or {}, sts["spec"]["replicas"]
    if (st.get("observedGeneration", 0) >= sts["metadata"]["generation"] and st.get("readyReplicas", 0) == replicas
            and st.get("replicas") == replicas and st.get("updatedReplicas", 0) == replicas
            and st.get("currentRevision") == st.get("updateRevision")):
        return sts
    return None


def kctl(c: Cluster, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "kubeclient.kctl.cli", "--server", c.url, *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def dig(port: int, name: str) -> list[str]:
    path = needs.dig()
    out = subprocess.run([path, f"@{HOST}", "-p", str(port), "+short", "+tries=1", "+time=2", name, "A"],
                         capture_output=True, text=True, timeout=20, check=True).stdout
    return sorted(line for line in out.splitlines() if line)


async def dig_until(port: int, name: str, expected: list[str], cluster: Cluster) -> None:
    deadline = time.monotonic() + 30
    got: list[str] = []
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(dig, port, name)
        if got == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"dig {name}: {got} != {expected}\n{cluster.logs()}")


def dns_ready(port: int) -> bool:
    try:
        r = dns.query.udp(dns.message.make_query("kube-dns.kube-system.svc.cluster.local.", "A"), HOST, port=port,
                          timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return r.rcode() == dns.rcode.NOERROR


async def test_ordered_pods_with_their_dns_records_and_reverse_scale_down(
        cluster: tuple[Cluster, int], client: Client, ns: str) -> None:
    c, port = cluster
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx"},
                                   "spec": {"clusterIP": "None", "selector": {"app": "web"},
                                            "ports": [{"name": "web", "port": 80}]}}, namespace=ns)
    async with pod_log(client, ns) as log:
        await client.create(STS, stateful_set("web", 3, service="nginx"), namespace=ns)
        sts = await eventually(lambda: rolled_out(client, ns, "web"), 90, "web rolled out", c)
        # web-1 is created only once web-0 is Running and Ready, web-2 once web-1 is
        for lower, upper in (("web-0", "web-1"), ("web-1", "web-2")):
            ready_at, created_at = log.first_index(ready_named(lower)), log.first_index(named(upper))
            assert 0 <= ready_at < created_at, (lower, upper, [(t, o["metadata"]["name"]) for t, o in log.events])

        pods = {p["metadata"]["name"]: p for p in (await client.list(PODS, namespace=ns))["items"]}
        assert sorted(pods) == ["web-0", "web-1", "web-2"]
        rev = sts["status"]["updateRevision"]
        for i in range(3):
            p = pods[f"web-{i}"]
            assert p["spec"]["hostname"] == f"web-{i}" and p["spec"]["subdomain"] == "nginx"
            labels = p["metadata"]["labels"]
            assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
            assert labels["apps.kubernetes.io/pod-index"] == str(i)
            assert labels["controller-revision-hash"] == rev
            assert p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
        assert sts["status"]["currentRevision"] == rev and sts["status"]["availableReplicas"] == 3

        # each Pod's own record, from the headless Service's Endpoints hostnames
        await eventually(lambda: asyncio.to_thread(dns_ready, port), 30, "dns ready", c)
        for i in range(3):
            await dig_until(port, f"web-{i}.nginx.{ns}.svc.cluster.local", [pods[f"web-{i}"]["status"]["podIP"]], c)
        await dig_until(port, f"nginx.{ns}.svc.cluster.local", sorted(p["status"]["podIP"] for p in pods.values()), c)

        out = await asyncio.to_thread(kubectl, c, "-n", ns, "rollout", "status", "sts/web", "--timeout=60s")
        assert "partitioned roll out complete: 3 new pods have been updated..." in out
        assert await asyncio.to_thread(kctl, c, "-n", ns, "rollout", "status", "sts/web") == (
            "partitioned roll out complete: 3 new pods have been updated...\n")
        out = await asyncio.to_thread(kubectl, c, "-n", ns, "get", "sts")
        assert out.split("\n")[0].split() == ["NAME", "READY", "AGE"] and out.split("\n")[1].split()[:2] == [
            "web", "3/3"]

        # scale down: web-2 leaves first, then web-1
        await asyncio.to_thread(kubectl, c, "-n", ns, "scale", "sts/web", "--replicas=1")

        async def only_web_0() -> bool:
            names = [p["metadata"]["name"] for p in (await client.list(PODS, namespace=ns))["items"]]
            return names == ["web-0"] and bool(await rolled_out(client, ns, "web"))

        await eventually(only_web_0, 90, "scaled down to web-0", c)
        first_2, first_1 = log.first_index(leaving("web-2")), log.first_index(leaving("web-1"))
        assert 0 <= first_2 < first_1, [(t, o["metadata"]["name"]) for t, o in log.events]
        gone_2 = log.first_index(lambda t, o: t == "DELETED" and o["metadata"]["name"] == "web-2")
        assert 0 <= gone_2 < first_1  # OrderedReady: web-1 is touched only once web-2 is gone
    await dig_until(port, f"web-2.nginx.{ns}.svc.cluster.local", [], c)


async def test_rolling_update_history_undo_and_partition(cluster: tuple[Cluster, int], client: Client,
                                                         ns: str) -> None:
    c, _ = cluster
    await client.create(STS, stateful_set("db", 3), namespace=ns)
    first = await eventually(lambda: rolled_out(client, ns, "db"), 90, "db rolled out", c)
    rev1 = first["status"]["updateRevision"]
    async with pod_log(client, ns) as log:
        await asyncio.to_thread(kubectl, c, "-n", ns, "set", "image", "sts/db", "web=kubelite/echo:v2")
        second = await eventually(
            lambda: rolled_out(client, ns, "db"), 120, "db at v2", c)
        assert second["status"]["updateRevision"] != rev1
        # replaced from the highest ordinal down
        order = [log.first_index(leaving(f"db-{i}")) for i in (2, 1, 0)]
        assert 0 <= order[0] < order[1] < order[2], [(t, o["metadata"]["name"]) for t, o in log.events]
    pods = (await client.list(PODS, namespace=ns))["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"kubelite/echo:v2"}

    revisions = (await client.list(REVISIONS, namespace=ns))["items"]
    assert sorted((r["metadata"]["name"], r["revision"]) for r in revisions) == sorted(
        [(rev1, 1), (second["status"]["updateRevision"], 2)])
    out = await asyncio.to_thread(kubectl, c, "-n", ns, "get", "controllerrevisions")
    assert out.split("\n")[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert f"{rev1}   statefulset.apps/db   1" in " ".join(out.split("\n")[1:]) or any(
        line.split()[:3] == [rev1, "statefulset.apps/db", "1"] for line in out.splitlines())
    history = await asyncio.to_thread(kubectl, c, "-n", ns, "rollout", "history", "sts/db")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"], history
    assert await asyncio.to_thread(kctl, c, "-n", ns, "rollout", "history", "sts/db") == history

    out = await asyncio.to_thread(kubectl, c, "-n", ns, "rollout", "undo", "sts/db")
    assert "rolled back" in out
    third = await eventually(lambda: rolled_out(client, ns, "db"), 120, "db back at v1", c)
    assert third["status"]["updateRevision"] == rev1
    assert third["spec"]["template"]["spec"]["containers"][0]["image"] == "kubelite/echo:v1"
    revisions = {r["metadata"]["name"]: r["revision"] for r in (await client.list(REVISIONS, namespace=ns))["items"]}
    assert revisions[rev1] == 3  # the old revision renumbered, not copied

    # partition 2: only db-2 moves to v3
    await client.patch(STS, "db", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}},
                                            "template": {"spec": {"containers": [
                                                {"name": "web", "image": "kubelite/echo:v3"}]}}}},
                       namespace=ns, patch_type="strategic")
    out = await asyncio.to_thread(kubectl, c, "-n", ns, "rollout", "status", "sts/db", "--timeout=90s")
    assert "partitioned roll out complete: 1 new pods have been updated..." in out

    async def images() -> dict[str, str] | None:
        pods = (await client.list(PODS, namespace=ns))["items"]
        got = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods
               if not p["metadata"].get("deletionTimestamp") and is_ready(p)}
        return got if len(got) == 3 else None

    got = await eventually(images, 60, "three ready pods", c)
    assert got == {"db-0": "kubelite/echo:v1", "db-1": "kubelite/echo:v1", "db-2": "kubelite/echo:v3"}
    sts = await get_sts(client, ns, "db")
    assert sts["status"]["currentRevision"] == rev1 and sts["status"]["updatedReplicas"] == 1


async def test_on_delete_replaces_only_deleted_pods(cluster: tuple[Cluster, int], client: Client, ns: str) -> None:
    c, _ = cluster
    await client.create(STS, stateful_set("cache", 2, podManagementPolicy="Parallel",
                                          updateStrategy={"type": "OnDelete"}), namespace=ns)
    await eventually(lambda: rolled_out(client, ns, "cache"), 90, "cache rolled out", c)
    await client.patch(STS, "cache", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "kubelite/echo:v2"}]}}}}, namespace=ns, patch_type="strategic")

    async def observed() -> Obj | None:
        sts = await get_sts(client, ns, "cache")
        st = sts["status"]
        done = st.get("observedGeneration") == sts["metadata"]["generation"] and st["updateRevision"] != st[
            "currentRevision"]
        return sts if done else None

    sts = await eventually(observed, 60, "update revision observed", c)
    assert sts["status"].get("updatedReplicas", 0) == 0 and sts["status"]["currentReplicas"] == 2
    old = await client.get(PODS, "cache-1", namespace=ns)
    assert old["spec"]["containers"][0]["image"] == "kubelite/echo:v1"
    await client.delete(PODS, "cache-1", namespace=ns)

    async def replaced() -> Obj | None:
        try:
            p = await client.get(PODS, "cache-1", namespace=ns)
        except Exception:
            return None
        return p if p["metadata"]["uid"] != old["metadata"]["uid"] and is_ready(p) else None

    new = await eventually(replaced, 60, "cache-1 recreated", c)
    assert new["spec"]["containers"][0]["image"] == "kubelite/echo:v2"
    assert (await client.get(PODS, "cache-0", namespace=ns))["spec"]["containers"][0]["image"] == "kubelite/echo:v1"

    # deleting the set: the garbage collector removes its Pods and revisions
    await client.delete(STS, "cache", namespace=ns)

    async def all_gone() -> bool:
        pods = (await client.list(PODS, namespace=ns))["items"]
        revs = (await client.list(REVISIONS, namespace=ns))["items"]
        return not pods and not revs

    await eventually(all_gone, 60, "Pods and ControllerRevisions collected", c)


async def test_claim_templates_become_pending_claims_mounted_by_name(cluster: tuple[Cluster, int], client: Client,
                                                                       ns: str) -> None:
    c, _ = cluster
    body = stateful_set("vol", 1, volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/data"}]
    await client.create(STS, body, namespace=ns)
    await eventually(lambda: rolled_out(client, ns, "vol"), 90, "vol rolled out", c)
    pod = await client.get(PODS, "vol-0", namespace=ns)
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-vol-0"}}]

    async def warned() -> list[Obj]:
        events = (await client.list(BY_KEY["events"], namespace=ns))["items"]
        return [e for e in events if e.get("reason") == "ClaimsNotProvisioned"]

    [event] = await eventually(warned, 30, "the ClaimsNotProvisioned event", c)
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == "vol"
    assert event["message"] == ("Pod vol-0 runs without its claims' storage (www-vol-0): kubelite binds and "
                                "provisions no volumes")
    # the claim itself is made as kube's controller makes it, and stays Pending (no binder, no provisioner)
    claim = await client.get(BY_KEY["persistentvolumeclaims"], "www-vol-0", namespace=ns)
    assert claim["metadata"]["labels"] == {"app": "vol"}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert claim["status"]["phase"] == "Pending"
