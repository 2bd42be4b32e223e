"""Table tests for apimachinery.patch against kube-apiserver / kubectl (v1.32) behaviour.

Expected strategic-merge results follow k8s.io/apimachinery strategicpatch's own
fixtures; error codes and texts follow apiserver's handlers/patch.go.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from apimachinery import patch as P
from apimachinery.errors import StatusError
from apimachinery.patch.common import _go_float
from apimachinery.resources import BY_KEY

REJECTED = "the server rejected our request due to an error in our request"


def _status(exc: pytest.ExceptionInfo[StatusError]) -> tuple[int, str, str]:
    return exc.value.code, exc.value.reason, exc.value.message


# --- patch metadata ----------------------------------------------------------


def test_metadata_covers_exactly_the_registered_resources() -> None:
    assert set(P.PATCH_METADATA) == set(BY_KEY)


@pytest.mark.parametrize(
    ("schema", "path", "meta"),
    [
        ("pods", "spec.containers", P.PatchMeta("merge", "name")),
        ("pods", "spec.initContainers", P.PatchMeta("merge", "name")),
        ("pods", "spec.containers.ports", P.PatchMeta("merge", "containerPort")),
        ("pods", "spec.initContainers.env", P.PatchMeta("merge", "name")),
        ("pods", "spec.containers.volumeMounts", P.PatchMeta("merge", "mountPath")),
        ("pods", "spec.volumes", P.PatchMeta("merge", "name", retain_keys=True)),
        ("pods", "spec.imagePullSecrets", P.PatchMeta("merge", "name")),
        ("pods", "status.conditions", P.PatchMeta("merge", "type")),
        ("pods", "metadata.finalizers", P.PatchMeta("merge")),
        ("pods", "metadata.ownerReferences", P.PatchMeta("merge", "uid")),
        ("services", "spec.ports", P.PatchMeta("merge", "port")),
        ("nodes", "status.addresses", P.PatchMeta("merge", "type")),
        ("nodes", "status.conditions", P.PatchMeta("merge", "type")),
        ("nodes", "spec.podCIDRs", P.PatchMeta("merge")),
        ("servicecidrs.networking.k8s.io", "status.conditions", P.PatchMeta("merge", "type")),
        ("deployments.apps", "spec.template.spec.containers", P.PatchMeta("merge", "name")),
        ("deployments.apps", "spec.template.spec.containers.env", P.PatchMeta("merge", "name")),
        ("deployments.apps", "spec.template.spec.volumes", P.PatchMeta("merge", "name", retain_keys=True)),
        ("deployments.apps", "spec.template.metadata.ownerReferences", P.PatchMeta("merge", "uid")),
        ("deployments.apps", "status.conditions", P.PatchMeta("merge", "type")),
        ("deployments.apps", "spec.strategy", P.PatchMeta(retain_keys=True)),
        ("replicasets.apps", "spec.template.spec.initContainers.ports", P.PatchMeta("merge", "containerPort")),
        ("replicasets.apps", "metadata.ownerReferences", P.PatchMeta("merge", "uid")),
    ],
)
def test_metadata_table(schema: str, path: str, meta: P.PatchMeta) -> None:
    assert P.PATCH_METADATA[schema][path] == meta


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("pods", "spec.tolerations"),  # no struct tags in core/v1: atomic
        ("endpoints", "subsets"),
        ("services", "spec.clusterIPs"),
        ("nodes", "spec.taints"),
        ("endpointslices.discovery.k8s.io", "endpoints"),
        ("deployments.apps", "spec.template.spec.tolerations"),
        ("deployments.apps", "spec.selector.matchExpressions"),
    ],
)
def test_untagged_lists_have_no_metadata(schema: str, path: str) -> None:
    assert path not in P.PATCH_METADATA[schema]


def test_kubectl_set_image_on_a_deployment_merges_containers_by_name() -> None:
    """kubectl set image: a strategic merge patch naming one container of the template."""
    original = {"spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "busybox"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    merged = P.strategic_merge_patch(original, patch, schema="deployments.apps")
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "busybox"}]


def test_unknown_schema_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no strategic merge patch metadata"):
        P.strategic_merge_patch({}, {}, schema="widgets")


# --- JSON merge patch --------------------------------------------------------

SVC_LIVE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "labels": {"app": "web", "ver": "1"}},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.0.0.7",
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "targetPort": 80, "protocol": "TCP", "nodePort": 30080},
            {"port": 8080, "targetPort": 8080, "protocol": "TCP", "nodePort": 30081},
        ],
    },
}


@pytest.mark.parametrize(
    ("name", "original", "patch", "expected"),
    [
        ("add key", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ("replace scalar", {"a": 1}, {"a": "x"}, {"a": "x"}),
        ("null deletes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ("null for absent key is a no-op", {"a": 1}, {"z": None}, {"a": 1}),
        ("nested merge", {"m": {"a": 1, "b": 2}}, {"m": {"b": 3, "c": 4}}, {"m": {"a": 1, "b": 3, "c": 4}}),
        ("kubectl label ver-", {"metadata": {"labels": {"app": "w", "ver": "1"}}},
         {"metadata": {"labels": {"ver": None}}}, {"metadata": {"labels": {"app": "w"}}}),
        ("list replaced whole", {"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
        ("new object loses its nulls", {}, {"m": {"a": 1, "b": None, "n": {"c": None}}}, {"m": {"a": 1, "n": {}}}),
        ("object over scalar loses its nulls", {"m": 1}, {"m": {"a": None, "b": 2}}, {"m": {"b": 2}}),
        ("scalar over object replaces", {"m": {"a": 1}}, {"m": 5}, {"m": 5}),
        ("list over list prunes nulls in its objects", {"l": [{"a": 1}]}, {"l": [{"a": 2, "b": None}, None]},
         {"l": [{"a": 2}, None]}),
        ("list over object keeps nulls in its objects", {"l": {"a": 1}}, {"l": [{"b": None}]}, {"l": [{"b": None}]}),
        ("empty patch", {"a": {"b": 1}}, {}, {"a": {"b": 1}}),
    ],
)
def test_merge_patch(name: str, original: dict[str, Any], patch: Any, expected: dict[str, Any]) -> None:
    assert P.merge_patch(original, patch) == expected


def test_merge_patch_replaces_service_ports_and_drops_node_ports() -> None:
    """The difference kubectl apply depends on: merge-patch lists are atomic."""
    out = P.merge_patch(SVC_LIVE, {"spec": {"ports": [{"port": 80, "targetPort": 80}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 80}]
    assert out["spec"]["clusterIP"] == "10.0.0.7"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (None, "Invalid JSON Patch"),
        ([{"a": 1}], "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
        ("x", "error decoding patch: json: cannot unmarshal string into Go value of type map[string]interface {}"),
        (3, "error decoding patch: json: cannot unmarshal number into Go value of type map[string]interface {}"),
    ],
)
def test_merge_patch_rejects_non_objects(patch: Any, message: str) -> None:
    with pytest.raises(StatusError) as exc:
        P.merge_patch({"a": 1}, patch)
    assert _status(exc) == (400, "BadRequest", message)


def test_merge_patch_does_not_mutate_or_alias() -> None:
    original = copy.deepcopy(SVC_LIVE)
    patch = {"metadata": {"labels": {"ver": None}}, "spec": {"new": {"a": [1]}}}
    frozen = copy.deepcopy(patch)
    out = P.merge_patch(original, patch)
    assert original == SVC_LIVE and patch == frozen
    out["spec"]["new"]["a"].append(2)
    out["spec"]["selector"]["x"] = "y"
    assert original == SVC_LIVE and patch == frozen


# --- JSON patch ----------------------------------------------------------------

DOC: dict[str, Any] = {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 1, "list": ["a", "b"]}}


@pytest.mark.parametrize(
    ("name", "ops", "expected_changes"),
    [
        ("add", [{"op": "add", "path": "/metadata/labels/tier", "value": "fe"}],
         {"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}}}),
        ("remove", [{"op": "remove", "path": "/metadata/labels/app"}], {"metadata": {"name": "web", "labels": {}}}),
        ("replace", [{"op": "replace", "path": "/spec/replicas", "value": 3}],
         {"spec": {"replicas": 3, "list": ["a", "b"]}}),
        ("replace of a missing member adds it (evanphx)", [{"op": "replace", "path": "/metadata/labels/x", "value": "1"}],
         {"metadata": {"name": "web", "labels": {"app": "web", "x": "1"}}}),
        ("append", [{"op": "add", "path": "/spec/list/-", "value": "c"}],
         {"spec": {"replicas": 1, "list": ["a", "b", "c"]}}),
        ("insert", [{"op": "add", "path": "/spec/list/0", "value": "z"}],
         {"spec": {"replicas": 1, "list": ["z", "a", "b"]}}),
        ("move", [{"op": "move", "from": "/spec/replicas", "path": "/spec/count"}],
         {"spec": {"count": 1, "list": ["a", "b"]}}),
        ("copy", [{"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"}],
         {"metadata": {"name": "web", "labels": {"app": "web", "name": "web"}}}),
        ("test then add", [{"op": "test", "path": "/spec/replicas", "value": 1},
                           {"op": "add", "path": "/spec/paused", "value": True}],
         {"spec": {"replicas": 1, "list": ["a", "b"], "paused": True}}),
        ("test of a missing member against null passes", [{"op": "test", "path": "/spec/absent", "value": None}], {}),
        ("replace the root", [{"op": "replace", "path": "", "value": {"kind": "X"}}],
         {"kind": "X", "metadata": None, "spec": None}),
        ("no operations", [], {}),
        ("null body", None, {}),
    ],
)
def test_json_patch(name: str, ops: Any, expected_changes: dict[str, Any]) -> None:
    """``expected_changes`` are the top-level members that differ from DOC (None: gone)."""
    expected = {k: v for k, v in {**DOC, **expected_changes}.items() if v is not None}
    assert P.json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    ("ops", "code", "reason", "message"),
    [
        ({"op": "add", "path": "/a", "value": 1}, 400, "BadRequest",
         "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
        ([1], 400, "BadRequest",
         "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
        ([{"op": 1, "path": "/a"}], 400, "BadRequest",
         "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"),
        ([{"op": "add", "path": ["a"], "value": 1}], 400, "BadRequest",
         "error decoding patch: json: cannot unmarshal array into Go struct field jsonPatchOp.path of type string"),
        ([{"op": "frobnicate", "path": "/a"}], 422, "Invalid", REJECTED),
        ([{"path": "/a", "value": 1}], 422, "Invalid", REJECTED),
        ([{"op": "test", "path": "/metadata/name", "value": "other"}], 422, "Invalid", REJECTED),
        ([{"op": "test", "path": "/spec/replicas", "value": True}], 422, "Invalid", REJECTED),
        ([{"op": "remove", "path": "/metadata/labels/missing"}], 422, "Invalid", REJECTED),
        ([{"op": "add", "path": "/nope/deeper", "value": 1}], 422, "Invalid", REJECTED),
        ([{"op": "replace", "path": "/spec/list/5", "value": 1}], 422, "Invalid", REJECTED),
        ([{"op": "add", "path": "", "value": [1]}], 422, "Invalid", REJECTED),
        ([{"op": "add", "path": "", "value": {"a": 1}}], 422, "Invalid", REJECTED),
        ([{"op": "replace", "path": "", "value": [1]}], 422, "Invalid", REJECTED),
    ],
)
def test_json_patch_errors(ops: Any, code: int, reason: str, message: str) -> None:
    with pytest.raises(StatusError) as exc:
        P.json_patch(DOC, ops)
    assert _status(exc) == (code, reason, message)
    if code == 422:
        assert exc.value.status["details"] == {}


def test_json_patch_failure_leaves_the_original_alone() -> None:
    doc = copy.deepcopy(DOC)
    with pytest.raises(StatusError):
        P.json_patch(doc, [{"op": "add", "path": "/metadata/labels/x", "value": "1"},
                           {"op": "test", "path": "/spec/replicas", "value": 2}])
    assert doc == DOC


def test_json_patch_operation_limit() -> None:
    ops = [{"op": "test", "path": "/spec/replicas", "value": 1}] * (P.MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(StatusError) as exc:
        P.json_patch(DOC, ops)
    assert _status(exc) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
    )


# --- strategic merge patch: apply ------------------------------------------------

POD: dict[str, Any] = {
    "metadata": {"name": "p", "finalizers": ["a", "b"], "ownerReferences": [{"uid": "u1", "name": "rs"}]},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "volumeMounts": [{"mountPath": "/data", "name": "data"}],
            },
            {"name": "sidecar", "image": "side:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
        "tolerations": [{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]},
}


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the dotted ``path`` set (``containers.0`` indexes a list)."""
    out = copy.deepcopy(doc)
    node: Any = out
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


SMP_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "service ports merge by port and keep nodePort",
        "services",
        SVC_LIVE,
        {"spec": {"ports": [{"port": 80, "targetPort": 8000}]}},
        _with(SVC_LIVE, "spec.ports.0", {"port": 80, "targetPort": 8000, "protocol": "TCP", "nodePort": 30080}),
    ),
    (
        # mergeSortedSlice only places a patch item after a live one it can rank
        "new port without $setElementOrder goes first",
        "services",
        SVC_LIVE,
        {"spec": {"ports": [{"port": 9090}]}},
        _with(SVC_LIVE, "spec.ports", [{"port": 9090}, *SVC_LIVE["spec"]["ports"]]),
    ),
    (
        "delete directive removes a list item",
        "services",
        SVC_LIVE,
        {"spec": {"ports": [{"$patch": "delete", "port": 8080}]}},
        _with(SVC_LIVE, "spec.ports", SVC_LIVE["spec"]["ports"][:1]),
    ),
    (
        "replace directive in a list replaces it",
        "services",
        SVC_LIVE,
        {"spec": {"ports": [{"$patch": "replace"}, {"port": 81}]}},
        _with(SVC_LIVE, "spec.ports", [{"port": 81}]),
    ),
    (
        "replace directive in a map replaces it",
        "services",
        SVC_LIVE,
        {"spec": {"selector": {"$patch": "replace", "tier": "fe"}}},
        _with(SVC_LIVE, "spec.selector", {"tier": "fe"}),
    ),
    (
        "delete directive in a map empties it",
        "services",
        SVC_LIVE,
        {"spec": {"selector": {"$patch": "delete"}}},
        _with(SVC_LIVE, "spec.selector", {}),
    ),
    (
        "null deletes a key",
        "services",
        SVC_LIVE,
        {"metadata": {"labels": {"ver": None}}, "spec": {"type": None}},
        _with(_with(SVC_LIVE, "metadata.labels", {"app": "web"}), "spec",
              {k: v for k, v in SVC_LIVE["spec"].items() if k != "type"}),
    ),
    (
        # mergeSortedSlice: a server-only item is emitted as soon as it came
        # before the next patch item in the live list (9 before 3, 7 after 2)
        "$setElementOrder reorders around server-only items",
        "services",
        _with(SVC_LIVE, "spec.ports", [{"port": 1}, {"port": 9}, {"port": 2}, {"port": 3}, {"port": 7}]),
        {"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 1}, {"port": 2}]}},
        _with(SVC_LIVE, "spec.ports", [{"port": 9}, {"port": 3}, {"port": 1}, {"port": 2}, {"port": 7}]),
    ),
    (
        "$setElementOrder places a new item",
        "services",
        _with(SVC_LIVE, "spec.ports", [{"port": 1}, {"port": 2}]),
        {"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 1}, {"port": 2}], "ports": [{"port": 3}]}},
        _with(SVC_LIVE, "spec.ports", [{"port": 3}, {"port": 1}, {"port": 2}]),
    ),
    (
        "containers merge by name, nested ports/env/volumeMounts by their keys",
        "pods",
        POD,
        {"spec": {"containers": [{
            "name": "app",
            "image": "app:2",
            "ports": [{"containerPort": 443, "name": "https"}],
            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
        }]}},
        _with(POD, "spec.containers.0", {
            "name": "app",
            "image": "app:2",
            "ports": [{"containerPort": 80, "protocol": "TCP"},
                      {"containerPort": 443, "protocol": "TCP", "name": "https"}],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "volumeMounts": [{"mountPath": "/data", "name": "data", "readOnly": True}],
        }),
    ),
    (
        "delete a container",
        "pods",
        POD,
        {"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}},
        _with(POD, "spec.containers", POD["spec"]["containers"][:1]),
    ),
    (
        "tolerations have no merge key: replaced",
        "pods",
        POD,
        {"spec": {"tolerations": [{"key": "k3", "operator": "Exists"}]}},
        _with(POD, "spec.tolerations", [{"key": "k3", "operator": "Exists"}]),
    ),
    (
        "volumes retainKeys switches the volume source",
        "pods",
        POD,
        {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}, "$retainKeys": ["hostPath", "name"]}]}},
        _with(POD, "spec.volumes.0", {"name": "data", "hostPath": {"path": "/d"}}),
    ),
    (
        "without retainKeys the old volume source stays",
        "pods",
        POD,
        {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}}]}},
        _with(POD, "spec.volumes.0", {"name": "data", "emptyDir": {}, "hostPath": {"path": "/d"}}),
    ),
    (
        "finalizers merge as a set",
        "pods",
        POD,
        {"metadata": {"finalizers": ["b", "c"]}},
        _with(POD, "metadata.finalizers", ["a", "b", "c"]),
    ),
    (
        "$deleteFromPrimitiveList removes finalizers",
        "pods",
        POD,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}},
        _with(POD, "metadata.finalizers", ["b"]),
    ),
    (
        "$deleteFromPrimitiveList of an absent list adds nothing",
        "services",
        SVC_LIVE,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
        SVC_LIVE,
    ),
    (
        "ownerReferences merge by uid",
        "pods",
        POD,
        {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "name": "x"}]}},
        _with(POD, "metadata.ownerReferences",
              [{"uid": "u1", "name": "rs", "controller": True}, {"uid": "u2", "name": "x"}]),
    ),
    (
        "status conditions merge by type",
        "pods",
        POD,
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        _with(POD, "status.conditions", [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]),
    ),
    (
        "node addresses merge by type",
        "nodes",
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.1.0.1"}, {"type": "Hostname", "address": "n1"}]}},
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.1.0.2"}]}},
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.1.0.2"}, {"type": "Hostname", "address": "n1"}]}},
    ),
    (
        "endpoints subsets are atomic",
        "endpoints",
        {"subsets": [{"addresses": [{"ip": "10.2.0.1"}], "ports": [{"port": 80}]}]},
        {"subsets": [{"addresses": [{"ip": "10.2.0.2"}]}]},
        {"subsets": [{"addresses": [{"ip": "10.2.0.2"}]}]},
    ),
    (
        "new map from the patch loses its nulls and directives",
        "services",
        {"metadata": {"name": "s"}},
        {"spec": {"selector": {"app": "w", "gone": None}, "$setElementOrder/ports": [{"port": 1}],
                  "ports": [{"port": 1}, {"$patch": "delete", "port": 2}]}},
        {"metadata": {"name": "s"}, "spec": {"selector": {"app": "w"}, "ports": [{"port": 1}]}},
    ),
    (
        "top-level replace",
        "events",
        {"reason": "A", "message": "m"},
        {"$patch": "replace", "reason": "B"},
        {"reason": "B"},
    ),
    ("null body is a no-op", "leases.coordination.k8s.io", {"spec": {"holderIdentity": "a"}}, {},
     {"spec": {"holderIdentity": "a"}}),
]


@pytest.mark.parametrize(("name", "schema", "original", "patch", "expected"), SMP_CASES, ids=[c[0] for c in SMP_CASES])
def test_strategic_merge_patch(
    name: str, schema: str, original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert P.strategic_merge_patch(original, patch, schema=schema) == expected


def test_strategic_merge_patch_does_not_mutate_or_alias() -> None:
    original = copy.deepcopy(POD)
    patch = {"spec": {"containers": [{"name": "new", "env": [{"name": "X"}]}], "volumes": [{"$patch": "delete", "name": "cfg"}]}}
    frozen = copy.deepcopy(patch)
    out = P.strategic_merge_patch(original, patch, schema="pods")
    assert original == POD and patch == frozen
    assert [c["name"] for c in out["spec"]["containers"]] == ["new", "app", "sidecar"]
    out["spec"]["containers"][0]["env"].append({"name": "Y"})
    out["spec"]["containers"][1]["env"][0]["value"] = "changed"
    assert original == POD and patch == frozen


SVC_PORTS = _with(SVC_LIVE, "spec.ports", [{"port": 80}, {"port": 81}])

SMP_ERRORS: list[tuple[str, str, dict[str, Any], Any, tuple[int, str, str]]] = [
    ("body is not an object", "services", SVC_LIVE, [1],
     (400, "BadRequest", "json: cannot unmarshal array into Go value of type map[string]interface {}")),
    ("$patch: merge in a map", "services", SVC_LIVE, {"spec": {"selector": {"$patch": "merge", "a": "b"}}},
     (500, "", "unknown patch type: merge in map: map[$patch:merge a:b]")),
    ("unknown $patch in a list item", "services", SVC_LIVE, {"spec": {"ports": [{"$patch": "foo", "port": 80}]}},
     (500, "", "unknown patch type: foo in map: map[$patch:foo port:80]")),
    ("$patch: merge in a list item", "services", SVC_LIVE, {"spec": {"ports": [{"$patch": "merge", "port": 80}]}},
     (500, "", "merging lists cannot yet be specified in the patch")),
    ("delete directive without the merge key", "services", SVC_LIVE, {"spec": {"ports": [{"$patch": "delete"}]}},
     (500, "", "map: map[$patch:delete] does not contain declared merge key: port")),
    ("item without the merge key", "pods", POD,
     {"spec": {"containers": [{"name": "app", "ports": [{"name": "http"}]}]}},
     (500, "", "map: map[name:http] does not contain declared merge key: containerPort")),
    ("$setElementOrder without a list name", "services", SVC_LIVE, {"spec": {"$setElementOrder": [{"port": 80}]}},
     (400, "BadRequest", "invalid patch format of setElementOrder list")),
    ("bad $deleteFromPrimitiveList prefix", "pods", POD, {"metadata": {"$deleteFromPrimitiveListX/finalizers": ["a"]}},
     (400, "BadRequest", "invalid patch format of primitive list")),
    ("$retainKeys not a list", "pods", POD, {"spec": {"volumes": [{"name": "data", "$retainKeys": "name"}]}},
     (400, "BadRequest", "invalid patch format of retainKeys")),
    ("patch field missing from $retainKeys", "pods", POD,
     {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}, "$retainKeys": ["name"]}]}},
     (400, "BadRequest", "invalid patch format of retainKeys")),
    ("patch order contradicts $setElementOrder", "services", SVC_PORTS,
     {"spec": {"$setElementOrder/ports": [{"port": 81}, {"port": 80}], "ports": [{"port": 80}, {"port": 81}]}},
     (500, "", "the order in patch list:\n[map[port:80] map[port:81]]\n doesn't match $setElementOrder list:\n"
               "[map[port:81] map[port:80]]")),
    ("list of lists", "pods", _with(POD, "metadata.finalizers", []), {"metadata": {"finalizers": [["a"]]}},
     (422, "Invalid", REJECTED)),
    ("mixed element types", "pods", POD, {"metadata": {"finalizers": [1]}},
     (500, "", "list element types are not identical: [[a b] [1]]")),
]


@pytest.mark.parametrize(("name", "schema", "original", "patch", "expected"), SMP_ERRORS, ids=[c[0] for c in SMP_ERRORS])
def test_strategic_merge_patch_errors(
    name: str, schema: str, original: dict[str, Any], patch: Any, expected: tuple[int, str, str]
) -> None:
    with pytest.raises(StatusError) as exc:
        P.strategic_merge_patch(original, patch, schema=schema)
    assert _status(exc) == expected


# --- kubectl apply: the contract example -----------------------------------------

SVC_LAST_APPLIED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"type": "NodePort", "selector": {"app": "web"},
             "ports": [{"port": 80, "targetPort": 80}, {"port": 8080, "targetPort": 8080}]},
}
SVC_NEW_CONFIG = _with(SVC_LAST_APPLIED, "spec.ports", [{"port": 80, "targetPort": 80}])


def test_apply_drops_a_port_and_keeps_server_fields() -> None:
    live = _with(SVC_LIVE, "metadata.labels", None)
    del live["metadata"]["labels"]
    patch = P.three_way_merge_patch(SVC_LAST_APPLIED, SVC_NEW_CONFIG, live, schema="services")
    assert patch == {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"$patch": "delete", "port": 8080}]}}
    # the wire form kubectl sends: keys in json.Marshal order
    assert json.dumps(patch, separators=(",", ":")) == (
        '{"spec":{"$setElementOrder/ports":[{"port":80}],"ports":[{"$patch":"delete","port":8080}]}}'
    )
    applied = P.strategic_merge_patch(live, patch, schema="services")
    assert applied["spec"]["ports"] == [{"port": 80, "targetPort": 80, "protocol": "TCP", "nodePort": 30080}]
    assert applied["spec"]["clusterIP"] == "10.0.0.7"
    # the same change as a plain merge patch loses the server-set nodePort
    merged = P.merge_patch(live, {"spec": {"ports": SVC_NEW_CONFIG["spec"]["ports"]}})
    assert merged["spec"]["ports"] == [{"port": 80, "targetPort": 80}]
    # applying again is a no-op
    assert P.three_way_merge_patch(SVC_NEW_CONFIG, SVC_NEW_CONFIG, applied, schema="services") == {}


THREE_WAY_CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("nothing to do", "services", SVC_LAST_APPLIED, SVC_LAST_APPLIED, SVC_LIVE, {}),
    (
        "no last-applied: additions only, server fields untouched",
        "services",
        None,
        {"metadata": {"labels": {"tier": "fe"}}, "spec": {"selector": {"app": "web"}}},
        SVC_LIVE,
        {"metadata": {"labels": {"tier": "fe"}}},
    ),
    (
        "field dropped from the config is nulled",
        "services",
        {"metadata": {"labels": {"app": "web", "ver": "1"}}},
        {"metadata": {"labels": {"app": "web"}}},
        SVC_LIVE,
        {"metadata": {"labels": {"ver": None}}},
    ),
    (
        "field set by someone else and not in the configs is kept",
        "services",
        {"metadata": {"labels": {"app": "web"}}},
        {"metadata": {"labels": {"app": "web"}}},
        SVC_LIVE,
        {},
    ),
    (
        "changed value is sent, live drift overwritten",
        "services",
        {"spec": {"selector": {"app": "web"}}},
        {"spec": {"selector": {"app": "web2"}}},
        SVC_LIVE,
        {"spec": {"selector": {"app": "web2"}}},
    ),
    (
        "port changed and port added",
        "services",
        SVC_LAST_APPLIED,
        _with(SVC_LAST_APPLIED, "spec.ports", [{"port": 80, "targetPort": 8000}, {"port": 8080, "targetPort": 8080},
                                               {"port": 9090}]),
        SVC_LIVE,
        {"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 8080}, {"port": 9090}],
                  "ports": [{"port": 80, "targetPort": 8000}, {"port": 9090}]}},
    ),
    (
        "port field dropped from the config",
        "services",
        {"spec": {"ports": [{"port": 80, "name": "http"}]}},
        {"spec": {"ports": [{"port": 80}]}},
        {"spec": {"ports": [{"port": 80, "name": "http", "nodePort": 30080}]}},
        {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"name": None, "port": 80}]}},
    ),
    (
        "container image changed, env var removed, container added",
        "pods",
        {"spec": {"containers": [{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"},
                                                                            {"name": "B", "value": "2"}]}]}},
        {"spec": {"containers": [{"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}]},
                                 {"name": "log", "image": "log:1"}]}},
        POD,
        {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "log"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}],
                 "image": "app:2", "name": "app"},
                {"image": "log:1", "name": "log"},
            ],
        }},
    ),
    (
        "finalizer removed from the config",
        "pods",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["a"]}},
        POD,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "$setElementOrder/finalizers": ["a"]}},
    ),
    (
        # kubectl sorts the live list in place before comparing, so an
        # unsorted but unchanged primitive merge list still sends its order.
        "unsorted primitive list is re-ordered even when unchanged",
        "pods",
        {"metadata": {"finalizers": ["b", "a"]}},
        {"metadata": {"finalizers": ["b", "a"]}},
        {"metadata": {"finalizers": ["b", "a"]}},
        {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}},
    ),
    (
        "volume source switched carries $retainKeys",
        "pods",
        {"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}},
        {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}}]}},
        POD,
        {"spec": {"$setElementOrder/volumes": [{"name": "data"}],
                  "volumes": [{"$retainKeys": ["hostPath", "name"], "emptyDir": None,
                               "hostPath": {"path": "/d"}, "name": "data"}]}},
    ),
    (
        "atomic list sent whole",
        "pods",
        {"spec": {"tolerations": [{"key": "k1", "operator": "Exists"}]}},
        {"spec": {"tolerations": [{"key": "k9", "operator": "Exists"}]}},
        POD,
        {"spec": {"tolerations": [{"key": "k9", "operator": "Exists"}]}},
    ),
]


@pytest.mark.parametrize(
    ("name", "schema", "original", "modified", "current", "expected"), THREE_WAY_CASES, ids=[c[0] for c in THREE_WAY_CASES]
)
def test_three_way_merge_patch(
    name: str,
    schema: str,
    original: dict[str, Any] | None,
    modified: dict[str, Any],
    current: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    frozen = copy.deepcopy((original, modified, current))
    patch = P.three_way_merge_patch(original, modified, current, schema=schema)
    assert patch == expected
    assert (original, modified, current) == frozen


TWO_WAY_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("equal", "services", SVC_LIVE, SVC_LIVE, {}),
    (
        "kubectl edit: port removed, label removed, type changed",
        "services",
        SVC_LIVE,
        _with(_with(SVC_LIVE, "spec.ports", SVC_LIVE["spec"]["ports"][:1]), "metadata.labels", {"app": "web"}),
        {"metadata": {"labels": {"ver": None}},
         "spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"$patch": "delete", "port": 8080}]}},
    ),
    (
        "reorder only",
        "services",
        SVC_LIVE,
        _with(SVC_LIVE, "spec.ports", SVC_LIVE["spec"]["ports"][::-1]),
        {"spec": {"$setElementOrder/ports": [{"port": 8080}, {"port": 80}]}},
    ),
    (
        "finalizer added and removed",
        "pods",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "$setElementOrder/finalizers": ["a", "c"],
                      "finalizers": ["c"]}},
    ),
    ("type change replaces", "services", {"spec": {"ports": [{"port": 80, "targetPort": 80}]}},
     {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}},
     {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"port": 80, "targetPort": "http"}]}}),
]


@pytest.mark.parametrize(("name", "schema", "original", "modified", "expected"), TWO_WAY_CASES, ids=[c[0] for c in TWO_WAY_CASES])
def test_two_way_merge_patch(
    name: str, schema: str, original: dict[str, Any], modified: dict[str, Any], expected: dict[str, Any]
) -> None:
    patch = P.two_way_merge_patch(original, modified, schema=schema)
    assert patch == expected
    assert P.strategic_merge_patch(original, patch, schema=schema) == modified


@pytest.mark.parametrize(
    ("original", "modified", "message"),
    [
        ({"spec": {"ports": [{"port": 80}]}}, {"spec": {"ports": [{"name": "x"}]}},
         "map: map[name:x] does not contain declared merge key: port"),
        ({"spec": {"ports": [{"port": 80}]}}, {"spec": {"ports": [[1]]}}, "list element types are not identical: [[map[port:80]] [[1]]]"),
        ({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, "lists of lists are not supported"),
    ],
)
def test_client_side_errors(original: dict[str, Any], modified: dict[str, Any], message: str) -> None:
    with pytest.raises(P.PatchError) as exc:
        P.two_way_merge_patch(original, modified, schema="services")
    assert exc.value.message == message


# --- round trip: what kubectl apply sends converges on the config ------------------


def _project(live: Any, config: Any) -> Any:
    """``live`` restricted to the fields ``config`` sets (lists of maps item by item)."""
    if isinstance(config, dict) and isinstance(live, dict):
        return {k: _project(live.get(k), v) for k, v in config.items()}
    if isinstance(config, list) and isinstance(live, list) and len(config) == len(live):
        return [_project(x, y) for x, y in zip(live, config, strict=True)]
    return live


def _service_config(rng: random.Random) -> dict[str, Any]:
    ports = rng.sample([80, 443, 8080, 9090], k=rng.randint(1, 4))
    spec: dict[str, Any] = {
        "selector": {"app": "web"},
        "ports": [{"port": p, "targetPort": rng.choice([p, p + 1, "http"]), **({"name": f"p{p}"} if rng.random() < 0.5 else {})}
                  for p in ports],
    }
    if rng.random() < 0.5:
        spec["type"] = "NodePort"
    labels = {k: v for k, v in {"app": "web", "tier": rng.choice(["a", "b"]), "team": "x"}.items() if rng.random() < 0.7}
    meta: dict[str, Any] = {"name": "web", "namespace": "default", "labels": labels}
    if rng.random() < 0.5:
        meta["finalizers"] = sorted(rng.sample(["f/a", "f/b", "f/c"], k=rng.randint(1, 3)))
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _pod_config(rng: random.Random) -> dict[str, Any]:
    containers = []
    for name in rng.sample(["app", "log", "proxy"], k=rng.randint(1, 3)):
        c: dict[str, Any] = {"name": name, "image": f"{name}:{rng.randint(1, 2)}"}
        env = [{"name": e, "value": str(rng.randint(0, 1))} for e in rng.sample(["A", "B", "C"], k=rng.randint(0, 3))]
        if env:
            c["env"] = env
        if rng.random() < 0.5:
            c["ports"] = [{"containerPort": p} for p in rng.sample([80, 81], k=rng.randint(1, 2))]
        containers.append(c)
    spec: dict[str, Any] = {"containers": containers}
    if rng.random() < 0.5:
        spec["volumes"] = [{"name": "v", rng.choice(["emptyDir", "hostPath"]): {}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": rng.choice(["a", "b"])}},
            "spec": spec}


def _live(schema: str, config: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The object as the server keeps it: defaults, server-set fields, another writer's label."""
    live = copy.deepcopy(config)
    live["metadata"].update(uid="u-1", resourceVersion="7")
    live["metadata"].setdefault("labels", {})["owner"] = "ops"
    if schema == "services":
        live["spec"]["clusterIP"] = "10.0.0.9"
        for i, port in enumerate(live["spec"]["ports"]):
            port.update(protocol="TCP", nodePort=30000 + i)
    else:
        for c in live["spec"]["containers"]:
            c.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
            if rng.random() < 0.3:  # someone edited the image by hand
                c["image"] = "hotfix:9"
        live["status"] = {"phase": "Running"}
    return live


@pytest.mark.parametrize("schema", ["services", "pods"])
@pytest.mark.parametrize("seed", range(25))
def test_apply_round_trip(schema: str, seed: int) -> None:
    rng = random.Random(f"{schema}-{seed}")
    make = _service_config if schema == "services" else _pod_config
    original, modified = make(rng), make(rng)
    current = _live(schema, original, rng)

    patch = P.three_way_merge_patch(original, modified, current, schema=schema)
    result = P.strategic_merge_patch(current, patch, schema=schema)

    assert _project(result, modified) == modified
    # labels: exactly the config's plus the other writer's
    assert set(result["metadata"]["labels"]) == set(modified["metadata"].get("labels", {})) | {"owner"}
    # fields only the server set survive
    assert result["metadata"]["uid"] == "u-1"
    if schema == "services":
        assert result["spec"]["clusterIP"] == "10.0.0.9"
        live_node_ports = {p["port"]: p["nodePort"] for p in current["spec"]["ports"]}
        for port in result["spec"]["ports"]:
            assert port.get("nodePort") == live_node_ports.get(port["port"])
        assert ("finalizers" in result["metadata"]) == ("finalizers" in modified["metadata"])
    else:
        assert result["status"] == {"phase": "Running"}
        names = [c["name"] for c in modified["spec"]["containers"]]
        assert [c["name"] for c in result["spec"]["containers"]] == names
        for c in result["spec"]["containers"]:
            kept = any(c["name"] == o["name"] for o in original["spec"]["containers"])
            assert ("imagePullPolicy" in c) == kept
        if "volumes" in modified["spec"]:
            assert result["spec"]["volumes"] == modified["spec"]["volumes"]
    # kubectl apply right after is a no-op
    assert P.three_way_merge_patch(modified, modified, result, schema=schema) == {}


# --- Go formatting used in messages -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.5"), (100.0, "100"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5")],
)
def test_go_float_format(value: float, text: str) -> None:
    assert _go_float(value) == text
