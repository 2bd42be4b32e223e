"""ReplicationControllers (core/v1, rc): defaults, validation, Tables and the /scale and /status
subresources over HTTP, and end to end with real processes (an API server with its serviceaccount
controller, the replicationcontroller and gc controllers, a node agent): kubectl scale, expose,
get rc / get all, Pod replacement and cascading deletion; and the official Python client.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver, stop_process

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

RC = "/api/v1/namespaces/{ns}/replicationcontrollers"
PODS = "/api/v1/namespaces/{ns}/pods"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


def rc(name: str, replicas: int | None = 1, *, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    labels = labels or {"app": name}
    body: Obj = {"template": {"metadata": {"labels": labels},
                              "spec": {"terminationGracePeriodSeconds": 0,
                                       "containers": [{"name": "echo", "image": "kubelite/echo:v1",
                                                       "ports": [{"containerPort": 8080}]}]}}, **spec}
    if replicas is not None:
        body["replicas"] = replicas
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name}, "spec": body}


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
            stop_process(proc)
        self.api.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("rc")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("replicationcontroller", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        c.spawn("node-1", "node", "--name", "node-1", "--pod-cidr", "10.87.1.0/24")
        (base / "kubeconfig").write_text(render_kubeconfig(c.url))
        yield c
    finally:
        c.stop()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        yield client


_ns = iter(range(1, 1000))


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"rc-{os.getpid()}-{next(_ns)}"
    r = api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def kubectl(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([needs.kubectl(), "--cache-dir", str(cluster.dir / "kcache"), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "KUBECONFIG": str(cluster.dir / "kubeconfig")},
                          check=False)


def eventually(cond: Callable[[], Any], what: str, cluster: Cluster, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{cluster.logs()}")


def is_ready(pod: Obj) -> bool:
    return pod["metadata"].get("deletionTimestamp") is None and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def pods_of(api: httpx.Client, ns: str, app: str) -> list[Obj]:
    items: list[Obj] = api.get(PODS.format(ns=ns), params={"labelSelector": f"app={app}"}).json()["items"]
    return [p for p in items if p["metadata"].get("deletionTimestamp") is None]


def settled(api: httpx.Client, ns: str, name: str, replicas: int) -> Obj | None:
    """The RC once it reports ``replicas`` ready Pods and exactly that many exist, all ready."""
    obj: Obj = api.get(RC.format(ns=ns) + f"/{name}").json()
    st = obj.get("status") or {}
    pods = pods_of(api, ns, name)
    if (st.get("replicas", 0), st.get("readyReplicas", 0), len(pods)) != (replicas, replicas, replicas):
        return None
    if st.get("observedGeneration") != obj["metadata"]["generation"] or not all(is_ready(p) for p in pods):
        return None
    return obj


# ---------------------------------------------------------------------------
# HTTP: defaults, validation, Tables, subresources
# ---------------------------------------------------------------------------


def test_defaults(api: httpx.Client, ns: str) -> None:
    body = rc("web", None, labels={"app": "web", "tier": "front"})
    body["status"] = {"replicas": 9}
    r = api.post(RC.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["selector"] == {"app": "web", "tier": "front"}
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "front"}
    pod_spec = obj["spec"]["template"]["spec"]
    assert (pod_spec["restartPolicy"], pod_spec["dnsPolicy"]) == ("Always", "ClusterFirst")
    assert obj["status"] == {"replicas": 0}  # the server's on create, replicas always written
    # own labels and selector are kept
    body = rc("own", 2, labels={"app": "own", "v": "1"}, selector={"app": "own"})
    body["metadata"]["labels"] = {"team": "x"}
    obj = api.post(RC.format(ns=ns), json=body).json()
    assert (obj["spec"]["selector"], obj["metadata"]["labels"]) == ({"app": "own"}, {"team": "x"})


@pytest.mark.parametrize(("body", "message"), [
    ({"spec": {"replicas": 1}}, "[spec.selector: Required value, spec.template: Required value]"),
    ({"spec": {"selector": {"app": "a"}, "template": {"metadata": {"labels": {"app": "b"}},
                                                       "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
     'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match '
     "template `labels`"),
    ({"spec": {"replicas": -1, "template": {"metadata": {"labels": {"app": "a"}},
                                            "spec": {"restartPolicy": "Never", "activeDeadlineSeconds": 5,
                                                     "containers": [{"name": "c", "image": "i"}]}}}},
     '[spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.restartPolicy: '
     'Unsupported value: "Never": supported values: "Always", spec.template.spec.activeDeadlineSeconds: Forbidden: '
     "activeDeadlineSeconds in ReplicationController is not Supported]"),
])
def test_validation(api: httpx.Client, ns: str, body: Obj, message: str) -> None:
    r = api.post(RC.format(ns=ns), json={"apiVersion": "v1", "kind": "ReplicationController",
                                         "metadata": {"name": "bad"}, **body})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == f'ReplicationController "bad" is invalid: {message}'
    assert r.json()["details"]["kind"] == "ReplicationController"


def test_selector_may_change_and_table(api: httpx.Client, ns: str) -> None:
    obj = api.post(RC.format(ns=ns), json=rc("t", 0, labels={"app": "t", "v": "1"})).json()
    assert obj["spec"]["selector"] == {"app": "t", "v": "1"}
    r = api.patch(RC.format(ns=ns) + "/t", json={"spec": {"selector": {"v": None}}},
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["selector"] == {"app": "t"}
    table = api.get(RC.format(ns=ns), headers=TABLE).json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1),
        ("Selector", 1)]
    [row] = table["rows"]
    cells = row["cells"]
    assert cells[:4] == ["t", 0, 0, 0] and cells[5:] == ["echo", "kubelite/echo:v1", "app=t"]


def test_scale_and_status_subresources(api: httpx.Client, ns: str) -> None:
    api.post(RC.format(ns=ns), json=rc("s", 0, labels={"app": "s", "tier": "x"}))
    scale = api.get(RC.format(ns=ns) + "/s/scale").json()
    assert (scale["kind"], scale["apiVersion"], scale["spec"], scale["status"]) == (
        "Scale", "autoscaling/v1", {"replicas": 0}, {"replicas": 0, "selector": "app=s,tier=x"})
    r = api.patch(RC.format(ns=ns) + "/s/scale", json={"spec": {"replicas": 0}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"] == {"replicas": 0}
    current = api.get(RC.format(ns=ns) + "/s").json()
    del current["metadata"]["resourceVersion"]  # unconditional: the controller writes status meanwhile
    r = api.put(RC.format(ns=ns) + "/s/status", json={**current, "status": {"replicas": 1, "readyReplicas": 2}})
    assert r.status_code == 422
    assert r.json()["message"] == ('ReplicationController "s" is invalid: status.readyReplicas: Invalid value: 2: '
                                   "cannot be greater than the number of replicas")


# ---------------------------------------------------------------------------
# end to end: the controller, kubectl
# ---------------------------------------------------------------------------


def test_controller_keeps_replicas_and_kubectl_scale_expose_get(cluster: Cluster, api: httpx.Client, ns: str) -> None:
    assert api.post(RC.format(ns=ns), json=rc("web", 2)).status_code == 201
    eventually(lambda: settled(api, ns, "web", 2), "2 ready Pods", cluster)
    pods = pods_of(api, ns, "web")
    uid = api.get(RC.format(ns=ns) + "/web").json()["metadata"]["uid"]
    for p in pods:
        assert re.fullmatch(r"web-[a-z0-9]{5}", p["metadata"]["name"])
        [ref] = p["metadata"]["ownerReferences"]
        assert (ref["apiVersion"], ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "v1", "ReplicationController", "web", uid, True)
        assert p["spec"]["serviceAccountName"] == "default"

    r = kubectl(cluster, "-n", ns, "scale", "rc", "web", "--replicas=3")
    assert (r.returncode, r.stdout) == (0, "replicationcontroller/web scaled\n"), r.stderr
    eventually(lambda: settled(api, ns, "web", 3), "3 ready Pods", cluster)

    # a deleted Pod is replaced
    victim = pods_of(api, ns, "web")[0]["metadata"]["name"]
    assert api.delete(PODS.format(ns=ns) + f"/{victim}").status_code == 200
    eventually(lambda: settled(api, ns, "web", 3) and victim not in {p["metadata"]["name"]
                                                                   for p in pods_of(api, ns, "web")},
               "a replacement Pod", cluster)

    r = kubectl(cluster, "-n", ns, "get", "rc")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert re.fullmatch(r"web\s+3\s+3\s+3\s+\d+s", row), row
    r = kubectl(cluster, "-n", ns, "get", "rc", "web", "-o", "wide")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert row.split()[-3:] == ["echo", "kubelite/echo:v1", "app=web"]

    r = kubectl(cluster, "-n", ns, "expose", "rc", "web", "--port=80", "--target-port=8080")
    assert (r.returncode, r.stdout) == (0, "service/web exposed\n"), r.stderr
    svc = api.get(f"/api/v1/namespaces/{ns}/services/web").json()
    assert svc["spec"]["selector"] == {"app": "web"}
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, 8080)]

    r = kubectl(cluster, "-n", ns, "get", "all", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert "replicationcontroller/web" in r.stdout.split()
    r = kubectl(cluster, "api-resources", "--api-group=", "--no-headers")
    assert ["replicationcontrollers", "rc", "v1", "true", "ReplicationController"] in [
        line.split() for line in r.stdout.splitlines()]

    r = kubectl(cluster, "-n", ns, "scale", "rc", "web", "--replicas=1")
    assert r.returncode == 0, r.stderr
    eventually(lambda: settled(api, ns, "web", 1), "1 ready Pod", cluster)


def test_deleting_the_rc_deletes_its_pods(cluster: Cluster, api: httpx.Client, ns: str) -> None:
    api.post(RC.format(ns=ns), json=rc("gone", 2))
    eventually(lambda: settled(api, ns, "gone", 2), "2 ready Pods", cluster)
    r = kubectl(cluster, "-n", ns, "delete", "rc", "gone")
    assert (r.returncode, r.stdout) == (0, 'replicationcontroller "gone" deleted\n'), r.stderr
    eventually(lambda: not pods_of(api, ns, "gone"), "no Pods left", cluster)


def test_refused_creates_are_retried(cluster: Cluster, api: httpx.Client, ns: str) -> None:
    """Pods of a missing ServiceAccount are refused (403) and reported; once it exists they are made."""
    body = rc("late", 2)
    body["spec"]["template"]["spec"]["serviceAccountName"] = "late"
    api.post(RC.format(ns=ns), json=body)

    def failing() -> Obj | None:
        conds = (api.get(RC.format(ns=ns) + "/late").json().get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "ReplicaFailure"), None)

    cond = eventually(failing, "a ReplicaFailure condition", cluster)
    assert (cond["status"], cond["reason"]) == ("True", "FailedCreate")
    assert cond["message"] == (f'pods "late-" is forbidden: error looking up service account {ns}/late: '
                               'serviceaccount "late" not found')
    assert not pods_of(api, ns, "late")
    api.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "late"}})
    obj = eventually(lambda: settled(api, ns, "late", 2), "2 ready Pods", cluster, timeout=60)
    assert "conditions" not in obj["status"]


def test_a_matching_orphan_is_adopted(cluster: Cluster, api: httpx.Client, ns: str) -> None:
    """The map selector reaches the shared adoption logic: an orphan with the labels becomes the RC's."""
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
              "spec": {"terminationGracePeriodSeconds": 0,
                       "containers": [{"name": "echo", "image": "kubelite/echo:v1"}]}}
    assert api.post(PODS.format(ns=ns), json=orphan).status_code == 201
    api.post(RC.format(ns=ns), json=rc("adopt", 1))
    eventually(lambda: settled(api, ns, "adopt", 1), "1 ready Pod", cluster)
    [pod] = pods_of(api, ns, "adopt")
    assert pod["metadata"]["name"] == "orphan"
    assert [(r["kind"], r["name"]) for r in pod["metadata"]["ownerReferences"]] == [("ReplicationController", "adopt")]


def test_python_client_create_list_delete(cluster: Cluster, ns: str) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    k8s = kubernetes.client
    cfg = k8s.Configuration()
    cfg.host = cluster.url
    with k8s.ApiClient(cfg) as api_client:
        core = k8s.CoreV1Api(api_client)
        body = k8s.V1ReplicationController(
            metadata=k8s.V1ObjectMeta(name="py"),
            spec=k8s.V1ReplicationControllerSpec(
                replicas=0,
                template=k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels={"app": "py"}),
                                               spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c",
                                                                                              image="i")]))))
        created = core.create_namespaced_replication_controller(ns, body)
        assert created.spec.selector == {"app": "py"}
        assert [r.metadata.name for r in core.list_namespaced_replication_controller(ns).items] == ["py"]
        core.delete_namespaced_replication_controller("py", ns)
        assert core.list_namespaced_replication_controller(ns).items == []
