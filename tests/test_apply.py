"""Server-side apply and managedFields (apiserver.apply), checked against kube-apiserver's recorded shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apimachinery.errors import StatusError
from apimachinery.labels import ANNOTATION_LAST_APPLIED
from apimachinery.resources import BY_KEY
from apiserver import apply as A
from apiserver.schematypes import SchemaError, root

SVC = BY_KEY["services"]
POD = BY_KEY["pods"]
NOW = "2025-01-01T00:00:00Z"
LATER = "2025-01-01T00:01:00Z"
PORT_KEY = 'k:{"port":8080,"protocol":"TCP"}'


def service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}, "spec": spec}


def fields(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)
    return dict(entry["fieldsV1"])


@pytest.mark.parametrize("fv1", [
    {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}},
    {"f:spec": {"f:ports": {".": {}, PORT_KEY: {".": {}, "f:port": {}, "f:targetPort": {}}}}},
    {"f:metadata": {"f:finalizers": {".": {}, 'v:"x"': {}}}},
    {"f:spec": {"f:selector": {}, "f:type": {}}},
])
def test_fields_v1_round_trip(fv1: dict[str, Any]) -> None:
    assert A.encode_fields(A.decode_fields(fv1)) == fv1


def test_encode_orders_fields_before_keys_and_dot_first() -> None:
    paths = {(("f", "spec"), ("f", "ports")), (("f", "spec"), ("f", "ports"), ("k", (("port", "80"),))),
             (("f", "spec"), ("f", "clusterIP"))}
    assert json.dumps(A.encode_fields(paths)) == (
        '{"f:spec": {"f:clusterIP": {}, "f:ports": {".": {}, "k:{\\"port\\":80}": {}}}}')


@pytest.mark.parametrize(("path", "text"), [
    ((("f", "spec"), ("f", "type")), ".spec.type"),
    ((("f", "spec"), ("f", "ports"), ("k", (("port", "8080"), ("protocol", '"TCP"'))), ("f", "targetPort")),
     '.spec.ports[port=8080,protocol="TCP"].targetPort'),
    ((("f", "metadata"), ("f", "finalizers"), ("v", '"a"')), '.metadata.finalizers[="a"]'),
])
def test_path_string(path: A.Path, text: str) -> None:
    assert A.path_string(path) == text


def test_create_records_update_like_kube_apiserver() -> None:
    """A Service created by kubectl: no "." under f:spec (the zero object has spec), "." for new maps/lists."""
    obj = service(ports=[{"port": 8080, "protocol": "TCP", "targetPort": 8080}], selector={"env": "m"},
                  type="ClusterIP", sessionAffinity="None")
    obj["metadata"]["annotations"] = {ANNOTATION_LAST_APPLIED: "{}"}
    obj["status"] = {"loadBalancer": {}}
    mf = A.record_update(SVC, None, obj, manager="kubectl-client-side-apply", now=NOW)
    assert mf == [{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1", "time": NOW,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:annotations": {".": {}, f"f:{ANNOTATION_LAST_APPLIED}": {}}},
            "f:spec": {"f:ports": {".": {}, PORT_KEY: {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
                       "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}},
        },
    }]


def test_pod_create_has_no_dot_under_containers() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"run": "p"}},
           "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {}}], "dnsPolicy": "ClusterFirst"}}
    mf = A.record_update(POD, None, pod, manager="kubectl-run", now=NOW)
    assert mf is not None
    assert mf[0]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:run": {}}},
        "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}},
                   "f:dnsPolicy": {}},
    }


def test_update_takes_changed_fields_from_other_managers_and_keeps_time_on_noop() -> None:
    old = service(selector={"a": "1"}, type="ClusterIP")
    old["metadata"]["managedFields"] = A.record_update(SVC, None, old, manager="creator", now=NOW)
    new = json.loads(json.dumps(old))
    new["spec"]["type"] = "NodePort"
    mf = A.record_update(SVC, old, new, manager="editor", now=LATER)
    assert mf is not None
    by = {e["manager"]: e for e in mf}
    assert by["creator"]["fieldsV1"] == {"f:spec": {"f:selector": {}}}
    assert by["editor"]["fieldsV1"] == {"f:spec": {"f:type": {}}} and by["editor"]["time"] == LATER
    new["metadata"]["managedFields"] = mf
    again = A.record_update(SVC, new, json.loads(json.dumps(new)), manager="editor", now="2030-01-01T00:00:00Z")
    assert again == mf


def test_update_removal_drops_fields_from_every_manager_and_empty_entries() -> None:
    old = service(selector={"a": "1"}, type="ClusterIP")
    old["metadata"]["labels"] = {"x": "y"}
    old["metadata"]["managedFields"] = A.record_update(SVC, None, old, manager="creator", now=NOW)
    new = json.loads(json.dumps(old))
    del new["metadata"]["labels"]
    mf = A.record_update(SVC, old, new, manager="kubectl-label", now=LATER)
    assert [e["manager"] for e in mf or []] == ["creator"]
    assert "f:metadata" not in fields({"metadata": {"managedFields": mf}}, "creator")


def test_explicit_reset_clears_managed_fields() -> None:
    old = service(type="ClusterIP")
    old["metadata"]["managedFields"] = A.record_update(SVC, None, old, manager="creator", now=NOW)
    new = json.loads(json.dumps(old))
    new["metadata"]["managedFields"] = [{}]
    assert A.record_update(SVC, old, new, manager="x", now=LATER) == []


def test_status_update_records_subresource_and_ignores_spec() -> None:
    old = service(type="ClusterIP")
    new = json.loads(json.dumps(old))
    new["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    mf = A.record_update(SVC, old, new, manager="kubelet", subresource="status", now=NOW)
    assert mf == [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": NOW,
                   "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:status": {"f:conditions": {".": {}, 'k:{"type":"Ready"}': {
                       ".": {}, "f:status": {}, "f:type": {}}}}},
                   "subresource": "status"}]


def test_apply_creates_with_apply_entry_and_keyed_default_protocol() -> None:
    cfg = service(ports=[{"port": 8080, "targetPort": 8080}], selector={"env": "m"})
    res = A.apply(SVC, None, cfg, manager="kubectl", force=False, now=NOW)
    assert res.changed
    assert res.obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:ports": {PORT_KEY: {".": {}, "f:port": {}, "f:targetPort": {}}},
                                "f:selector": {}}},
    }]
    assert res.obj["spec"] == {"ports": [{"port": 8080, "targetPort": 8080}], "selector": {"env": "m"}}


def _live(cfg: dict[str, Any], manager: str = "kubectl") -> dict[str, Any]:
    return A.apply(SVC, None, cfg, manager=manager, force=False, now=NOW).obj


def test_apply_conflict_message_and_force() -> None:
    live = _live(service(ports=[{"port": 8080, "targetPort": 8080}]))
    other = service(ports=[{"port": 8080, "targetPort": 9090}])
    with pytest.raises(StatusError) as exc:
        A.apply(SVC, live, other, manager="other", force=False, now=LATER)
    e = exc.value
    assert e.code == 409 and e.reason == "Conflict"
    assert e.message == ('Apply failed with 1 conflict: conflict with "kubectl": '
                         '.spec.ports[port=8080,protocol="TCP"].targetPort')
    assert e.details == {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                                     "field": '.spec.ports[port=8080,protocol="TCP"].targetPort'}]}
    forced = A.apply(SVC, live, other, manager="other", force=True, now=LATER).obj
    assert forced["spec"]["ports"][0]["targetPort"] == 9090
    assert PORT_KEY in fields(forced, "kubectl")["f:spec"]["f:ports"]
    assert "f:targetPort" not in fields(forced, "kubectl")["f:spec"]["f:ports"][PORT_KEY]


def test_apply_conflict_with_updater_names_version() -> None:
    live = service(type="ClusterIP")
    live["metadata"]["managedFields"] = A.record_update(SVC, None, live, manager="kubectl-create", now=NOW)
    with pytest.raises(StatusError) as exc:
        A.apply(SVC, live, service(type="NodePort"), manager="ssa", force=False)
    assert exc.value.message == 'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .spec.type'


def test_apply_same_value_shares_ownership_without_conflict() -> None:
    live = _live(service(type="ClusterIP"))
    res = A.apply(SVC, live, service(type="ClusterIP"), manager="other", force=False, now=LATER)
    assert not res.changed
    assert {e["manager"] for e in res.obj["metadata"]["managedFields"]} == {"kubectl", "other"}


def test_apply_removes_fields_dropped_from_config_unless_owned_by_others() -> None:
    cfg = service(type="ClusterIP", selector={"a": "1"})
    cfg["metadata"]["labels"] = {"keep": "1", "drop": "1"}
    live = _live(cfg)
    live = A.apply(SVC, live, {**service(), "metadata": {"name": "s", "labels": {"keep": "1"}}},
                   manager="other", force=False, now=NOW).obj
    smaller = service(type="ClusterIP")
    res = A.apply(SVC, live, smaller, manager="kubectl", force=False, now=LATER)
    assert res.obj["metadata"]["labels"] == {"keep": "1"}
    assert "selector" not in res.obj["spec"]


def test_apply_list_merge_keeps_live_order_and_appends_new_items() -> None:
    live = _live(service(ports=[{"port": 1}, {"port": 2}]))
    res = A.apply(SVC, live, service(ports=[{"port": 3}]), manager="other", force=False, now=LATER)
    assert [p["port"] for p in res.obj["spec"]["ports"]] == [1, 2, 3]


def test_apply_before_first_apply_owns_existing_fields() -> None:
    live = service(type="ClusterIP")
    with pytest.raises(StatusError) as exc:
        A.apply(SVC, live, service(type="NodePort"), manager="ssa", force=False, now=NOW)
    assert '"before-first-apply" using v1' in exc.value.message


def test_kubectl_upgrade_from_client_side_apply_allows_last_applied_conflicts() -> None:
    last = service(type="ClusterIP")
    live = service(type="ClusterIP")
    live["metadata"]["annotations"] = {ANNOTATION_LAST_APPLIED: json.dumps(last)}
    live["metadata"]["managedFields"] = A.record_update(SVC, None, live, manager="kubectl-client-side-apply",
                                                        now=NOW)
    res = A.apply(SVC, live, service(type="NodePort"), manager="kubectl", force=False, raw_config=service(
        type="NodePort"), now=LATER)
    assert res.obj["spec"]["type"] == "NodePort"
    assert json.loads(res.obj["metadata"]["annotations"][ANNOTATION_LAST_APPLIED])["spec"] == {"type": "NodePort"}
    with pytest.raises(StatusError):
        A.apply(SVC, live, service(type="NodePort"), manager="not-kubectl", force=False, now=LATER)


@pytest.mark.parametrize(("config", "message"), [
    ({"kind": "Service", "metadata": {"name": "s"}},
     "Incorrect version specified in apply patch. Specified patch version: , expected: v1"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "managedFields": []}},
     "metadata.managedFields must be nil"),
])
def test_check_config_rejects(config: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusError) as exc:
        A.check_config(SVC, config, unknown=[])
    assert exc.value.code == 400 and exc.value.message == message


def test_check_config_unknown_field_is_a_typed_object_error() -> None:
    with pytest.raises(StatusError) as exc:
        A.check_config(SVC, service(), unknown=["spec.bogus"])
    assert exc.value.code == 500
    assert exc.value.message == ("failed to create typed patch object (n/s; /v1, Kind=Service): "
                                 ".spec.bogus: field not declared in schema")


def test_keyed_item_without_key_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match='omits key field "name"'):
        A.to_field_set({"spec": {"containers": [{"image": "x"}]}}, root("pods"))


def test_duplicate_keys_are_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="duplicate entries"):
        A.to_field_set({"spec": {"ports": [{"port": 1}, {"port": 1}]}}, root("services"))


@pytest.mark.parametrize(("agent", "field_manager", "want"), [
    ("kubectl/v1.32.4 (linux/amd64)", None, "kubectl"),
    ("OpenAPI-Generator/37.0.2/python", None, "OpenAPI-Generator"),
    ("curl/8", "mine", "mine"),
    (None, None, ""),
])
def test_manager_name(agent: str | None, field_manager: str | None, want: str) -> None:
    assert A.manager_name(field_manager, agent) == want


def test_update_managers_are_capped() -> None:
    obj = service()
    for i in range(12):
        new = json.loads(json.dumps(obj))
        new["metadata"].setdefault("labels", {})[f"l{i}"] = "x"
        new["metadata"]["managedFields"] = A.record_update(SVC, obj, new, manager=f"m{i:02}",
                                                           now=f"2025-01-01T00:00:{i:02}Z")
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and A.ANCIENT_CHANGES in managers and "m00" not in managers


def test_deployment_create_has_no_dot_under_template() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    mf = A.record_update(BY_KEY["deployments.apps"], None, dep, manager="kubectl-create", now=NOW)
    assert mf is not None and mf[0]["fieldsV1"] == {"f:spec": {
        "f:replicas": {}, "f:selector": {},
        "f:template": {"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
                       "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}
