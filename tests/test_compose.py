"""docker-compose.yml is consistent with the CLI (no Docker engine here to run it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def help_text(args: list[str]) -> str:
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", *args, "--help"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    return r.stdout + r.stderr


def test_compose_has_postgres_with_healthcheck_two_apiservers_and_replicas() -> None:
    services = COMPOSE["services"]
    assert "healthcheck" in services["postgres"]
    assert {"apiserver-1", "apiserver-2"} <= set(services)
    for name in ("ipam", "nodeport", "endpoints"):
        assert {f"{name}-1", f"{name}-2"} <= set(services)
    assert {"127.0.0.1:5353:53/udp", "127.0.0.1:5353:53/tcp"} <= set(services["dns"]["ports"])
    # beyond loopback only with TLS and tokens, and every component has its own kubeconfig
    for name in ("apiserver-1",):
        assert {"--tls", "--token-auth-file"} <= set(services[name]["command"])
    issued = set(services["credentials"]["command"])
    for name, svc in services.items():
        if "--kubeconfig" in svc.get("command", []):
            assert name in issued, f"{name} has no credentials"


@pytest.mark.parametrize("service", sorted(s for s in COMPOSE["services"] if s != "postgres"))
def test_every_command_and_flag_exists(service: str) -> None:
    command = COMPOSE["services"][service]["command"]
    sub = command[:2] if command[0] == "controller" else command[:1]
    text = help_text(sub)
    for flag in (c for c in command if c.startswith("--")):
        assert flag in text, f"{service}: {' '.join(sub)} has no {flag}"
