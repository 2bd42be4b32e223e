"""Probe verdicts (the kubelet's threshold rule) and single attempts against real local listeners."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.node import probes
from agents.node.probes import LIVENESS, READINESS, STARTUP, ProbeState, Timing


def timing(success: int = 1, failure: int = 3) -> Timing:
    return Timing(initial_delay=0, timeout=1, period=1, success_threshold=success, failure_threshold=failure)


@pytest.mark.parametrize(("kind", "success", "failure", "results", "changes"), [
    # readiness starts failing: the first success (threshold 1) makes it ready
    (READINESS, 1, 3, [True], [True]),
    (READINESS, 2, 3, [True, False, True, True], [None, None, None, True]),
    (READINESS, 1, 3, [True, False, False, False], [True, None, None, False]),
    (READINESS, 1, 1, [False], [None]),  # already failing: no change
    # liveness: three consecutive failures kill; a success in between resets the run
    (LIVENESS, 1, 3, [False, False, True, False, False, False], [None, None, True, None, None, False]),
    (LIVENESS, 1, 1, [False], [False]),
    (STARTUP, 1, 2, [False, True], [None, True]),
])
def test_thresholds(kind: str, success: int, failure: int, results: list[bool], changes: list[bool | None]) -> None:
    state = ProbeState(kind, timing(success, failure))
    assert [state.observe(r) for r in results] == changes


def test_timing_defaults_are_the_apis() -> None:
    assert Timing.of({}) == Timing(0.0, 1.0, 10.0, 1, 3)
    assert Timing.of({"periodSeconds": 2, "timeoutSeconds": 5, "initialDelaySeconds": 3}).period == 2.0


@pytest.mark.parametrize(("port", "expected"), [(8080, 8080), ("8081", 8081), ("http", 9000), ("nope", None)])
def test_named_ports(port: Any, expected: int | None) -> None:
    assert probes.port_of({"ports": [{"name": "http", "containerPort": 9000}]}, port) == expected


@pytest.fixture
async def server() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        await reader.readuntil(b"\r\n\r\n")
        code = b"500 Oops" if b"/bad" in line else b"200 OK"
        writer.write(b"HTTP/1.1 " + code + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield int(srv.sockets[0].getsockname()[1])
    srv.close()


async def test_attempts(server: int, tmp_path: Any) -> None:
    c: dict[str, Any] = {}
    env = {"PATH": os.environ.get("PATH", "")}
    kw: dict[str, Any] = {"container": c, "pod_ip": "127.0.0.1", "env": env, "cwd": str(tmp_path)}
    assert await probes.attempt({"httpGet": {"path": "/", "port": server}}, **kw) == (True, "")
    assert await probes.attempt({"httpGet": {"path": "/bad", "port": server}}, **kw) == (
        False, "HTTP probe failed with statuscode: 500")
    assert (await probes.attempt({"tcpSocket": {"port": server}}, **kw))[0]
    ok, msg = await probes.attempt({"tcpSocket": {"port": 1}}, **kw)
    assert not ok and msg == "dial tcp 127.0.0.1:1: connect: connection refused"
    (tmp_path / "healthy").write_text("")
    assert (await probes.attempt({"exec": {"command": ["cat", "healthy"]}}, **kw))[0]
    ok, msg = await probes.attempt({"exec": {"command": ["sh", "-c", "echo broken; exit 3"]}}, **kw)
    assert not ok and msg == "broken"
    ok, msg = await probes.attempt({"httpGet": {"host": "10.1.2.3", "port": 80}}, **kw)
    assert not ok and "only connect to loopback" in msg  # never dialled
    ok, msg = await probes.attempt({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1}, **kw)
    assert not ok and "timed out" in msg
