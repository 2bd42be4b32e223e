"""The real kubectl against a live kubelite API server: every command of issue 3, with its exact output.

Why: users type kubectl, so kubectl's own behaviour against our server is the
proof that counts (default validation via /openapi/v3, client-side and
server-side apply, Table output, watches, describe, wait, edit...). Each test
runs the kubectl on PATH with a fresh ``--cache-dir`` and its own namespace.
Skipped when kubectl is missing, unless KUBELITE_REQUIRE_KUBECTL=1 (CI).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import ApiServerProcess, running_apiserver

KUBECTL = needs.kubectl(module=True)

AGE = re.compile(r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """A server of this module's own: the tests use fixed NodePorts, which are cluster-wide."""
    with running_apiserver(tmp_path_factory.mktemp("kubectl-e2e")) as srv:
        yield srv


@pytest.fixture
def http(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Kubectl:
    """Runs kubectl with its own kubeconfig, HOME and a fresh cache dir."""

    def __init__(self, server: ApiServerProcess, tmp: Path) -> None:
        self.tmp = tmp
        kubeconfig = tmp / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: kubelite\n  cluster:\n    server: {server.url}\n"
            "users:\n- name: kubelite\n  user: {}\n"
            "contexts:\n- name: kubelite\n  context:\n    cluster: kubelite\n    user: kubelite\n"
            "current-context: kubelite\n"
        )
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp), "KUBECTL_EXTERNAL_DIFF": ""}
        self.cache = tmp / "kube-cache"

    def argv(self, *args: str) -> list[str]:
        assert KUBECTL is not None
        return [KUBECTL, f"--cache-dir={self.cache}", *args]

    def __call__(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Result:
        p = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                           env={**self.env, **(env or {})}, cwd=self.tmp, check=False)
        return Result(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, timeout: float = 60) -> Result:
        r = self(*args, timeout=timeout)
        assert r.code == 0, f"kubectl {' '.join(args)} failed ({r.code}): {r.err}"
        return r

    def write(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text)
        return name  # relative to the working directory kubectl runs in, as a user would type it


@pytest.fixture
def kubectl(server: ApiServerProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(server, tmp_path)


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def ns(http: httpx.Client) -> str:
    name = f"shield-{os.getpid()}-{next(_counter)}"
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def app_yaml(ns: str, *, node_port: int, target_port: int = 8080, labels: str = "env: marvel") -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: the-bus
  namespace: {ns}
spec:
  type: NodePort
  selector:
    env: marvel
  ports:
  - port: 8080
    targetPort: {target_port}
    nodePort: {node_port}
---
apiVersion: v1
kind: Pod
metadata:
  name: triskelion
  namespace: {ns}
  labels:
    {labels}
spec:
  containers:
  - name: bus-ctr
    image: quay.io/mask365/scaling:latest
    ports:
    - containerPort: 8080
"""


def rows(text: str) -> list[list[str]]:
    """Table output as cells, with every AGE cell replaced by ``<age>``."""
    return [["<age>" if AGE.match(c) and c else c for c in line.split()] for line in text.splitlines() if line]


def managers(http: httpx.Client, path: str) -> dict[str, str]:
    obj = http.get(path).json()
    return {e["manager"]: e["operation"] for e in obj["metadata"].get("managedFields", [])}


# --- apply -------------------------------------------------------------------------------


def test_apply_uses_default_validation_and_is_idempotent(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("app.yml", app_yaml(ns, node_port=31112))
    assert kubectl.ok("apply", "-f", f).lines == ["service/the-bus created", "pod/triskelion created"]
    assert kubectl.ok("apply", "-f", f).lines == ["service/the-bus unchanged", "pod/triskelion unchanged"]
    kubectl.write("app.yml", app_yaml(ns, node_port=31112, target_port=9090, labels="env: marvel\n    tier: web"))
    assert kubectl.ok("apply", "-f", f).lines == ["service/the-bus configured", "pod/triskelion configured"]
    svc = http.get(f"/api/v1/namespaces/{ns}/services/the-bus").json()
    assert svc["spec"]["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 9090, "nodePort": 31112}]
    assert managers(http, f"/api/v1/namespaces/{ns}/services/the-bus") == {"kubectl-client-side-apply": "Update"}
    pod = http.get(f"/api/v1/namespaces/{ns}/pods/triskelion").json()
    assert pod["metadata"]["labels"] == {"env": "marvel", "tier": "web"}


def test_apply_rejects_unknown_fields_strictly_and_warns_when_asked(kubectl: Kubectl, ns: str) -> None:
    f = kubectl.write("bad.yml", f"""\
apiVersion: v1
kind: Service
metadata:
  name: uf
  namespace: {ns}
spec:
  bogus: 1
  ports:
  - port: 80
""")
    r = kubectl("apply", "-f", f)
    assert r.code == 1
    assert r.err.strip() == ('Error from server (BadRequest): error when creating "bad.yml": '
                             'strict decoding error: unknown field "spec.bogus"')
    r = kubectl.ok("create", "-f", f, "--validate=warn")
    assert r.lines == ["service/uf created"]
    assert r.err.strip() == 'Warning: unknown field "spec.bogus"'


def test_apply_invalid_object_prints_field_errors(kubectl: Kubectl, ns: str) -> None:
    f = kubectl.write("inv.yml", f"apiVersion: v1\nkind: Service\nmetadata:\n  name: inv\n  namespace: {ns}\n"
                                 "spec:\n  type: ClusterIP\n")
    r = kubectl("apply", "-f", f)
    assert r.code == 1
    assert r.err.strip() == 'The Service "inv" is invalid: spec.ports: Required value'


def test_server_side_apply_conflicts_and_force(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("app.yml", app_yaml(ns, node_port=31113))
    assert kubectl.ok("apply", "--server-side", "-f", f).lines == [
        "service/the-bus serverside-applied", "pod/triskelion serverside-applied"]
    path = f"/api/v1/namespaces/{ns}/services/the-bus"
    assert managers(http, path) == {"kubectl": "Apply"}
    entry = http.get(path).json()["metadata"]["managedFields"][0]
    assert entry["fieldsV1"] == {"f:spec": {
        "f:ports": {'k:{"port":8080,"protocol":"TCP"}': {".": {}, "f:nodePort": {}, "f:port": {}, "f:targetPort": {}}},
        "f:selector": {}, "f:type": {}}}
    kubectl.write("app.yml", app_yaml(ns, node_port=31113, target_port=7070))
    r = kubectl("apply", "--server-side", "--field-manager=other", "-f", f)
    assert r.code == 1
    assert r.err.splitlines()[0] == ('error: Apply failed with 1 conflict: conflict with "kubectl": '
                                     '.spec.ports[port=8080,protocol="TCP"].targetPort')
    assert kubectl.ok("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", f).lines == [
        "service/the-bus serverside-applied", "pod/triskelion serverside-applied"]
    assert http.get(path).json()["spec"]["ports"][0]["targetPort"] == 7070
    assert managers(http, path) == {"kubectl": "Apply", "other": "Apply"}


def test_server_side_apply_removes_fields_no_longer_applied(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("app.yml", app_yaml(ns, node_port=31114, labels="env: marvel\n    tier: web"))
    kubectl.ok("apply", "--server-side", "-f", f)
    kubectl.write("app.yml", app_yaml(ns, node_port=31114))
    kubectl.ok("apply", "--server-side", "-f", f)
    pod = http.get(f"/api/v1/namespaces/{ns}/pods/triskelion").json()
    assert pod["metadata"]["labels"] == {"env": "marvel"}


# --- get ----------------------------------------------------------------------------------


def _endpoints_objects(http: httpx.Client, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/endpoints", json={
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "the-bus"},
        "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    assert r.status_code == 201, r.text
    r = http.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", json={
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "the-bus-abcde", "labels": {"kubernetes.io/service-name": "the-bus"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]})
    assert r.status_code == 201, r.text


def test_get_wide_tables(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31115)))
    _endpoints_objects(http, ns)
    out = kubectl.ok("get", "svc,pods,endpoints,endpointslices", "-n", ns, "-o", "wide").out
    assert rows(out) == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
        ["service/the-bus", "NodePort", "<pending>", "<none>", "8080:31115/TCP", "<age>", "env=marvel"],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"],
        ["pod/triskelion", "0/1", "Pending", "0", "<age>", "<none>", "<none>", "<none>", "<none>"],
        ["NAME", "ENDPOINTS", "AGE"],
        ["endpoints/the-bus", "10.244.1.5:8080", "<age>"],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        ["endpointslice.discovery.k8s.io/the-bus-abcde", "IPv4", "8080", "10.244.1.5", "<age>"],
    ]
    assert out.splitlines()[0].startswith("NAME              TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)")


def test_get_label_selector_all_namespaces_show_labels(kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31116)))
    out = kubectl.ok("get", "pods", "-l", "env in (marvel,dc),env!=marvel", "-A").out
    assert all(ns not in line for line in out.splitlines())
    out = kubectl.ok("get", "pods", "-l", "env in (marvel,dc)", "-A", "--show-labels").out
    mine = [r for r in rows(out) if r[0] == ns]
    assert rows(out)[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    assert mine == [[ns, "triskelion", "0/1", "Pending", "0", "<age>", "env=marvel"]]
    r = kubectl("get", "pods", "-l", "env in (nobody)", "-n", ns)
    assert (r.code, r.out, r.err.strip()) == (0, "", f"No resources found in {ns} namespace.")


def test_get_watch_prints_table_rows(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31117)))
    proc = subprocess.Popen(kubectl.argv("get", "svc", "-n", ns, "-w"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=kubectl.env)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        got = [lines.get(timeout=20), lines.get(timeout=20)]
        r = http.post(f"/api/v1/namespaces/{ns}/services", json={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "w1"},
            "spec": {"ports": [{"port": 81}]}})
        assert r.status_code == 201
        got.append(lines.get(timeout=20))
        http.patch(f"/api/v1/namespaces/{ns}/services/w1", json={"metadata": {"labels": {"a": "b"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
        got.append(lines.get(timeout=20))
    finally:
        proc.terminate()
        proc.wait(10)
    assert rows("\n".join(got)) == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["the-bus", "NodePort", "<pending>", "<none>", "8080:31117/TCP", "<age>"],
        ["w1", "ClusterIP", "<pending>", "<none>", "81/TCP", "<age>"],
        ["w1", "ClusterIP", "<pending>", "<none>", "81/TCP", "<age>"],
    ]


def test_get_all_all_namespaces(kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31118)))
    out = kubectl.ok("get", "all", "-A").out
    table = rows(out)
    assert table[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [ns, "pod/triskelion", "0/1", "Pending", "0", "<age>"] in table
    assert ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] in table
    assert [ns, "service/the-bus", "NodePort", "<pending>", "<none>", "8080:31118/TCP", "<age>"] in table
    assert ["default", "service/kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "<age>"] in table


def test_api_resources_and_version(kubectl: Kubectl) -> None:
    table = rows(kubectl.ok("api-resources").out)
    assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    for row in (["services", "svc", "v1", "true", "Service"], ["pods", "po", "v1", "true", "Pod"],
                ["namespaces", "ns", "v1", "false", "Namespace"], ["events", "ev", "v1", "true", "Event"],
                ["endpointslices", "discovery.k8s.io/v1", "true", "EndpointSlice"],
                ["leases", "coordination.k8s.io/v1", "true", "Lease"]):
        assert row in table
    out = kubectl.ok("version").lines
    assert out[0].startswith("Client Version: v1.32.4") and out[-1] == "Server Version: v1.32.4"


# --- describe, create, expose, label ---------------------------------------------------------


def test_describe_service(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("svc.yml", f"""\
apiVersion: v1
kind: Service
metadata:
  name: the-bus
  namespace: {ns}
spec:
  type: NodePort
  clusterIP: 10.96.200.17
  selector:
    env: marvel
  ports:
  - port: 8080
    nodePort: 31119
""")
    kubectl.ok("apply", "-f", f)
    _endpoints_objects(http, ns)
    svc = http.get(f"/api/v1/namespaces/{ns}/services/the-bus").json()
    r = http.post(f"/api/v1/namespaces/{ns}/events", json={
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "the-bus.1"},
        "involvedObject": {"kind": "Service", "namespace": ns, "name": "the-bus", "uid": svc["metadata"]["uid"],
                           "apiVersion": "v1"},
        "reason": "ClusterIPAllocated", "message": "Cluster IP [IPv4]: 10.96.200.17", "type": "Normal",
        "source": {"component": "ipallocator-controller"}, "count": 1,
        "firstTimestamp": svc["metadata"]["creationTimestamp"],
        "lastTimestamp": svc["metadata"]["creationTimestamp"]})
    assert r.status_code == 201, r.text
    lines = [re.sub(r"\s+", " ", line.strip()) for line in kubectl.ok("describe", "svc", "the-bus", "-n", ns).lines]
    for want in (f"Namespace: {ns}", "Selector: env=marvel", "Type: NodePort", "IP: 10.96.200.17",
                 "IPs: 10.96.200.17", "Port: <unset> 8080/TCP", "TargetPort: 8080/TCP", "NodePort: <unset> 31119/TCP",
                 "Endpoints: 10.244.1.5:8080", "Session Affinity: None", "External Traffic Policy: Cluster",
                 "Type Reason Age From Message"):
        assert want in lines, (want, lines)
    event = next(line for line in lines if line.startswith("Normal ClusterIPAllocated"))
    assert re.fullmatch(r"Normal ClusterIPAllocated \S+ ipallocator-controller Cluster IP \[IPv4\]: 10.96.200.17",
                        event)


def test_describe_pod_shows_scheduled_event(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31120)))
    r = http.post(f"/api/v1/namespaces/{ns}/pods/triskelion/binding", json={
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "triskelion"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
    assert r.status_code == 201
    lines = [re.sub(r"\s+", " ", line.strip()) for line in kubectl.ok("describe", "pod", "triskelion", "-n", ns).lines]
    assert "Node: node-1" in lines or any(line.startswith("Node: node-1") for line in lines)
    assert any(re.fullmatch(rf"Normal Scheduled \S+ default-scheduler Successfully assigned {ns}/triskelion to "
                            r"node-1", line) for line in lines), lines


def test_create_service_and_namespace_protobuf(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    name = f"{ns}-x"
    assert kubectl.ok("create", "namespace", name).lines == [f"namespace/{name} created"]
    assert http.get(f"/api/v1/namespaces/{name}").json()["status"] == {"phase": "Active"}
    assert kubectl.ok("create", "service", "nodeport", "skippy", "--tcp=8080:8080", "--node-port=30050",
                      "-n", ns).lines == ["service/skippy created"]
    svc = http.get(f"/api/v1/namespaces/{ns}/services/skippy").json()
    assert svc["spec"]["ports"] == [{"name": "8080-8080", "protocol": "TCP", "port": 8080, "targetPort": 8080,
                                     "nodePort": 30050}]
    assert svc["spec"]["selector"] == {"app": "skippy"}
    r = kubectl("create", "namespace", name)
    assert (r.code, r.err.strip()) == (1, f'Error from server (AlreadyExists): namespaces "{name}" already exists')


def test_expose_label_annotate(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31121)))
    assert kubectl.ok("expose", "pod", "triskelion", "-n", ns, "--port", "80", "--name", "bus-80").lines == [
        "service/bus-80 exposed"]
    svc = http.get(f"/api/v1/namespaces/{ns}/services/bus-80").json()
    assert svc["spec"]["selector"] == {"env": "marvel"}
    assert svc["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 80}]
    assert kubectl.ok("label", "pod", "triskelion", "-n", ns, "ver=v1").lines == ["pod/triskelion labeled"]
    assert kubectl.ok("annotate", "svc", "the-bus", "-n", ns, "note=x").lines == ["service/the-bus annotated"]
    pod_path = f"/api/v1/namespaces/{ns}/pods/triskelion"
    assert http.get(pod_path).json()["metadata"]["labels"] == {"env": "marvel", "ver": "v1"}
    assert managers(http, pod_path) == {"kubectl-client-side-apply": "Update", "kubectl-label": "Update"}
    assert http.get(f"/api/v1/namespaces/{ns}/services/the-bus").json()["metadata"]["annotations"]["note"] == "x"
    r = kubectl("label", "pod", "triskelion", "-n", ns, "ver=v2")
    assert r.code == 1
    assert r.err.strip() == "error: 'ver' already has a value (v1), and --overwrite is false"
    assert kubectl.ok("label", "pod", "triskelion", "-n", ns, "ver-").lines == ["pod/triskelion unlabeled"]
    assert http.get(pod_path).json()["metadata"]["labels"] == {"env": "marvel"}


# --- wait, delete ---------------------------------------------------------------------------


def _set_ready(http: httpx.Client, path: str, delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        pod = http.get(path).json()
        pod["status"]["phase"] = "Running"
        pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
        r = http.put(path + "/status", json=pod)
        assert r.status_code == 200, r.text

    t = threading.Thread(target=run)
    t.start()
    return t


def test_wait_for_condition_ready(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31122)))
    r = kubectl("wait", "--for=condition=Ready", "pod/triskelion", "-n", ns, "--timeout=1s")
    assert (r.code, r.err.strip()) == (1, "error: timed out waiting for the condition on pods/triskelion")
    t = _set_ready(http, f"/api/v1/namespaces/{ns}/pods/triskelion", 1.0)
    r = kubectl.ok("wait", "--for=condition=Ready", "pod/triskelion", "-n", ns, "--timeout=30s")
    t.join()
    assert r.lines == ["pod/triskelion condition met"]
    assert rows(kubectl.ok("get", "pod", "triskelion", "-n", ns).out)[1][:3] == ["triskelion", "0/1", "Running"]


def test_graceful_delete_and_wait_for_delete(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31123)))
    path = f"/api/v1/namespaces/{ns}/pods/triskelion"
    r = http.post(path + "/binding", json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "triskelion"},
                                           "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
    assert r.status_code == 201
    # A bound pod terminates gracefully: it stays, Terminating, until its node (here: us) confirms.
    assert kubectl.ok("delete", "pod", "triskelion", "-n", ns, "--wait=false").lines == ['pod "triskelion" deleted']
    pod = http.get(path).json()
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30 and pod["metadata"]["deletionTimestamp"]
    assert rows(kubectl.ok("get", "pod", "triskelion", "-n", ns).out)[1][2] == "Terminating"

    def node_agent() -> None:
        time.sleep(1.0)
        http.request("DELETE", path, json={"gracePeriodSeconds": 0})

    t = threading.Thread(target=node_agent)
    t.start()
    waited = kubectl.ok("wait", "--for=delete", "pod/triskelion", "-n", ns, "--timeout=30s")
    t.join()
    assert waited.lines == ["pod/triskelion condition met"]
    assert http.get(path).status_code == 404


# --- edit, replace, delete -f, errors ---------------------------------------------------------


def test_edit_with_editor_script(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31124)))
    editor = kubectl.tmp / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/env: marvel/env: dc/' \"$1\"\n")
    editor.chmod(0o755)
    r = kubectl("edit", "svc", "the-bus", "-n", ns, env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)})
    assert (r.code, r.lines) == (0, ["service/the-bus edited"]), r.err
    path = f"/api/v1/namespaces/{ns}/services/the-bus"
    assert http.get(path).json()["spec"]["selector"] == {"env": "dc"}
    assert managers(http, path) == {"kubectl-client-side-apply": "Update", "kubectl-edit": "Update"}
    noop = kubectl.tmp / "noop.sh"
    noop.write_text("#!/bin/sh\ntrue\n")
    noop.chmod(0o755)
    r = kubectl("edit", "svc", "the-bus", "-n", ns, env={"EDITOR": str(noop), "KUBE_EDITOR": str(noop)})
    assert (r.code, r.err.strip()) == (0, "Edit cancelled, no changes made.")


def test_replace_and_conflict(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("app.yml", app_yaml(ns, node_port=31125))
    kubectl.ok("create", "-f", f)
    assert kubectl.ok("replace", "-f", f).lines == ["service/the-bus replaced", "pod/triskelion replaced"]
    stale = kubectl.write("stale.yml", f"""\
apiVersion: v1
kind: Service
metadata:
  name: the-bus
  namespace: {ns}
  resourceVersion: "1"
spec:
  ports:
  - port: 8080
""")
    r = kubectl("replace", "-f", stale)
    assert r.code == 1
    assert r.err.strip() == ('Error from server (Conflict): error when replacing "stale.yml": Operation cannot be '
                             'fulfilled on services "the-bus": the object has been modified; please apply your '
                             'changes to the latest version and try again')
    r = kubectl("create", "-f", f)
    assert r.code == 1
    assert r.err.strip().splitlines() == [
        'Error from server (AlreadyExists): error when creating "app.yml": services "the-bus" already exists',
        'Error from server (AlreadyExists): error when creating "app.yml": pods "triskelion" already exists',
    ]


def test_delete_f_and_not_found(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    f = kubectl.write("app.yml", app_yaml(ns, node_port=31126))
    kubectl.ok("apply", "-f", f)
    assert kubectl.ok("delete", "-f", f).lines == ['service "the-bus" deleted', 'pod "triskelion" deleted']
    assert http.get(f"/api/v1/namespaces/{ns}/services/the-bus").status_code == 404
    r = kubectl("get", "svc", "the-bus", "-n", ns)
    assert (r.code, r.err.strip()) == (1, 'Error from server (NotFound): services "the-bus" not found')
    r = kubectl("delete", "svc", "the-bus", "-n", ns)
    assert (r.code, r.err.strip()) == (1, 'Error from server (NotFound): services "the-bus" not found')
    r = kubectl("delete", "-f", f)
    assert r.code == 1
    assert 'Error from server (NotFound): error when deleting "app.yml": services "the-bus" not found' in r.err


def test_delete_by_label(kubectl: Kubectl, http: httpx.Client, ns: str) -> None:
    kubectl.ok("apply", "-f", kubectl.write("app.yml", app_yaml(ns, node_port=31127)))
    kubectl.ok("run", "nginx", "--image=nginx", "-l", "env=dc", "-n", ns)
    pod: dict[str, Any] = http.get(f"/api/v1/namespaces/{ns}/pods/nginx").json()
    assert pod["spec"]["containers"][0]["image"] == "nginx"
    out = kubectl.ok("delete", "pods", "-l", "env in (marvel,dc)", "-n", ns).lines
    assert sorted(out) == ['pod "nginx" deleted', 'pod "triskelion" deleted']
