"""``kubectl apply --prune -l ...`` with kubectl's default allowlist, and ``kubectl get all``, against a real server.

kubectl 1.32's default prune allowlist names 16 kinds; before pruning, kubectl
resolves a REST mapping for every one of them through discovery and stops with
``no matches for kind`` at the first one the server does not serve. The test
derives what is served from discovery: when every allowlisted kind is served,
it asserts the whole prune; otherwise it asserts that kubectl's error names a
missing kind and that every missing kind is one of the workload kinds added
elsewhere (KINDS_ADDED_ELSEWHERE), so the gap cannot silently grow. The prune
itself is also asserted today with an explicit ``--prune-allowlist`` of the
served allowlisted kinds.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import ApiServerProcess, running_apiserver

# kubectl 1.32's default prune allowlist: (group, version, kind)
DEFAULT_ALLOWLIST = [
    ("", "v1", "ConfigMap"), ("", "v1", "Endpoints"), ("", "v1", "Namespace"), ("", "v1", "PersistentVolumeClaim"),
    ("", "v1", "PersistentVolume"), ("", "v1", "Pod"), ("", "v1", "ReplicationController"), ("", "v1", "Secret"),
    ("", "v1", "Service"), ("batch", "v1", "Job"), ("batch", "v1", "CronJob"),
    ("networking.k8s.io", "v1", "Ingress"), ("apps", "v1", "DaemonSet"), ("apps", "v1", "Deployment"),
    ("apps", "v1", "ReplicaSet"), ("apps", "v1", "StatefulSet"),
]
KINDS_ADDED_ELSEWHERE = {"ReplicationController", "Job", "CronJob", "StatefulSet", "DaemonSet"}
# kube's "all" category; HorizontalPodAutoscalers are not served by kubelite
ALL_CATEGORY = {"pods", "replicationcontrollers", "services", "daemonsets", "deployments", "replicasets",
                "statefulsets", "jobs", "cronjobs", "horizontalpodautoscalers"}

FILES = {
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {app: demo}}\ndata: {a: b}\n",
    "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s, labels: {app: demo}}\ndata: {a: Yg==}\n",
    "svc.yaml": ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: demo}}\n"
                 "spec: {selector: {app: demo}, ports: [{port: 80}]}\n"),
    "deploy.yaml": ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: demo}}\n"
                    "spec:\n  selector: {matchLabels: {app: demo}}\n  template:\n    metadata: {labels: {app: demo}}\n"
                    "    spec: {containers: [{name: c, image: nginx}]}\n"),
}
# the served kinds of the allowlist added with this test: a claim and an Ingress
MORE = {
    "pvc.yaml": ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, labels: {app: demo}}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"),
    "ing.yaml": ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, labels: {app: demo}}\n"
                 "spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n"),
}
MORE_CREATED = ["persistentvolumeclaim/data created", "ingress.networking.k8s.io/web created"]
CREATED = ["deployment.apps/web created", "configmap/x created", "secret/s created", "service/web created"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """A server of its own: a default-allowlist prune also walks cluster-scoped kinds (Namespaces, PVs)."""
    with running_apiserver(tmp_path_factory.mktemp("prune")) as srv:
        yield srv


@pytest.fixture
def kube(server: ApiServerProcess, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    needs.kubectl()
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server.url}\n"
        "users:\n- name: k\n  user: {}\n"
        "contexts:\n- name: k\n  context:\n    cluster: k\n    user: k\n"
        "current-context: k\n"
    )
    yield {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}, tmp_path


def _kubectl(kube: tuple[dict[str, str], Path], *args: str) -> subprocess.CompletedProcess[str]:
    env, cwd = kube
    return subprocess.run([needs.kubectl(), f"--cache-dir={cwd / 'cache'}", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=90, check=False)


def _namespace(server: ApiServerProcess, name: str) -> None:
    r = httpx.post(server.url + "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": name}})
    assert r.status_code == 201, r.text


def _resources(server: ApiServerProcess) -> list[tuple[str, str, dict[str, Any]]]:
    """(group, version, APIResource) of every top-level resource discovery lists."""
    lists = [("", "v1", httpx.get(server.url + "/api/v1").json())]
    for group in httpx.get(server.url + "/apis").json()["groups"]:
        for version in group["versions"]:
            lists.append((group["name"], version["version"],
                          httpx.get(f"{server.url}/apis/{version['groupVersion']}").json()))
    return [(group, version, r) for group, version, doc in lists for r in doc["resources"] if "/" not in r["name"]]


def _served(server: ApiServerProcess) -> set[tuple[str, str, str]]:
    return {(group, version, r["kind"]) for group, version, r in _resources(server)}


def _write(directory: Path, names: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for name in names:
        (directory / name).write_text({**FILES, **MORE}[name])


def _get(server: ApiServerProcess, path: str) -> int:
    return httpx.get(server.url + path).status_code


def test_apply_prune_with_the_default_allowlist(server: ApiServerProcess, kube: tuple[dict[str, str], Path]) -> None:
    ns = "prune-default"
    _namespace(server, ns)
    directory = kube[1] / "manifests"
    _write(directory, list(FILES))
    missing = [kind for kind in DEFAULT_ALLOWLIST if kind not in _served(server)]

    r = _kubectl(kube, "-n", ns, "apply", "--prune", "-l", "app=demo", "-f", str(directory))
    assert sorted(r.stdout.splitlines()) == sorted(CREATED), r.stderr
    if missing:
        # kubectl stops at the first allowlisted kind it cannot map, after applying
        assert {kind for _, _, kind in missing} <= KINDS_ADDED_ELSEWHERE, missing
        assert r.returncode == 1
        named = [(g, v, k) for g, v, k in missing
                 if f'no matches for kind "{k}" in version "{g + "/" if g else ""}{v}"' in r.stderr]
        assert named, r.stderr
        return  # the prune itself: test_apply_prune_with_the_served_allowlisted_kinds
    assert r.returncode == 0, r.stderr

    _write(directory, ["secret.yaml", "svc.yaml", "deploy.yaml"])
    r = _kubectl(kube, "-n", ns, "apply", "--prune", "-l", "app=demo", "-f", str(directory))
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(["configmap/x pruned", "deployment.apps/web unchanged",
                                                    "secret/s unchanged", "service/web unchanged"])
    assert _get(server, f"/api/v1/namespaces/{ns}/configmaps/x") == 404
    assert _get(server, f"/api/v1/namespaces/{ns}/secrets/s") == 200


def test_apply_prune_with_the_served_allowlisted_kinds(server: ApiServerProcess,
                                                       kube: tuple[dict[str, str], Path]) -> None:
    """The same prune, naming the served kinds of the default allowlist: works on every branch."""
    ns = "prune-explicit"
    _namespace(server, ns)
    served = _served(server)
    allow = [f"--prune-allowlist={g or 'core'}/{v}/{k}" for g, v, k in DEFAULT_ALLOWLIST if (g, v, k) in served]
    assert len(allow) >= len(DEFAULT_ALLOWLIST) - len(KINDS_ADDED_ELSEWHERE)
    directory = kube[1] / "manifests"
    _write(directory, list(FILES) + list(MORE))
    # an object without the label is never pruned
    made = httpx.post(f"{server.url}/api/v1/namespaces/{ns}/configmaps",
                      json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}})
    assert made.status_code == 201, made.text

    r = _kubectl(kube, "-n", ns, "apply", "--prune", "-l", "app=demo", *allow, "-f", str(directory))
    assert (r.returncode, sorted(r.stdout.splitlines())) == (0, sorted(CREATED + MORE_CREATED)), r.stderr

    _write(directory, ["secret.yaml", "svc.yaml", "deploy.yaml"])
    r = _kubectl(kube, "-n", ns, "apply", "--prune", "-l", "app=demo", *allow, "-f", str(directory))
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        "configmap/x pruned", "deployment.apps/web unchanged", "ingress.networking.k8s.io/web pruned",
        "persistentvolumeclaim/data pruned", "secret/s unchanged", "service/web unchanged"])
    assert _get(server, f"/api/v1/namespaces/{ns}/configmaps/x") == 404
    assert _get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data") == 404
    assert _get(server, f"/api/v1/namespaces/{ns}/configmaps/keep") == 200
    assert _get(server, f"/apis/apps/v1/namespaces/{ns}/deployments/web") == 200


def test_get_all(server: ApiServerProcess, kube: tuple[dict[str, str], Path]) -> None:
    """``kubectl get all`` lists the served members of kube's ``all`` category, and only those."""
    ns = "get-all"
    _namespace(server, ns)
    in_all = {r["name"] for _, _, r in _resources(server) if "all" in r.get("categories", [])}
    assert {"pods", "services", "deployments", "replicasets"} <= in_all <= ALL_CATEGORY
    directory = kube[1] / "manifests"
    _write(directory, ["svc.yaml", "cm.yaml"])
    assert _kubectl(kube, "-n", ns, "apply", "-f", str(directory)).returncode == 0

    r = _kubectl(kube, "-n", ns, "get", "all", "-o", "name")
    assert (r.returncode, r.stdout) == (0, "service/web\n"), r.stderr  # a ConfigMap is not in "all"
    r = _kubectl(kube, "-n", ns, "get", "all")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert row.startswith("service/web ")
