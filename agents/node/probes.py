"""Container probes: what one probe attempt does, and how results turn into a state.

Why split from the runtime: the threshold rule is a pure state machine
(pkg/kubelet/prober/worker.go) that tests pin down without processes, and
one attempt is a plain async function of the probe and the container.

``ProbeState``: a readiness probe starts failing (a container is not ready
until a probe passed), liveness and startup start succeeding/unknown; the
result flips only after ``successThreshold`` consecutive successes or
``failureThreshold`` consecutive failures.

``attempt`` runs one probe with its ``timeoutSeconds``: httpGet (status
200..399 passes; the kubelet's ``kube-probe`` User-Agent), tcpSocket (a
connect), exec (exit code 0, run in the container's environment and
directory). Every address is checked: a probe may only connect to a
loopback address (docs/architecture.md, "Networking safety": 10.x Pod IPs
are data, never dialled); anything else fails with
a message saying so. gRPC probes are not supported and fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apimachinery.objects import as_map, int_or

USER_AGENT = "kube-probe/1.33"
READINESS, LIVENESS, STARTUP = "Readiness", "Liveness", "Startup"


@dataclass(frozen=True)
class Timing:
    initial_delay: float
    timeout: float
    period: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, probe: Mapping[str, Any]) -> Timing:
        """The probe's numbers with the API defaults (0, 1, 10, 1, 3)."""
        return cls(
            initial_delay=float(int_or(probe.get("initialDelaySeconds"), 0)),
            timeout=float(max(1, int_or(probe.get("timeoutSeconds"), 1))),
            period=float(max(1, int_or(probe.get("periodSeconds"), 10))),
            success_threshold=max(1, int_or(probe.get("successThreshold"), 1)),
            failure_threshold=max(1, int_or(probe.get("failureThreshold"), 3)),
        )


class ProbeState:
    """Consecutive results -> the probe's verdict (worker.go's resultRun rule)."""

    def __init__(self, kind: str, timing: Timing) -> None:
        self.kind = kind
        self.timing = timing
        self.result: bool | None = False if kind == READINESS else None
        self._last: bool | None = None
        self._run = 0

    def observe(self, ok: bool) -> bool | None:
        """Record one attempt; returns the new verdict when it changes, else None."""
        self._run = self._run + 1 if ok == self._last else 1
        self._last = ok
        needed = self.timing.success_threshold if ok else self.timing.failure_threshold
        if self._run < needed or self.result == ok:
            return None
        self.result = ok
        return ok


def port_of(container: Mapping[str, Any], port: Any) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or []:
            if as_map(p).get("name") == port and isinstance(as_map(p).get("containerPort"), int):
                return int(as_map(p)["containerPort"])
    return None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dial_error(host: str, port: int, e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(e, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    return f"dial tcp {host}:{port}: {e}"


async def _http(action: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = str(action.get("host") or pod_ip)
    port = port_of(container, action.get("port"))
    scheme = str(action.get("scheme") or "HTTP").upper()
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    if port is None:
        return False, f"unable to resolve port {action.get('port')!r}"
    url = f"{scheme.lower()}://{host}:{port}{path}"
    if not is_loopback(host):
        return False, f'Get "{url}": kubelite probes only connect to loopback addresses'
    headers = {"host": f"{host}:{port}", "user-agent": USER_AGENT, "accept": "*/*", "connection": "close"}
    for h in action.get("httpHeaders") or []:
        h = as_map(h)
        if h.get("name"):
            headers[str(h["name"]).lower()] = str(h.get("value") or "")
    ctx: ssl.SSLContext | None = None
    if scheme == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(request.encode("latin-1"))
            await writer.drain()
            line = await reader.readline()
    except (OSError, TimeoutError) as e:
        if isinstance(e, TimeoutError):
            return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        return False, f'Get "{url}": {_dial_error(host, port, e)}'
    finally:
        if writer is not None:
            writer.close()
    parts = line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f'Get "{url}": malformed HTTP response {line[:60]!r}'
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _tcp(action: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = str(action.get("host") or pod_ip)
    port = port_of(container, action.get("port"))
    if port is None:
        return False, f"unable to resolve port {action.get('port')!r}"
    if not is_loopback(host):
        return False, f"dial tcp {host}:{port}: kubelite probes only connect to loopback addresses"
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as e:
        return False, _dial_error(host, port, e)
    writer.close()
    return True, ""


async def run_command(argv: list[str], *, env: Mapping[str, str], cwd: str, timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` in its own process group; (exit code or None on timeout, combined output)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(env), cwd=cwd or None, start_new_session=True)
    except OSError as e:
        return 126 if isinstance(e, PermissionError) else 127, f'exec: "{argv[0] if argv else ""}": {e.strerror}'
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None, ""
    return proc.returncode, out.decode(errors="replace").strip()


async def _exec(action: Mapping[str, Any], env: Mapping[str, str], cwd: str, timeout: float) -> tuple[bool, str]:
    argv = [str(a) for a in action.get("command") or []]
    if not argv:
        return False, "exec probe has no command"
    code, output = await run_command(argv, env=env, cwd=cwd, timeout=timeout)
    if code is None:
        return False, f"command {argv!r} timed out"
    if code == 0:
        return True, output
    return False, output or f"command {argv!r} exited with {code}"


async def attempt(probe: Mapping[str, Any], *, container: Mapping[str, Any], pod_ip: str,
                  env: Mapping[str, str], cwd: str) -> tuple[bool, str]:
    """One probe attempt: (passed, message)."""
    timing = Timing.of(probe)
    if probe.get("httpGet"):
        return await _http(as_map(probe["httpGet"]), container, pod_ip, timing.timeout)
    if probe.get("tcpSocket"):
        return await _tcp(as_map(probe["tcpSocket"]), container, pod_ip, timing.timeout)
    if probe.get("exec"):
        return await _exec(as_map(probe["exec"]), env, cwd, timing.timeout)
    if probe.get("grpc"):
        return False, "gRPC probes are not supported by kubelite's process runtime"
    return False, "probe has no handler"
