"""The supervisor's promises, on tiny Python children: start order, reverse stop, pid files, death with parent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kubelite.datadir import PidFiles, start_time
from kubelite.supervisor import Child, Supervisor


def sleeper(name: str, tmp: Path) -> Child:
    """A child that says when it is up (``NAME.up``) and records its SIGTERM in ``stops``."""
    code = textwrap.dedent(f"""
        import signal, sys, time
        from pathlib import Path
        def term(*_):
            with open({str(tmp / "stops")!r}, "a") as f:
                f.write({name!r} + "\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, term)
        Path({str(tmp / (name + ".up"))!r}).touch()
        time.sleep(60)
    """)
    return Child(name, [sys.executable, "-c", code])


async def until(cond: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_groups_start_in_order_and_stop_in_reverse_with_pid_files(tmp_path: Path) -> None:
    server, client = sleeper("server", tmp_path), sleeper("client", tmp_path)
    files = PidFiles(tmp_path / "data")

    async def main() -> None:
        sup = Supervisor([server, client], echo=lambda _: None, pid_files=files)
        await sup.start([server])
        await until(lambda: (tmp_path / "server.up").exists())
        assert not (tmp_path / "client.up").exists()
        await sup.start([client])
        await until(lambda: (tmp_path / "client.up").exists())
        assert {r.name: r.pid for r in files.alive()} == {"server": server.proc.pid,  # type: ignore[union-attr]
                                                         "client": client.proc.pid}  # type: ignore[union-attr]
        await sup.stop()

    asyncio.run(main())
    assert (tmp_path / "stops").read_text().split() == ["client", "server"]
    assert files.alive() == []


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from kubelite.datadir import PidFiles
        from kubelite.supervisor import Child, Supervisor
        async def main():
            sup = Supervisor([Child("a", [sys.executable, "-c", "import time; time.sleep(60)"]),
                              Child("b", [sys.executable, "-c", "import time; time.sleep(60)"])],
                             pid_files=PidFiles(Path({str(tmp_path)!r})))
            await sup.start()
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    files = PidFiles(tmp_path)
    try:
        deadline = time.monotonic() + 20
        while len(files.alive()) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        children = files.alive()
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 10
    while any(start_time(r.pid) == r.start for r in children):
        assert time.monotonic() < deadline, f"left running: {children}"
        time.sleep(0.05)


def test_a_reused_pid_is_not_taken_for_a_leftover(tmp_path: Path) -> None:
    files = PidFiles(tmp_path)
    files.record("mine", os.getpid())
    assert [r.name for r in files.alive()] == ["mine"]
    (files.dir / "other.pid").write_text(f"{os.getpid()} 1\n")  # same pid, another start time: not ours
    (files.dir / "junk.pid").write_text("no pid here\n")
    assert [r.name for r in files.alive()] == ["mine"]
    assert sorted(p.name for p in files.dir.iterdir()) == ["mine.pid"]  # stale files are removed


def test_a_zombie_runs_no_more(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().split(") ")[1][0] != "Z":  # exited, not yet reaped
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert start_time(proc.pid) is None
    assert proc.wait() == 0
