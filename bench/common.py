"""What every benchmark shares, kept once so that every bench's figures mean the same thing.

Why one module: the proxy bench once passed 0.99 to a percentile that took
0-100 and printed near-minimum latencies as "p99". Here there is one
``percentile``, it takes a fraction and refuses anything outside [0, 1] or an
empty sample; one ``figure`` printer, so every JSON line has the same keys and
the ratio is always value / baseline as printed; one way to pin servers
(``taskset -c 0``) apart from the load generator (CPU 1); one way to sample
a server's memory and its database's size during a run.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = 0
GENERATOR_CPU = 1


def log(msg: str) -> None:
    """Progress goes to stderr so that stdout holds nothing but the figures."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port(*, udp: bool = False) -> int:
    """A free 127.0.0.1 TCP port (free for UDP too with ``udp``: DNS servers bind both)."""
    while True:
        with socket.socket() as t:
            t.bind((HOST, 0))
            port = int(t.getsockname()[1])
            if not udp:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((HOST, port))
                except OSError:
                    continue
            return port


def percentile(values: Sequence[float], fraction: float, *, presorted: bool = False) -> float:
    """Nearest-rank percentile: ``fraction`` 0.99 is p99, 0.5 the median, 1.0 the maximum.

    Why it refuses so much: a fraction above 1 is a percentage passed by
    mistake, and a percentile of no samples is no figure at all; both used to
    come back as plausible small numbers. ``presorted`` skips the sort for
    large sequences the caller keeps in order.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"percentile takes a fraction in [0, 1] (0.99 for p99), not {fraction!r}")
    n = len(values)
    if n == 0:
        raise ValueError("percentile of no samples")
    ordered = values if presorted else sorted(values)
    rank = max(1, math.ceil(round(fraction * n, 9)))  # round: 0.29 * 100 is 28.999999999999996
    return float(ordered[min(rank, n) - 1])


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def figure(name: str, value: float | None, unit: str, baseline: float | None, *, target: str | None = None,
           met: bool | None = None, **extra: Any) -> dict[str, Any]:
    """Print one figure as a JSON line on stdout and return it.

    Why one printer: every bench's lines have the same keys, the ratio is
    computed from the rounded value and baseline exactly as printed, and
    ``target``/``met`` appear exactly when there is a target. A value of None
    means the measurement failed (say why in ``extra``, e.g. ``timeout=True``);
    its ``met`` is then forced to false.
    """
    v = None if value is None else round(value, 3)
    b = None if baseline is None else round(baseline, 3)
    r = ratio(v, b)
    line: dict[str, Any] = {"figure": name, "value": v, "unit": unit, "baseline": b,
                            "ratio": None if r is None else round(r, 3)}
    if target is not None:
        line["target"] = target
        line["met"] = bool(met) and v is not None
    line.update(extra)
    print(orjson.dumps(line).decode(), flush=True)
    return line


# -- CPU pinning ---------------------------------------------------------------------------------

def pinned(argv: Sequence[str]) -> list[str]:
    """``argv`` run on the server core (``taskset -c 0``), so servers never share a core with the generator."""
    return ["taskset", "-c", str(SERVER_CPU), *argv]


def pin_generator() -> None:
    """Pin this process (and the children it starts unpinned, e.g. dnsperf) to the generator core."""
    os.sched_setaffinity(0, {GENERATOR_CPU})


# -- processes -------------------------------------------------------------------------------------

def kubelite_argv(*args: str) -> list[str]:
    """``kubelite ARGS`` from this checkout, whichever directory the bench is run from."""
    return [sys.executable, "-m", "kubelite.cli", *args]


def start_process(argv: Sequence[str], log_path: Path, *, pin: bool = True,
                  env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server process in its own session, stdout+stderr to ``log_path``, on the server core if ``pin``."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent", **(env or {})}
    with log_path.open("ab") as logf:
        return subprocess.Popen(pinned(argv) if pin else list(argv), cwd=ROOT, env=full_env, stdout=logf,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def wait_http_ok(url: str, *, timeout: float, proc: subprocess.Popen[bytes] | None = None,
                 log_path: Path | None = None) -> None:
    """Wait for ``url`` to answer 200; fail early, with the log's tail, when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered:\n{tail}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def start_apiserver(data_dir: Path, *, pin: bool = True, extra: Sequence[str] = ()) -> tuple[
        subprocess.Popen[bytes], str]:
    """``kubelite apiserver`` on a free port with its data under ``data_dir``; returns (process, URL) once ready."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "apiserver.log"
    proc = start_process(kubelite_argv("apiserver", "--port", str(port), "--data-dir", str(data_dir),
                                       "--log-level", "warning", *extra), log_path, pin=pin)
    url = f"http://{HOST}:{port}"
    try:
        wait_http_ok(url + "/readyz", timeout=60, proc=proc, log_path=log_path)
    except BaseException:
        stop_processes([proc])
        raise
    return proc, url


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], *, timeout: float = 15.0) -> None:
    """SIGTERM every process group (last started first), then SIGKILL what is left after ``timeout``."""
    procs = list(procs)
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                p.kill()
            p.wait(5)


# -- CPU, memory and disk ------------------------------------------------------------------------

def process_cpu(pid: int) -> float:
    """CPU seconds (user+system, all threads) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def sqlite_bytes(path: Path) -> int:
    """Size of a SQLite database with its WAL: ``path`` is the .db file, or a directory holding .db files."""
    files = [f for pattern in ("*.db", "*.db-wal") for f in path.glob(pattern)] if path.is_dir() else [
        path, path.with_name(path.name + "-wal")]
    total = 0
    for f in files:
        try:
            total += f.stat().st_size
        except FileNotFoundError:
            pass
    return total


class Sampler:
    """Samples the RSS of some processes and the size of some databases in a thread; keeps first, peak, last.

    Why sampled: a figure of memory or disk taken once at the end misses the
    peak of the run (a WAL is checkpointed and truncated, a cache is freed).
    """

    def __init__(self, *, pids: Mapping[str, int] | None = None, dbs: Mapping[str, Path] | None = None,
                 interval: float = 0.2) -> None:
        self.pids = dict(pids or {})
        self.dbs = dict(dbs or {})
        if self.pids.keys() & self.dbs.keys():  # one name, one series: a db size must never read as an RSS
            raise ValueError(f"names used for both a process and a database: {self.pids.keys() & self.dbs.keys()}")
        self.interval = interval
        self.first: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def sample(self) -> None:
        now = {**{k: rss_bytes(p) for k, p in self.pids.items()}, **{k: sqlite_bytes(p) for k, p in self.dbs.items()}}
        for k, v in now.items():
            self.first.setdefault(k, v)
            self.peak[k] = max(self.peak.get(k, 0), v)
            self.last[k] = v

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


MIB = 1024 * 1024
