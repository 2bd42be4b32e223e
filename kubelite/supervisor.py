"""``kubelite up``: start every process, wait until ready, supervise, stop cleanly.

Why a supervisor of OS processes (not threads): controllers talk to the API
server only over HTTP, exactly as they would on separate machines, and a
crash of one never takes down another. Invariant: a child that exits while
we are running is restarted with exponential backoff (1 s .. 30 s, reset
after 60 s of health); on SIGINT/SIGTERM every child gets SIGTERM, then
SIGKILL after a grace period. Children die with the supervisor even when it
cannot stop them (SIGKILL, a crash): each asks the kernel for SIGTERM when
its parent goes (``prctl(PR_SET_PDEATHSIG)``), and with ``pid_files`` each
running child is recorded in the data dir so a later ``up`` finds leftovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from kubelite.datadir import PidFiles

COLORS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m")
RESET = "\033[0m"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process (its parent) dies.

    libc is looked up here, in the parent, so the forked child only calls
    into it. If the parent died between fork and prctl the signal would never
    come: the child then ends itself (its parent pid is no longer ours).
    """
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None
    # a readiness probe for processes without an HTTP health endpoint (e.g. DNS)
    probe: Callable[[], Awaitable[bool]] | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0


class Supervisor:
    def __init__(self, children: list[Child], *, echo: Callable[[str], None] | None = None,
                 color: bool | None = None, verify: ssl.SSLContext | bool = True,
                 pid_files: PidFiles | None = None) -> None:
        self.children = children
        self.pid_files = pid_files
        self.verify = verify  # the CA file for https readiness probes
        self.echo = echo or (lambda s: print(s, flush=True))
        self.color = sys.stdout.isatty() if color is None else color
        self.width = max(len(c.name) for c in children) if children else 8
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._groups: list[list[Child]] = []

    def _prefix(self, i: int, name: str) -> str:
        p = name.ljust(self.width)
        return f"{COLORS[i % len(COLORS)]}{p}{RESET} | " if self.color else f"{p} | "

    async def _spawn(self, child: Child) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **child.env}
        child.proc = await asyncio.create_subprocess_exec(
            *child.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
            start_new_session=True, preexec_fn=die_with_parent(),
        )
        child.started_at = time.monotonic()
        if self.pid_files is not None:
            self.pid_files.record(child.name, child.proc.pid)

    async def _pump(self, i: int, child: Child) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        prefix = self._prefix(i, child.name)
        while True:
            line = await child.proc.stdout.readline()
            if not line:
                return
            self.echo(prefix + line.decode(errors="replace").rstrip())

    async def _run_child(self, i: int, child: Child) -> None:
        backoff = 1.0
        while not self.stopping:
            await self._spawn(child)
            await self._pump(i, child)
            assert child.proc is not None
            code = await child.proc.wait()
            if self.pid_files is not None:
                self.pid_files.forget(child.name)
            if self.stopping:
                return
            if time.monotonic() - child.started_at > 60:
                backoff = 1.0
            child.restarts += 1
            self.echo(self._prefix(i, child.name) + f"exited with code {code}; restarting in {backoff:.0f}s "
                      f"(restart {child.restarts})")
            await asyncio.sleep(backoff)
            backoff = min(30.0, backoff * 2)

    async def start(self, children: list[Child] | None = None) -> None:
        """Start ``children`` (default: all), so a caller can start clients only once their server is ready.

        Each call is one group; ``stop`` stops the groups in reverse order.
        """
        group = list(self.children if children is None else children)
        self._groups.append(group)
        for child in group:
            i = self.children.index(child)
            self._tasks.append(asyncio.create_task(self._run_child(i, child), name=child.name))

    async def wait_ready(self, timeout: float, children: list[Child] | None = None) -> list[str]:
        """Names of ``children`` (default: all) not ready by ``timeout`` (empty: all ready)."""
        deadline = time.monotonic() + timeout
        pending = [c for c in (self.children if children is None else children) if c.ready_url or c.probe]
        async with httpx.AsyncClient(timeout=1, verify=self.verify) as client:
            while pending and time.monotonic() < deadline:
                still = []
                for c in pending:
                    if c.probe is not None:
                        try:
                            ok = await c.probe()
                        except Exception:
                            ok = False
                        if not ok:
                            still.append(c)
                        continue
                    try:
                        r = await client.get(c.ready_url or "")
                        if r.status_code != 200:
                            still.append(c)
                    except httpx.HTTPError:
                        still.append(c)
                pending = still
                if pending:
                    await asyncio.sleep(0.05)
        return [c.name for c in pending]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the groups of ``start`` in reverse order: SIGTERM, SIGKILL after ``grace`` (per group).

        Why the order: clients release their Leases and close their watches while the API server still
        answers them, so a stop logs no "connection refused".
        """
        self.stopping = True
        for group in reversed(self._groups):
            await self._stop_group(group, grace)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _stop_group(self, group: list[Child], grace: float) -> None:
        for c in group:
            if c.proc is not None and c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for c in group:
            if c.proc is None:
                continue
            left = max(0.1, deadline - time.monotonic())
            try:
                async with asyncio.timeout(left):
                    await c.proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGKILL)
                await c.proc.wait()
            if self.pid_files is not None:
                self.pid_files.forget(c.name)
