"""HTTP-level behaviour of the API server, as curl and clients see it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml


def svc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    body["spec"].update(spec)
    return body


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}


def test_version_and_health(api: httpx.Client) -> None:
    v = api.get("/version").json()
    assert (v["major"], v["minor"], v["gitVersion"]) == ("1", "32", "v1.32.4")
    for path in ("/healthz", "/livez", "/readyz"):
        assert api.get(path).text == "ok"


def test_system_namespaces_exist(api: httpx.Client) -> None:
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public"} <= names


def test_create_yaml_defaults_and_get(api: httpx.Client, ns: str) -> None:
    doc = yaml.safe_dump(svc("the-bus"))
    r = api.post(f"/api/v1/namespaces/{ns}/services", content=doc, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    created = r.json()
    meta = created["metadata"]
    assert meta["namespace"] == ns and meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert created["spec"]["type"] == "ClusterIP"
    assert created["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    got = api.get(f"/api/v1/namespaces/{ns}/services/the-bus").json()
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]


def test_generate_name(api: httpx.Client, ns: str) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    assert r.status_code == 201
    name = r.json()["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5


def test_already_exists_and_not_found_messages(api: httpx.Client, ns: str) -> None:
    assert api.post(f"/api/v1/namespaces/{ns}/services", json=svc("x")).status_code == 201
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("x"))
    assert r.status_code == 409
    st = r.json()
    assert (st["kind"], st["status"], st["reason"], st["code"]) == ("Status", "Failure", "AlreadyExists", 409)
    assert st["message"] == 'services "x" already exists'
    assert st["details"] == {"name": "x", "kind": "services"}
    r = api.get(f"/api/v1/namespaces/{ns}/services/nope")
    assert r.status_code == 404 and r.json()["message"] == 'services "nope" not found'
    r = api.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/nope")
    assert r.json()["message"] == 'leases.coordination.k8s.io "nope" not found'


def test_create_in_missing_namespace_is_404(api: httpx.Client) -> None:
    r = api.post("/api/v1/namespaces/does-not-exist/pods", json=pod("p"))
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "does-not-exist" not found'


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"ports": [{"port": 0, "targetPort": 80}]},
         'Service "bad" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive'),
        ({"ports": []}, 'Service "bad" is invalid: spec.ports: Required value'),
        ({"type": "Bogus"},
         'Service "bad" is invalid: spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", '
         '"ExternalName", "LoadBalancer", "NodePort"'),
        ({"ports": [{"port": 80, "nodePort": 30001}]},
         "Service \"bad\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
         "'ClusterIP'"),
        ({"ports": [{"port": 80, "protocol": "XTP"}]},
         'Service "bad" is invalid: spec.ports[0].protocol: Unsupported value: "XTP": supported values: '
         '"SCTP", "TCP", "UDP"'),
    ],
)
def test_service_validation_messages(api: httpx.Client, ns: str, spec: dict[str, Any], message: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("bad", **spec))
    assert r.status_code == 422, r.text
    st = r.json()
    assert st["reason"] == "Invalid" and st["details"]["kind"] == "Service" and st["details"]["name"] == "bad"
    assert st["message"] == message
    assert st["details"]["causes"]


def test_invalid_name_message(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("Bad_Name"))
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_pod_validation_message(api: httpx.Client, ns: str) -> None:
    body = pod("p")
    body["spec"]["containers"][0].pop("image")
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    assert r.status_code == 422
    assert r.json()["message"] == 'Pod "p" is invalid: spec.containers[0].image: Required value'


def test_type_error_is_400(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("x", ports=[{"port": "eighty"}]))
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"


def test_unknown_fields_warn_by_default_and_fail_when_strict(api: httpx.Client, ns: str) -> None:
    body = svc("u", bogus=1)
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=body)
    assert r.status_code == 201
    assert r.headers["warning"] == '299 - "unknown field \\"spec.bogus\\""'
    assert "bogus" not in r.json()["spec"]
    body["metadata"]["name"] = "u2"
    r = api.post(f"/api/v1/namespaces/{ns}/services?fieldValidation=Strict", json=body)
    assert r.status_code == 400
    assert r.json()["message"] == 'strict decoding error: unknown field "spec.bogus"'


def test_body_over_3mib_is_413(api: httpx.Client, ns: str) -> None:
    body = pod("big")
    body["metadata"]["annotations"] = {"x": "a" * (3 * 1024 * 1024 + 10)}
    r = api.post(f"/api/v1/namespaces/{ns}/pods", content=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["reason"] == "RequestEntityTooLarge"


def test_malformed_json_is_400(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/pods", content=b"{not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["kind"] == "Status"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=marvel", {"a", "b"}),
        ("env==marvel", {"a", "b"}),
        ("env!=marvel", {"c", "d"}),
        ("env in (marvel,dc)", {"a", "b", "c"}),
        ("env notin (marvel)", {"c", "d"}),
        ("tier", {"a", "c"}),
        ("!tier", {"b", "d"}),
        ("env=marvel,tier=web", {"a"}),
        ("", {"a", "b", "c", "d"}),
    ],
)
def test_label_selectors(api: httpx.Client, ns: str, selector: str, expected: set[str]) -> None:
    for name, labels in {"a": {"env": "marvel", "tier": "web"}, "b": {"env": "marvel"},
                         "c": {"env": "dc", "tier": "db"}, "d": {}}.items():
        assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name, labels)).status_code == 201
    items = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector}).json()["items"]
    assert {p["metadata"]["name"] for p in items} == expected


def test_bad_label_selector_is_400(api: httpx.Client, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "env in (a"})
    assert r.status_code == 400


def test_field_selectors(api: httpx.Client, ns: str) -> None:
    for name in ("a", "b"):
        api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name))
    items = api.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "metadata.name=a"}).json()["items"]
    assert [p["metadata"]["name"] for p in items] == ["a"]
    items = api.get("/api/v1/pods", params={"fieldSelector": f"metadata.namespace={ns},status.phase=Pending"}
                    ).json()["items"]
    assert sorted(p["metadata"]["name"] for p in items) == ["a", "b"]
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "spec.bogus=x"})
    assert r.status_code == 400 and "field label not supported: spec.bogus" in r.json()["message"]


def test_limit_and_continue_walk_every_item_once(api: httpx.Client, ns: str) -> None:
    for i in range(7):
        api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"p{i}"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if token:
            params["continue"] = token
        body = api.get(f"/api/v1/namespaces/{ns}/pods", params=params).json()
        assert body["kind"] == "PodList" and isinstance(body["items"], list)
        seen += [p["metadata"]["name"] for p in body["items"]]
        pages += 1
        token = body["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)] and pages == 3


def test_update_conflict_on_stale_resource_version(api: httpx.Client, ns: str) -> None:
    created = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("c")).json()
    first = dict(created)
    first["metadata"] = {**created["metadata"], "labels": {"v": "1"}}
    r = api.put(f"/api/v1/namespaces/{ns}/services/c", json=first)
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    r = api.put(f"/api/v1/namespaces/{ns}/services/c", json=created)
    assert r.status_code == 409
    assert r.json()["message"] == ('Operation cannot be fulfilled on services "c": the object has been modified; '
                                   "please apply your changes to the latest version and try again")


def test_status_subresource_separates_spec_and_status(api: httpx.Client, ns: str) -> None:
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("s")).json()
    body = dict(created)
    body["status"] = {"phase": "Running", "podIP": "10.85.0.2"}
    body["spec"] = {**created["spec"], "activeDeadlineSeconds": 5}
    r = api.put(f"/api/v1/namespaces/{ns}/pods/s/status", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in r.json()["spec"]  # spec changes are ignored on /status
    body = api.get(f"/api/v1/namespaces/{ns}/pods/s").json()
    body["status"] = {"phase": "Failed"}
    r = api.put(f"/api/v1/namespaces/{ns}/pods/s", json=body)
    assert r.json()["status"]["phase"] == "Running"  # status changes are ignored on the main resource


def test_merge_patch_labels(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("m", {"a": "1", "b": "2"}))
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/m", content=json.dumps({"metadata": {"labels": {"a": None, "c": "3"}}}),
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"b": "2", "c": "3"}


def test_json_patch(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("j", {"a": "1"}))
    ops = [{"op": "add", "path": "/metadata/labels/b", "value": "2"}, {"op": "remove", "path": "/metadata/labels/a"}]
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/j", content=json.dumps(ops),
                  headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"b": "2"}


def test_strategic_merge_patch_keeps_other_ports_fields(api: httpx.Client, ns: str) -> None:
    body = svc("sm", type="NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30080},
                                             {"name": "b", "port": 8080, "nodePort": 30081}])
    assert api.post(f"/api/v1/namespaces/{ns}/services", json=body).status_code == 201
    patch = {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"$patch": "delete", "port": 8080},
                                                                        {"port": 80, "targetPort": 9090}]}}
    r = api.patch(f"/api/v1/namespaces/{ns}/services/sm", content=json.dumps(patch),
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["ports"] == [{"name": "a", "port": 80, "nodePort": 30080, "protocol": "TCP",
                                          "targetPort": 9090}]


def test_unsupported_patch_type_is_415(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("x"))
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/x", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_delete_returns_object_or_status(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/services", json=svc("d"))
    r = api.delete(f"/api/v1/namespaces/{ns}/services/d")
    assert r.status_code == 200 and r.json()["kind"] == "Service"
    assert api.get(f"/api/v1/namespaces/{ns}/services/d").status_code == 404
    api.put(f"/api/v1/namespaces/{ns}/endpoints/d",
            json={"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "d"}})
    r = api.delete(f"/api/v1/namespaces/{ns}/endpoints/d")
    assert r.status_code == 200
    assert r.json()["kind"] == "Status" and r.json()["status"] == "Success"
    assert api.delete(f"/api/v1/namespaces/{ns}/endpoints/d").status_code == 404


def test_delete_collection_by_label(api: httpx.Client, ns: str) -> None:
    for name, env in (("a", "x"), ("b", "x"), ("c", "y")):
        api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name, {"env": env}))
    r = api.delete(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "env=x"})
    assert r.status_code == 200
    left = [p["metadata"]["name"] for p in api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]]
    assert left == ["c"]


def test_deleting_a_namespace_marks_it_terminating_and_leaves_the_rest_to_its_controller(
        api: httpx.Client, ns: str) -> None:
    """The API server's part of a namespace deletion; emptying it is ``kubelite controller namespace``'s
    (tests/test_namespace_deletion.py), so with no controller running it stays Terminating."""
    api.post(f"/api/v1/namespaces/{ns}/services", json=svc("gone"))
    first = api.delete(f"/api/v1/namespaces/{ns}")
    assert first.status_code == 200 and first.json()["status"]["phase"] == "Terminating"
    assert first.json()["spec"]["finalizers"] == ["kubernetes"]
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("late"))
    assert r.status_code == 403
    again = api.delete(f"/api/v1/namespaces/{ns}")  # still finalizing: answered as it is
    assert again.status_code == 200
    assert again.json()["metadata"]["deletionTimestamp"] == first.json()["metadata"]["deletionTimestamp"]
    assert api.get(f"/api/v1/namespaces/{ns}/services/gone").status_code == 200


def test_unknown_path_is_404_status_and_bad_method_405(api: httpx.Client) -> None:
    r = api.get("/api/v1/bogus")
    assert r.status_code == 404 and r.json()["kind"] == "Status"
    r = api.post("/api/v1/pods", json=pod("x"))
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"


def test_metrics_count_requests(api: httpx.Client) -> None:
    api.get("/api/v1/namespaces")
    text = api.get("/metrics").text
    assert 'apiserver_request_total{code="200",resource="namespaces",verb="LIST"}' in text
    assert "kubelite_storage_revision" in text
