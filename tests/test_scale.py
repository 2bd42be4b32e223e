"""apps/v1 over HTTP: the /scale subresource, generation and observedGeneration, propagation finalizers.

Runs against the session API server (no controllers): what is checked is
the server's side of ``kubectl scale``, ``kubectl delete --cascade`` and
``kubectl create deployment`` (a protobuf body).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apiserver.protobuf import MAGIC, message_class
from apiserver.scale import to_scale

APPS = "/apis/apps/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def create(api: httpx.Client, ns: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(f"{APPS}/namespaces/{ns}/{plural}", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_to_scale() -> None:
    obj = {"metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "9", "generation": 3,
                        "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"a": "b"}},
           "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web", "tier": "x"}}},
           "status": {"replicas": 3}}
    assert to_scale(obj) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "9",
                     "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"replicas": 4}, "status": {"replicas": 3, "selector": "app=web,tier=x"}}


@pytest.mark.parametrize("plural", ["deployments", "replicasets"])
def test_scale_get_put_patch(api: httpx.Client, ns: str, plural: str) -> None:
    body = deployment("web")
    if plural == "replicasets":
        body["kind"] = "ReplicaSet"
    created = create(api, ns, plural, body)
    path = f"{APPS}/namespaces/{ns}/{plural}/web/scale"
    scale = api.get(path).json()
    assert scale["spec"] == {"replicas": 2} and scale["metadata"]["uid"] == created["metadata"]["uid"]
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}
    r = api.put(path, json={"kind": "Scale", "apiVersion": "autoscaling/v1",
                            "metadata": {"name": "web", "resourceVersion": scale["metadata"]["resourceVersion"]},
                            "spec": {"replicas": 5}})
    assert r.status_code == 200, r.text
    assert r.json()["spec"] == {"replicas": 5}
    parent = api.get(f"{APPS}/namespaces/{ns}/{plural}/web").json()
    assert parent["spec"]["replicas"] == 5 and parent["metadata"]["generation"] == 2
    # a stale resourceVersion is a Conflict on the parent, as kube-apiserver words it
    r = api.put(path, json={"metadata": {"name": "web", "resourceVersion": scale["metadata"]["resourceVersion"]},
                            "spec": {"replicas": 6}})
    assert r.status_code == 409
    assert r.json()["message"] == (f'Operation cannot be fulfilled on {plural}.apps "web": the object has been '
                                   "modified; please apply your changes to the latest version and try again")
    r = api.patch(path, json={"spec": {"replicas": 7}}, headers=MERGE)
    assert r.status_code == 200 and r.json()["spec"] == {"replicas": 7}
    r = api.patch(path, json=[{"op": "replace", "path": "/spec/replicas", "value": 1}],
                  headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200 and r.json()["spec"] == {"replicas": 1}
    r = api.patch(path, json={"spec": {"replicas": -1}}, headers=MERGE)
    assert r.status_code == 422
    assert r.json()["message"] == ('Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
                                   "must be greater than or equal to 0")
    r = api.patch(path + "?dryRun=All", json={"spec": {"replicas": 9}}, headers=MERGE)
    assert r.status_code == 200 and r.json()["spec"] == {"replicas": 9}
    assert api.get(path).json()["spec"] == {"replicas": 1}
    assert api.get(f"{APPS}/namespaces/{ns}/{plural}/nope/scale").status_code == 404


def test_generation_moves_with_spec_only(api: httpx.Client, ns: str) -> None:
    created = create(api, ns, "deployments", deployment("gen"))
    assert created["metadata"]["generation"] == 1 and created["status"] == {}
    path = f"{APPS}/namespaces/{ns}/deployments/gen"
    r = api.patch(path, json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE)
    assert r.json()["metadata"]["generation"] == 1
    r = api.patch(path, json={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    out = r.json()
    assert out["metadata"]["generation"] == 2
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert out["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] == "File"
    status = {**out, "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                                "updatedReplicas": 2}}
    r = api.put(path + "/status", json=status)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 2 and r.json()["status"]["observedGeneration"] == 2
    # the main resource cannot write status
    r = api.put(path, json={**r.json(), "status": {"replicas": 99}})
    assert r.json()["status"]["replicas"] == 2


@pytest.mark.parametrize(
    ("policy", "finalizers", "gone"),
    [("Background", None, True), ("Orphan", ["orphan"], False), ("Foreground", ["foregroundDeletion"], False)],
)
def test_propagation_policy_finalizers(api: httpx.Client, ns: str, policy: str, finalizers: list[str] | None,
                                       gone: bool) -> None:
    create(api, ns, "deployments", deployment("del"))
    path = f"{APPS}/namespaces/{ns}/deployments/del"
    r = api.request("DELETE", path, json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy})
    assert r.status_code == 200, r.text
    got = api.get(path)
    if gone:
        assert got.status_code == 404
        return
    meta = got.json()["metadata"]
    assert meta["finalizers"] == finalizers and meta["deletionTimestamp"]
    # what the garbage collector does when it is done: the last finalizer gone, the object goes
    r = api.patch(path, json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert r.status_code == 200, r.text
    assert api.get(path).status_code == 404


def test_kubectl_create_deployment_protobuf_body(api: httpx.Client, ns: str) -> None:
    """kubectl create deployment sends apps/v1 Deployment as application/vnd.kubernetes.protobuf."""
    d = message_class("k8s.io.api.apps.v1.Deployment")()
    d.metadata.name = "pb"
    d.metadata.labels["app"] = "pb"
    d.spec.replicas = 3
    d.spec.selector.matchLabels["app"] = "pb"
    d.spec.template.metadata.labels["app"] = "pb"
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "echo", "kubelite/echo"
    port = c.ports.add()
    port.containerPort = 8080
    c.resources.SetInParent()
    d.spec.strategy.SetInParent()
    unknown = message_class("k8s.io.apimachinery.pkg.runtime.Unknown")()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "apps/v1", "Deployment"
    unknown.raw = d.SerializeToString()
    unknown.contentType = "application/vnd.kubernetes.protobuf"
    r = api.post(f"{APPS}/namespaces/{ns}/deployments", content=MAGIC + unknown.SerializeToString(),
                 headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert spec["replicas"] == 3 and spec["selector"] == {"matchLabels": {"app": "pb"}}
    assert spec["strategy"]["type"] == "RollingUpdate"
    container = spec["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == (
        "echo", "kubelite/echo", [{"containerPort": 8080, "protocol": "TCP"}])
