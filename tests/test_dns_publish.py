"""kube-dns lists the DNS server that answers for it: the real DNS process against a real API server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from servers.dns.publish import advertised, desired
from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver

EP = "/api/v1/namespaces/kube-system/endpoints/kube-dns"
SLICE = "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/kube-dns"
SVC = "/api/v1/namespaces/kube-system/services/kube-dns"


@pytest.mark.parametrize(("bind", "expected"), [
    ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("localhost", "127.0.0.1"),
    ("127.0.0.53", "127.0.0.53"), ("::1", "::1"),
])
def test_advertised_address(bind: str, expected: str) -> None:
    assert advertised(bind) == expected


def test_desired_objects_and_withdrawal() -> None:
    ep, sl = desired("127.0.0.1", 5353)
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"},
                                        {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}]}]
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert sl["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert sl["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
    gone_ep, gone_sl = desired(None, 5353)
    assert gone_ep["subsets"] == [] and gone_sl["endpoints"] == []


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServerProcess]:
    srv = start_apiserver(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def eventually(fn: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := fn():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def start_dns(url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kubelite.cli", "dns", "--server", url, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def addresses(http: httpx.Client) -> list[str]:
    r = http.get(EP)
    if r.status_code != 200:
        return []
    return [f"{a['ip']}:{p['port']}/{p['protocol']}" for s in r.json().get("subsets") or []
            for a in s["addresses"] for p in s["ports"]]


def test_the_dns_process_lists_itself_in_kube_dns_and_withdraws_on_stop(server: ApiServerProcess,
                                                                        tmp_path: Path) -> None:
    port = free_port()
    http = httpx.Client(base_url=server.url, timeout=5)
    assert "selector" not in http.get(SVC).json()["spec"]
    proc = start_dns(server.url, port)
    try:
        got = eventually(lambda: addresses(http))
        assert got == [f"127.0.0.1:{port}/UDP", f"127.0.0.1:{port}/TCP"]
        sl = eventually(lambda: http.get(SLICE).json() if http.get(SLICE).status_code == 200 else None)
        assert sl["endpoints"][0]["addresses"] == ["127.0.0.1"]
        out = subprocess.run([needs.kubectl(), "-s", server.url, "--cache-dir", str(tmp_path / "kc"), "get",
                              "endpoints", "kube-dns", "-n", "kube-system"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"127.0.0.1:{port},127.0.0.1:{port}" in out.stdout.splitlines()[1]
        rv = http.get(EP).json()["metadata"]["resourceVersion"]
        time.sleep(1)
        assert http.get(EP).json()["metadata"]["resourceVersion"] == rv  # written only when different
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert addresses(http) == []


def test_a_kube_dns_with_a_selector_belongs_to_the_endpoints_controller(server: ApiServerProcess) -> None:
    http = httpx.Client(base_url=server.url, timeout=5)
    r = http.patch(SVC, json={"spec": {"selector": {"k8s-app": "kube-dns"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    port = free_port()
    proc = start_dns(server.url, port)
    try:
        import dns.message
        import dns.query

        def answers() -> bool:
            try:
                q = dns.message.make_query("kube-dns.kube-system.svc.cluster.local.", "A")
                return bool(dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3).answer)
            except OSError:
                return False
            except dns.exception.Timeout:
                return False

        eventually(answers)
        time.sleep(1.5)  # past the first publish round
        assert http.get(EP).status_code == 404
    finally:
        proc.terminate()
        proc.wait(15)
