"""Updates without a resourceVersion precondition, as kube-apiserver's Store.Update treats them.

Why: a PUT whose metadata.resourceVersion is "" (absent) or "0" (both parse to
0) is an unconditional update for the kinds whose registry strategy says
AllowUnconditionalUpdate (Pods, Services, Nodes, Namespaces, Deployments...):
it writes over whatever is stored. Leases do not allow it: 422 "must be
specified for an update". Any other version is a precondition (409 when stale).
``kubectl replace`` of a file holding resourceVersion "0" must therefore work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess, running_apiserver
from tests.test_kubectl_e2e import Kubectl

MERGE = {"content-type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("unconditional")) as srv:
        yield srv


@pytest.fixture
def http(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def _node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def _lease(name: str, holder: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": holder}}


@pytest.mark.parametrize("rv", [None, "", "0"])
def test_unconditional_update_of_a_kind_that_allows_it(http: httpx.Client, rv: str | None) -> None:
    name = f"uncond-{rv if rv else 'absent' if rv is None else 'empty'}"
    assert http.post("/api/v1/nodes", json=_node(name)).status_code == 201
    # Another writer changes the Node after we read it: our copy is stale, yet the write goes through.
    stale = http.get(f"/api/v1/nodes/{name}").json()
    r = http.patch(f"/api/v1/nodes/{name}", json={"metadata": {"labels": {"other": "writer"}}}, headers=MERGE)
    assert r.status_code == 200
    newest = r.json()["metadata"]["resourceVersion"]
    if rv is None:
        stale["metadata"].pop("resourceVersion")
    else:
        stale["metadata"]["resourceVersion"] = rv
    stale["metadata"]["labels"] = {"mine": "yes"}
    r = http.put(f"/api/v1/nodes/{name}", json=stale)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"]["labels"] == {"mine": "yes"}
    assert int(body["metadata"]["resourceVersion"]) > int(newest)
    assert http.get(f"/api/v1/nodes/{name}").json()["metadata"]["labels"] == {"mine": "yes"}


def test_a_stale_resource_version_is_still_a_conflict(http: httpx.Client) -> None:
    assert http.post("/api/v1/nodes", json=_node("uncond-stale")).status_code == 201
    stale = http.get("/api/v1/nodes/uncond-stale").json()
    http.patch("/api/v1/nodes/uncond-stale", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    r = http.put("/api/v1/nodes/uncond-stale", json=stale)
    assert r.status_code == 409
    assert r.json()["message"] == ('Operation cannot be fulfilled on nodes "uncond-stale": the object has been '
                                   "modified; please apply your changes to the latest version and try again")


@pytest.mark.parametrize("rv", [None, "0"])
def test_leases_do_not_allow_unconditional_updates(http: httpx.Client, rv: str | None) -> None:
    name = f"lease-{rv or 'absent'}"
    url = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    assert http.post(url, json=_lease(name, "a")).status_code == 201
    body = _lease(name, "b")
    if rv is not None:
        body["metadata"]["resourceVersion"] = rv
    r = http.put(f"{url}/{name}", json=body)
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["message"] == (f'leases.coordination.k8s.io "{name}" is invalid: metadata.resourceVersion: '
                                 "Invalid value: 0x0: must be specified for an update")
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                            "message": "Invalid value: 0x0: must be specified for an update"}]
    assert http.get(f"{url}/{name}").json()["spec"]["holderIdentity"] == "a"
    # With the current version the same write is fine.
    body["metadata"]["resourceVersion"] = http.get(f"{url}/{name}").json()["metadata"]["resourceVersion"]
    assert http.put(f"{url}/{name}", json=body).status_code == 200


def test_a_patch_setting_resource_version_zero_is_unconditional(http: httpx.Client) -> None:
    assert http.post("/api/v1/nodes", json=_node("uncond-patch")).status_code == 201
    r = http.patch("/api/v1/nodes/uncond-patch", json={"metadata": {"resourceVersion": "0", "labels": {"p": "1"}}},
                   headers=MERGE)
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"p": "1"}
    r = http.patch("/api/v1/nodes/uncond-patch", json={"metadata": {"resourceVersion": "1", "labels": {"p": "2"}}},
                   headers=MERGE)
    assert r.status_code == 409
    url = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    assert http.post(url, json=_lease("lease-patch", "a")).status_code == 201
    r = http.patch(f"{url}/lease-patch", json={"metadata": {"resourceVersion": None}}, headers=MERGE)
    assert r.status_code == 422 and "must be specified for an update" in r.json()["message"]


def test_a_malformed_resource_version_is_invalid(http: httpx.Client) -> None:
    assert http.post("/api/v1/nodes", json=_node("uncond-bad")).status_code == 201
    body = _node("uncond-bad")
    body["metadata"]["resourceVersion"] = "abc"
    r = http.put("/api/v1/nodes/uncond-bad", json=body)
    assert r.status_code == 422
    assert r.json()["message"] == (' "" is invalid: resourceVersion: Invalid value: "abc": strconv.ParseUint: '
                                   'parsing "abc": invalid syntax')


def test_kubectl_replace_of_objects_without_a_usable_resource_version(server: ApiServerProcess,
                                                                      tmp_path: Path) -> None:
    kubectl = Kubectl(server, tmp_path)
    kubectl.ok("create", "namespace", "replace-me")
    kubectl.ok("create", "service", "clusterip", "web", "--tcp=80", "-n", "replace-me")
    # A Node as listed at resourceVersion "0", then changed by someone else: replace still works.
    assert httpx.post(server.url + "/api/v1/nodes", json=_node("replace-node")).status_code == 201
    httpx.patch(server.url + "/api/v1/nodes/replace-node", json={"metadata": {"labels": {"x": "1"}}},
                headers=MERGE)
    node = kubectl.write("node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: replace-node\n"
                                      '  resourceVersion: "0"\n  labels:\n    role: edge\n')
    assert kubectl.ok("replace", "-f", node).lines == ["node/replace-node replaced"]
    assert kubectl.ok("get", "node", "replace-node", "-o", "jsonpath={.metadata.labels.role}").out == "edge"
    # A Service from a file without any resourceVersion (as written by hand).
    svc = kubectl.write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
                                    "  namespace: replace-me\n  labels:\n    tier: front\nspec:\n"
                                    "  ports:\n  - port: 80\n    name: \"80\"\n")
    assert kubectl.ok("replace", "-f", svc).lines == ["service/web replaced"]
    assert kubectl.ok("get", "svc", "web", "-n", "replace-me",
                      "-o", "jsonpath={.metadata.labels.tier}").out == "front"
