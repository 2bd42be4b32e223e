"""apiserver.tables: kube-apiserver's Table columns and printers' cell text, kind by kind."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY, RESOURCES, ResourceType
from apiserver.tables import TABLE_CONTENT_TYPE, human_duration, to_table, wants_table
from tests import needs

CONTRACT = Path(__file__).parent / "data" / "kubectl-contract"
NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
KUBECTL_TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)

SVC, POD, EP, EPS = BY_KEY["services"], BY_KEY["pods"], BY_KEY["endpoints"], BY_KEY["endpointslices.discovery.k8s.io"]
NS, NODE, EV = BY_KEY["namespaces"], BY_KEY["nodes"], BY_KEY["events"]
DEPLOY, RS = BY_KEY["deployments.apps"], BY_KEY["replicasets.apps"]
LEASE, IPADDR, CIDR = (
    BY_KEY["leases.coordination.k8s.io"],
    BY_KEY["ipaddresses.networking.k8s.io"],
    BY_KEY["servicecidrs.networking.k8s.io"],
)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 303, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age), "resourceVersion": "7", **extra}


def cells(rt: ResourceType, obj: dict[str, Any]) -> list[Any]:
    row = to_table(rt, [obj], now=NOW)["rows"][0]
    return list(row["cells"])


def headers(rt: ResourceType) -> list[str]:
    return [c["name"] for c in to_table(rt, [], now=NOW)["columnDefinitions"]]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (119, "119s"),
        (120, "2m"),
        (303, "5m3s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400, "3d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("rt", "names"),
    [
        (SVC, ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]),
        (POD, ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]),
        (EP, ["Name", "Endpoints", "Age"]),
        (EPS, ["Name", "AddressType", "Ports", "Endpoints", "Age"]),
        (NS, ["Name", "Status", "Age"]),
        (NODE, ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
                "Kernel-Version", "Container-Runtime"]),
        (EV, ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count",
              "Name"]),
        (LEASE, ["Name", "Holder", "Age"]),
        (IPADDR, ["Name", "ParentRef"]),
        (CIDR, ["Name", "CIDRs", "Age"]),
        (DEPLOY, ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]),
        (RS, ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]),
    ],
)
def test_columns(rt: ResourceType, names: list[str]) -> None:
    assert headers(rt) == names


@pytest.mark.parametrize(
    ("rt", "wide"),
    [
        (SVC, ["Selector"]),
        (POD, ["IP", "Node", "Nominated Node", "Readiness Gates"]),
        (NODE, ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]),
        (EV, ["Subobject", "Source", "First Seen", "Count", "Name"]),
        (NS, []),
        (DEPLOY, ["Containers", "Images", "Selector"]),
        (RS, ["Containers", "Images", "Selector"]),
    ],
)
def test_priority_one_columns(rt: ResourceType, wide: list[str]) -> None:
    cols = to_table(rt, [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in cols if c["priority"] == 1] == wide


def test_column_definitions_have_every_field_and_name_format() -> None:
    for rt in RESOURCES:
        for col in to_table(rt, [], now=NOW)["columnDefinitions"]:
            assert set(col) == {"name", "type", "format", "description", "priority"}
            assert col["description"]
            assert col["format"] == ("name" if col["name"] == "Name" else "")


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param(
            {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
             "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP", "nodePort": 30443}],
             "selector": {"tier": "web", "app": "bus"}},
            {},
            ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,443:30443/TCP", "5m3s", "app=bus,tier=web"],
            id="clusterip",
        ),
        pytest.param(
            {"type": "NodePort", "clusterIPs": ["10.96.0.11"], "externalIPs": ["192.0.2.1", "192.0.2.2"],
             "ports": [{"port": 8080, "protocol": "TCP", "nodePort": 31112}, {"port": 53, "protocol": "UDP"}]},
            {},
            ["web", "NodePort", "10.96.0.11", "192.0.2.1,192.0.2.2", "8080:31112/TCP,53/UDP", "5m3s", "<none>"],
            id="nodeport-external-ips",
        ),
        pytest.param(
            {"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"], "ports": [{"port": 80, "protocol": "TCP",
                                                                           "nodePort": 30080}]},
            {"loadBalancer": {}},
            ["web", "LoadBalancer", "10.96.0.12", "<pending>", "80:30080/TCP", "5m3s", "<none>"],
            id="loadbalancer-pending",
        ),
        pytest.param(
            {"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"], "externalIPs": ["192.0.2.9"],
             "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.20"}, {"hostname": "lb.example.com"},
                                          {"ip": "203.0.113.10"}, {"ip": "203.0.113.10"}]}},
            ["web", "LoadBalancer", "10.96.0.12", "203.0.113.10,203.0.113.20,lb.example.com,192.0.2.9",
             "80:30080/TCP", "5m3s", "<none>"],
            id="loadbalancer-ingress-sorted-unique-not-clipped",
        ),
        pytest.param(
            {"type": "ExternalName", "externalName": "db.example.com"},
            {},
            ["web", "ExternalName", "<none>", "db.example.com", "<none>", "5m3s", "<none>"],
            id="externalname",
        ),
        pytest.param(
            {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "selector": {"app": "db"}},
            {},
            ["web", "ClusterIP", "None", "<none>", "<none>", "5m3s", "app=db"],
            id="headless",
        ),
        pytest.param(
            {"type": "ClusterIP", "ports": [{"port": 81, "protocol": "TCP"}]},
            {},
            ["web", "ClusterIP", "<pending>", "<none>", "81/TCP", "5m3s", "<none>"],
            id="clusterip-not-yet-allocated",
        ),
    ],
)
def test_service_cells(spec: dict[str, Any], status: dict[str, Any], expected: list[Any]) -> None:
    assert cells(SVC, {"metadata": meta("web"), "spec": spec, "status": status}) == expected


def running(name: str, *, restarts: int = 0, last_finished: str | None = None, ready: bool = True) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(60)}},
    }
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": last_finished}}
    return cs


def pod(containers: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)]},
        "status": status,
    }


READY = {"type": "Ready", "status": "True"}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(pod(phase="Pending"), ["0/1", "Pending", "0"], id="pending-no-statuses"),
        pytest.param(
            pod(phase="Pending", containerStatuses=[{"name": "c0", "ready": False, "restartCount": 0,
                                                     "state": {"waiting": {"reason": "ContainerCreating"}}}]),
            ["0/1", "ContainerCreating", "0"], id="container-creating",
        ),
        pytest.param(pod(phase="Running", conditions=[READY], containerStatuses=[running("c0")]),
                     ["1/1", "Running", "0"], id="running"),
        pytest.param(
            pod(2, phase="Running", containerStatuses=[running("c0"), running("c1", ready=False)]),
            ["1/2", "Running", "0"], id="one-of-two-ready",
        ),
        pytest.param(
            pod(phase="Running", containerStatuses=[running("c0", restarts=2, last_finished=ago(303))]),
            ["1/1", "Running", "2 (5m3s ago)"], id="restarts-with-last-restart",
        ),
        pytest.param(
            pod(phase="Running", containerStatuses=[{"name": "c0", "restartCount": 3, "ready": False, "state": {
                "waiting": {"reason": "CrashLoopBackOff"}}}]),
            ["0/1", "CrashLoopBackOff", "3"], id="crashloop-no-last-state",
        ),
        pytest.param(
            pod(phase="Succeeded", containerStatuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": {
                "terminated": {"exitCode": 0, "reason": "Completed"}}}]),
            ["0/1", "Completed", "0"], id="completed",
        ),
        pytest.param(
            pod(phase="Failed", containerStatuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": {
                "terminated": {"exitCode": 2}}}]),
            ["0/1", "ExitCode:2", "0"], id="exit-code",
        ),
        pytest.param(
            pod(phase="Failed", containerStatuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": {
                "terminated": {"exitCode": 137, "signal": 9}}}]),
            ["0/1", "Signal:9", "0"], id="signal",
        ),
        pytest.param(
            pod(2, phase="Running", conditions=[READY], containerStatuses=[
                {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                         "reason": "Completed"}}},
                running("c1")]),
            ["1/2", "Running", "0"], id="completed-but-one-still-running-and-ready",
        ),
        pytest.param(
            pod(2, phase="Running", containerStatuses=[
                {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                         "reason": "Completed"}}},
                running("c1")]),
            ["1/2", "NotReady", "0"], id="completed-running-not-ready",
        ),
        pytest.param(
            pod(phase="Running", reason="Evicted"), ["0/1", "Evicted", "0"], id="status-reason",
        ),
        pytest.param(
            pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}]),
            ["0/1", "SchedulingGated", "0"], id="scheduling-gated",
        ),
    ],
)
def test_pod_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells(POD, obj)[1:4] == expected


def test_pod_init_containers() -> None:
    obj = pod(phase="Pending", initContainerStatuses=[
        {"name": "init", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}])
    obj["spec"]["initContainers"] = [{"name": "init", "image": "x"}]
    assert cells(POD, obj)[1:3] == ["0/1", "Init:0/1"]
    obj["status"]["initContainerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    assert cells(POD, obj)[2] == "Init:ImagePullBackOff"
    obj["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert cells(POD, obj)[2] == "Init:Error"
    obj["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 1}}
    assert cells(POD, obj)[2] == "Init:ExitCode:1"


def test_pod_sidecar_counts_as_container() -> None:
    obj = pod(phase="Running", conditions=[READY], containerStatuses=[running("c0")],
              initContainerStatuses=[{"name": "side", "ready": True, "started": True, "restartCount": 1,
                                      "state": {"running": {}}}])
    obj["spec"]["initContainers"] = [{"name": "side", "image": "x", "restartPolicy": "Always"}]
    assert cells(POD, obj)[1:4] == ["2/2", "Running", "1"]


@pytest.mark.parametrize(
    ("phase", "reason", "expected"),
    [("Running", "", "Terminating"), ("Pending", "", "Terminating"), ("Succeeded", "", "Succeeded"),
     ("Running", "NodeLost", "Unknown")],
)
def test_pod_deleting(phase: str, reason: str, expected: str) -> None:
    obj = pod(phase=phase, reason=reason)
    obj["metadata"]["deletionTimestamp"] = ago(1)
    assert cells(POD, obj)[2] == expected


def test_pod_wide_cells_and_completed_condition() -> None:
    obj = pod(phase="Succeeded", podIP="10.244.0.5", podIPs=[{"ip": "10.244.0.5"}, {"ip": "fd00::5"}],
              nominatedNodeName="n2", conditions=[{"type": "example.com/gate", "status": "True"}])
    obj["spec"]["nodeName"] = "n1"
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/gate"}, {"conditionType": "other"}]
    row = to_table(POD, [obj], now=NOW)["rows"][0]
    assert row["cells"] == ["p", "0/1", "Succeeded", "0", "5m3s", "10.244.0.5", "n1", "n2", "1/2"]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]
    bare = to_table(POD, [pod(phase="Pending")], now=NOW)["rows"][0]
    assert bare["cells"][5:] == ["<none>", "<none>", "<none>", "<none>"]
    assert "conditions" not in bare


def addrs(*ips: str) -> list[dict[str, str]]:
    return [{"ip": ip} for ip in ips]


@pytest.mark.parametrize(
    ("subsets", "text"),
    [
        (None, "<none>"),
        ([], "<none>"),
        ([{"addresses": addrs("10.0.0.1", "10.0.0.2"), "ports": [{"port": 80}]}], "10.0.0.1:80,10.0.0.2:80"),
        ([{"addresses": addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), "ports": [{"port": 80}]}],
         "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."),
        ([{"addresses": addrs("10.0.0.1", "10.0.0.2"), "ports": [{"port": 80}, {"port": 443}]}],
         "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."),
        ([{"addresses": addrs("10.0.0.1")}], "10.0.0.1"),
        ([{"addresses": addrs("fd00::1"), "ports": [{"port": 80}]}], "[fd00::1]:80"),
        ([{"notReadyAddresses": addrs("10.0.0.9"), "ports": [{"port": 80}]}], ""),
    ],
)
def test_endpoints_cells(subsets: Any, text: str) -> None:
    obj: dict[str, Any] = {"metadata": meta("web")}
    if subsets is not None:
        obj["subsets"] = subsets
    assert cells(EP, obj) == ["web", text, "5m3s"]


@pytest.mark.parametrize(
    ("ports", "endpoints", "expected"),
    [
        ([{"name": "", "port": 8080, "protocol": "TCP"}],
         [{"addresses": ["10.244.0.5"]}, {"addresses": ["10.244.0.6"]}], ["8080", "10.244.0.5,10.244.0.6"]),
        ([], [], ["<unset>", "<unset>"]),
        ([{"name": "http"}, {}], [], ["http,*", "<unset>"]),
        ([{"port": p} for p in (1, 2, 3, 4, 5)],
         [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)],
         ["1,2,3 + 2 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."]),
    ],
)
def test_endpointslice_cells(ports: list[Any], endpoints: list[Any], expected: list[str]) -> None:
    obj = {"metadata": meta("web-abc"), "addressType": "IPv4", "ports": ports, "endpoints": endpoints}
    assert cells(EPS, obj) == ["web-abc", "IPv4", *expected, "5m3s"]


@pytest.mark.parametrize(("status", "text"), [({"phase": "Active"}, "Active"),
                                              ({"phase": "Terminating"}, "Terminating"), ({}, "")])
def test_namespace_cells(status: dict[str, Any], text: str) -> None:
    assert cells(NS, {"metadata": meta("shield", 3 * 86400), "status": status}) == ["shield", text, "3d"]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        pytest.param(
            {"metadata": meta("n1", 8 * 86400, labels={"node-role.kubernetes.io/control-plane": "",
                                                       "node-role.kubernetes.io/": "x", "kubernetes.io/role": "edge"}),
             "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                       {"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "Hostname", "address": "n1"},
                                      {"type": "InternalIP", "address": "127.0.0.2"}],
                        "nodeInfo": {"kubeletVersion": "v1.32.4-kubelite", "osImage": "Debian GNU/Linux 12",
                                     "kernelVersion": "6.1.0", "containerRuntimeVersion": "kubelite://0.1"}}},
            ["n1", "Ready", "control-plane,edge", "8d", "v1.32.4-kubelite", "127.0.0.2", "<none>",
             "Debian GNU/Linux 12", "6.1.0", "kubelite://0.1"],
            id="ready-control-plane",
        ),
        pytest.param(
            {"metadata": meta("n2", 60), "spec": {"unschedulable": True},
             "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
            ["n2", "NotReady,SchedulingDisabled", "<none>", "60s", "", "<none>", "<none>", "<unknown>",
             "<unknown>", "<unknown>"],
            id="not-ready-cordoned",
        ),
        pytest.param(
            {"metadata": meta("n3", 60)},
            ["n3", "Unknown", "<none>", "60s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"],
            id="no-conditions",
        ),
    ],
)
def test_node_cells(node: dict[str, Any], expected: list[Any]) -> None:
    assert cells(NODE, node) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"metadata": meta("the-bus.17a"), "type": "Normal", "reason": "ClusterIPAllocated",
             "message": "  Cluster IP [IPv4]: 10.96.0.10\n", "count": 3, "firstTimestamp": ago(3600),
             "lastTimestamp": ago(90), "involvedObject": {"kind": "Service", "name": "the-bus",
                                                          "fieldPath": ""},
             "source": {"component": "ipallocator-controller"}},
            ["90s", "Normal", "ClusterIPAllocated", "service/the-bus", "", "ipallocator-controller",
             "Cluster IP [IPv4]: 10.96.0.10", "60m", 3, "the-bus.17a"],
            id="core-event",
        ),
        pytest.param(
            {"metadata": meta("e2"), "type": "Warning", "reason": "Failed", "message": "x",
             "eventTime": "2025-01-01T11:58:59.500000Z", "reportingComponent": "kubelet",
             "reportingInstance": "n1", "involvedObject": {"kind": "Pod", "name": "p",
                                                           "fieldPath": "spec.containers{c}"}},
            ["60s", "Warning", "Failed", "pod/p", "spec.containers{c}", "kubelet, n1", "x", "60s", 1, "e2"],
            id="events-api-singleton",
        ),
        pytest.param(
            {"metadata": meta("e3"), "type": "Normal", "reason": "R", "message": "m",
             "eventTime": ago(600), "series": {"count": 7, "lastObservedTime": ago(5)},
             "involvedObject": {"kind": "Node"}},
            ["5s", "Normal", "R", "node", "", "", "m", "10m", 7, "e3"],
            id="series-no-name",
        ),
        pytest.param(
            {"metadata": meta("e4"), "involvedObject": {"kind": "Pod", "name": "p"}},
            ["<unknown>", "", "", "pod/p", "", "", "", "<unknown>", 1, "e4"],
            id="no-times",
        ),
    ],
)
def test_event_cells(event: dict[str, Any], expected: list[Any]) -> None:
    assert cells(EV, event) == expected


def test_lease_ipaddress_servicecidr_cells() -> None:
    lease = {"metadata": meta("ipam"), "spec": {"holderIdentity": "ipam-7f9"}}
    assert cells(LEASE, lease) == ["ipam", "ipam-7f9", "5m3s"]
    assert cells(LEASE, {"metadata": meta("free"), "spec": {}}) == ["free", "", "5m3s"]
    ip = {"metadata": meta("10.96.0.10"),
          "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "the-bus"}}}
    assert cells(IPADDR, ip) == ["10.96.0.10", "services/default/the-bus"]
    other = {"metadata": meta("10.96.0.11"),
             "spec": {"parentRef": {"group": "Example.com", "resource": "Gateways", "name": "gw"}}}
    assert cells(IPADDR, other) == ["10.96.0.11", "gateways.example.com/gw"]
    assert cells(IPADDR, {"metadata": meta("10.96.0.12"), "spec": {}}) == ["10.96.0.12", "<none>"]
    cidr = {"metadata": meta("kubernetes", 2 * 86400), "spec": {"cidrs": ["10.96.0.0/16", "fd00::/108"]}}
    assert cells(CIDR, cidr) == ["kubernetes", "10.96.0.0/16,fd00::/108", "2d"]


WORKLOAD_TEMPLATE = {"spec": {"containers": [{"name": "echo", "image": "kubelite/echo:v2"},
                                             {"name": "side", "image": "busybox"}]}}


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"replicas": 10, "selector": {"matchLabels": {"app": "web"}}, "template": WORKLOAD_TEMPLATE},
         {"readyReplicas": 8, "updatedReplicas": 5, "availableReplicas": 7},
         ["web", "8/10", 5, 7, "5m3s", "echo,side", "kubelite/echo:v2,busybox", "app=web"]),
        ({"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                                      "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b", "a"]}]}},
         {}, ["web", "0/3", 0, 0, "5m3s", "", "", "app=web,tier notin (a,b)"]),
        ({"replicas": 1, "selector": {"matchExpressions": [{"key": "x", "operator": "Bogus"}]}}, {},
         ["web", "0/1", 0, 0, "5m3s", "", "", "<invalid>"]),
        ({}, {}, ["web", "0/0", 0, 0, "5m3s", "", "", ""]),
    ],
)
def test_deployment_cells(spec: dict[str, Any], status: dict[str, Any], expected: list[Any]) -> None:
    assert cells(DEPLOY, {"metadata": meta("web"), "spec": spec, "status": status}) == expected


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"replicas": 4, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5c8b7f4c99"}},
          "template": WORKLOAD_TEMPLATE}, {"replicas": 3, "readyReplicas": 2},
         ["web-5c8b7f4c99", 4, 3, 2, "5m3s", "echo,side", "kubelite/echo:v2,busybox",
          "app=web,pod-template-hash=5c8b7f4c99"]),
        ({"replicas": 0, "selector": {}}, {}, ["web-5c8b7f4c99", 0, 0, 0, "5m3s", "", "", "<none>"]),
        ({"replicas": 1, "selector": {"matchExpressions": [{"key": "x", "operator": "Bogus"}]}}, {},
         ["web-5c8b7f4c99", 1, 0, 0, "5m3s", "", "", "<error>"]),
    ],
)
def test_replica_set_cells(spec: dict[str, Any], status: dict[str, Any], expected: list[Any]) -> None:
    assert cells(RS, {"metadata": meta("web-5c8b7f4c99"), "spec": spec, "status": status}) == expected


def test_every_row_has_one_cell_per_column() -> None:
    for rt in RESOURCES:
        table = to_table(rt, [{"metadata": meta("x")}], now=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]), rt.kind


def test_unknown_kind_gets_default_columns() -> None:
    rt = ResourceType("example.com", "v1", "Widget", "widgets", "widget", True)
    table = to_table(rt, [{"metadata": meta("w", 60)}], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["cells"] == ["w", "2025-01-01T11:59:00Z"]


def test_missing_creation_timestamp_is_unknown_age() -> None:
    assert cells(NS, {"metadata": {"name": "x"}, "status": {"phase": "Active"}}) == ["x", "Active", "<unknown>"]


def test_matches_recorded_table_that_kubectl_accepted() -> None:
    recorded = json.loads((CONTRACT / "table_services.json").read_text())
    rec_row = recorded["rows"][0]
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "the-bus", "namespace": "default", "labels": {"app": "bus"},
                     "creationTimestamp": ago(300)},
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.20"], "selector": {"env": "marvel"},
                 "ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080, "nodePort": 31112}]},
    }
    table = to_table(SVC, [obj], now=NOW, list_meta={"resourceVersion": "100"})
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert (table["kind"], table["apiVersion"], table["metadata"]) == (
        recorded["kind"], recorded["apiVersion"], recorded["metadata"])
    ours = dict(zip([c["name"] for c in table["columnDefinitions"]], table["rows"][0]["cells"], strict=True))
    for col, cell in zip(recorded["columnDefinitions"], rec_row["cells"], strict=True):
        ours_col = next(c for c in table["columnDefinitions"] if c["name"] == col["name"])
        assert {k: ours_col[k] for k in col} == col
        assert ours[col["name"]] == cell
    metadata_only = {k: v for k, v in obj["metadata"].items() if k != "creationTimestamp"}
    ours_object = table["rows"][0]["object"]
    assert {**ours_object, "metadata": metadata_only} == rec_row["object"]
    assert ours_object["metadata"] == obj["metadata"]


def test_include_object() -> None:
    obj = {"metadata": meta("web"), "spec": {"type": "ClusterIP"}}
    partial = to_table(SVC, [obj], now=NOW)["rows"][0]["object"]
    assert partial == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta("web")}
    assert to_table(SVC, [obj], now=NOW, include_object="")["rows"][0]["object"] == partial
    full = to_table(SVC, [obj], now=NOW, include_object="Object")["rows"][0]["object"]
    assert full == {"apiVersion": "v1", "kind": "Service", **obj}
    assert "object" not in to_table(SVC, [obj], now=NOW, include_object="None")["rows"][0]
    full["metadata"]["name"] = "changed"
    assert obj["metadata"]["name"] == "web", "rows carry copies"
    with pytest.raises(StatusError) as ei:
        to_table(SVC, [obj], include_object="Everything")
    assert (ei.value.code, ei.value.message) == (400, 'unrecognized includeObject value: "Everything"')


def test_table_metadata() -> None:
    a, b = {"metadata": meta("a")}, {"metadata": meta("b")}
    assert to_table(SVC, [a, b], now=NOW)["metadata"] == {}
    assert to_table(SVC, [a, b], now=NOW, list_meta={"resourceVersion": "9", "continue": "c"})["metadata"] == {
        "resourceVersion": "9", "continue": "c"}
    assert to_table(SVC, [a], now=NOW)["metadata"] == {"resourceVersion": "7"}, "GET and watch events"
    assert to_table(SVC, [], now=NOW)["rows"] == []


@pytest.mark.parametrize(
    ("accept", "table"),
    [
        (KUBECTL_TABLE_ACCEPT, True),
        ("application/json;as=Table;g=meta.k8s.io;v=v1", True),
        ("application/json; as=Table; v=v1; g=meta.k8s.io, application/json", True),
        ("*/*;as=Table;v=v1;g=meta.k8s.io", True),
        ("application/json", False),
        ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", False),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", False),
        ("application/yaml;as=Table;v=v1;g=meta.k8s.io", False),
        ("application/vnd.kubernetes.protobuf,application/json", False),
        ("", False),
    ],
)
def test_wants_table(accept: str, table: bool) -> None:
    assert wants_table(accept) == ((True, TABLE_CONTENT_TYPE) if table else (False, "application/json"))


# --- the real kubectl prints our tables ----------------------------------------------------------


SERVICES = [
    {"apiVersion": "v1", "kind": "Service",
     "metadata": {"name": "the-bus", "namespace": "default", "creationTimestamp": ago(303), "resourceVersion": "5"},
     "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
              "selector": {"env": "marvel"},
              "ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080, "nodePort": 31112}]}},
    {"apiVersion": "v1", "kind": "Service",
     "metadata": {"name": "lb", "namespace": "default", "creationTimestamp": ago(3 * 86400), "resourceVersion": "6"},
     "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.21"],
              "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 443, "protocol": "TCP",
                                                                             "nodePort": 30443}]}},
]
PODS = [
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "zeta", "namespace": "default", "creationTimestamp": ago(600), "resourceVersion": "8"},
     "spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": "n1"},
     "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}], "conditions": [READY],
                "containerStatuses": [running("c")]}},
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "alpha", "namespace": "default", "creationTimestamp": ago(30), "resourceVersion": "9"},
     "spec": {"containers": [{"name": "c", "image": "x"}]},
     "status": {"phase": "Pending", "containerStatuses": [
         {"name": "c", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}},
]


class TableServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, now: datetime) -> None:
        super().__init__(("127.0.0.1", 0), TableHandler)
        self.now = now
        self.queries: list[dict[str, list[str]]] = []


class TableHandler(BaseHTTPRequestHandler):
    """Recorded discovery plus services and pods answered through to_table."""

    server: TableServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ctype, body = "application/json", None
        if url.path == "/version":
            body = {"major": "1", "minor": "32", "gitVersion": "v1.32.4"}
        elif url.path in ("/api", "/apis"):
            name = "agg_api.json" if url.path == "/api" else "agg_apis.json"
            ctype, body = agg, json.loads((CONTRACT / name).read_text())
        elif url.path in ("/api/v1/namespaces/default/services", "/api/v1/namespaces/default/pods"):
            self.server.queries.append(query)
            rt, items = (SVC, SERVICES) if url.path.endswith("services") else (POD, PODS)
            is_table, ctype = wants_table(self.headers.get("Accept") or "")
            assert is_table
            body = to_table(rt, items, now=self.server.now, include_object=query.get("includeObject", [""])[0],
                            list_meta={"resourceVersion": "10"})
        data = json.dumps(body).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def kubectl_or_skip() -> str:
    return needs.kubectl()


@pytest.fixture
def table_server() -> Iterator[TableServer]:
    srv = TableServer(NOW)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def kubectl_get(srv: TableServer, tmp_path: Path, *args: str) -> list[list[str]]:
    kubectl = kubectl_or_skip()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    out = subprocess.run(
        [kubectl, "get", *args, "-s", f"http://127.0.0.1:{srv.server_address[1]}", "--cache-dir",
         str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    # kubectl pads columns with at least three spaces
    return [[c.strip() for c in line.split("   ") if c.strip()] for line in out.stdout.splitlines()]


def test_kubectl_get_services(table_server: TableServer, tmp_path: Path) -> None:
    assert kubectl_get(table_server, tmp_path, "svc") == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["the-bus", "NodePort", "10.96.0.20", "<none>", "8080:31112/TCP", "5m3s"],
        ["lb", "LoadBalancer", "10.96.0.21", "<pending>", "80:30080/TCP,443:30443/TCP", "3d"],
    ]


def test_kubectl_get_services_wide(table_server: TableServer, tmp_path: Path) -> None:
    rows = kubectl_get(table_server, tmp_path, "svc", "-o", "wide")
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert rows[1][-1] == "env=marvel"
    assert rows[2][-1] == "<none>"


def test_kubectl_get_pods_sort_by_needs_full_objects(table_server: TableServer, tmp_path: Path) -> None:
    rows = kubectl_get(table_server, tmp_path, "pods", "--sort-by=.metadata.name", "-o", "wide")
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                       "READINESS GATES"]
    assert rows[1] == ["alpha", "0/1", "ContainerCreating", "0", "30s", "<none>", "<none>", "<none>", "<none>"]
    assert rows[2] == ["zeta", "1/1", "Running", "0", "10m", "10.244.0.5", "n1", "<none>", "<none>"]
    assert table_server.queries[-1].get("includeObject") == ["Object"]
