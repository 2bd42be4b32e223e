"""DaemonSets end to end: an API server, node agents and the daemonset and gc controllers, each its own process.

Checked as a user sees it: one Pod per Node, a fourth Node joining gets its
Pod, a Node leaving (its agent stopped, the Node deleted) loses it; a
nodeSelector narrows the Nodes; a rolling update (``kubectl set image``)
followed by ``kubectl rollout status ds`` and ``rollout history``; deleting
the set removes its Pods.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from apimachinery.resources import BY_KEY
from kubeclient.client import Client
from kubeclient.kubeconfig import render_kubeconfig
from tests.conftest import start_apiserver
from tests.test_deployments_e2e import Cluster, eventually, is_ready, kubectl

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

PODS = BY_KEY["pods"]
NODES = BY_KEY["nodes"]
DS = BY_KEY["daemonsets.apps"]


def spawn_node(c: Cluster, i: int) -> None:
    c.spawn(f"node-{i}", "node", "--name", f"node-{i}", "--pod-cidr", f"10.88.{i}.0/24",
            "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
            "--leader-elect-retry-period", "0.5s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("daemonsets")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("daemonset", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        for i in (1, 2, 3):
            spawn_node(c, i)
        (base / "kubeconfig").write_text(render_kubeconfig(c.url))
        yield c
    finally:
        c.stop()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    async with Client(cluster.url, timeout=30) as c:
        yield c


_ns = iter(range(1, 1000))


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"ds-{os.getpid()}-{next(_ns)}"
    await client.create(BY_KEY["namespaces"], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def daemon_set(name: str, image: str = "kubelite/echo:v1", **template_spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 0,
                                       "containers": [{"name": "agent", "image": image}], **template_spec}}},
    }


async def pods_by_node(client: Client, ns: str, name: str) -> dict[str, Obj]:
    """The set's live Pods by Node ({} while a Node has two)."""
    out: dict[str, Obj] = {}
    for p in (await client.list(PODS, namespace=ns, label_selector=f"app={name}"))["items"]:
        if p["metadata"].get("deletionTimestamp"):
            continue
        node = p["spec"].get("nodeName", "")
        if node in out:
            return {}
        out[node] = p
    return out


async def settled(client: Client, ns: str, name: str, nodes: set[str], image: str) -> dict[str, Obj] | None:
    """One ready Pod with ``image`` on exactly ``nodes``, and a status that says so."""
    got = await pods_by_node(client, ns, name)
    if set(got) != nodes or not all(is_ready(p) and p["spec"]["containers"][0]["image"] == image
                                    for p in got.values()):
        return None
    ds = await client.get(DS, name, namespace=ns)
    st, n = ds.get("status") or {}, len(nodes)
    if (st.get("observedGeneration") != ds["metadata"]["generation"] or st.get("desiredNumberScheduled") != n
            or st.get("updatedNumberScheduled", 0) != n or st.get("numberAvailable", 0) != n):
        return None
    return got


async def test_follows_nodes_joining_and_leaving(cluster: Cluster, client: Client, ns: str) -> None:
    await client.create(DS, daemon_set("agent"), namespace=ns)
    three = {"node-1", "node-2", "node-3"}
    got = await eventually(lambda: settled(client, ns, "agent", three, "kubelite/echo:v1"), 90, "3 daemon pods",
                           cluster)
    pod = got["node-1"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    assert pod["metadata"]["labels"]["controller-revision-hash"]
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]}
    assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "spec"]["tolerations"]
    out = await asyncio.to_thread(kubectl, cluster, "-n", ns, "get", "ds")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR",
                              "AGE"]
    assert row.split()[:7] == ["agent", "3", "3", "3", "3", "3", "<none>"]

    # a fourth Node joins
    await asyncio.to_thread(spawn_node, cluster, 4)
    await eventually(lambda: settled(client, ns, "agent", three | {"node-4"}, "kubelite/echo:v1"), 90,
                     "a pod on node-4", cluster)

    # and leaves: its agent stops, the Node is deleted
    proc = next(p[1] for p in cluster.procs if p[0] == "node-4")
    proc.terminate()
    await asyncio.to_thread(proc.wait, 30)
    await asyncio.to_thread(kubectl, cluster, "delete", "node", "node-4")
    await eventually(lambda: settled(client, ns, "agent", three, "kubelite/echo:v1"), 90, "node-4's pod gone",
                     cluster)


async def test_node_selector_and_rolling_update(cluster: Cluster, client: Client, ns: str) -> None:
    await asyncio.to_thread(kubectl, cluster, "label", "node", "node-2", "disk=ssd", "--overwrite")
    await client.create(DS, daemon_set("ssd", nodeSelector={"disk": "ssd"}), namespace=ns)
    await eventually(lambda: settled(client, ns, "ssd", {"node-2"}, "kubelite/echo:v1"), 90, "one pod on node-2",
                     cluster)
    out = await asyncio.to_thread(kubectl, cluster, "-n", ns, "get", "ds", "ssd", "-o", "wide", "--no-headers")
    assert out.split()[:7] == ["ssd", "1", "1", "1", "1", "1", "disk=ssd"]
    assert out.split()[8:] == ["agent", "kubelite/echo:v1", "app=ssd"]

    await client.create(DS, daemon_set("roll"), namespace=ns)
    three = {"node-1", "node-2", "node-3"}
    before = await eventually(lambda: settled(client, ns, "roll", three, "kubelite/echo:v1"), 90, "roll at v1",
                              cluster)
    await asyncio.to_thread(kubectl, cluster, "-n", ns, "set", "image", "ds/roll", "agent=kubelite/echo:v2")
    out = await asyncio.to_thread(kubectl, cluster, "-n", ns, "rollout", "status", "ds/roll", "--timeout=90s")
    assert out.splitlines()[-1] == 'daemon set "roll" successfully rolled out', out
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kubeclient.kctl.cli", "--server",
                                                    cluster.url, "-n", ns, "rollout", "status", "ds/roll"],
                                   capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, 'daemon set "roll" successfully rolled out\n'), done.stderr
    after = await eventually(lambda: settled(client, ns, "roll", three, "kubelite/echo:v2"), 60, "roll at v2",
                             cluster)
    assert all(after[n]["metadata"]["uid"] != before[n]["metadata"]["uid"] for n in three)
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in after.values()} == {"2"}
    history = await asyncio.to_thread(kubectl, cluster, "-n", ns, "rollout", "history", "ds/roll")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"], history

    out = await asyncio.to_thread(kubectl, cluster, "-n", ns, "rollout", "undo", "ds/roll")
    assert out == "daemonset.apps/roll rolled back\n"
    await eventually(lambda: settled(client, ns, "roll", three, "kubelite/echo:v1"), 90, "roll back at v1", cluster)
    # kctl's undo does what kubectl's does: the revision before the latest comes back (v2 now)
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kubeclient.kctl.cli", "--server",
                                                    cluster.url, "-n", ns, "rollout", "undo", "ds/roll"],
                                   capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "daemonset.apps/roll rolled back\n"), done.stderr
    await eventually(lambda: settled(client, ns, "roll", three, "kubelite/echo:v2"), 90, "roll again at v2", cluster)

    await client.delete(DS, "roll", namespace=ns)

    async def only_ssd_left() -> bool:
        pods = (await client.list(PODS, namespace=ns))["items"]
        return {p["metadata"]["labels"]["app"] for p in pods} == {"ssd"}

    await eventually(only_ssd_left, 60, "roll's pods collected", cluster)
    await asyncio.to_thread(kubectl, cluster, "label", "node", "node-2", "disk-")


def test_no_process_crashed(cluster: Cluster) -> None:
    """Every process but the node agent stopped on purpose is still up after the tests above."""
    dead = [name for name, proc, _ in cluster.procs if proc.poll() is not None and name != "node-4"]
    assert dead == [], cluster.logs()
