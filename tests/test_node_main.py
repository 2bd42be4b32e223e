"""``kubelite node``: the process runtime only starts on loopback addresses."""

from __future__ import annotations

import pytest

from agents.node.main import loopback_problem, run


@pytest.mark.parametrize(("cidr", "ip", "problem"), [
    ("127.10.1.0/24", "127.0.1.1", ""),
    ("10.85.0.0/24", "127.0.1.1", "--pod-cidr 10.85.0.0/24 is not inside 127.0.0.0/8"),
    ("127.10.1.0/24", "192.168.1.5", "--node-ip 192.168.1.5 is not a loopback address"),
    ("127.10.1.0/24", "node-1", "--node-ip node-1 is not an IP address"),
    ("126.0.0.0/7", "127.0.1.1", "--pod-cidr 126.0.0.0/7 is not inside 127.0.0.0/8"),
])
def test_loopback_problem(cidr: str, ip: str, problem: str) -> None:
    assert loopback_problem(cidr, ip).startswith(problem) if problem else loopback_problem(cidr, ip) == ""


async def test_the_process_runtime_refuses_to_start_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    code = await run(["--name", "n", "--pod-cidr", "10.85.0.0/24", "--runtime", "process",
                      "--server", "http://127.0.0.1:9"])
    assert code == 2
    assert "refusing to start: --pod-cidr 10.85.0.0/24 is not inside 127.0.0.0/8" in capsys.readouterr().err
