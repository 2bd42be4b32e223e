"""The console's picture as a pure function (console/mapview.py): who selects whom, near misses, owners,
endpoints, controllers' health from Leases, and the notes that explain what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.mapview import describe_miss, health, label_misses, lease_state, selection, service_map

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def svc(name: str, selector: dict[str, str] | None, *, ns: str = "shield", type_: str = "ClusterIP",
        cluster_ip: str = "10.96.0.10", **spec: Any) -> Obj:
    s: Obj = {"type": type_, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], **spec}
    if cluster_ip:
        s["clusterIP"] = cluster_ip
    if selector is not None:
        s["selector"] = selector
    return {"metadata": {"name": name, "namespace": ns}, "spec": s}


def pod(name: str, labels: dict[str, str], *, ns: str = "shield", ready: bool = True, owner: str = "",
        deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    return {"metadata": meta, "spec": {"nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.85.0.7",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def lease(name: str, *, ns: str = "kube-system", holder: str = "h", renewed_ago: float = 1,
          duration: int = 15) -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": ts(renewed_ago)}}


ALL_RUNNING = [lease("kubelite-ipam"), lease("kubelite-endpoints"), lease("kubelite-nodeport")]


def picture(services: list[Obj], pods: list[Obj], *, rs: list[Obj] | None = None, slices: list[Obj] | None = None,
            leases: list[Obj] | None = None) -> dict[str, Any]:
    return service_map("shield", services=services, pods=pods, replicasets=rs or [], slices=slices or [],
                       leases=ALL_RUNNING if leases is None else leases, now=NOW)


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ({"env": "marvel"}, {"env": "marvel"}, "selected"),
    ({"env": "marvel"}, {"env": "marvel", "tier": "web"}, "selected"),
    ({"env": "marvel"}, {"env": "shield"}, "near"),  # the key, another value
    ({"env": "marvel"}, {"tier": "web"}, "none"),  # no key in common: unrelated
    ({"env": "marvel", "app": "bus"}, {"env": "marvel"}, "near"),
    ({"env": "marvel", "app": "bus"}, {"env": "marvel", "app": "car"}, "near"),
    ({"env": "marvel", "app": "bus"}, {"tier": "web"}, "none"),
    ({}, {"env": "marvel"}, "none"),  # an empty Service selector selects nothing
])
def test_selection(selector: dict[str, str], labels: dict[str, str], expected: str) -> None:
    assert selection(selector, labels) == expected


@pytest.mark.parametrize(("selector", "labels", "texts"), [
    ({"env": "marvel"}, {"env": "shield"}, ["env=shield, wanted env=marvel"]),
    ({"env": "marvel", "app": "bus"}, {"env": "marvel"}, ["no app, wanted app=bus"]),
    ({"b": "1", "a": "2"}, {}, ["no a, wanted a=2", "no b, wanted b=1"]),
    ({"env": "marvel"}, {"env": "marvel"}, []),
])
def test_label_misses(selector: dict[str, str], labels: dict[str, str], texts: list[str]) -> None:
    assert [describe_miss(m) for m in label_misses(selector, labels)] == texts


def test_the_bus_selects_triskelion_and_a_relabelled_pod_stands_beside_with_its_missing_label() -> None:
    bus = svc("the-bus", {"env": "marvel", "app": "bus"}, type_="NodePort")
    pic = picture([bus], [pod("triskelion", {"env": "marvel", "app": "bus"}),
                          pod("zephyr-one", {"env": "shield", "app": "bus"}),
                          pod("cousin", {"app": "car"}), pod("stranger", {"tier": "db"})])
    [s] = pic["services"]
    assert s["selects"] == ["triskelion"]
    assert [(n["pod"], n["texts"]) for n in s["nearMisses"]] == [
        ("cousin", ["app=car, wanted app=bus", "no env, wanted env=marvel"]),
        ("zephyr-one", ["env=shield, wanted env=marvel"])]
    assert pic["pods"]["triskelion"]["serviceMarks"] == {"the-bus": {"selected": True, "misses": []}}
    assert pic["pods"]["zephyr-one"]["serviceMarks"]["the-bus"]["texts"] == ["env=shield, wanted env=marvel"]
    assert pic["pods"]["stranger"]["serviceMarks"] == {}
    assert s["dns"] == "the-bus.shield.svc.cluster.local" and s["type"] == "NodePort"


def test_other_namespaces_are_not_drawn() -> None:
    pic = picture([svc("the-bus", {"env": "marvel"}), svc("elsewhere", {"env": "marvel"}, ns="other")],
                  [pod("triskelion", {"env": "marvel"}), pod("twin", {"env": "marvel"}, ns="other")])
    assert [s["name"] for s in pic["services"]] == ["the-bus"]
    assert pic["services"][0]["selects"] == ["triskelion"] and list(pic["pods"]) == ["triskelion"]


def test_pods_grouped_by_owner_deployment_then_replicaset_standalone_last() -> None:
    rs = {"metadata": {"name": "hello-abc", "namespace": "shield",
                       "ownerReferences": [{"kind": "Deployment", "name": "hello", "controller": True}]}}
    pic = picture([], [pod("lonely", {}), pod("hello-abc-1", {}, owner="hello-abc"),
                       pod("hello-abc-2", {}, owner="hello-abc")], rs=[rs])
    assert [(g["key"], g["pods"]) for g in pic["groups"]] == [
        ("Deployment/hello > ReplicaSet/hello-abc", ["hello-abc-1", "hello-abc-2"]), ("", ["lonely"])]


@pytest.mark.parametrize(("p", "state"), [
    (pod("a", {}), "ready"),
    (pod("a", {}, ready=False), "running"),
    (pod("a", {}, deleting=True), "terminating"),
    ({"metadata": {"name": "a", "namespace": "shield"}}, "pending"),
])
def test_pod_state_colours(p: Obj, state: str) -> None:
    assert picture([], [p])["pods"]["a"]["state"] == state


def test_endpoints_from_the_services_slices() -> None:
    sl: Obj = {"metadata": {"name": "the-bus-x", "namespace": "shield", "labels": {"kubernetes.io/service-name": "the-bus"}},
          "endpoints": [{"addresses": ["10.85.0.7"], "conditions": {"ready": True, "serving": True},
                         "targetRef": {"kind": "Pod", "name": "triskelion"}},
                        {"addresses": ["10.85.0.8"], "conditions": {"ready": False, "serving": True, "terminating": True},
                         "targetRef": {"kind": "Pod", "name": "old"}}]}
    other = {**sl, "metadata": {**sl["metadata"], "name": "o", "labels": {"kubernetes.io/service-name": "other"}}}
    [s] = picture([svc("the-bus", {"env": "marvel"})], [], slices=[sl, other])["services"]
    assert [(e["ip"], e["pod"], e["ready"], e["terminating"]) for e in s["endpoints"]] == [
        ("10.85.0.7", "triskelion", True, False), ("10.85.0.8", "old", False, True)]


@pytest.mark.parametrize(("lease_obj", "alive", "why"), [
    (lease("kubelite-ipam", renewed_ago=3), True, "lease renewed within 15s"),
    (lease("kubelite-ipam", renewed_ago=20, duration=15), False, "lease expired at 11:59:55Z"),
    (lease("kubelite-ipam", holder=""), False, "released (no holder)"),
    ({"metadata": {"name": "kubelite-ipam", "namespace": "kube-system"}, "spec": {"holderIdentity": "h"}},
     False, "never renewed"),
])
def test_lease_state(lease_obj: Obj, alive: bool, why: str) -> None:
    st = lease_state(lease_obj, NOW)
    assert (st["alive"], st["why"]) == (alive, why)


def test_health_lists_watched_controllers_even_without_a_lease_and_node_heartbeats() -> None:
    h = health([lease("kubelite-endpoints"), lease("kubelite-gc"), lease("node-1", ns="kube-node-lease"),
                lease("node-2", ns="kube-node-lease", renewed_ago=100, duration=40)], NOW)
    assert [(c["controller"], c["alive"]) for c in h["controllers"]] == [
        ("endpoints", True), ("gc", True), ("ipam", False), ("nodeport", False)]
    assert next(c for c in h["controllers"] if c["controller"] == "ipam")["why"] == "no lease: never started"
    assert [(n["name"], n["alive"]) for n in h["nodes"]] == [("node-1", True), ("node-2", False)]


@pytest.mark.parametrize(("service", "leases", "notes"), [
    (svc("s", {"a": "b"}), ALL_RUNNING, []),
    (svc("s", {"a": "b"}, cluster_ip=""), [lease("kubelite-endpoints")],
     ["no ClusterIP yet: the ipam controller is not running"]),
    (svc("s", {"a": "b"}, cluster_ip=""), ALL_RUNNING, ["no ClusterIP yet: waiting for the ipam controller"]),
    (svc("s", {"a": "b"}), [lease("kubelite-ipam"), lease("kubelite-endpoints", holder="")],
     ["endpoints are not being updated: the endpoints controller is not running (no EndpointSlices yet)"]),
    (svc("s", {"a": "b"}, type_="NodePort"), [lease("kubelite-ipam"), lease("kubelite-endpoints")],
     ["no node port yet: the nodeport controller is not running"]),
    (svc("s", None), ALL_RUNNING, ["no selector: its endpoints are written by hand"]),
    (svc("s", None, type_="ExternalName", cluster_ip="", externalName="example.com"), [], []),
])
def test_notes_explain_what_is_missing_by_the_control_plane(service: Obj, leases: list[Obj], notes: list[str]) -> None:
    assert picture([service], [], leases=leases)["services"][0]["notes"] == notes


def test_last_applied_annotation_is_left_out_and_others_kept_verbatim() -> None:
    s = svc("s", {"a": "b"})
    s["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                    "note": "<img src=x onerror=alert(1)>"}
    assert picture([s], [])["services"][0]["annotations"] == {"note": "<img src=x onerror=alert(1)>"}


# ---- the object page and the search (console/objectpage.py) --------------------------------------------

def _types() -> list[Any]:
    from apimachinery.resources import RESOURCES

    return list(RESOURCES)


def test_by_kind_and_resolve_name_served_resources() -> None:
    from console.objectpage import by_kind, resolve

    types = _types()
    rs = by_kind(types, "apps/v1", "ReplicaSet")
    assert rs is not None and rs.plural == "replicasets"
    assert by_kind(types, "v1", "Pod") is not None and by_kind(types, "apps/v1", "Pod") is None
    assert resolve(types, group="", version="v1", resource="pods") is not None
    assert resolve(types, group="", version="v1", resource="gadgets") is None


def test_search_by_name_or_label_selector() -> None:
    from apimachinery.errors import StatusError
    from apimachinery.resources import BY_KEY
    from console.objectpage import search

    pods, svcs = BY_KEY["pods"], BY_KEY["services"]
    objs = [(pods, pod("triskelion", {"env": "marvel"})), (pods, pod("zephyr-one", {"env": "shield"})),
            (pods, pod("tri-other", {"env": "marvel"}, ns="other")), (svcs, svc("the-bus", {"env": "marvel"}))]
    def names(hits: list[dict[str, str]]) -> list[tuple[str, str, str]]:
        return [(h["kind"], h["namespace"], h["name"]) for h in hits]

    assert names(search("TRI", objs)) == [("Pod", "other", "tri-other"), ("Pod", "shield", "triskelion")]
    assert names(search("tri", objs, namespace="shield")) == [("Pod", "shield", "triskelion")]
    assert names(search("env=marvel", objs)) == [("Pod", "other", "tri-other"), ("Pod", "shield", "triskelion")]
    assert names(search("env in (shield)", objs)) == [("Pod", "shield", "zephyr-one")]
    assert names(search("env!=marvel", objs, namespace="shield")) == [("Pod", "shield", "zephyr-one"),
                                                                        ("Service", "shield", "the-bus")]
    with pytest.raises(StatusError) as e:
        search("env in (", objs)
    assert e.value.code == 400


def test_event_rows_oldest_first_and_services_selecting_a_pod() -> None:
    from console.objectpage import event_rows, selecting_services

    rows = event_rows([{"type": "Normal", "reason": "Started", "message": "<b>x</b>", "count": 2,
                        "lastTimestamp": "2026-01-01T00:00:02Z", "source": {"component": "kubelet"}},
                       {"type": "Normal", "reason": "Scheduled", "lastTimestamp": "2026-01-01T00:00:01Z"}])
    assert [(r["reason"], r["count"], r["from"]) for r in rows] == [("Scheduled", 1, ""), ("Started", 2, "kubelet")]
    assert rows[1]["message"] == "<b>x</b>"
    services = [svc("the-bus", {"env": "marvel"}), svc("all", None), svc("wide", {"env": "marvel"}, ns="other"),
                svc("cars", {"app": "car"})]
    assert selecting_services(pod("triskelion", {"env": "marvel", "app": "x"}), services) == ["the-bus"]
