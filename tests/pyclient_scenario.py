"""One scenario of the official ``kubernetes`` Python client against kubelite, run as a script.

Run by tests/test_python_client_compat.py in a subprocess, once with each
client version (the installed one, and 33.x from its own directory on
PYTHONPATH), because both cannot be imported in one interpreter.

Usage: python pyclient_scenario.py URL NAMESPACE; prints one JSON object of
observations on success, exits non-zero (with a traceback) on any failure.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import kubernetes
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

URL, NS = sys.argv[1], sys.argv[2]
MAJOR = int(kubernetes.__version__.split(".")[0])
cfg = k8s.Configuration()
cfg.host = URL
api = k8s.ApiClient(cfg)
core = k8s.CoreV1Api(api)
out: dict[str, Any] = {"version": kubernetes.__version__}


def status_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    try:
        call(*args, **kwargs)
    except ApiException as e:
        return int(e.status), json.loads(e.body) if e.body else {}
    raise AssertionError("expected an ApiException")


def patch_service(name: str, body: Any, content_type: str, **params: Any) -> Any:
    """A PATCH of one content type; 33.x's generated method only sends JSON/strategic patches."""
    if MAJOR >= 34:
        return core.patch_namespaced_service(name, NS, body, _content_type=content_type, **params)
    names = {"field_manager": "fieldManager", "force": "force"}
    query = [(names[k], v) for k, v in params.items()]
    return api.call_api(f"/api/v1/namespaces/{NS}/services/{name}", "PATCH", query_params=query,
                        header_params={"Content-Type": content_type, "Accept": "application/json"}, body=body,
                        response_type="V1Service", auth_settings=["BearerToken"], _return_http_data_only=True)


def managers(obj: Any) -> list[tuple[str, str]]:
    return sorted((m.manager, m.operation) for m in obj.metadata.managed_fields or [])


# create (model and dict bodies), AlreadyExists
svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="the-bus", labels={"env": "marvel"}),
                    spec=k8s.V1ServiceSpec(selector={"env": "marvel"},
                                           ports=[k8s.V1ServicePort(port=8080, target_port=8080)]))
created = core.create_namespaced_service(NS, svc)
assert created.spec.type == "ClusterIP" and created.spec.ports[0].protocol == "TCP", created
out["create_managers"] = managers(created)
core.create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dict-svc"},
                                    "spec": {"ports": [{"port": 81}]}})
code, body = status_of(core.create_namespaced_service, NS, svc)
out["already_exists"] = [code, body.get("reason"), body.get("message")]

# list by label selector (set-based, with spaces)
listed = core.list_namespaced_service(NS, label_selector="env in (marvel, dc)")
out["listed"] = [s.metadata.name for s in listed.items]
assert listed.metadata.resource_version

# strategic merge (dict body), merge (null removes), JSON patch (list body)
patched = core.patch_namespaced_service("the-bus", NS, {"metadata": {"labels": {"tier": "web"}}})
assert patched.metadata.labels == {"env": "marvel", "tier": "web"}, patched.metadata.labels
patched = patch_service("the-bus", {"metadata": {"labels": {"tier": None}}}, "application/merge-patch+json")
assert patched.metadata.labels == {"env": "marvel"}, patched.metadata.labels
patched = core.patch_namespaced_service(
    "the-bus", NS, [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 9090}])
out["json_patch_target_port"] = patched.spec.ports[0].target_port

# server-side apply: create-or-update, ownership, conflict, force
applied = patch_service("the-bus", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "the-bus"},
                                    "spec": {"ports": [{"port": 8080, "targetPort": 7070}]}},
                        "application/apply-patch+yaml", field_manager="py", force=True)
out["ssa_target_port"] = applied.spec.ports[0].target_port
out["ssa_managers"] = managers(applied)
code, body = status_of(patch_service, "the-bus", {"apiVersion": "v1", "kind": "Service",
                                                  "metadata": {"name": "the-bus"},
                                                  "spec": {"ports": [{"port": 8080, "targetPort": 6060}]}},
                       "application/apply-patch+yaml", field_manager="rival", force=False)
out["ssa_conflict"] = [code, body.get("reason"), body.get("message")]
fresh = patch_service("ssa-made", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ssa-made"},
                                   "spec": {"ports": [{"port": 82}]}},
                      "application/apply-patch+yaml", field_manager="py")
out["ssa_created"] = [fresh.metadata.name, managers(fresh)]

# delete, then NotFound
core.delete_namespaced_service("dict-svc", NS)
code, body = status_of(core.read_namespaced_service, "dict-svc", NS)
out["not_found"] = [code, body.get("reason"), body.get("message")]

# watch from the list's resourceVersion
start = core.list_namespaced_service(NS).metadata.resource_version
seen: list[tuple[str, str]] = []
w = k8s_watch.Watch()
started = threading.Event()


def consume() -> None:
    for ev in w.stream(core.list_namespaced_service, NS, resource_version=start, timeout_seconds=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()


t = threading.Thread(target=consume)
t.start()
core.create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "w1"},
                                    "spec": {"ports": [{"port": 83}]}})
core.patch_namespaced_service("w1", NS, {"metadata": {"labels": {"x": "y"}}})
core.delete_namespaced_service("w1", NS)
t.join(15)
out["watch"] = seen

# watch-list: initial ADDED events, then the BOOKMARK that ends them
events: list[tuple[str, Any]] = []
for ev in k8s_watch.Watch().stream(core.list_namespaced_service, NS, allow_watch_bookmarks=True,
                                   send_initial_events=True, resource_version_match="NotOlderThan",
                                   timeout_seconds=2):
    if ev["type"] == "BOOKMARK":
        events.append(("BOOKMARK", ev["raw_object"]["metadata"].get("annotations")))
        break
    events.append((ev["type"], ev["object"].metadata.name))
out["watch_list"] = events

# 410: a watch from a resourceVersion the server no longer keeps raises; a relist recovers
for i in range(int(sys.argv[3]) if len(sys.argv) > 3 else 0):
    core.patch_namespaced_service("the-bus", NS, {"metadata": {"labels": {"n": str(i)}}})
try:
    for _ in k8s_watch.Watch().stream(core.list_namespaced_service, NS, resource_version=start, timeout_seconds=2):
        pass
    out["gone"] = None
except ApiException as e:
    out["gone"] = [e.status, e.reason]
relisted = core.list_namespaced_service(NS)
after: list[tuple[str, str]] = []
w3 = k8s_watch.Watch()


def consume_after() -> None:
    for ev in w3.stream(core.list_namespaced_service, NS, resource_version=relisted.metadata.resource_version,
                        timeout_seconds=10):
        after.append((ev["type"], ev["object"].metadata.name))
        w3.stop()


t = threading.Thread(target=consume_after)
t.start()
core.create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "after-410"},
                                    "spec": {"ports": [{"port": 84}]}})
t.join(15)
out["after_relist"] = after
print(json.dumps(out))
