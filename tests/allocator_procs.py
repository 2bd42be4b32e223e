"""Helpers for the allocator process tests: controller subprocesses and polling against a real API server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


FAST_ELECTION = ["--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
                 "--leader-elect-retry-period", "500ms"]


@dataclass
class ControllerProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_controller(name: str, server: str, log_dir: Path, *args: str) -> ControllerProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}-{len(list(log_dir.glob(name + '-*.log')))}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent"}
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "controller", name, "--server", server, *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    return ControllerProcess(name, proc, log)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0,
                     interval: float = 0.1, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something other than None/False."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if loop.time() > end:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(interval)


def service(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP", "targetPort": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
