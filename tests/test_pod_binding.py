"""pods/binding through HTTP: ValidatePodBinding's 422s, and the one binding a pod accepts."""

from __future__ import annotations

import httpx


def _pod(api: httpx.Client, ns: str, name: str) -> str:
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert r.status_code == 201, r.text
    return f"/api/v1/namespaces/{ns}/pods/{name}"


def _bind(api: httpx.Client, path: str, target: dict[str, str]) -> httpx.Response:
    name = path.rsplit("/", 1)[1]
    return api.post(path + "/binding", json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                             "target": target})


def test_binding_to_a_kind_other_than_node_is_refused(api: httpx.Client, ns: str) -> None:
    path = _pod(api, ns, "bind-kind")
    r = _bind(api, path, {"apiVersion": "v1", "kind": "Pod", "name": "node-1"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'Binding "bind-kind" is invalid: target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"')
    assert api.get(path).json()["spec"].get("nodeName") is None


def test_binding_without_target_name_is_refused(api: httpx.Client, ns: str) -> None:
    path = _pod(api, ns, "bind-noname")
    r = _bind(api, path, {"kind": "Node"})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == 'Binding "bind-noname" is invalid: target.name: Required value'


def test_binding_with_empty_or_node_kind_sets_node_name_once(api: httpx.Client, ns: str) -> None:
    path = _pod(api, ns, "bind-ok")
    assert _bind(api, path, {"name": "node-1"}).status_code == 201
    assert api.get(path).json()["spec"]["nodeName"] == "node-1"
    r = _bind(api, path, {"kind": "Node", "name": "node-2"})
    assert r.status_code == 409
    assert r.json()["message"] == 'Operation cannot be fulfilled on pods "bind-ok": pod bind-ok is already assigned to node "node-1"'
