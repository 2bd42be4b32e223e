"""The ``default/kubernetes`` Endpoints/EndpointSlices list the live API servers (kube-apiserver's lease reconciler)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiserver.selfendpoints import (
    IDENTITY_LABEL,
    advertise_address,
    desired_endpoints,
    desired_slices,
    lease_name,
    lease_server,
)
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, fresh_pg_database, start_apiserver

EP = "/api/v1/namespaces/default/endpoints/kubernetes"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
TTL, INTERVAL = 3.0, 0.5
FAST = {"KUBELITE_APISERVER_LEASE_TTL": str(TTL), "KUBELITE_APISERVER_LEASE_INTERVAL": str(INTERVAL)}


# -- desired objects ---------------------------------------------------------------------------


def test_one_port_is_exactly_kube_apiservers_shape() -> None:
    ep = desired_endpoints([("127.0.0.1", 6443), ("10.0.0.2", 6443)])
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert ep["subsets"] == [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    [s] = desired_slices([("127.0.0.1", 6443), ("10.0.0.2", 6443)])
    assert s["metadata"]["name"] == "kubernetes"
    assert s["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert s["addressType"] == "IPv4"
    assert s["endpoints"] == [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}},
                              {"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
    assert s["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]


def test_servers_on_one_host_get_a_subset_and_a_slice_per_port() -> None:
    servers = [("127.0.0.1", 9000), ("127.0.0.1", 8000)]
    assert [(s["addresses"], s["ports"][0]["port"]) for s in desired_endpoints(servers)["subsets"]] == [
        ([{"ip": "127.0.0.1"}], 8000), ([{"ip": "127.0.0.1"}], 9000)]
    assert [(s["metadata"]["name"], s["ports"][0]["port"]) for s in desired_slices(servers)] == [
        ("kubernetes", 8000), ("kubernetes-9000", 9000)]


def test_no_live_server() -> None:
    assert desired_endpoints([])["subsets"] == []
    [s] = desired_slices([])
    assert (s["metadata"]["name"], s["endpoints"], s["ports"]) == ("kubernetes", [], [])


@pytest.mark.parametrize(("bind", "expected"), [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"),
                                                ("::", "127.0.0.1"), ("localhost", "127.0.0.1"),
                                                ("127.0.0.5", "127.0.0.5")])
def test_advertise_address(bind: str, expected: str) -> None:
    assert advertise_address(bind) == expected


def test_lease_names_differ_by_port_and_other_leases_are_ignored() -> None:
    a, b = lease_name("host", "127.0.0.1", 8080), lease_name("host", "127.0.0.1", 8081)
    assert a != b and a.startswith("apiserver-") and len(a) <= 63 and a == a.lower()
    lease: dict[str, Any] = {"metadata": {"labels": {IDENTITY_LABEL: "kube-apiserver"},
                                          "annotations": {"kubelite.io/apiserver-address": "127.0.0.1",
                                                          "kubelite.io/apiserver-port": "8080"}}}
    assert lease_server(lease) == ("127.0.0.1", 8080)
    assert lease_server({"metadata": {"name": "kube-controller-manager"}}) is None
    lease["metadata"]["annotations"]["kubelite.io/apiserver-port"] = "x"
    assert lease_server(lease) is None


# -- against real servers ----------------------------------------------------------------------


def _kubectl_endpoints(srv: ApiServerProcess, tmp: Path) -> str:
    kc = tmp / "kubeconfig"
    kc.write_text(render_kubeconfig(srv.url))
    env = {**os.environ, "HOME": str(tmp), "KUBECONFIG": str(kc)}
    r = subprocess.run([needs.kubectl(), "get", "endpoints", "kubernetes", "--no-headers"], capture_output=True,
                       text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1]


def _addresses(base: str) -> list[str]:
    ep = httpx.get(base + EP, timeout=5).json()
    return sorted(f"{a['ip']}:{p['port']}" for s in ep.get("subsets") or [] for a in s.get("addresses") or []
                  for p in s["ports"])


def _slice_addresses(base: str) -> list[str]:
    items = httpx.get(base + SLICES, params={"labelSelector": "kubernetes.io/service-name=kubernetes"},
                      timeout=5).json()["items"]
    return sorted(f"{a}:{p['port']}" for s in items for e in s["endpoints"] for a in e["addresses"]
                  for p in s["ports"])


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kubectl_get_endpoints_kubernetes_shows_the_server(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "a")
    try:
        assert _kubectl_endpoints(srv, tmp_path) == f"127.0.0.1:{srv.port}"
        assert _slice_addresses(srv.url) == [f"127.0.0.1:{srv.port}"]
        svc = httpx.get(srv.url + "/api/v1/namespaces/default/services/kubernetes").json()
        assert "selector" not in svc["spec"]  # nobody else writes these endpoints
        [lease] = httpx.get(srv.url + LEASES,
                            params={"labelSelector": "apiserver.kubernetes.io/identity=kube-apiserver"}).json()["items"]
        assert lease["spec"]["leaseDurationSeconds"] == 15  # kube-apiserver's endpoint reconciler TTL
    finally:
        srv.stop()


def test_a_restart_on_another_port_replaces_the_old_address(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "a", env=FAST)
    srv.stop()  # a clean stop withdraws the server at once
    again = start_apiserver(tmp_path / "a", env=FAST)
    try:
        assert again.port != srv.port
        assert _addresses(again.url) == [f"127.0.0.1:{again.port}"]
        [port] = httpx.get(again.url + "/api/v1/namespaces/default/services/kubernetes").json()["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (443, again.port)  # the Service follows the restarted server
    finally:
        again.stop()


def test_two_servers_on_postgresql_both_listed_and_a_killed_one_drops_after_its_ttl(tmp_path: Path) -> None:
    needs.pg_url()
    url = fresh_pg_database()
    a = start_apiserver(tmp_path / "a", extra=["--db", url], env=FAST)
    b = start_apiserver(tmp_path / "b", extra=["--db", url], env=FAST)
    c: ApiServerProcess | None = None
    both = sorted([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"])
    try:
        _wait(lambda: _addresses(a.url) == both and _addresses(b.url) == both, 10, "both servers listed")
        assert _slice_addresses(a.url) == both
        shown = _kubectl_endpoints(a, tmp_path)
        assert sorted(shown.split(",")) == both
        # A server killed without a chance to withdraw stays listed until its Lease is a TTL old.
        b.kill9()
        killed = time.monotonic()
        assert _addresses(a.url) == both
        _wait(lambda: _addresses(a.url) == [f"127.0.0.1:{a.port}"], TTL + 10, "the killed server to drop out")
        assert time.monotonic() - killed >= TTL - 1
        assert _slice_addresses(a.url) == [f"127.0.0.1:{a.port}"]
        leases = httpx.get(a.url + LEASES).json()["items"]
        assert [x["metadata"]["annotations"]["kubelite.io/apiserver-port"] for x in leases] == [str(a.port)]
        # A server stopped cleanly withdraws at once.
        c = start_apiserver(tmp_path / "c", extra=["--db", url], env={**FAST, "KUBELITE_APISERVER_LEASE_TTL": "60",
                                                                       "KUBELITE_APISERVER_LEASE_INTERVAL": "30"})
        _wait(lambda: len(_addresses(a.url)) == 2, 10, "the third server listed")
        c.stop()
        _wait(lambda: _addresses(a.url) == [f"127.0.0.1:{a.port}"], 5, "the stopped server withdrawn")
    finally:
        a.stop()
        b.stop()
        if c is not None:
            c.stop()
