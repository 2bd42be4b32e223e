"""``kubelite proxy`` as a process: it refuses non-loopback ranges, and --show-rules renders any state."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from agents.proxy.main import loopback_problems
from tests.conftest import ApiServerProcess


@pytest.mark.parametrize(("kw", "problems"), [
    ({"service_cidrs": ["127.96.0.0/16"], "node_ip": "127.0.1.1", "pod_cidr": "127.10.1.0/24",
      "cluster_cidr": "127.10.0.0/16"}, 0),
    ({"service_cidrs": ["10.96.0.0/12"], "node_ip": "127.0.1.1", "pod_cidr": "", "cluster_cidr": None}, 1),
    ({"service_cidrs": ["127.96.0.0/16"], "node_ip": "10.0.0.1", "pod_cidr": "10.85.0.0/24",
      "cluster_cidr": "10.0.0.0/8"}, 3),
    ({"service_cidrs": ["127.0.0.0/7"], "node_ip": "127.0.1.1", "pod_cidr": "", "cluster_cidr": None}, 1),
])
def test_loopback_problems(kw: dict[str, object], problems: int) -> None:
    assert len(loopback_problems(**kw)) == problems  # type: ignore[arg-type]


def test_refuses_a_non_loopback_service_range_but_shows_its_rules(apiserver: ApiServerProcess, api: httpx.Client) -> None:
    # the shared test API server runs with the default 10.96.0.0/12
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "proxy-refusal"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.5.1"}]}}
    r = api.post("/api/v1/nodes", json=node)
    assert r.status_code in (201, 409), r.text
    cmd = [sys.executable, "-m", "kubelite.cli", "proxy", "--server", apiserver.url]
    out = subprocess.run([*cmd, "--node", "proxy-refusal"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "refusing to start: the service range 10.96.0.0/12 is not inside 127.0.0.0/8" in out.stderr
    rules = subprocess.run([*cmd, "--show-rules"], capture_output=True, text=True, timeout=30)
    assert rules.returncode == 0, rules.stderr
    assert rules.stdout.startswith("*filter\n") and rules.stdout.endswith("COMMIT\n")
    assert '"kube-system/kube-dns:dns-tcp has no endpoints" -m tcp -p tcp -d 10.96.0.10 --dport 53 -j REJECT' in rules.stdout
    # default/kubernetes lists the API server itself (apiserver.selfendpoints)
    assert f'"default/kubernetes:https -> 127.0.0.1:{apiserver.port}"' in rules.stdout
