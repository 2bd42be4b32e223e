"""What ``kubelite up`` keeps in its data dir about itself: the mode it was created in, and its pids.

Why: a data dir holds Nodes with podCIDRs and Services with ClusterIPs from
one set of ranges (10.x simulated, or loopback with ``--data-path``); started
in the other mode, the node agents and proxies refuse those objects and are
restarted forever. And an ``up`` that was killed (SIGKILL, a crash) must not
leave processes that hold the ports and write to the same store.

Invariants: ``up`` refuses a data dir created in the other mode before it
starts anything, with one line that says what to do; every child ``up``
runs has ``DIR/run/NAME.pid`` (pid and kernel start time, so a reused pid is
never taken for ours) while it runs; a later ``up`` stops what is still
alive of those, and refuses to run beside an ``up`` that is still alive.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

MODE_FILE = "mode.json"
RUN_DIR = "run"
UP = "up"  # the pid file of the supervisor itself


class Refusal(click.ClickException):
    """A refusal worded for the user: printed as one ``error: ...`` line, exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


def _mode_name(data_path: bool) -> str:
    return "data-path" if data_path else "simulated"


def stored_mode(data_dir: Path, *, database_url: str) -> str | None:
    """The mode a data dir was created in: its mode file, else the stored state, else None (fresh).

    The stored state decides for data dirs from before the mode file: the
    ``kubernetes`` Service takes the first IP of the Service range, which is
    loopback only with ``--data-path``.
    """
    marker = data_dir / MODE_FILE
    if marker.exists():
        with contextlib.suppress(ValueError, OSError):
            mode = json.loads(marker.read_text()).get("mode")
            if mode in ("data-path", "simulated"):
                return str(mode)
    if database_url.startswith("sqlite:///") and not Path(database_url.removeprefix("sqlite:///")).exists():
        return None
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            body = conn.execute(sa.text("SELECT body FROM objects WHERE resource = 'services' "
                                        "AND namespace = 'default' AND name = 'kubernetes'")).scalar()
    except sa.exc.SQLAlchemyError:  # no schema yet: nothing was ever stored
        return None
    finally:
        engine.dispose()
    if body is None:
        return None
    ip = json.loads(body).get("spec", {}).get("clusterIP") or ""
    try:
        return _mode_name(ipaddress.ip_address(ip).is_loopback)
    except ValueError:
        return None


def private_dir(path: Path) -> None:
    """Create the data dir owner-only (0700), and make an existing one so: it holds the store, keys and tokens."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def check_mode(data_dir: Path, *, data_path: bool, database_url: str, external_db: bool) -> None:
    """Refuse (one line, what to do) a data dir created in the other mode; record the mode of a fresh one."""
    want = _mode_name(data_path)
    have = stored_mode(data_dir, database_url=database_url)
    if have is not None and have != want:
        how = "with" if have == "data-path" else "without"
        switch = "add --data-path" if have == "data-path" else "run without --data-path"
        fresh = "use a fresh --data-dir and --db" if external_db else "use a fresh --data-dir"
        raise Refusal(f"{data_dir} was created {how} --data-path; {switch}, {fresh}, or remove {data_dir}")
    private_dir(data_dir)
    if not (data_dir / MODE_FILE).exists():
        (data_dir / MODE_FILE).write_text(json.dumps({"mode": want}) + "\n")


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it runs no more.

    Why: a pid alone may have been reused by an unrelated process since it was recorded. A zombie
    (exited, not yet reaped by its parent) runs no more either.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


@dataclass(frozen=True)
class Recorded:
    name: str
    pid: int
    start: str


class PidFiles:
    """``DIR/run/NAME.pid``: "PID START_TIME" of each process an ``up`` runs, while it runs."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / RUN_DIR

    def record(self, name: str, pid: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{name}.pid.tmp"
        tmp.write_text(f"{pid} {start_time(pid) or ''}\n")
        tmp.replace(self.dir / f"{name}.pid")

    def forget(self, name: str) -> None:
        (self.dir / f"{name}.pid").unlink(missing_ok=True)

    def alive(self) -> list[Recorded]:
        """Recorded processes that still run (same pid, same start time); stale files are removed."""
        out: list[Recorded] = []
        for f in sorted(self.dir.glob("*.pid")) if self.dir.is_dir() else []:
            try:
                pid_text, _, start = f.read_text().strip().partition(" ")
                rec = Recorded(f.stem, int(pid_text), start)
            except (OSError, ValueError):
                f.unlink(missing_ok=True)
                continue
            if rec.start and start_time(rec.pid) == rec.start:
                out.append(rec)
            else:
                f.unlink(missing_ok=True)
        return out


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``up`` gave the child (its own session), or the pid alone otherwise."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_leftovers(data_dir: Path, *, grace: float = 10.0) -> list[Recorded]:
    """Stop the children an earlier, dead ``up`` left running on ``data_dir``; returns them.

    Refuses (one line) while that ``up`` itself still runs: its children are
    not leftovers then, and two supervisors on one data dir would fight.
    SIGTERM first (node agents stop their Pods on it), SIGKILL after ``grace``.
    """
    files = PidFiles(data_dir)
    alive = files.alive()
    for rec in alive:
        if rec.name == UP and rec.pid != os.getpid():
            raise Refusal(f"kubelite up (pid {rec.pid}) is already running on {data_dir}; stop it "
                          f"(kill {rec.pid}) or use another --data-dir")
    left = [rec for rec in alive if rec.name != UP]
    for rec in left:
        _signal_group(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(start_time(r.pid) == r.start for r in left):
        time.sleep(0.05)
    for rec in left:
        if start_time(rec.pid) == rec.start:
            _signal_group(rec.pid, signal.SIGKILL)
        files.forget(rec.name)
    return left
