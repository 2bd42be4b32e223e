"""Deployments end to end: a live API server, two node agents and the replicaset, deployment and gc controllers.

Every component is its own process, as ``kubelite up`` runs them; the node
agents schedule the Pods and report them Running and Ready. Checked, as the
issue asks: scaling 3 -> 50 -> 0 through ``/scale``; a rolling update of 20
replicas watched event by event (never more than replicas+maxSurge Pods,
never fewer than replicas-maxUnavailable available ones); ``kubectl rollout
undo`` bringing the previous template back; deleting the Deployment
removing its ReplicaSets and Pods. One cluster serves the module (each test
has its own namespace) so the whole file stays well under 90 seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from apimachinery.resources import BY_KEY
from kubeclient.client import Client
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

PODS = BY_KEY["pods"]
APPS = "/apis/apps/v1"


# ---------------------------------------------------------------------------
# the cluster
# ---------------------------------------------------------------------------


@dataclass
class Cluster:
    api: ApiServerProcess
    dir: Path
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def spawn(self, name: str, *args: str) -> None:
        port = free_port()
        log = self.dir / f"{name}.log"
        argv = [sys.executable, "-m", "kubelite.cli", *args, "--server", self.url, "--metrics-port", str(port)]
        proc = subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.procs.append((name, proc, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} not healthy: {log.read_text()[-3000:]}")

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{log.read_text(errors='replace')[-2500:]}" for name, _, log in self.procs)

    def stop(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.api.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("deployments")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("replicaset", "deployment", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        for i in (1, 2):
            c.spawn(f"node-{i}", "node", "--name", f"node-{i}", "--pod-cidr", f"10.86.{i}.0/24",
                    "--max-pods", "250", "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline",
                    "2s", "--leader-elect-retry-period", "0.5s")
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
    name = f"deploy-{os.getpid()}-{next(_ns)}"
    await client.create(BY_KEY["namespaces"], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def kubectl(cluster: Cluster, *args: str) -> str:
    path = needs.kubectl()
    out = subprocess.run([path, "--cache-dir", str(cluster.dir / "kcache"), *args], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "KUBECONFIG": str(cluster.dir / "kubeconfig")})
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---------------------------------------------------------------------------
# objects and waiting
# ---------------------------------------------------------------------------


def deployment(name: str, replicas: int, image: str = "kubelite/echo:v1", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"terminationGracePeriodSeconds": 0,
                                  "containers": [{"name": "echo", "image": image,
                                                  "ports": [{"containerPort": 8080}]}]}},
            **spec,
        },
    }


async def api(client: Client, method: str, path: str, body: Any = None,
              content_type: str | None = None) -> Obj:
    resp = await client.request(method, path, body=body, content_type=content_type)
    data: Obj = resp.json()
    return data


async def eventually(cond: Callable[[], Any], timeout: float, what: str, cluster: Cluster) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await cond()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{cluster.logs()}")


def is_ready(pod: Obj) -> bool:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return meta.get("deletionTimestamp") is None and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def is_active(pod: Obj) -> bool:
    return (pod.get("metadata") or {}).get("deletionTimestamp") is None and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


async def pods_of(client: Client, ns: str, app: str) -> list[Obj]:
    return list((await client.list(PODS, namespace=ns, label_selector=f"app={app}"))["items"])


async def rolled_out(client: Client, ns: str, name: str, replicas: int) -> Obj | None:
    """The Deployment once `kubectl rollout status` would call it done and only its Pods remain."""
    d = await api(client, "GET", f"{APPS}/namespaces/{ns}/deployments/{name}")
    st, meta = d.get("status") or {}, d["metadata"]
    done = (st.get("observedGeneration", 0) >= meta["generation"] and st.get("updatedReplicas", 0) == replicas
            and st.get("replicas", 0) == replicas and st.get("availableReplicas", 0) == replicas)
    if not done:
        return None
    pods = [p for p in await pods_of(client, ns, name) if is_active(p)]
    if len(pods) != replicas or not all(is_ready(p) for p in pods):
        return None
    return d


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


async def test_scale_3_to_50_to_0(cluster: Cluster, client: Client, ns: str) -> None:
    await api(client, "POST", f"{APPS}/namespaces/{ns}/deployments", deployment("scaler", 3))
    await eventually(lambda: rolled_out(client, ns, "scaler", 3), 20, "3 ready replicas", cluster)
    scale_path = f"{APPS}/namespaces/{ns}/deployments/scaler/scale"
    scale = await api(client, "GET", scale_path)
    assert (scale["kind"], scale["apiVersion"], scale["spec"], scale["status"]) == (
        "Scale", "autoscaling/v1", {"replicas": 3}, {"replicas": 3, "selector": "app=scaler"})

    out = await api(client, "PATCH", scale_path, {"spec": {"replicas": 50}}, "application/merge-patch+json")
    assert out["spec"] == {"replicas": 50}
    await eventually(lambda: rolled_out(client, ns, "scaler", 50), 40, "50 ready replicas", cluster)
    pods = await pods_of(client, ns, "scaler")
    rs_name = (await api(client, "GET", f"{APPS}/namespaces/{ns}/replicasets"))["items"][0]["metadata"]["name"]
    assert all(p["metadata"]["name"].startswith(f"{rs_name}-") and len(p["metadata"]["name"]) == len(rs_name) + 6
               for p in pods)
    assert {p["spec"].get("nodeName") for p in pods} == {"node-1", "node-2"}
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("ReplicaSet", rs_name,
                                                                                        True, True)

    # kubectl scale goes through the same subresource (GET, then a merge patch of spec.replicas)
    if shutil.which("kubectl"):
        kubectl(cluster, "-n", ns, "scale", "deployment/scaler", "--replicas=0")
    else:
        await api(client, "PATCH", scale_path, {"spec": {"replicas": 0}}, "application/merge-patch+json")

    async def none_left() -> bool:
        d = await api(client, "GET", f"{APPS}/namespaces/{ns}/deployments/scaler")
        return not await pods_of(client, ns, "scaler") and (d.get("status") or {}).get("replicas", 0) == 0

    await eventually(none_left, 30, "no Pods after scaling to 0", cluster)


async def test_rolling_update_of_20_keeps_its_bounds(cluster: Cluster, client: Client, ns: str) -> None:
    await api(client, "POST", f"{APPS}/namespaces/{ns}/deployments", deployment("roll", 20))
    await eventually(lambda: rolled_out(client, ns, "roll", 20), 40, "20 ready replicas", cluster)
    listing = await client.list(PODS, namespace=ns, label_selector="app=roll")
    pods = {p["metadata"]["name"]: p for p in listing["items"]}
    rv = listing["metadata"]["resourceVersion"]
    seen = {"max_pods": 0, "min_available": 20, "events": 0}
    violations: list[str] = []

    def check(what: str) -> None:
        active = [p for p in pods.values() if is_active(p)]
        available = [p for p in active if is_ready(p)]
        seen["max_pods"] = max(seen["max_pods"], len(active))
        seen["min_available"] = min(seen["min_available"], len(available))
        if len(active) > 25 or len(available) < 15:
            violations.append(f"{what}: {len(active)} Pods, {len(available)} available")

    async def watch() -> None:
        async for etype, obj in client.watch(PODS, namespace=ns, resource_version=rv, label_selector="app=roll",
                                             timeout_seconds=120, allow_bookmarks=False):
            name = obj["metadata"]["name"]
            if etype == "DELETED":
                pods.pop(name, None)
            else:
                pods[name] = obj
            seen["events"] += 1
            check(f"{etype} {name}")

    watcher = asyncio.create_task(watch())
    try:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "echo", "image": "kubelite/echo:v2"}]}}}}
        await api(client, "PATCH", f"{APPS}/namespaces/{ns}/deployments/roll", patch,
                  "application/strategic-merge-patch+json")
        d = await eventually(lambda: rolled_out(client, ns, "roll", 20), 60, "the rollout to finish", cluster)
        await asyncio.sleep(0.3)  # let the watch drain
    finally:
        watcher.cancel()
    assert violations == [], violations
    # the rollout really used its room: surge Pods existed and availability dipped, within bounds
    assert seen["max_pods"] > 20 and seen["min_available"] < 20, seen
    images = {p["spec"]["containers"][0]["image"] for p in await pods_of(client, ns, "roll") if is_active(p)}
    assert images == {"kubelite/echo:v2"}
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    conds = {c["type"]: c["reason"] for c in d["status"]["conditions"]}
    assert conds == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


async def test_undo_returns_to_the_previous_template(cluster: Cluster, client: Client, ns: str) -> None:
    path = f"{APPS}/namespaces/{ns}/deployments/undo"
    await api(client, "POST", f"{APPS}/namespaces/{ns}/deployments", deployment("undo", 4))
    await eventually(lambda: rolled_out(client, ns, "undo", 4), 30, "4 ready replicas", cluster)
    kubectl(cluster, "-n", ns, "set", "image", "deployment/undo", "echo=kubelite/echo:v2")
    await eventually(lambda: rolled_out(client, ns, "undo", 4), 30, "the v2 rollout", cluster)
    kubectl(cluster, "-n", ns, "rollout", "undo", "deployment/undo")
    d = await eventually(lambda: rolled_out(client, ns, "undo", 4), 30, "the undo rollout", cluster)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "kubelite/echo:v1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    images = {p["spec"]["containers"][0]["image"] for p in await pods_of(client, ns, "undo") if is_active(p)}
    assert images == {"kubelite/echo:v1"}
    sets = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs
            for rs in (await api(client, "GET", f"{APPS}/namespaces/{ns}/replicasets"))["items"]}
    assert set(sets) == {"kubelite/echo:v1", "kubelite/echo:v2"}
    revived = sets["kubelite/echo:v1"]["metadata"]["annotations"]
    assert (revived["deployment.kubernetes.io/revision"], revived["deployment.kubernetes.io/revision-history"]) == (
        "3", "1")
    assert sets["kubelite/echo:v2"]["spec"]["replicas"] == 0
    history = kubectl(cluster, "-n", ns, "rollout", "history", "deployment/undo").split()
    assert history[history.index("CHANGE-CAUSE") + 1:] == ["2", "<none>", "3", "<none>"]
    status = kubectl(cluster, "-n", ns, "rollout", "status", "deployment/undo", "--timeout=20s")
    assert 'deployment "undo" successfully rolled out' in status
    resources = [line.split() for line in kubectl(cluster, "api-resources", "--api-group=apps").splitlines()]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in resources
    assert ["replicasets", "rs", "apps/v1", "true", "ReplicaSet"] in resources
    # kubectl get deploy,rs: kube-apiserver's columns
    lines = [line.split() for line in kubectl(cluster, "-n", ns, "get", "deploy,rs").splitlines() if line.strip()]
    assert lines[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1][:4] == ["deployment.apps/undo", "4/4", "4", "4"]
    assert ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] in lines
    assert (await api(client, "GET", path))["status"]["observedGeneration"] == d["metadata"]["generation"]


async def test_deleting_the_deployment_cleans_up_everything(cluster: Cluster, client: Client, ns: str) -> None:
    await api(client, "POST", f"{APPS}/namespaces/{ns}/deployments", deployment("gone", 6))
    await eventually(lambda: rolled_out(client, ns, "gone", 6), 30, "6 ready replicas", cluster)
    await api(client, "PATCH", f"{APPS}/namespaces/{ns}/deployments/gone",
              {"spec": {"template": {"metadata": {"labels": {"app": "gone", "v": "2"}}}}},
              "application/strategic-merge-patch+json")
    await eventually(lambda: rolled_out(client, ns, "gone", 6), 30, "the second ReplicaSet", cluster)
    await client.delete(BY_KEY["deployments.apps"], "gone", namespace=ns, propagation_policy="Background")

    async def empty() -> bool:
        sets = (await api(client, "GET", f"{APPS}/namespaces/{ns}/replicasets"))["items"]
        return not sets and not await pods_of(client, ns, "gone")

    await eventually(empty, 30, "ReplicaSets and Pods to be collected", cluster)
