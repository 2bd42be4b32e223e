"""The process runtime: phases, back-off, and real processes started, restarted, probed and stopped."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from agents.node import runtime
from agents.node.runtime import Backoff, ProcessRuntime, pod_phase, should_restart

Obj = dict[str, Any]


def status(state: str, *, exit_code: int = 0, last: bool = False) -> Obj:
    s: Obj = {"name": "c", "lastState": {"terminated": {"exitCode": 1}} if last else {}}
    if state == "running":
        s["state"] = {"running": {}}
    elif state == "terminated":
        s["state"] = {"terminated": {"exitCode": exit_code}}
    else:
        s["state"] = {"waiting": {"reason": "X"}}
    return s


@pytest.mark.parametrize(("policy", "containers", "expected"), [
    ("Always", [status("running")], "Running"),
    ("Always", [status("waiting")], "Pending"),
    ("Always", [status("waiting", last=True)], "Running"),  # CrashLoopBackOff is still Running
    ("Always", [status("terminated", exit_code=1)], "Running"),
    ("Never", [status("terminated")], "Succeeded"),
    ("Never", [status("terminated"), status("terminated", exit_code=2)], "Failed"),
    ("OnFailure", [status("terminated", exit_code=2)], "Running"),
    ("OnFailure", [status("terminated")], "Succeeded"),
    ("Never", [status("running"), status("terminated", exit_code=1)], "Running"),
    ("Always", [status("running"), status("waiting")], "Pending"),
])
def test_phase(policy: str, containers: list[Obj], expected: str) -> None:
    assert pod_phase(policy, init_pending=False, init_failed=False, containers=containers) == expected


def test_phase_with_init_containers() -> None:
    assert pod_phase("Always", init_pending=True, init_failed=False, containers=[status("waiting")]) == "Pending"
    assert pod_phase("Never", init_pending=True, init_failed=True, containers=[]) == "Failed"


@pytest.mark.parametrize(("policy", "code", "expected"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 137, True),
    ("Never", 1, False),
])
def test_should_restart(policy: str, code: int, expected: bool) -> None:
    assert should_restart(policy, code) == expected


def test_backoff_is_immediate_then_doubles_and_resets() -> None:
    b = Backoff(initial=10, cap=40)
    assert b.wait_after_exit(0) == 0  # first crash: restart at once
    b.next(0)
    assert b.wait_after_exit(5) == 10
    b.next(15)
    assert b.wait_after_exit(16) == 20
    b.next(36)
    b.next(80)
    assert b.current == 40  # capped
    assert b.wait_after_exit(80 + 81) == 0  # ran longer than twice the cap: forgotten


# ---------------------------------------------------------------------------
# real processes
# ---------------------------------------------------------------------------


def pod(name: str, *containers: Obj, policy: str = "Always", uid: str | None = None) -> Obj:
    return {"metadata": {"name": name, "namespace": "t", "uid": uid or f"uid-{name}"},
            "spec": {"restartPolicy": policy, "containers": list(containers), "terminationGracePeriodSeconds": 2}}


def sh(name: str, script: str, **extra: Any) -> Obj:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


class Harness:
    def __init__(self, root: Path) -> None:
        self.changes: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.rt = ProcessRuntime(root=root, node_name="n1", on_change=self.changes.append,
                                 emit=lambda _p, _t, reason, msg: self.events.append((reason, msg)),
                                 backoff_initial=0.3, backoff_max=1.0)

    async def sync(self, p: Obj) -> runtime.PodRun:
        return await self.rt.sync(p, pod_ip="127.0.0.1", host_ip="127.0.0.1", services=[])

    async def until(self, p: Obj, cond: Any, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.sync(p)
            if cond(self.rt.observed(p["metadata"]["uid"])):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out: {self.rt.observed(p['metadata']['uid'])}")


@pytest.fixture
async def h(tmp_path: Path) -> Any:
    harness = Harness(tmp_path)
    harness.rt.start()
    yield harness
    await harness.rt.shutdown()


def state(o: Any, i: int = 0) -> Obj:
    return dict(o.containers[i]["state"])


async def test_run_log_and_graceful_stop(h: Harness) -> None:
    p = pod("a", sh("main", "echo started $KUBELITE_POD_NAME; trap 'echo bye; exit 0' TERM; "
                            "while true; do sleep 0.05; done"))
    await h.until(p, lambda o: "running" in state(o))
    o = h.rt.observed("uid-a")
    assert o is not None and o.phase == "Running" and o.containers[0]["ready"]
    src = h.rt.log_source("t", "a", "main", previous=False)
    for _ in range(60):
        if b"started a" in src.path.read_bytes():
            break
        await asyncio.sleep(0.05)
    assert b"started a" in src.path.read_bytes()
    assert not h.rt.terminate("uid-a", 2)
    deadline = time.monotonic() + 5
    while not h.rt.terminate("uid-a", 2) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert h.rt.terminate("uid-a", 2)
    assert b"bye" in src.path.read_bytes()
    assert state(h.rt.observed("uid-a"))["terminated"]["exitCode"] == 0


async def test_sigkill_after_the_grace_period(h: Harness) -> None:
    p = pod("b", sh("main", "trap '' TERM; while true; do sleep 0.05; done"))
    await h.until(p, lambda o: "running" in state(o))
    await asyncio.sleep(0.2)  # let the shell install its trap
    t0 = time.monotonic()
    h.rt.terminate("uid-b", 0)  # grace 0 still gets the kubelet's 2 s minimum
    while not h.rt.terminate("uid-b", 0):
        await asyncio.sleep(0.05)
    took = time.monotonic() - t0
    assert 1.9 <= took < 5, took
    assert state(h.rt.observed("uid-b"))["terminated"]["exitCode"] == 137


async def test_crash_loop_backoff_and_restart_count(h: Harness) -> None:
    p = pod("c", sh("main", "echo run; exit 3"))
    await h.until(p, lambda o: o.containers[0]["restartCount"] >= 2, timeout=15)
    o = h.rt.observed("uid-c")
    assert o is not None and o.phase == "Running"
    assert o.containers[0]["lastState"]["terminated"]["exitCode"] == 3
    reasons = [r for r, _ in h.events]
    assert "BackOff" in reasons and "Started" in reasons
    # the previous run's log
    prev = h.rt.log_source("t", "c", "main", previous=True)
    assert prev.path.read_bytes().endswith(b" stdout F run\n")


async def test_never_policy_finishes_the_pod(h: Harness) -> None:
    p = pod("d", sh("ok", "exit 0"), sh("bad", "exit 2"), policy="Never")
    await h.until(p, lambda o: o.phase in ("Succeeded", "Failed"))
    o = h.rt.observed("uid-d")
    assert o is not None and o.phase == "Failed"
    assert [c["state"]["terminated"]["reason"] for c in o.containers] == ["Completed", "Error"]


async def test_init_containers_run_first_in_order(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "order"
    p = pod("e", sh("main", f"echo main >> {marker}; sleep 30"))
    p["spec"]["initContainers"] = [sh("one", f"echo one >> {marker}"), sh("two", f"echo two >> {marker}")]
    await h.until(p, lambda o: "running" in state(o) and marker.read_text().count("\n") == 3)
    assert marker.read_text().split() == ["one", "two", "main"]
    o = h.rt.observed("uid-e")
    assert o is not None
    assert [c["state"]["terminated"]["reason"] for c in o.init_containers] == ["Completed", "Completed"]
    assert [c["ready"] for c in o.init_containers] == [True, True]  # a completed init container counts as ready


async def test_unknown_image_and_missing_binary(h: Harness) -> None:
    p = pod("f", {"name": "web", "image": "nginx"}, {"name": "cli", "image": "x", "command": ["no-such-binary"]})
    await h.until(p, lambda o: o.containers[1]["restartCount"] >= 1 or "terminated" in state(o, 1))
    o = h.rt.observed("uid-f")
    assert o is not None
    assert state(o)["waiting"]["reason"] == "ErrImagePull"
    last = o.containers[1]["lastState"].get("terminated") or state(o, 1).get("terminated")
    assert last is not None and last["reason"] == "StartError" and "executable file not found" in last["message"]


async def test_leftover_processes_are_killed_by_the_next_runtime(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    first.rt.start()
    p = pod("g", sh("main", "sleep 30"))
    await first.until(p, lambda o: "running" in state(o))
    pids = [r.pid for r in first.rt._records.values()]
    first.rt.closed = True  # the agent died without a shutdown
    second = Harness(tmp_path)
    assert second.rt.start() == 1

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    for _ in range(60):  # the first runtime's waiter reaps the killed process
        if not any(alive(pid) for pid in pids):
            break
        await asyncio.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
    await first.rt.shutdown()
