"""Controller process plumbing: flags, /healthz + /metrics, leader election, clean SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from kubefake import FakeApiServer, fake_apiserver, svc

from apimachinery.resources import BY_KEY
from controllers.runtime.process import build_parser, duration

ROOT = Path(__file__).resolve().parent.parent
LEASES = BY_KEY["leases.coordination.k8s.io"]
SERVICES = BY_KEY["services"]

DEMO = """
import asyncio, sys
from apimachinery.resources import BY_KEY
from controllers.runtime.controller import Controller
from controllers.runtime.process import run_controller_process

class Demo(Controller):
    name = "demo"
    def __init__(self, client, metrics, args):
        super().__init__(client, metrics=metrics, workers=args.workers)
        self.informer(BY_KEY["services"], enqueue=True)
    async def reconcile(self, key):
        self.log.info("demo: reconciled %s", key)

sys.exit(asyncio.run(run_controller_process("demo", sys.argv[1:], Demo)))
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("15", 15.0), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0)],
)
def test_duration(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "-1s", "1d", "1.2.3s"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


@pytest.mark.parametrize(
    ("argv", "attr", "value"),
    [
        ([], "leader_elect", True),
        (["--no-leader-elect"], "leader_elect", False),
        ([], "leader_elect_lease_duration", 15.0),
        ([], "leader_elect_renew_deadline", 10.0),
        ([], "leader_elect_retry_period", 2.0),
        ([], "leader_elect_resource_namespace", "kube-system"),
        ([], "leader_elect_resource_name", "kubelite-demo"),
        ([], "metrics_port", None),
        (["--metrics-port", "9090"], "metrics_port", 9090),
        (["-s", "http://127.0.0.1:1"], "server", "http://127.0.0.1:1"),
    ],
)
def test_flags(argv: list[str], attr: str, value: object) -> None:
    assert getattr(build_parser("demo").parse_args(argv), attr) == value


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with fake_apiserver() as srv:
        yield srv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def spawn(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEMO, *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def poll(url: str, want: str, timeout: float = 10.0) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    async with httpx.AsyncClient() as c:
        while True:
            try:
                r = await c.get(url)
                if want in r.text:
                    return r.text
            except httpx.TransportError:
                pass
            if loop.time() > end:
                raise AssertionError(f"{want!r} never appeared at {url}")
            await asyncio.sleep(0.1)


async def test_process_serves_metrics_leads_and_stops_cleanly_on_sigterm(fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    port = free_port()
    proc = await spawn("--server", fake.url, "--metrics-port", str(port),
                       "--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline", "1s",
                       "--leader-elect-retry-period", "200ms")
    try:
        assert await poll(f"http://127.0.0.1:{port}/healthz", "ok") == "ok"
        await poll(f"http://127.0.0.1:{port}/metrics", 'leader_election_master_status{name="demo"} 1.0')
        await poll(f"http://127.0.0.1:{port}/metrics",
                   'controller_runtime_reconcile_total{controller="demo",result="success"} 1.0')
        holder = fake.objects[(LEASES.key, "kube-system", "kubelite-demo")]["spec"]["holderIdentity"]
        assert holder.split("_")[1] == str(proc.pid)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert code == 0, log
    assert "demo: reconciled default/a" in log
    assert "released lease kube-system/kubelite-demo" in log
    assert fake.objects[(LEASES.key, "kube-system", "kubelite-demo")]["spec"]["holderIdentity"] == ""


async def test_process_without_leader_election_and_bad_kubeconfig(fake: FakeApiServer, tmp_path: Path) -> None:
    fake.put_object(SERVICES, svc("a"))
    proc = await spawn("--server", fake.url, "--no-leader-elect")
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while not any(m == "GET" and "watch" in q for m, _, q in fake.requests):
            assert loop.time() < end
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert not any(p.startswith("/apis/coordination.k8s.io") for _, p, _ in fake.requests)

    bad = await spawn("--kubeconfig", str(tmp_path / "missing"))
    assert await asyncio.wait_for(bad.wait(), 10) == 1
    assert bad.stderr is not None
    assert b"no such file or directory" in await bad.stderr.read()
