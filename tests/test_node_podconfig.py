"""Pods consume configuration, end to end: real processes read ConfigMaps and Secrets from their environment
and from volume files, follow ConfigMap changes, and wait in CreateContainerConfigError until a missing
ConfigMap appears (the simulated runtime tells the same story without processes); ``kctl env`` shows it all."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_kctl
from tests.conftest import ApiServerProcess, free_port, start_apiserver
from tests.test_deployments_e2e import Cluster
from tests.test_kctl import Runner, new_namespace

home = test_kctl.home
http = test_kctl.http
kctl = test_kctl.kctl

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
PROCESS_NODE = "config-1"
SIMULATED_NODE = "config-sim"
SECRET_VALUE = "s3cret-Zq7"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("podconfig-root")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("podconfig")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        common = ["--kubelet-port", str(free_port()), "--no-leader-elect"]
        c.spawn("node", "node", "--name", PROCESS_NODE, "--pod-cidr", "127.15.1.0/24", "--node-ip", "127.0.0.1",
                "--runtime", "process", "--root-dir", str(root), *common)
        c.spawn("sim", "node", "--name", SIMULATED_NODE, "--pod-cidr", "10.15.2.0/24", "--node-ip", "127.0.0.1",
                "--kubelet-port", str(free_port()), "--no-leader-elect")
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> ApiServerProcess:
    """What test_kctl's fixtures (home, http, kctl) talk to."""
    return cluster.api


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def create(http: httpx.Client, path: str, obj: Obj) -> Obj:
    r = http.post(path, json=obj)
    assert r.status_code == 201, r.text
    body: Obj = r.json()
    return body


def configmap(name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


SCRIPT = """
import os, pathlib, time
print("GREETING=" + os.environ.get("GREETING", "<unset>"), flush=True)
print("FROM_PREFIX=" + os.environ.get("CFG_greeting", "<unset>"), flush=True)
print("PASSWORD_ENV=" + str(os.environ.get("PASSWORD") == os.environ.get("EXPECTED")), flush=True)
creds = pathlib.Path(os.environ["KUBELITE_VOLUME_CREDS"])
print("PASSWORD_FILE=" + str((creds / "password").read_text() == os.environ.get("EXPECTED")), flush=True)
cfg = pathlib.Path(os.environ["KUBELITE_VOLUME_CONFIG"])
pinned = pathlib.Path(os.environ["KUBELITE_VOLUME_PINNED"])
last = None
while True:
    now = ((cfg / "conf.txt").read_text(), pinned.read_text())
    if now != last:
        print("CONF=%s PINNED=%s" % now, flush=True)
        last = now
    time.sleep(0.2)
"""


def process_pod(name: str, **container: Any) -> Obj:
    c: Obj = {"name": "app", "image": "python", "command": [sys.executable, "-c", SCRIPT], **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": PROCESS_NODE, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [c],
                     "volumes": [{"name": "config", "configMap": {"name": "app-config"}},
                                 {"name": "pinned", "configMap": {"name": "app-config"}},
                                 {"name": "creds", "secret": {"secretName": "app-secret"}}]}}


def log_of(http: httpx.Client, ns: str, name: str) -> str:
    r = http.get(f"/api/v1/namespaces/{ns}/pods/{name}/log")
    return r.text if r.status_code == 200 else ""


def waiting(http: httpx.Client, ns: str, name: str) -> Obj:
    pod = http.get(f"/api/v1/namespaces/{ns}/pods/{name}").json()
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        w = (s.get("state") or {}).get("waiting")
        if w:
            return dict(w)
    return {}


def phase(http: httpx.Client, ns: str, name: str) -> str:
    return str((http.get(f"/api/v1/namespaces/{ns}/pods/{name}").json().get("status") or {}).get("phase") or "")


def events(http: httpx.Client, ns: str) -> list[Obj]:
    return list(http.get(f"/api/v1/namespaces/{ns}/events").json()["items"])


def test_a_process_reads_a_configmap_and_a_secret_and_follows_configmap_changes(
        http: httpx.Client, cluster: Cluster, root: Path, kctl: Runner) -> None:
    ns = new_namespace(http, "podcfg")
    create(http, f"/api/v1/namespaces/{ns}/configmaps", configmap("app-config", {"greeting": "hello",
                                                                                 "conf.txt": "v1"}))
    create(http, f"/api/v1/namespaces/{ns}/secrets",
           {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret"},
            "stringData": {"password": SECRET_VALUE}})
    pod = process_pod(
        "reader",
        env=[{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "greeting"}}},
             {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}},
             {"name": "EXPECTED", "value": SECRET_VALUE},
             {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}}],
        envFrom=[{"configMapRef": {"name": "app-config"}, "prefix": "CFG_"}],
        volumeMounts=[{"name": "config", "mountPath": "/etc/config"},
                      {"name": "pinned", "mountPath": "/etc/pinned.txt", "subPath": "conf.txt"},
                      {"name": "creds", "mountPath": "/etc/creds", "readOnly": True}])
    uid = create(http, f"/api/v1/namespaces/{ns}/pods", pod)["metadata"]["uid"]
    text = eventually(lambda: (t := log_of(http, ns, "reader")) and "CONF=" in t and t, "the process's output")
    assert "GREETING=hello" in text and "FROM_PREFIX=hello" in text
    assert "PASSWORD_ENV=True" in text and "PASSWORD_FILE=True" in text
    assert "CONF=v1 PINNED=v1" in text

    # the kubelet's layout: ..data -> a timestamped directory; the visible names link through it
    vol = root / "pods" / uid / "volumes" / "kubernetes.io~configmap" / "config"
    assert os.readlink(vol / "..data").startswith("..") and os.readlink(vol / "conf.txt") == "..data/conf.txt"
    secret_file = root / "pods" / uid / "volumes" / "kubernetes.io~secret" / "creds" / "password"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o644  # defaultMode 420, as kube
    assert stat.S_IMODE((root / "pods" / uid / "volumes").stat().st_mode) == 0o700  # other users stay out

    r = http.patch(f"/api/v1/namespaces/{ns}/configmaps/app-config", json={"data": {"conf.txt": "v2"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    text = eventually(lambda: (t := log_of(http, ns, "reader")) and "CONF=v2" in t and t, "the updated file", 30)
    assert "CONF=v2 PINNED=v1" in text  # a subPath mount is not updated, as the kubelet's bind mount

    out = kctl("env", "pod/reader", "-n", ns)
    assert out.code == 0, out.err
    lines = out.out.splitlines()
    assert "GREETING=hello" in lines and "CFG_greeting=hello" in lines and "CFG_conf.txt=v2" in lines
    assert "PASSWORD=<secret app-secret key password>" in lines
    assert not any(line.startswith("MISSING=") for line in lines)  # optional and missing: skipped
    assert any(line.startswith("KUBERNETES_SERVICE_HOST=") for line in lines)  # beside the Service variables
    assert SECRET_VALUE not in out.out.replace(f"EXPECTED={SECRET_VALUE}", "")

    everything = json.dumps(events(http, ns)) + cluster.logs()
    assert SECRET_VALUE not in everything


@pytest.mark.parametrize("node", [PROCESS_NODE, SIMULATED_NODE])
def test_a_missing_configmap_keeps_the_container_waiting_until_it_exists(http: httpx.Client, node: str,
                                                                          kctl: Runner) -> None:
    ns = new_namespace(http, "late")
    c: Obj = {"name": "app", "image": "python", "command": [sys.executable, "-c",
                                                             "import os, time; print('VALUE=' + os.environ['V'], "
                                                             "flush=True); time.sleep(600)"],
              "env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "k"}}}]}
    create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [c]}})
    w = eventually(lambda: waiting(http, ns, "p").get("reason") == "CreateContainerConfigError"
                   and waiting(http, ns, "p"), "CreateContainerConfigError")
    assert w["message"] == 'configmap "late" not found'
    assert phase(http, ns, "p") == "Pending"
    table = kctl("get", "pod", "p", "-n", ns)
    assert table.code == 0 and table.out.split("\n")[1].split()[2] == "CreateContainerConfigError", table.out
    failed = eventually(lambda: [e for e in events(http, ns) if e.get("reason") == "Failed"], "a Failed Event")
    assert failed[0]["type"] == "Warning" and failed[0]["message"] == 'Error: configmap "late" not found'
    assert failed[0]["source"]["component"] == "kubelet"

    create(http, f"/api/v1/namespaces/{ns}/configmaps", configmap("late", {"other": "x"}))
    eventually(lambda: waiting(http, ns, "p").get("message") == f"couldn't find key k in ConfigMap {ns}/late",
               "the missing key's message")

    r = http.patch(f"/api/v1/namespaces/{ns}/configmaps/late", json={"data": {"k": "finally"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    eventually(lambda: phase(http, ns, "p") == "Running", "the container to start")
    assert waiting(http, ns, "p") == {}
    if node == PROCESS_NODE:
        eventually(lambda: "VALUE=finally" in log_of(http, ns, "p"), "the value in the process's environment")


def test_a_missing_volume_source_is_a_failed_mount(http: httpx.Client) -> None:
    ns = new_namespace(http, "mount")
    create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m"},
        "spec": {"nodeName": PROCESS_NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "app", "image": "python",
                                 "command": [sys.executable, "-c", "import time; time.sleep(600)"],
                                 "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}],
                 "volumes": [{"name": "cfg", "configMap": {"name": "absent"}}]}})
    ev = eventually(lambda: [e for e in events(http, ns) if e.get("reason") == "FailedMount"], "FailedMount")
    assert ev[0]["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'
    assert waiting(http, ns, "m").get("reason") == "ContainerCreating"
    create(http, f"/api/v1/namespaces/{ns}/configmaps", configmap("absent", {"a": "b"}))
    eventually(lambda: phase(http, ns, "m") == "Running", "the container to start once the ConfigMap exists")


def test_bad_references_are_422_with_kubes_causes(http: httpx.Client) -> None:
    ns = new_namespace(http, "bad")
    r = http.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},
        "spec": {"containers": [{"name": "app", "image": "nginx",
                                 "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg"}}}],
                                 "envFrom": [{"prefix": "P_"}]}],
                 "volumes": [{"name": "v", "secret": {"defaultMode": 1000}}]}})
    assert r.status_code == 422, r.text
    causes = [(c["field"], c["message"]) for c in r.json()["details"]["causes"]]
    assert ("spec.volumes[0].secret.secretName", "Required value") in causes
    assert ("spec.volumes[0].secret.defaultMode",
            "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive") in causes
    assert ("spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "Required value") in causes
    assert ("spec.containers[0].envFrom",
            'Invalid value: "": must specify one of: `configMapRef` or `secretRef`') in causes


def test_a_downward_api_file_follows_the_pods_labels(http: httpx.Client) -> None:
    ns = new_namespace(http, "dapi")
    script = ("import os, pathlib, time\n"
              "f = pathlib.Path(os.environ['KUBELITE_VOLUME_INFO']) / 'labels'\n"
              "last = None\n"
              "while True:\n"
              "    now = f.read_text()\n"
              "    if now != last:\n"
              "        print('LABELS=' + now.replace('\\n', ','), flush=True)\n"
              "        last = now\n"
              "    time.sleep(0.2)\n")
    create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "d", "labels": {"tier": "web"}},
        "spec": {"nodeName": PROCESS_NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "app", "image": "python", "command": [sys.executable, "-c", script],
                                 "volumeMounts": [{"name": "info", "mountPath": "/etc/podinfo"}]}],
                 "volumes": [{"name": "info", "downwardAPI": {"items": [
                     {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}})
    eventually(lambda: 'LABELS=tier="web"' in log_of(http, ns, "d"), "the labels file")
    r = http.patch(f"/api/v1/namespaces/{ns}/pods/d", json={"metadata": {"labels": {"zone": "a"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    eventually(lambda: 'LABELS=tier="web",zone="a"' in log_of(http, ns, "d"), "the updated labels file", 30)
