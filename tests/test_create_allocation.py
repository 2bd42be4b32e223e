"""A Service create answers with its ClusterIP and node ports, at generation 1, as kube-apiserver's does.

Why: kubelite allocates in the ipam and nodeport controller processes; the API
server holds a create's answer (bounded by --allocation-wait) until the
running allocators have filled the fields, so ``kubectl create service ...
-o jsonpath='{.spec.clusterIP}'`` prints the IP. The allocators' fill of
create-time fields is not a spec change: generation stays 1. Without running
allocators a create still answers, within the bound, with the fields empty.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.allocator_procs import FAST_ELECTION, ControllerProcess, service, start_controller
from tests.conftest import ApiServerProcess, start_apiserver
from tests.test_kubectl_e2e import Kubectl

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def _wait_for_leases(url: str, *names: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        held = [httpx.get(f"{url}{LEASES}/{n}").json().get("spec", {}).get("holderIdentity") for n in names]
        if all(held):
            return
        time.sleep(0.1)
    raise AssertionError(f"leases {names} not held within 30s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    tmp = tmp_path_factory.mktemp("create-allocation")
    api = start_apiserver(tmp / "api")
    ctls: list[ControllerProcess] = []
    try:
        for name in ("ipam", "nodeport"):
            ctls.append(start_controller(name, api.url, tmp / "logs", *FAST_ELECTION))
        _wait_for_leases(api.url, "kubelite-ipam", "kubelite-nodeport")
        yield api
    finally:
        codes = [c.stop() for c in ctls]
        api.stop()
    assert codes == [0, 0], [c.text()[-2000:] for c in ctls]


@pytest.fixture
def http(cluster: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=10) as c:
        yield c


def _create(http: httpx.Client, ns: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    if http.get(f"/api/v1/namespaces/{ns}").status_code == 404:
        http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    start = time.monotonic()
    r = http.post(f"/api/v1/namespaces/{ns}/services", json=body)
    took = time.monotonic() - start
    assert r.status_code == 201, r.text
    return r.json(), took


def _in_service_range(ip: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")


def test_http_create_answers_with_the_cluster_ip_at_generation_1(http: httpx.Client) -> None:
    created, _ = _create(http, "alloc", service("web", "alloc"))
    spec = created["spec"]
    assert spec.get("clusterIP") and _in_service_range(spec["clusterIP"]), spec
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert created["metadata"]["generation"] == 1
    # The answer is the stored object: a GET returns the same IP and version, still generation 1.
    got = http.get("/api/v1/namespaces/alloc/services/web").json()
    assert got["spec"]["clusterIP"] == spec["clusterIP"]
    assert got["metadata"]["generation"] == 1
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_node_port_and_health_check_port_are_in_the_answer(http: httpx.Client) -> None:
    body = service("np", "alloc", type="NodePort", ports=[{"port": 80, "protocol": "TCP"},
                                                         {"port": 53, "protocol": "UDP", "name": "dns"}])
    body["spec"]["ports"][0]["name"] = "http"
    created, _ = _create(http, "alloc", body)
    ports = created["spec"]["ports"]
    assert all(30000 <= int(p.get("nodePort") or 0) <= 32767 for p in ports), ports
    assert created["spec"]["clusterIP"] and created["metadata"]["generation"] == 1
    lb, _ = _create(http, "alloc", service("lb", "alloc", type="LoadBalancer", externalTrafficPolicy="Local"))
    assert lb["spec"]["ports"][0].get("nodePort") and lb["spec"].get("healthCheckNodePort"), lb["spec"]
    assert lb["metadata"]["generation"] == 1


def test_a_later_spec_change_still_bumps_generation(http: httpx.Client) -> None:
    created, _ = _create(http, "alloc", service("bumped", "alloc"))
    assert created["metadata"]["generation"] == 1
    r = http.patch("/api/v1/namespaces/alloc/services/bumped", json={"spec": {"sessionAffinity": "ClientIP"}},
                   headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2


def test_changing_an_allocated_node_port_is_a_spec_change(http: httpx.Client) -> None:
    created, _ = _create(http, "alloc", service("moved", "alloc", type="NodePort"))
    port = int(created["spec"]["ports"][0]["nodePort"])
    created["spec"]["ports"][0]["nodePort"] = 30000 if port != 30000 else 30001
    r = http.put("/api/v1/namespaces/alloc/services/moved", json=created)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 2


def test_services_without_allocations_answer_at_once(http: httpx.Client) -> None:
    headless, took = _create(http, "alloc", service("headless", "alloc", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None" and took < 1.0
    ext, took = _create(http, "alloc", service("ext", "alloc", type="ExternalName", externalName="example.com"))
    assert not ext["spec"].get("clusterIP") and took < 1.0


def test_kubectl_create_prints_the_cluster_ip(cluster: ApiServerProcess, tmp_path: Path) -> None:
    kubectl = Kubectl(cluster, tmp_path)
    kubectl.ok("create", "namespace", "alloc-kubectl")
    out = kubectl.ok("create", "service", "clusterip", "x", "--tcp=80", "-n", "alloc-kubectl",
                     "-o", "jsonpath={.spec.clusterIP}").out
    assert _in_service_range(out), repr(out)
    out = kubectl.ok("create", "service", "nodeport", "y", "--tcp=80", "-n", "alloc-kubectl",
                     "-o", "jsonpath={.spec.ports[0].nodePort} {.metadata.generation}").out
    port, generation = out.split()
    assert 30000 <= int(port) <= 32767 and generation == "1"


def test_without_allocators_the_create_answers_within_the_bound(tmp_path: Path) -> None:
    api = start_apiserver(tmp_path / "api", extra=["--allocation-wait", "1s"])
    try:
        with httpx.Client(base_url=api.url, timeout=10) as http:
            # No allocator Lease at all: nothing runs that could fill the fields, answer at once.
            created, took = _create(http, "lone", service("web", "lone"))
            assert not created["spec"].get("clusterIP") and took < 0.8
            # A held ipam Lease whose holder never allocates: the create answers after the bound, as it is.
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": "kubelite-ipam", "namespace": "kube-system"},
                     "spec": {"holderIdentity": "stuck", "leaseDurationSeconds": 60, "renewTime": now,
                              "acquireTime": now}}
            assert http.post(LEASES, json=lease).status_code == 201
            created, took = _create(http, "lone", service("late", "lone"))
            assert not created["spec"].get("clusterIP")
            assert 0.9 <= took < 3.0, took
            assert created["metadata"]["generation"] == 1
    finally:
        api.stop()
