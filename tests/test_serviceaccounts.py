"""ServiceAccounts: the kind, the ``default`` account the serviceaccount controller keeps in every
namespace, and the ServiceAccount admission of Pods, as a user sees them (HTTP, kubectl, the
official Python client).

The shared test server runs the serviceaccount controller beside it (tests/conftest.py), as
kube-controller-manager runs beside kube-apiserver; a second server here runs without one, to
show the refusal kube-apiserver answers when the account is missing and the controller at work
when it is started as its own process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controllers.serviceaccount import missing_accounts
from tests.conftest import ApiServerProcess, run_kubectl, running_apiserver, stop_process

SA = "/api/v1/namespaces/{ns}/serviceaccounts"
PODS = "/api/v1/namespaces/{ns}/pods"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def _namespace(api: httpx.Client, name: str) -> None:
    r = api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text


def _wait_for(api: httpx.Client, path: str, *, present: bool = True, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(path)
        if (r.status_code == 200) == present:
            return r.json() if present else {}
        assert time.monotonic() < deadline, f"{path}: still {'absent' if present else 'present'}"
        time.sleep(0.05)


# --- the controller's rule (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(("namespace", "existing", "want"), [
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, set(), ["default"]),
    ({"metadata": {"name": "a"}}, set(), ["default"]),  # no status yet: a namespace starts Active
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, {"default"}, []),
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, {"builder"}, ["default"]),
    ({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}, set(), []),
    ({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, set(), []),
    (None, set(), []),
])
def test_missing_accounts(namespace: dict[str, Any] | None, existing: set[str], want: list[str]) -> None:
    assert missing_accounts(namespace, existing) == want


# --- through HTTP, with the controller running ------------------------------------------------------


def test_every_namespace_gets_a_default_account_and_keeps_it(api: httpx.Client, ns: str) -> None:
    sa = _wait_for(api, SA.format(ns=ns) + "/default")
    assert (sa["kind"], sa["apiVersion"], sa["metadata"]["namespace"]) == ("ServiceAccount", "v1", ns)
    assert "secrets" not in sa and "labels" not in sa["metadata"]
    assert api.delete(SA.format(ns=ns) + "/default").status_code == 200
    again = _wait_for(api, SA.format(ns=ns) + "/default")
    assert again["metadata"]["uid"] != sa["metadata"]["uid"]
    for system in ("default", "kube-system", "kube-public", "kube-node-lease"):
        _wait_for(api, SA.format(ns=system) + "/default")


def test_create_get_list_patch_delete(api: httpx.Client, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"},
            "secrets": [{"name": "s1"}], "imagePullSecrets": [{"name": "registry"}],
            "automountServiceAccountToken": False}
    r = api.post(SA.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["secrets"], r.json()["automountServiceAccountToken"]) == ([{"name": "s1"}], False)
    # secrets merge by name in a strategic merge patch
    r = api.patch(SA.format(ns=ns) + "/builder", content='{"secrets":[{"name":"s2"}]}',
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["secrets"] == [{"name": "s2"}, {"name": "s1"}]
    _wait_for(api, SA.format(ns=ns) + "/default")
    names = [i["metadata"]["name"] for i in api.get(SA.format(ns=ns)).json()["items"]]
    assert names == ["builder", "default"]
    table = api.get(SA.format(ns=ns), headers=TABLE).json()
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"), ("Secrets", "string"), ("Age", "string")]
    assert [row["cells"][:2] for row in table["rows"]] == [["builder", 2], ["default", 0]]
    assert api.delete(SA.format(ns=ns) + "/builder").status_code == 200
    assert api.get(SA.format(ns=ns) + "/builder").status_code == 404


def test_invalid_name(api: httpx.Client, ns: str) -> None:
    r = api.post(SA.format(ns=ns), json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "Bad_"}})
    assert r.status_code == 422
    assert r.json()["message"].startswith('ServiceAccount "Bad_" is invalid: metadata.name: Invalid value: "Bad_": '
                                          "a lowercase RFC 1123 subdomain")


def test_pods_run_as_default_and_copy_its_pull_secrets(api: httpx.Client, ns: str) -> None:
    _wait_for(api, SA.format(ns=ns) + "/default")
    r = api.post(PODS.format(ns=ns), json=_pod("plain"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    assert "imagePullSecrets" not in spec
    api.post(SA.format(ns=ns), json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"},
                                     "imagePullSecrets": [{"name": "registry"}]})
    # the deprecated serviceAccount names the account when serviceAccountName is empty
    r = api.post(PODS.format(ns=ns), json=_pod("pulls", serviceAccount="puller"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("puller", "puller")
    assert spec["imagePullSecrets"] == [{"name": "registry"}]
    # a Pod that lists its own pull secrets keeps them
    r = api.post(PODS.format(ns=ns), json=_pod("own", serviceAccountName="puller", imagePullSecrets=[{"name": "x"}]))
    assert r.json()["spec"]["imagePullSecrets"] == [{"name": "x"}]


def test_pod_naming_a_missing_account_is_forbidden(api: httpx.Client, ns: str) -> None:
    r = api.post(PODS.format(ns=ns), json=_pod("lost", serviceAccountName="ghost"))
    assert r.status_code == 403
    assert r.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'pods "lost" is forbidden: error looking up service account {ns}/ghost: '
                   'serviceaccount "ghost" not found',
        "reason": "Forbidden", "details": {"name": "lost", "kind": "pods"}, "code": 403,
    }
    # admission names a generateName Pod by its prefix (its name is not generated yet)
    body = _pod("")
    body["metadata"] = {"generateName": "gen-"}
    body["spec"]["serviceAccountName"] = "ghost"
    r = api.post(PODS.format(ns=ns), json=body)
    assert (r.status_code, r.json()["message"]) == (
        403, f'pods "gen-" is forbidden: error looking up service account {ns}/ghost: serviceaccount "ghost" not found')
    assert api.get(PODS.format(ns=ns)).json()["items"] == []


# --- without the controller, then with it as its own process ----------------------------------------


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """An API server with no serviceaccount controller beside it."""
    with running_apiserver(tmp_path_factory.mktemp("bare"), service_accounts=False) as srv:
        yield srv


def test_without_the_controller_pods_are_refused_until_it_runs(bare_server: ApiServerProcess,
                                                                tmp_path: Path) -> None:
    with httpx.Client(base_url=bare_server.url, timeout=30) as api:
        ns = f"bare-{os.getpid()}"
        _namespace(api, ns)
        # the default account is looked up again for a while (the controller may lag), then refused
        r = api.post(PODS.format(ns=ns), json=_pod("early"))
        assert r.status_code == 403
        assert r.json()["message"] == (f'pods "early" is forbidden: error looking up service account {ns}/default: '
                                       'serviceaccount "default" not found')
        assert api.get(SA.format(ns=ns)).json()["items"] == []

        log = tmp_path / "controller.log"
        proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "controller", "serviceaccount",
                                 "--server", bare_server.url, "--metrics-port", "0"],
                                stdout=log.open("ab"), stderr=subprocess.STDOUT)
        try:
            _wait_for(api, SA.format(ns=ns) + "/default")
            r = api.post(PODS.format(ns=ns), json=_pod("later"))
            assert r.status_code == 201, r.text
            # a namespace made while it runs gets its account too
            _namespace(api, ns + "-b")
            _wait_for(api, SA.format(ns=ns + "-b") + "/default")
        finally:
            stop_process(proc)
        assert proc.returncode == 0, log.read_text()[-2000:]


# --- kubectl and the Python client ------------------------------------------------------------------


def test_kubectl_create_and_get_sa(kubectl_env: dict[str, str], tmp_path: Path, api: httpx.Client, ns: str) -> None:
    _wait_for(api, SA.format(ns=ns) + "/default")
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "serviceaccount", "builder")
    assert (r.returncode, r.stdout) == (0, "serviceaccount/builder created\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "sa")
    assert r.returncode == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["NAME", "SECRETS", "AGE"]
    assert [row.split()[:2] for row in rows] == [["builder", "0"], ["default", "0"]]
    assert all(re.fullmatch(r"\S+\s+0\s+\d+s", row) for row in rows), rows
    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=", "--no-headers")
    assert ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"] in [line.split() for line in r.stdout.splitlines()]
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "run", "web", "--image=nginx", "--overrides",
                 '{"spec":{"serviceAccountName":"nobody"}}')
    assert r.returncode == 1
    assert r.stderr == (f'Error from server (Forbidden): pods "web" is forbidden: error looking up service account '
                        f'{ns}/nobody: serviceaccount "nobody" not found\n')
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "run", "web", "--image=nginx")
    assert (r.returncode, r.stdout) == (0, "pod/web created\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "pod", "web", "-o", "jsonpath={.spec.serviceAccountName}")
    assert r.stdout == "default"


def test_python_client_create_list_delete(apiserver: ApiServerProcess, ns: str) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    k8s = kubernetes.client
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as api_client:
        core = k8s.CoreV1Api(api_client)
        created = core.create_namespaced_service_account(
            ns, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="robot"),
                                     image_pull_secrets=[k8s.V1LocalObjectReference(name="reg")]))
        assert created.image_pull_secrets[0].name == "reg"
        deadline = time.monotonic() + 30
        while True:
            names = sorted(s.metadata.name for s in core.list_namespaced_service_account(ns).items)
            if names == ["default", "robot"]:
                break
            assert time.monotonic() < deadline, names
            time.sleep(0.05)
        core.delete_namespaced_service_account("robot", ns)
        assert [s.metadata.name for s in core.list_namespaced_service_account(ns).items] == ["default"]
