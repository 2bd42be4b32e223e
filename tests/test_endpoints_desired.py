"""Table tests of controllers.endpoints.desired: every rule of the Endpoints/EndpointSlice controllers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apimachinery.labels import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
)
from apimachinery.pods import find_port
from controllers.endpoints.compare import canonical_subsets, same_endpoints, same_slice
from controllers.endpoints.desired import desired_endpoints, plan
from controllers.endpoints.endpoints import repack_subsets
from controllers.endpoints.pods import MANAGED_BY
from controllers.endpoints.slices import endpoint_id, service_address_types

Obj = dict[str, Any]
HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}


def svc(
    *,
    name: str = "web",
    ns: str = "default",
    selector: dict[str, str] | None = None,
    ports: list[Obj] | None = None,
    cluster_ip: str = "10.96.0.10",
    families: list[str] | None = None,
    publish: bool = False,
    type_: str | None = None,
    labels: dict[str, str] | None = None,
    uid: str = "svc-uid",
) -> Obj:
    spec: Obj = {"selector": {"app": "web"} if selector is None else selector,
                 "ports": [HTTP] if ports is None else ports, "clusterIP": cluster_ip}
    if families is not None:
        spec["ipFamilies"] = families
    elif cluster_ip != "None":
        spec["ipFamilies"] = ["IPv4"]
    if publish:
        spec["publishNotReadyAddresses"] = True
    if type_:
        spec["type"] = type_
    meta: Obj = {"name": name, "namespace": ns, "uid": uid, "creationTimestamp": "2024-01-01T00:00:00Z"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def pod(
    name: str,
    ip: str | None = "10.85.0.2",
    *,
    ns: str = "default",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    node: str = "node-1",
    phase: str = "Running",
    deleting: bool = False,
    containers: list[Obj] | None = None,
    init_containers: list[Obj] | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
    ips: list[str] | None = None,
) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": {"app": "web"} if labels is None
                 else labels}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:10Z"
    spec: Obj = {"nodeName": node, "containers": containers or [
        {"name": "app", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]}
    if init_containers:
        spec["initContainers"] = init_containers
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": i} for i in (ips or [ip])]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node(name: str = "node-1", zone: str | None = None) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


NODES = [node("node-1", "zone-a"), node("node-2")]


def ips(subsets: list[Obj], key: str) -> list[str]:
    return sorted(a["ip"] for s in subsets for a in s.get(key, []))


def slice_endpoints(slices: list[Obj]) -> list[Obj]:
    return [ep for s in slices for ep in s.get("endpoints") or []]


def named(slices: list[Obj]) -> list[Obj]:
    """Pretend the API created the new slices: give each a name (as generateName would)."""
    out = []
    for i, s in enumerate(slices):
        s = copy.deepcopy(s)
        if not s["metadata"].get("name"):
            s["metadata"]["name"] = f"{s['metadata']['generateName']}gen{i}"
            s["metadata"].update({"uid": f"slice-uid-{i}", "resourceVersion": str(100 + i)})
        out.append(s)
    return out


# ---------------------------------------------------------------------------
# which Services are managed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", [
    svc(selector={}),
    svc(type_="ExternalName", cluster_ip=""),
], ids=["no-selector", "external-name"])
def test_unmanaged_services_get_nothing(service: Obj) -> None:
    assert desired_endpoints(service, [pod("a")], NODES) == (None, [])


# ---------------------------------------------------------------------------
# which Pods, ready or not
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pods", "publish", "ready", "not_ready", "slice_conditions"),
    [
        ([pod("a")], False, ["10.85.0.2"], [], {"10.85.0.2": (True, True, False)}),
        ([pod("a", ready=False)], False, [], ["10.85.0.2"], {"10.85.0.2": (False, False, False)}),
        ([pod("a", phase="Pending", ready=False)], False, [], ["10.85.0.2"], {"10.85.0.2": (False, False, False)}),
        ([pod("a", ip=None)], False, [], [], {}),
        ([pod("a", phase="Succeeded", ready=False)], False, [], [], {}),
        ([pod("a", phase="Failed")], False, [], [], {}),
        # terminating: out of Endpoints, in slices as serving/terminating, never ready
        ([pod("a", deleting=True)], False, [], [], {"10.85.0.2": (False, True, True)}),
        ([pod("a", deleting=True, ready=False)], False, [], [], {"10.85.0.2": (False, False, True)}),
        # publishNotReadyAddresses: everything with an IP is a ready address
        ([pod("a", ready=False)], True, ["10.85.0.2"], [], {"10.85.0.2": (True, False, False)}),
        ([pod("a", deleting=True)], True, ["10.85.0.2"], [], {"10.85.0.2": (True, True, True)}),
        ([pod("a", ip=None)], True, [], [], {}),
        # not selected: other labels, other namespace
        ([pod("a", labels={"app": "db"})], False, [], [], {}),
        ([pod("a", ns="other")], False, [], [], {}),
        ([pod("a"), pod("b", "10.85.0.3", ready=False), pod("c", "10.85.0.4")], False,
         ["10.85.0.2", "10.85.0.4"], ["10.85.0.3"],
         {"10.85.0.2": (True, True, False), "10.85.0.3": (False, False, False), "10.85.0.4": (True, True, False)}),
    ],
    ids=["ready", "not-ready", "pending", "no-ip", "succeeded", "failed", "terminating-ready",
         "terminating-not-ready", "publish-not-ready", "publish-terminating", "publish-no-ip", "other-labels",
         "other-namespace", "mixed"],
)
def test_readiness_and_membership(pods: list[Obj], publish: bool, ready: list[str], not_ready: list[str],
                                  slice_conditions: dict[str, tuple[bool, bool, bool]]) -> None:
    ep, slices = desired_endpoints(svc(publish=publish), pods, NODES)
    assert ep is not None
    assert ips(ep["subsets"], "addresses") == ready
    assert ips(ep["subsets"], "notReadyAddresses") == not_ready
    got = {e["addresses"][0]: (e["conditions"]["ready"], e["conditions"]["serving"], e["conditions"]["terminating"])
           for e in slice_endpoints(slices)}
    assert got == slice_conditions


def test_pod_ips_are_normalised_and_family_matched() -> None:
    dual = pod("a", "10.85.0.002", ips=["10.85.0.002", "fd00::0002"])
    ep, slices = desired_endpoints(svc(families=["IPv6"], cluster_ip="fd00::10"), [dual], NODES)
    assert ep is not None and ips(ep["subsets"], "addresses") == ["fd00::2"]
    assert [s["addressType"] for s in slices] == ["IPv6"]
    assert slice_endpoints(slices)[0]["addresses"] == ["fd00::2"]
    ep4, slices4 = desired_endpoints(svc(), [dual], NODES)
    assert ep4 is not None and ips(ep4["subsets"], "addresses") == ["10.85.0.2"]
    assert slice_endpoints(slices4)[0]["addresses"] == ["10.85.0.2"]


# ---------------------------------------------------------------------------
# ports
# ---------------------------------------------------------------------------


def _c(name: str, *ports: tuple[str, int, str]) -> Obj:
    return {"name": name, "image": "x", "ports": [{"name": n, "containerPort": p, "protocol": proto}
                                                  for n, p, proto in ports]}


@pytest.mark.parametrize(
    ("service_port", "containers", "init_containers", "expected"),
    [
        ({"port": 80, "targetPort": 8080}, [], [], 8080),
        ({"port": 80}, [], [], 80),
        ({"port": 80, "targetPort": "http"}, [_c("a", ("http", 8080, "TCP"))], [], 8080),
        ({"port": 80, "targetPort": "http"}, [_c("a", ("web", 8080, "TCP")), _c("b", ("http", 9000, "TCP"))], [], 9000),
        ({"port": 80, "targetPort": "http"}, [_c("a", ("http", 8080, "UDP"))], [], None),
        ({"port": 53, "targetPort": "dns", "protocol": "UDP"}, [_c("a", ("dns", 5353, "UDP"))], [], 5353),
        ({"port": 80, "targetPort": "http"}, [_c("a", ("web", 8080, "TCP"))], [], None),
        ({"port": 80, "targetPort": "http"}, [],
         [{**_c("side", ("http", 7000, "TCP")), "restartPolicy": "Always"}], 7000),
        ({"port": 80, "targetPort": "http"}, [], [_c("init", ("http", 7000, "TCP"))], None),
    ],
    ids=["number", "defaulted-to-port", "named", "named-second-container", "named-protocol-mismatch",
         "named-udp", "name-missing", "sidecar", "plain-init-container"],
)
def test_find_port(service_port: Obj, containers: list[Obj], init_containers: list[Obj],
                   expected: int | None) -> None:
    p = pod("a", containers=containers or [_c("x")], init_containers=init_containers)
    assert find_port(p, service_port) == expected


def test_named_ports_with_two_containers_group_slices_by_resolved_ports() -> None:
    service = svc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                         {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}])
    a = pod("a", "10.85.0.2", containers=[_c("app", ("http", 8080, "TCP")), _c("side", ("metrics", 9090, "TCP"))])
    b = pod("b", "10.85.0.3", containers=[_c("app", ("http", 8080, "TCP"))])
    c = pod("c", "10.85.0.4", containers=[_c("app", ("http", 8081, "TCP")), _c("side", ("metrics", 9090, "TCP"))])
    ep, slices = desired_endpoints(service, [a, b, c], NODES)
    assert ep is not None
    by_ports = {tuple((p.get("name"), p["port"]) for p in s["ports"]): sorted(a["ip"] for a in s["addresses"])
                for s in ep["subsets"]}
    assert by_ports == {
        (("http", 8080),): ["10.85.0.2", "10.85.0.3"],
        (("http", 8081),): ["10.85.0.4"],
        (("metrics", 9090),): ["10.85.0.2", "10.85.0.4"],
    }
    got = {tuple((p["name"], p["port"]) for p in s["ports"]): [e["addresses"][0] for e in s["endpoints"]]
           for s in slices}
    assert got == {
        (("http", 8080), ("metrics", 9090)): ["10.85.0.2"],
        (("http", 8080),): ["10.85.0.3"],
        (("http", 8081), ("metrics", 9090)): ["10.85.0.4"],
    }
    assert all(p["protocol"] == "TCP" for s in slices for p in s["ports"])


def test_pod_without_any_named_port() -> None:
    service = svc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    lacking = pod("a", containers=[_c("app", ("web", 8080, "TCP"))])
    ep, slices = desired_endpoints(service, [lacking], NODES)
    assert ep is not None and ep["subsets"] == []  # Endpoints skip it entirely
    assert len(slices) == 1 and slices[0]["ports"] == [] and len(slices[0]["endpoints"]) == 1


def test_same_address_two_ports_one_subset() -> None:
    service = svc(ports=[{"name": "a", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                         {"name": "b", "port": 81, "targetPort": 8081, "protocol": "TCP", "appProtocol": "http"}])
    ep, _ = desired_endpoints(service, [pod("x"), pod("y", "10.85.0.3", ready=False)], NODES)
    assert ep is not None
    assert canonical_subsets(ep["subsets"]) == [{
        "addresses": [{"ip": "10.85.0.2", "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "x", "uid": "uid-x"}}],
        "notReadyAddresses": [{"ip": "10.85.0.3", "nodeName": "node-1",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "y", "uid": "uid-y"}}],
        "ports": [{"name": "a", "port": 8080, "protocol": "TCP"},
                  {"name": "b", "port": 8081, "protocol": "TCP", "appProtocol": "http"}],
    }]


@pytest.mark.parametrize(("cluster_ip", "addresses", "slice_ports"), [("None", 1, []), ("10.96.0.10", 0, [])],
                         ids=["headless", "cluster-ip"])
def test_service_without_ports(cluster_ip: str, addresses: int, slice_ports: list[Obj]) -> None:
    ep, slices = desired_endpoints(svc(ports=[], cluster_ip=cluster_ip, families=["IPv4"]), [pod("a")], NODES)
    assert ep is not None
    assert sum(len(s.get("addresses", [])) for s in ep["subsets"]) == addresses
    assert all("ports" not in s for s in ep["subsets"])
    assert [s["ports"] for s in slices] == [slice_ports] and len(slice_endpoints(slices)) == 1


# ---------------------------------------------------------------------------
# per-endpoint fields
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "subdomain", "expected"),
    [("db-0", "web", "db-0"), ("db-0", "other", None), ("db-0", None, None), (None, "web", None)],
    ids=["match", "other-subdomain", "no-subdomain", "no-hostname"],
)
def test_hostname_and_subdomain(hostname: str | None, subdomain: str | None, expected: str | None) -> None:
    ep, slices = desired_endpoints(svc(), [pod("a", hostname=hostname, subdomain=subdomain)], NODES)
    assert ep is not None
    assert ep["subsets"][0]["addresses"][0].get("hostname") == expected
    assert slice_endpoints(slices)[0].get("hostname") == expected


@pytest.mark.parametrize(
    ("node_name", "publish", "in_slice", "zone", "missing"),
    [("node-1", False, True, "zone-a", []), ("node-2", False, True, None, []),
     ("node-9", False, False, None, ["node-9"]), ("node-9", True, True, None, [])],
    ids=["zoned-node", "unzoned-node", "missing-node", "missing-node-published"],
)
def test_node_name_zone_and_missing_nodes(node_name: str, publish: bool, in_slice: bool, zone: str | None,
                                          missing: list[str]) -> None:
    d = plan(svc(publish=publish), [pod("a", node=node_name)], NODES)
    assert d.endpoints is not None
    addr = d.endpoints["subsets"][0]["addresses"][0]
    assert addr["nodeName"] == node_name  # Endpoints do not need the Node
    eps = slice_endpoints(d.slices)
    assert bool(eps) == in_slice
    if in_slice:
        assert eps[0]["nodeName"] == node_name
        assert eps[0].get("zone") == zone
    assert d.missing_nodes == missing


def test_target_ref() -> None:
    ep, slices = desired_endpoints(svc(), [pod("a")], NODES)
    ref = {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}
    assert ep is not None and ep["subsets"][0]["addresses"][0]["targetRef"] == ref
    assert slice_endpoints(slices)[0]["targetRef"] == ref


# ---------------------------------------------------------------------------
# object metadata
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cluster_ip", "headless"), [("10.96.0.10", False), ("None", True), ("", True)],
                         ids=["cluster-ip", "headless", "ip-not-yet-allocated"])
def test_labels_owner_and_names(cluster_ip: str, headless: bool) -> None:
    service = svc(cluster_ip=cluster_ip, families=["IPv4"],
                  labels={"team": "a", LABEL_SERVICE_NAME: "spoof", LABEL_MANAGED_BY: "spoof"})
    ep, slices = desired_endpoints(service, [pod("a")], NODES)
    assert ep is not None
    assert ep["metadata"]["name"] == "web" and ep["metadata"]["namespace"] == "default"
    assert "ownerReferences" not in ep["metadata"]  # the Endpoints controller sets none
    expected = {"team": "a", LABEL_SERVICE_NAME: "spoof", LABEL_MANAGED_BY: "spoof"}
    if headless:
        expected[LABEL_HEADLESS] = ""
    assert ep["metadata"]["labels"] == expected
    (s,) = slices
    slice_expected = {"team": "a", LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: MANAGED_BY}
    if headless:
        slice_expected[LABEL_HEADLESS] = ""
    assert s["metadata"]["labels"] == slice_expected
    assert s["metadata"]["generateName"] == "web-" and "name" not in s["metadata"]
    assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                 "uid": "svc-uid", "controller": True, "blockOwnerDeletion": True}]
    assert s["addressType"] == "IPv4"


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ipFamilies": ["IPv4"], "clusterIP": "10.0.0.1"}, ["IPv4"]),
    ({"ipFamilies": ["IPv6", "IPv4"], "clusterIP": "fd00::1"}, ["IPv4", "IPv6"]),
    ({"clusterIP": "fd00::1"}, ["IPv6"]),
    ({"clusterIP": "None"}, ["IPv4", "IPv6"]),
], ids=["families", "dual", "from-cluster-ip", "headless-unknown"])
def test_address_types(spec: Obj, expected: list[str]) -> None:
    assert service_address_types({"spec": spec}) == expected


def test_trigger_time_annotation() -> None:
    t = "2024-01-01T00:00:05Z"
    ep, slices = desired_endpoints(svc(), [pod("a")], NODES, trigger_time=t)
    assert ep is not None and ep["metadata"]["annotations"] == {ANNOTATION_TRIGGER_TIME: t}
    assert slices[0]["metadata"]["annotations"] == {ANNOTATION_TRIGGER_TIME: t}
    ep2, slices2 = desired_endpoints(svc(), [pod("a")], NODES)
    assert ep2 is not None and "annotations" not in ep2["metadata"]
    assert "annotations" not in slices2[0]["metadata"]
    # an unchanged object is not rewritten for a newer trigger time
    stored = named(slices)
    ep3, slices3 = desired_endpoints(svc(), [pod("a")], NODES, existing_endpoints=ep, existing_slices=stored,
                                     trigger_time="2030-01-01T00:00:00Z")
    assert ep3 is not None and same_endpoints(ep3, ep)
    assert slices3 == stored
    # a change carries the new trigger time, and keeps other annotations of the stored object
    user = copy.deepcopy(ep)
    user["metadata"]["annotations"]["note"] = "mine"
    ep4, _ = desired_endpoints(svc(), [pod("a", ready=False)], NODES, existing_endpoints=user,
                               trigger_time="2030-01-01T00:00:00Z")
    assert ep4 is not None
    assert ep4["metadata"]["annotations"] == {"note": "mine", ANNOTATION_TRIGGER_TIME: "2030-01-01T00:00:00Z"}


# ---------------------------------------------------------------------------
# capacity: 100 per slice, 1000 per Endpoints
# ---------------------------------------------------------------------------


def many(n: int, *, start: int = 0, ready: bool = True) -> list[Obj]:
    return [pod(f"p{i:04d}", f"10.85.{i // 250}.{i % 250 + 2}", ready=ready) for i in range(start, start + n)]


@pytest.mark.parametrize(("count", "limit", "sizes"), [
    (100, 100, [100]), (101, 100, [100, 1]), (250, 100, [100, 100, 50]), (7, 3, [3, 3, 1]), (0, 100, [0]),
], ids=["exactly-full", "one-over", "two-and-a-half", "custom-limit", "placeholder"])
def test_slice_splitting(count: int, limit: int, sizes: list[int]) -> None:
    _, slices = desired_endpoints(svc(), many(count), NODES, max_endpoints_per_slice=limit)
    assert [len(s["endpoints"]) for s in slices] == sizes
    assert len({endpoint_id(e) for e in slice_endpoints(slices)}) == count


def test_placeholder_slice_is_kept_not_recreated() -> None:
    _, slices = desired_endpoints(svc(), [], NODES)
    assert len(slices) == 1 and slices[0]["endpoints"] == [] and slices[0]["ports"] == []
    stored = named(slices)
    _, again = desired_endpoints(svc(), [], NODES, existing_slices=stored)
    assert again == stored


@pytest.mark.parametrize(("ready", "not_ready", "want_ready", "want_not_ready", "truncated"), [
    (1000, 0, 1000, 0, False),
    (1005, 0, 1000, 0, True),
    (990, 20, 990, 10, True),
    (1001, 30, 1000, 0, True),
    (10, 990, 10, 990, False),
], ids=["at-capacity", "ready-over", "not-ready-cut-first", "ready-over-drops-not-ready", "mixed-at-capacity"])
def test_endpoints_truncation(ready: int, not_ready: int, want_ready: int, want_not_ready: int,
                              truncated: bool) -> None:
    pods = many(ready) + many(not_ready, start=ready, ready=False)
    ep, _ = desired_endpoints(svc(), pods, NODES)
    assert ep is not None
    assert len(ips(ep["subsets"], "addresses")) == want_ready
    assert len(ips(ep["subsets"], "notReadyAddresses")) == want_not_ready
    assert (ep["metadata"].get("annotations", {}).get(ANNOTATION_OVER_CAPACITY) == "truncated") == truncated
    assert all(s.get("addresses") or s.get("notReadyAddresses") for s in ep["subsets"])


def test_truncated_endpoints_are_stable_and_annotation_is_removed_when_under() -> None:
    pods = many(1005)
    ep, _ = desired_endpoints(svc(), pods, NODES)
    again, _ = desired_endpoints(svc(), pods, NODES, existing_endpoints=ep, trigger_time="2030-01-01T00:00:00Z")
    assert again is not None and again == ep  # no rewrite of an already truncated object
    under, _ = desired_endpoints(svc(), pods[:10], NODES, existing_endpoints=ep)
    assert under is not None and ANNOTATION_OVER_CAPACITY not in under["metadata"].get("annotations", {})


def test_truncation_spreads_over_subsets() -> None:
    service = svc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    a = [pod(f"a{i:04d}", f"10.85.1.{i % 250 + 2}" if i < 250 else f"10.85.2.{i % 250 + 2}",
             containers=[_c("c", ("http", 8080, "TCP"))]) for i in range(300)]
    b = [pod(f"b{i:04d}", f"10.86.{i // 250}.{i % 250 + 2}", containers=[_c("c", ("http", 9090, "TCP"))])
         for i in range(900)]
    ep, _ = desired_endpoints(service, a + b, NODES)
    assert ep is not None
    sizes = sorted(len(s["addresses"]) for s in ep["subsets"])
    assert sizes == [250, 750]  # ceil(300/1200*1000)=250, then the rest


# ---------------------------------------------------------------------------
# churn: existing slices are kept stable
# ---------------------------------------------------------------------------


def changed(before: list[Obj], after: list[Obj]) -> tuple[set[str], int, set[str]]:
    """(names updated, number created, names deleted) going from stored ``before`` to desired ``after``."""
    old = {s["metadata"]["name"]: s for s in before}
    updated = {s["metadata"]["name"] for s in after if s["metadata"].get("name") in old
               and not same_slice(s, old[s["metadata"]["name"]])}
    created = sum(1 for s in after if not s["metadata"].get("name"))
    kept = {s["metadata"].get("name") for s in after}
    return updated, created, set(old) - kept


def test_fixpoint_and_minimal_changes() -> None:
    pods = many(150)
    _, first = desired_endpoints(svc(), pods, NODES)
    stored = named(first)
    assert [len(s["endpoints"]) for s in stored] == [100, 50]
    # the stored state is a fixpoint: nothing to do
    _, again = desired_endpoints(svc(), pods, NODES, existing_slices=stored)
    assert changed(stored, again) == (set(), 0, set())
    small = stored[1]["metadata"]["name"]
    big = stored[0]["metadata"]["name"]
    # a new Pod lands in the slice with room; the full one is untouched
    _, added = desired_endpoints(svc(), [*pods, *many(1, start=150)], NODES, existing_slices=stored)
    assert changed(stored, added) == ({small}, 0, set())
    # a Pod leaving the full slice touches only that slice
    _, removed = desired_endpoints(svc(), pods[1:], NODES, existing_slices=stored)
    assert changed(stored, removed) == ({big}, 0, set())
    # a readiness flip touches only the Pod's slice
    flipped = [pod(p["metadata"]["name"], p["status"]["podIP"], ready=(i != 120)) for i, p in enumerate(pods)]
    _, flip = desired_endpoints(svc(), flipped, NODES, existing_slices=stored)
    assert changed(stored, flip) == ({small}, 0, set())


def test_emptied_slice_is_reused_for_new_port_set() -> None:
    _, first = desired_endpoints(svc(), many(3), NODES)
    stored = named(first)
    other = svc(ports=[{"name": "http", "port": 80, "targetPort": 9999, "protocol": "TCP"}])
    _, after = desired_endpoints(other, many(3), NODES, existing_slices=stored)
    assert [s["metadata"].get("name") for s in after] == [stored[0]["metadata"]["name"]]
    assert after[0]["ports"] == [{"name": "http", "port": 9999, "protocol": "TCP"}]


def test_foreign_slices_are_ignored_and_unowned_ones_replaced() -> None:
    _, first = desired_endpoints(svc(), many(2), NODES)
    stored = named(first)
    foreign = copy.deepcopy(stored[0])
    foreign["metadata"]["name"] = "not-ours"
    foreign["metadata"]["labels"][LABEL_MANAGED_BY] = "someone-else"
    recreated = svc(uid="new-uid")  # same name, new Service: the old slices are not its own
    _, after = desired_endpoints(recreated, many(2), NODES, existing_slices=[*stored, foreign])
    assert [s["metadata"].get("name") for s in after] == [None]
    assert after[0]["metadata"]["ownerReferences"][0]["uid"] == "new-uid"


def test_repack_not_ready_wins_and_ports_group() -> None:
    addr = {"ip": "10.0.0.1", "targetRef": {"uid": "u1"}}
    other = {"ip": "10.0.0.2", "targetRef": {"uid": "u2"}}
    p80, p81 = {"name": "a", "port": 80, "protocol": "TCP"}, {"name": "b", "port": 81, "protocol": "TCP"}
    got = repack_subsets([(addr, True, p80), (addr, False, p80), (addr, True, p80), (other, True, p81),
                          (addr, True, p81)])
    assert got == [
        {"notReadyAddresses": [addr], "ports": [p80]},
        {"addresses": [addr, other], "ports": [p81]},
    ]


def test_endpoints_comparison_ignores_order_and_pod_resource_version() -> None:
    ep, _ = desired_endpoints(svc(), many(3), NODES)
    assert ep is not None
    shuffled = copy.deepcopy(ep)
    for s in shuffled["subsets"]:
        s["addresses"].reverse()
        for a in s["addresses"]:
            a["targetRef"]["resourceVersion"] = "42"
    again, _ = desired_endpoints(svc(), many(3), NODES, existing_endpoints=shuffled)
    assert again == shuffled


def test_label_change_on_service_updates_objects() -> None:
    ep, first = desired_endpoints(svc(), many(2), NODES)
    stored = named(first)
    relabelled = svc(labels={"tier": "front"})
    ep2, after = desired_endpoints(relabelled, many(2), NODES, existing_endpoints=ep, existing_slices=stored)
    assert ep2 is not None and ep2["metadata"]["labels"] == {"tier": "front"}
    assert changed(stored, after) == ({stored[0]["metadata"]["name"]}, 0, set())
    assert after[0]["metadata"]["labels"]["tier"] == "front"


def test_service_being_deleted_gets_no_new_slices() -> None:
    dying = svc()
    dying["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    _, slices = desired_endpoints(dying, many(2), NODES)
    assert slices == []


def test_unsupported_address_type_slices_are_dropped() -> None:
    _, first = desired_endpoints(svc(cluster_ip="None", families=[]), many(2), NODES)
    assert sorted(s["addressType"] for s in first) == ["IPv4", "IPv6"]
    stored = named(first)
    _, after = desired_endpoints(svc(cluster_ip="None", families=["IPv4"]), many(2), NODES, existing_slices=stored)
    assert [s["addressType"] for s in after] == ["IPv4"]
