"""Events the API server records (apiserver.events), listed the way ``kubectl describe`` lists them."""

from __future__ import annotations

import httpx
import pytest

from apiserver.events import event_object, object_reference


def test_object_reference_and_event_shape() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "n", "uid": "u1", "resourceVersion": "7"}}
    ref = object_reference(pod)
    assert ref == {"kind": "Pod", "namespace": "n", "name": "p", "uid": "u1", "apiVersion": "v1",
                   "resourceVersion": "7"}
    ev = event_object(ref, type_="Normal", reason="Scheduled", message="m", component="default-scheduler",
                      host="h", now="2025-01-01T00:00:00Z", name="p.1")
    assert ev["metadata"] == {"name": "p.1", "namespace": "n"}
    assert (ev["count"], ev["source"], ev["reportingInstance"]) == (1, {"component": "default-scheduler",
                                                                        "host": "h"}, "default-scheduler-h")


@pytest.mark.parametrize("kind_first", [True, False])
def test_binding_records_scheduled_event_found_by_involved_object(api: httpx.Client, ns: str,
                                                                   kind_first: bool) -> None:
    name = "bound-a" if kind_first else "bound-b"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert r.status_code == 201, r.text
    uid = r.json()["metadata"]["uid"]
    r = api.post(f"/api/v1/namespaces/{ns}/pods/{name}/binding", json={
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
    assert r.status_code == 201, r.text
    parts = ["involvedObject.kind=Pod", f"involvedObject.uid={uid}", f"involvedObject.name={name}",
             f"involvedObject.namespace={ns}"]
    if not kind_first:
        parts.reverse()
    events = api.get(f"/api/v1/namespaces/{ns}/events", params={"fieldSelector": ",".join(parts)}).json()["items"]
    assert [(e["type"], e["reason"], e["message"], e["source"]["component"], e["count"]) for e in events] == [
        ("Normal", "Scheduled", f"Successfully assigned {ns}/{name} to node-1", "default-scheduler", 1)]
    other = api.get(f"/api/v1/namespaces/{ns}/events",
                    params={"fieldSelector": "involvedObject.name=someone-else"}).json()["items"]
    assert other == []
