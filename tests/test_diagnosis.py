"""Table tests of apimachinery.diagnosis: one row per cause, the state in, the findings out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apimachinery.diagnosis import ClusterState, Finding, diagnose_pod, diagnose_service
from apimachinery.leases import lease_health, lease_held

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def svc(name: str = "the-bus", ns: str = "shield", *, selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}])
    spec.setdefault("clusterIP", "10.96.0.10")
    spec.setdefault("type", "ClusterIP")
    if selector is None:
        selector = {"env": "marvel"}
    if selector:
        spec["selector"] = selector
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def pod(name: str, ns: str = "shield", *, labels: dict[str, str] | None = None, ip: str = "10.85.0.2",
        ready: bool = True, node: str = "node-1", ports: list[Obj] | None = None, **extra: Any) -> Obj:
    conditions = [{"type": "PodScheduled", "status": "True"},
                  {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts(42),
                   **({} if ready else {"reason": "ContainersNotReady",
                                        "message": "containers with unready status: [c]"})}]
    status: Obj = {"phase": "Running", "conditions": conditions}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    p: Obj = {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {"env": "marvel"}},
              "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports if ports is not None else
                                                         [{"containerPort": 8080, "protocol": "TCP"}]}]},
              "status": status}
    for key, value in extra.items():
        if key == "meta":
            p["metadata"].update(value)
        elif key == "status":
            p["status"] = value
        else:
            p["spec"][key] = value
    return p


def endpoints(name: str = "the-bus", ns: str = "shield", *, ready: Sequence[Obj] = (),
              not_ready: Sequence[Obj] = (), port: int = 8080) -> Obj:
    def addr(p: Obj) -> Obj:
        return {"ip": p["status"]["podIP"], "targetRef": {"kind": "Pod", "name": p["metadata"]["name"],
                                                          "namespace": ns}}
    subset: Obj = {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [addr(p) for p in ready]
    if not_ready:
        subset["notReadyAddresses"] = [addr(p) for p in not_ready]
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
            "subsets": [subset] if ready or not_ready else []}


def lease(controller: str, *, renewed_ago: float, holder: str = "host_1", duration: int = 15) -> Obj:
    return {"kind": "Lease", "metadata": {"name": f"kubelite-{controller}", "namespace": "kube-system"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": micro(renewed_ago)}}


HEALTHY_LEASES = [lease(c, renewed_ago=1) for c in ("endpoints", "ipam", "nodeport")]
TRISKELION = pod("triskelion", ip="10.85.0.2")
ZEPHYR = pod("zephyr-one", ip="10.85.0.3")


def state(**kw: Any) -> ClusterState:
    kw.setdefault("leases", HEALTHY_LEASES)
    return ClusterState(now=NOW, **kw)


def reasons(findings: list[Finding]) -> list[str]:
    return [str(f.reason) for f in findings]


def test_healthy_service_is_a_clear_positive_answer() -> None:
    s = svc()
    out = diagnose_service(s, state(services=[s], pods=[TRISKELION, ZEPHYR],
                                    endpoints=[endpoints(ready=[TRISKELION, ZEPHYR])]))
    assert reasons(out) == ["ServiceHasEndpoints"]
    assert out[0].message == ("the-bus selects 2 Pods; 2 Ready endpoints: 10.85.0.2:8080 (triskelion), "
                              "10.85.0.3:8080 (zephyr-one)")
    assert out[0].as_dict()["objects"][0] == {"kind": "Service", "namespace": "shield", "name": "the-bus"}


SHIELDED = pod("triskelion", labels={"env": "shield", "app": "bus"})
OTHER_NS = pod("stray", "elsewhere")


@pytest.mark.parametrize(("service", "st", "expected"), [
    # selector matches nothing: the closest Pods and what they lack, a Pod that matches in another namespace
    (svc(), state(pods=[SHIELDED, pod("unrelated", labels={"tier": "db"}), OTHER_NS]), [
        ("SelectorMatchesNoPods", "Error", "selector env=marvel of the-bus matches no Pod in namespace shield"),
        ("PodLabelMismatch", "Info", "triskelion has env=shield; the-bus wants env=marvel"),
        ("PodMatchesInOtherNamespace", "Info",
         "stray in namespace elsewhere matches, but a Service selects Pods of its own namespace only"),
    ]),
    (svc(selector={"app": "bus", "tier": "web"}), state(pods=[pod("p", labels={"app": "bus"})]), [
        ("SelectorMatchesNoPods", "Error", "selector app=bus,tier=web of the-bus matches no Pod in namespace shield"),
        ("PodLabelMismatch", "Info", "p has no tier label; the-bus wants tier=web"),
    ]),
    # matching Pods not Ready, terminating, unscheduled, without an IP, finished
    (svc(), state(pods=[pod("triskelion", ready=False)], endpoints=[endpoints(not_ready=[pod("triskelion")])],
                  events=[{"type": "Warning", "reason": "Unhealthy", "message": "Readiness probe failed: HTTP probe "
                           "failed with statuscode: 503", "lastTimestamp": ts(3),
                           "involvedObject": {"kind": "Pod", "name": "triskelion", "namespace": "shield"}}]), [
        ("PodNotReady", "Error", "triskelion is not Ready (Ready=False, ContainersNotReady: containers with unready "
         "status: [c]) for 42s; last probe: Readiness probe failed: HTTP probe failed with statuscode: 503"),
    ]),
    (svc(), state(pods=[pod("triskelion", meta={"deletionTimestamp": ts(5)}), ZEPHYR],
                  endpoints=[endpoints(ready=[ZEPHYR], not_ready=[pod("triskelion")])]), [
        ("PodTerminating", "Warning",
         "triskelion is terminating (deletion requested 5s ago); endpoints list it as terminating, not ready"),
        ("ServiceHasEndpoints", "Info", "the-bus selects 2 Pods; 1 Ready endpoint: 10.85.0.3:8080 (zephyr-one)"),
    ]),
    (svc(), state(pods=[pod("triskelion", node="", ip="", status={"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": ts(90),
         "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."}]})],
                  endpoints=[endpoints()]), [
        ("PodUnscheduled", "Error", "triskelion is not scheduled (Unschedulable: 0/2 nodes are available: 2 node(s) "
         "didn't match Pod's node affinity/selector.) for 90s"),
    ]),
    (svc(), state(pods=[pod("triskelion", ip="", node="node-9")], endpoints=[endpoints()],
                  nodes=[{"metadata": {"name": "node-1"}}]), [
        ("PodHasNoIP", "Error", "triskelion is on node node-9 but has no IP yet (phase Running); its node node-9 "
         "does not exist"),
    ]),
    (svc(), state(pods=[pod("triskelion", status={"phase": "Succeeded", "podIP": "10.85.0.2"})],
                  endpoints=[endpoints()]), [
        ("PodTerminal", "Error", "triskelion has finished (phase Succeeded); it will not serve again"),
    ]),
    # targetPort: a missing name, an undeclared number (a warning), a protocol mismatch
    (svc(ports=[{"port": 80, "targetPort": "web"}]), state(pods=[TRISKELION], endpoints=[endpoints()]), [
        ("TargetPortNameNotFound", "Error", "the-bus port 80/TCP targets the named port web, which no container of "
         "triskelion declares (declared: 8080/TCP)"),
    ]),
    (svc(ports=[{"port": 80, "targetPort": 9090}]), state(pods=[TRISKELION],
                                                          endpoints=[endpoints(ready=[TRISKELION], port=9090)]), [
        ("TargetPortNotDeclared", "Warning", "the-bus port 80/TCP targets 9090, which no container of triskelion "
         "declares (declared: 8080/TCP); traffic is sent anyway, so the process must listen on 9090"),
        ("ServiceHasEndpoints", "Info", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.2:9090 (triskelion)"),
    ]),
    (svc(ports=[{"port": 53, "protocol": "UDP", "targetPort": "dns"}]),
     state(pods=[pod("triskelion", ports=[{"name": "dns", "containerPort": 53, "protocol": "TCP"}])],
           endpoints=[endpoints()]), [
        ("ProtocolMismatch", "Error", "the-bus port 53/UDP targets dns/UDP, but triskelion declares it with another "
         "protocol (declared: dns=53/TCP)"),
    ]),
    # no selector, ExternalName, headless
    (svc(selector={}), state(endpoints=[{"metadata": {"name": "the-bus", "namespace": "shield"}, "subsets": [
        {"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 80}]}]}]), [
        ("SelectorlessService", "Info", "the-bus has no selector; its Endpoints are written by hand: 192.0.2.7:80"),
    ]),
    (svc(selector={}), state(), [
        ("SelectorlessServiceWithoutEndpoints", "Error",
         "the-bus has no selector and no ready Endpoints: nothing receives its traffic"),
    ]),
    (svc(type="ExternalName", externalName="example.com", clusterIP=""), state(), [
        ("ExternalNameService", "Info", "the-bus is an ExternalName Service: its DNS name is a CNAME to example.com; "
         "it has no ClusterIP, no endpoints and no proxy rules"),
    ]),
    (svc(clusterIP="None"), state(pods=[TRISKELION], endpoints=[endpoints(ready=[TRISKELION])]), [
        ("HeadlessService", "Info", "the-bus is headless (clusterIP None): DNS answers the endpoints' IPs and the "
         "proxy writes no rules for it"),
        ("ServiceHasEndpoints", "Info", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.2:8080 (triskelion)"),
    ]),
    # control plane: controllers whose Lease ran out, a missing ClusterIP or NodePort
    (svc(), state(pods=[TRISKELION], endpoints=[endpoints()], leases=[lease("endpoints", renewed_ago=57)]), [
        ("EndpointsControllerNotRunning", "Error", "the endpoints controller is not running (Lease "
         "kube-system/kubelite-endpoints held by host_1 expired 42s ago); endpoints/the-bus are out of date (Ready "
         "Pods missing from them: triskelion)"),
    ]),
    (svc(), state(pods=[TRISKELION], endpoints=[endpoints()]), [
        ("EndpointsOutOfDate", "Warning", "endpoints/the-bus are out of date (Ready Pods missing from them: "
         "triskelion); the endpoints controller should catch up within seconds"),
    ]),
    (svc(), state(pods=[TRISKELION], leases=[]), [
        ("EndpointsControllerNotRunning", "Error", "the endpoints controller holds no Lease "
         "kube-system/kubelite-endpoints (it never ran with leader election); the-bus has no Endpoints object "
         "while triskelion could serve"),
    ]),
    (svc(clusterIP="", type="NodePort"), state(pods=[TRISKELION], endpoints=[endpoints(ready=[TRISKELION])],
                                               leases=[lease("ipam", renewed_ago=20, holder=""),
                                                       lease("endpoints", renewed_ago=1),
                                                       lease("nodeport", renewed_ago=1)]), [
        ("IPAMControllerNotRunning", "Error", "the ipam controller is not running (Lease kube-system/kubelite-ipam "
         "released 20s ago); the-bus waits for a ClusterIP"),
        ("ClusterIPNotAllocated", "Error", "the-bus has no ClusterIP yet: its DNS name and proxy rules wait for it"),
        ("NodePortNotAllocated", "Error", "the-bus is type NodePort but port 8080/TCP has no NodePort yet"),
        ("ServiceHasEndpoints", "Info", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.2:8080 (triskelion)"),
    ]),
    # a Service's own Warning Events (an allocator's refusal) are reported
    (svc(clusterIP=""), state(pods=[TRISKELION], endpoints=[endpoints(ready=[TRISKELION])], events=[
        {"type": "Warning", "reason": "ClusterIPAllocationFailed", "message": "range is full", "count": 3,
         "lastTimestamp": ts(4), "involvedObject": {"kind": "Service", "name": "the-bus", "namespace": "shield"}}]), [
        ("ClusterIPNotAllocated", "Error", "the-bus has no ClusterIP yet: its DNS name and proxy rules wait for it"),
        ("WarningEvent", "Warning", "event ClusterIPAllocationFailed (3x, last 4s ago): range is full"),
        ("ServiceHasEndpoints", "Info", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.2:8080 (triskelion)"),
    ]),
])
def test_service_causes(service: Obj, st: ClusterState, expected: list[tuple[str, str, str]]) -> None:
    out = diagnose_service(service, st)
    assert [(str(f.reason), str(f.severity), f.message) for f in out] == expected
    assert all(f.objects for f in out)


def test_why_not_the_others() -> None:
    s = svc()
    out = diagnose_service(s, state(services=[s], pods=[SHIELDED, ZEPHYR, pod("db", labels={"tier": "db"})],
                                    endpoints=[endpoints(ready=[ZEPHYR])]))
    assert [(str(f.reason), f.message) for f in out] == [
        ("PodLabelMismatch", "triskelion has env=shield; the-bus wants env=marvel"),
        ("ServiceHasEndpoints", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.3:8080 (zephyr-one)"),
    ]


def test_publish_not_ready_addresses_serves_unready_pods() -> None:
    s = svc(publishNotReadyAddresses=True)
    p = pod("triskelion", ready=False)
    out = diagnose_service(s, state(pods=[p], endpoints=[endpoints(ready=[p])]))
    assert [(str(f.reason), f.message) for f in out] == [
        ("ServiceHasEndpoints", "the-bus selects 1 Pod; 1 Ready endpoint: 10.85.0.2:8080 (triskelion)")]


def test_lease_held_is_the_allocation_waits_rule() -> None:
    assert lease_held(lease("ipam", renewed_ago=3), NOW)
    assert not lease_held(lease("ipam", renewed_ago=16), NOW)
    assert not lease_held(lease("ipam", renewed_ago=1, holder=""), NOW)
    assert not lease_held(None, NOW)
    assert not lease_held({"spec": {"holderIdentity": "h"}}, NOW)  # never renewed


def test_fixes_name_the_object_and_the_command() -> None:
    out = diagnose_service(svc(), state(pods=[SHIELDED]))
    assert out[1].fix == "kctl label pod/triskelion -n shield env=marvel --overwrite"
    assert out[0].fix.startswith("label the Pods (kctl label pod/NAME -n shield env=marvel)")
    down = diagnose_service(svc(), state(pods=[TRISKELION], leases=[lease("endpoints", renewed_ago=99)]))[0]
    assert down.fix == "start it: kubelite controller endpoints (kubelite up runs it)"
    assert down.as_dict()["objects"] == [{"kind": "Lease", "namespace": "kube-system", "name": "kubelite-endpoints"}]


def test_controller_health_is_not_judged_without_leases() -> None:
    out = diagnose_service(svc(), ClusterState(now=NOW, pods=[TRISKELION], endpoints=[endpoints()], leases=None))
    assert reasons(out) == []


def test_proxy_rules_excerpt_when_a_proxy_is_known() -> None:
    rules = "\n".join([
        "*nat",
        '-A KUBE-SERVICES -m comment --comment "shield/the-bus:http cluster IP" -d 10.96.0.10/32 -j KUBE-SVC-X',
        '-A KUBE-SERVICES -m comment --comment "shield/the-bus-two:http cluster IP" -j KUBE-SVC-Y',
        "-A KUBE-SVC-X -m comment --comment shield/the-bus:http -j KUBE-SEP-Z",
        "COMMIT",
    ])
    s = svc()
    out = diagnose_service(s, state(pods=[TRISKELION], endpoints=[endpoints(ready=[TRISKELION])], proxy_rules=rules))
    assert out[-1].reason == "ProxyRules"
    assert out[-1].message.splitlines() == ["the proxy's rules for shield/the-bus:", *rules.splitlines()[1:2],
                                            rules.splitlines()[3]]
    none = diagnose_service(s, state(pods=[TRISKELION], endpoints=[endpoints(ready=[TRISKELION])], proxy_rules=""))
    assert none[-1].message == "the proxy has no rules for shield/the-bus"


@pytest.mark.parametrize(("renewed_ago", "holder", "state_", "seconds"), [
    (3, "h", "held", 3.0), (20, "h", "expired", 5.0), (20, "", "released", 20.0),
])
def test_lease_health(renewed_ago: float, holder: str, state_: str, seconds: float) -> None:
    h = lease_health("ipam", [lease("ipam", renewed_ago=renewed_ago, holder=holder)], NOW)
    assert (h.state, round(h.seconds)) == (state_, seconds)
    assert lease_health("ipam", [], NOW).state == "missing"


def test_pod_selected_and_ready() -> None:
    s = svc()
    out = diagnose_pod(TRISKELION, state(services=[s], pods=[TRISKELION],
                                         endpoints=[endpoints(ready=[TRISKELION])]))
    assert [(str(f.reason), f.message) for f in out] == [
        ("ServiceSelectsPod", "the-bus selects triskelion; it is a Ready endpoint: 10.85.0.2:8080")]


def test_pod_selected_but_not_ready_and_port_missing() -> None:
    s = svc(ports=[{"port": 80, "targetPort": "web"}])
    p = pod("triskelion", ready=False)
    out = diagnose_pod(p, state(services=[s], pods=[p], endpoints=[endpoints(not_ready=[p])]))
    assert reasons(out) == ["PodNotReady", "PodNotInEndpoints", "TargetPortNameNotFound"]
    assert out[1].message == "the-bus selects triskelion, but its endpoints list it not Ready (PodNotReady)"


def test_pod_nobody_selects_and_near_misses() -> None:
    services = [svc(), svc("metrics", selector={"env": "shield", "tier": "web"}), svc("db", selector={"role": "db"})]
    out = diagnose_pod(SHIELDED, state(services=services, pods=[SHIELDED]))
    assert [(str(f.reason), str(f.severity), f.message) for f in out] == [
        ("NoServiceSelectsPod", "Warning", "no Service in namespace shield selects triskelion (labels: "
         "app=bus,env=shield)"),
        ("PodLabelMismatch", "Info", "triskelion has no tier label; metrics wants tier=web"),
        ("PodLabelMismatch", "Info", "triskelion has env=shield; the-bus wants env=marvel"),
    ]


def test_pod_ready_but_endpoints_controller_down() -> None:
    s = svc()
    out = diagnose_pod(TRISKELION, state(services=[s], pods=[TRISKELION], endpoints=[endpoints()],
                                         leases=[lease("endpoints", renewed_ago=30, holder="")]))
    assert reasons(out) == ["PodNotInEndpoints", "EndpointsControllerNotRunning"]
