"""The process runtime: a Pod's containers run as local processes bound to the Pod's loopback IP.

Why (issue 10): traffic must really reach Pods. Each container is one OS
process in its own process group (``start_new_session``), started with
the environment the kubelet would give it (``podenv``), its stdout/stderr
captured in CRI log files (``containerlogs``), probed as its spec says
(``probes``), restarted under the Pod's restartPolicy with the kubelet's
CrashLoopBackOff, and stopped gracefully: preStop hook, SIGTERM to the
group, SIGKILL after the grace period (at least 2 s, the kubelet's
minimum).

Shape: ``ProcessRuntime`` holds one ``PodRun`` per Pod UID and one
``ContainerRun`` per container. The agent calls ``sync`` on every
reconcile (level-triggered: it starts what should run and is not running);
everything that happens on its own (a process exits, a probe verdict flips,
a back-off ends) calls ``on_change(namespace/name)`` so the agent looks at
the Pod again and posts ``observed(uid)`` as its status.

Rules kept from the kubelet:
- init containers run one at a time, in order, each to success; a
  restartable init container (a sidecar) is started and left running;
- a container is ready when it runs, its startup probe (if any) passed and
  its readiness probe (if any) passed; readiness keeps being probed while
  the Pod terminates, liveness and startup do not;
- a liveness or startup verdict of failure kills the container (with the
  probe's terminationGracePeriodSeconds when set); whether it comes back is
  the restartPolicy's call;
- restart back-off: the first restart is immediate, then 10 s doubling to
  300 s (reset after a run longer than twice the cap); while waiting the
  container is ``waiting`` with reason CrashLoopBackOff;
- restartCount counts starts after the first, including starts after an
  agent restart (the API showed an earlier container).

Leftovers: the pid and start time of every container process is kept in
``<root>/containers.json``; a restarted agent kills the groups its previous
incarnation left behind (their Pods' containers are then started again)
instead of finding the Pod IPs' ports taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.node import kubeletevents as kev
from agents.node import podenv, podvolumes, probes
from agents.node.containerlogs import LogFile
from agents.node.status import Observed
from apimachinery.objects import as_list, as_map
from apimachinery.podsources import Sources
from apimachinery.timestamps import format_time
from controllers.runtime.events import NORMAL, WARNING

log = logging.getLogger("agents.node.runtime")

Obj = dict[str, Any]
Emit = Callable[[Obj, str, str, str], None]

MIN_GRACE = 2.0
STATE_FILE = "containers.json"
PUMP_DRAIN = 2.0


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = as_map(pod.get("metadata"))
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def should_restart(policy: str, exit_code: int) -> bool:
    """The Pod's restartPolicy applied to one container exit."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def pod_phase(policy: str, *, init_pending: bool, init_failed: bool, containers: Sequence[Obj]) -> str:
    """The kubelet's getPhase over container statuses (dicts in API form)."""
    if init_failed:
        return "Failed"
    if init_pending:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for s in containers:
        state = as_map(s.get("state"))
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += as_map(state["terminated"]).get("exitCode") == 0
        elif as_map(s.get("lastState")).get("terminated") is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


@dataclass
class Terminated:
    exit_code: int
    reason: str
    started_at: str
    finished_at: str
    container_id: str
    message: str = ""
    signal: int | None = None

    def as_dict(self) -> Obj:
        d: Obj = {"exitCode": self.exit_code, "reason": self.reason, "startedAt": self.started_at,
                  "finishedAt": self.finished_at, "containerID": self.container_id}
        if self.message:
            d["message"] = self.message
        if self.signal:
            d["signal"] = self.signal
        return d


@dataclass
class Backoff:
    """The kubelet's per-container restart back-off (flowcontrol.Backoff)."""

    initial: float
    cap: float
    current: float = 0.0
    updated: float = 0.0

    def next(self, now: float) -> None:
        """A restart happened (Next): the following one waits twice as long."""
        self.current = self.initial if self.current == 0 else min(self.current * 2, self.cap)
        self.updated = now

    def wait_after_exit(self, finished: float) -> float:
        """Seconds to wait before restarting a container that exited at ``finished``."""
        if self.current and finished - self.updated > 2 * self.cap:
            self.current = 0.0
        return self.current


class ContainerRun:
    """One container of a Pod: its current process, its probes and its restart bookkeeping."""

    def __init__(self, run: PodRun, spec: Obj, *, kind: str, prior: Obj | None, backoff: Backoff) -> None:
        self.run = run
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.kind = kind  # "init", "sidecar" or "main"
        prior = prior or {}
        self.restart_count = int(prior.get("restartCount") or 0)
        self.ever_started = bool(prior.get("containerID"))
        self.state = "waiting"
        self.waiting: tuple[str, str] = ("ContainerCreating", "")
        self.running = False
        self.started_at = ""
        self.container_id = ""
        self.term: Terminated | None = None
        self.prior_term: Terminated | None = None
        self.ready = False
        self.started = False
        self.generation = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.launch: podenv.Launch | None = None
        self.log_path: Path | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.backoff = backoff
        self.not_before = 0.0

    def previous_log(self) -> Path | None:
        if self.log_path is None or self.restart_count == 0:
            return None
        p = self.log_path.with_name(f"{self.restart_count - 1}.log")
        return p if p.exists() else None

    def status(self) -> Obj:
        image = str(self.spec.get("image") or "")
        if self.state == "running":
            state: Obj = {"running": {"startedAt": self.started_at}}
            last = self.term
        elif self.state == "terminated" and self.term is not None:
            state = {"terminated": self.term.as_dict()}
            last = self.prior_term
        else:
            reason, message = self.waiting
            state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
            last = self.term
        out: Obj = {
            "name": self.name,
            "state": state,
            "lastState": {"terminated": last.as_dict()} if last is not None else {},
            "ready": (self.ready and self.state == "running") or (
                self.kind == "init" and self.state == "terminated" and self.term is not None
                and self.term.exit_code == 0),
            "restartCount": self.restart_count,
            "image": image,
            "imageID": image,
            "started": self.started and self.state == "running",
        }
        cid = self.container_id or (self.term.container_id if self.term else "")
        if cid:
            out["containerID"] = cid
        return out


class PodRun:
    """The runtime's side of one Pod UID."""

    def __init__(self, pod: Obj, *, root: Path, backoff: tuple[float, float]) -> None:
        meta = as_map(pod.get("metadata"))
        spec = as_map(pod.get("spec"))
        self.uid = str(meta.get("uid") or "")
        self.namespace = str(meta.get("namespace") or "")
        self.name = str(meta.get("name") or "")
        self.key = f"{self.namespace}/{self.name}"
        self.pod = pod
        self.ip = ""
        self.host_ip = ""
        self.services: list[Obj] = []
        self.sources: Sources = {}
        self.volumes_written: set[str] = set()
        self.mount_error = ""
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.sandbox = root / "pods" / self.uid
        self.log_dir = root / "logs" / f"{self.namespace}_{self.name}_{self.uid}"
        status = as_map(pod.get("status"))
        prior = {str(as_map(s).get("name")): as_map(s) for s in as_list(status.get("containerStatuses"))}
        prior_init = {str(as_map(s).get("name")): as_map(s) for s in as_list(status.get("initContainerStatuses"))}
        self.init = [ContainerRun(self, as_map(c), kind="sidecar" if as_map(c).get("restartPolicy") == "Always" else "init",
                                  prior=prior_init.get(str(as_map(c).get("name"))), backoff=Backoff(*backoff))
                     for c in as_list(spec.get("initContainers"))]
        self.main = [ContainerRun(self, as_map(c), kind="main", prior=prior.get(str(as_map(c).get("name"))),
                                  backoff=Backoff(*backoff))
                     for c in as_list(spec.get("containers"))]
        self.init_failed = False
        self.terminating = False
        self.deadline = 0.0
        self.stopped = asyncio.Event()
        self.lock = asyncio.Lock()
        self.timer: asyncio.TimerHandle | None = None
        self.terminator: asyncio.Task[None] | None = None
        self.final_phase = ""

    def containers(self) -> list[ContainerRun]:
        return [*self.init, *self.main]

    def find(self, name: str) -> ContainerRun | None:
        return next((c for c in self.containers() if c.name == name), None)

    def init_pending(self) -> bool:
        for c in self.init:
            if c.kind == "sidecar":
                if not (c.state == "running" and c.started):
                    return True
            elif not (c.state == "terminated" and c.term is not None and c.term.exit_code == 0):
                return True
        return False

    def phase(self) -> str:
        if self.final_phase:
            return self.final_phase
        phase = pod_phase(self.policy, init_pending=self.init_pending(), init_failed=self.init_failed,
                          containers=[c.status() for c in self.main])
        if phase in ("Succeeded", "Failed"):
            self.final_phase = phase
        return phase

    def alive(self) -> bool:
        return any(c.proc is not None for c in self.containers())


@dataclass
class LogSource:
    path: Path
    running: Callable[[], bool]


class LogError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Record:
    pid: int
    start: str


def _proc_start(pid: int) -> str:
    """Field 22 of /proc/PID/stat (start time in ticks): tells a pid's owner apart from a reuse."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return raw.rsplit(")", 1)[-1].split()[19] if ")" in raw else ""


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def _container_id(uid: str, name: str, restart: int) -> str:
    return "kubelite://" + hashlib.sha256(f"{uid}/{name}/{restart}".encode()).hexdigest()[:32]


@dataclass
class ProcessRuntime:
    root: Path
    node_name: str
    on_change: Callable[[str], None]
    emit: Emit = field(default=lambda _pod, _type, _reason, _message: None)
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    pods: dict[str, PodRun] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    _records: dict[str, _Record] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    closed: bool = False

    # ---- lifecycle of the runtime ------------------------------------------------

    def start(self) -> int:
        """Kill the process groups a previous agent left behind; returns how many."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / STATE_FILE
        killed = 0
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        for cid, rec in (old.items() if isinstance(old, dict) else []):
            pid, start = int(as_map(rec).get("pid") or 0), str(as_map(rec).get("start") or "")
            if pid > 1 and start and _proc_start(pid) == start:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                    killed += 1
                    log.info("killed container %s (pid %d) left by a previous agent", cid, pid)
        self._save()
        return killed

    def _save(self) -> None:
        data = {cid: {"pid": r.pid, "start": r.start} for cid, r in self._records.items()}
        tmp = self.root / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.root / STATE_FILE)

    async def shutdown(self, grace: float = MIN_GRACE) -> None:
        """Stop every container (the node goes away): SIGTERM, then SIGKILL after ``grace``; start none again."""
        self.closed = True
        procs = [c.proc for r in self.pods.values() for c in r.containers() if c.proc is not None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
        if procs:
            _done, pending = await asyncio.wait([asyncio.ensure_future(p.wait()) for p in procs], timeout=grace)
            for p in procs:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(p.pid, signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=2)
        for r in self.pods.values():
            for c in r.containers():
                for t in list(c.tasks):
                    t.cancel()
        self._records.clear()
        with contextlib.suppress(OSError):
            self._save()

    # ---- the agent's entry points ---------------------------------------------------

    def get(self, uid: str) -> PodRun | None:
        return self.pods.get(uid)

    async def sync(self, pod: Obj, *, pod_ip: str, host_ip: str, services: list[Obj],
                   sources: Sources | None = None) -> PodRun:
        """Make the Pod's processes what its spec and restartPolicy say, and its volume files what
        ``sources`` (the ConfigMaps and Secrets it names, as fetched just now) say."""
        uid = str(as_map(pod.get("metadata")).get("uid") or "")
        run = self.pods.get(uid)
        if run is None:
            run = PodRun(pod, root=self.root, backoff=(self.backoff_initial, self.backoff_max))
            run.sandbox.mkdir(parents=True, exist_ok=True)
            self.pods[uid] = run
            self.by_key[run.key] = uid
        run.pod, run.ip, run.host_ip, run.services = pod, pod_ip, host_ip, services
        run.sources = sources or {}
        if run.terminating or run.final_phase or self.closed:
            return run
        async with run.lock:
            if self._volumes(run):
                await self._advance(run)
        return run

    def _volumes(self, run: PodRun) -> bool:
        """Set up (then keep in sync) the Pod's volume files; False while one cannot be set up.

        As the kubelet, no container starts before every volume is set up:
        they wait as ContainerCreating, with a FailedMount Event per new error.
        """
        try:
            errs = podvolumes.set_up(run.pod, run.sandbox, sources=run.sources, pod_ip=run.ip,
                                     host_ip=run.host_ip, written=run.volumes_written)
        except OSError as e:
            errs = [podvolumes.MountError("", f"writing the volume files failed: {e.strerror or e}")]
        message = "; ".join(str(err) for err in errs)
        if message and message != run.mount_error:
            for err in errs:
                self.emit(run.pod, WARNING, "FailedMount", str(err))
        run.mount_error = message
        return not errs

    def observed(self, uid: str) -> Observed | None:
        run = self.pods.get(uid)
        if run is None:
            return None
        return Observed(containers=[c.status() for c in run.main],
                        init_containers=[c.status() for c in run.init], phase=run.phase())

    def terminate(self, uid: str, grace: float) -> bool:
        """Start (or hurry) stopping the Pod; True once none of its processes is left."""
        run = self.pods.get(uid)
        if run is None:
            return True
        deadline = time.monotonic() + max(MIN_GRACE, grace)
        if run.terminator is None:
            run.terminating = True
            run.deadline = deadline
            if run.timer is not None:
                run.timer.cancel()
            run.terminator = asyncio.create_task(self._terminate(run), name=f"terminate:{run.key}")
        elif deadline < run.deadline:
            run.deadline = deadline
        return run.stopped.is_set()

    def forget(self, uid: str) -> None:
        """The Pod is gone from the API: stop what still runs, then drop it and its files."""
        run = self.pods.get(uid)
        if run is None:
            return
        grace = float(as_map(run.pod.get("metadata")).get("deletionGracePeriodSeconds") or 0)
        self.terminate(uid, grace)

        async def drop() -> None:
            await run.stopped.wait()
            self.pods.pop(uid, None)
            if self.by_key.get(run.key) == uid:
                self.by_key.pop(run.key, None)
            shutil.rmtree(run.sandbox, ignore_errors=True)
            shutil.rmtree(run.log_dir, ignore_errors=True)

        task = asyncio.create_task(drop(), name=f"forget:{run.key}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def log_source(self, namespace: str, name: str, container: str, *, previous: bool) -> LogSource:
        """Where ``kubectl logs`` reads: raises LogError with the kubelet's messages."""
        uid = self.by_key.get(f"{namespace}/{name}")
        run = self.pods.get(uid or "")
        if run is None:
            raise LogError(404, f'pod "{name}" does not exist')
        c = run.find(container)
        if c is None:
            raise LogError(404, f'container "{container}" not found in pod "{name}"')
        if previous:
            prev = c.previous_log()
            if prev is None:
                raise LogError(400, f'previous terminated container "{container}" in pod "{name}" not found')
            return LogSource(prev, lambda: False)
        if c.log_path is None:
            reason = c.waiting[0]
            if reason == "ErrImagePull":
                raise LogError(400, f'container "{container}" in pod "{name}" is waiting to start: '
                                    "image can't be pulled")
            raise LogError(400, f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        path = c.log_path
        return LogSource(path, lambda: c.state == "running" and c.log_path == path)

    # ---- driving containers --------------------------------------------------------

    async def _advance(self, run: PodRun) -> None:
        now = time.monotonic()
        for c in run.init:
            if c.kind == "sidecar":
                if c.state != "running":
                    await self._maybe_start(run, c, now)
                if not (c.state == "running" and c.started):
                    return
                continue
            if c.state == "running":
                return
            if c.state == "terminated" and c.term is not None:
                if c.term.exit_code == 0:
                    continue
                if run.policy == "Never":
                    run.init_failed = True
                    return
            await self._maybe_start(run, c, now)
            return
        for c in run.main:
            if c.state == "running":
                continue
            if c.term is not None and not should_restart(run.policy, c.term.exit_code):
                c.state = "terminated"
                continue
            await self._maybe_start(run, c, now)

    async def _maybe_start(self, run: PodRun, c: ContainerRun, now: float) -> None:
        if now < c.not_before:
            wait = c.not_before - now
            c.state = "waiting"
            c.waiting = ("CrashLoopBackOff", f"back-off {c.backoff.current:g}s restarting failed container="
                                             f"{c.name} pod={run.name}_{run.namespace}({run.uid})")
            if run.timer is None or run.timer.when() > asyncio.get_running_loop().time() + wait + 0.01:
                if run.timer is not None:
                    run.timer.cancel()
                run.timer = asyncio.get_running_loop().call_later(wait, self._timer_fired, run)
            return
        await self._start(run, c)

    def _timer_fired(self, run: PodRun) -> None:
        run.timer = None
        self.on_change(run.key)

    async def _start(self, run: PodRun, c: ContainerRun) -> None:
        if self.closed:
            return
        pod = run.pod
        warnings: list[str] = []
        try:
            mounts = podvolumes.mount_env(pod, c.spec, run.sandbox, index=c.generation + 1)
            launch = podenv.launch(pod, c.spec, services=run.services, pod_ip=run.ip, host_ip=run.host_ip,
                                   node_name=self.node_name, sandbox=str(run.sandbox), sources=run.sources,
                                   mounts=mounts, events=warnings)
        except podenv.ImageError as e:
            if c.waiting[0] != "ErrImagePull":
                self.emit(pod, WARNING, "Failed", f'Failed to pull image "{c.spec.get("image")}": {e}')
            c.state, c.waiting = "waiting", ("ErrImagePull", str(e))
            return
        except podenv.ConfigError as e:
            if c.waiting != ("CreateContainerConfigError", str(e)):
                self.emit(pod, WARNING, "Failed", f"Error: {e}")
            c.state, c.waiting = "waiting", ("CreateContainerConfigError", str(e))
            return
        for message in warnings:
            self.emit(pod, WARNING, "InvalidEnvironmentVariableNames", message)
        now = time.monotonic()
        if c.ever_started:
            c.restart_count += 1
            c.backoff.next(now)
        c.ever_started = True
        c.generation += 1
        gen = c.generation
        c.launch = launch
        c.log_path = run.log_dir / c.name / f"{c.restart_count}.log"
        logfile = LogFile(c.log_path)
        started_at = format_time()
        cid = _container_id(run.uid, c.name, c.restart_count)
        if podenv.builtin(str(c.spec.get("image") or "")) is not None:  # on every start, as EnsureImageExists
            self.emit(pod, NORMAL, kev.PULLED, kev.already_present(str(c.spec.get("image") or "")))
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=launch.cwd or None, env=launch.env, start_new_session=True)
        except OSError as e:
            logfile.close()
            argv0 = launch.argv[0] if launch.argv else ""
            what = "executable file not found in $PATH" if isinstance(e, FileNotFoundError) and "/" not in argv0 \
                else (e.strerror or str(e))
            message = f'failed to start container "{c.name}": exec: "{argv0}": {what}'
            self.emit(pod, WARNING, "Failed", f"Error: {message}")
            self._exited(run, c, Terminated(128, "StartError", started_at, format_time(), cid, message))
            return
        c.proc = proc
        c.state, c.running = "running", True
        c.started_at, c.container_id = started_at, cid
        c.started = c.kind == "init" or not c.spec.get("startupProbe")
        c.ready = c.started and not c.spec.get("readinessProbe")
        self._records[cid] = _Record(proc.pid, _proc_start(proc.pid))
        self._save()
        self.emit(pod, NORMAL, kev.CREATED, kev.created(c.name))
        self.emit(pod, NORMAL, kev.STARTED, kev.started(c.name))
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [asyncio.create_task(logfile.pump("stdout", proc.stdout)),
                 asyncio.create_task(logfile.pump("stderr", proc.stderr))]
        self._task(c, self._wait(run, c, gen, proc, logfile, pumps, started_at, cid), "wait")
        if c.kind != "init":
            for kind, key in ((probes.STARTUP, "startupProbe"), (probes.READINESS, "readinessProbe"),
                              (probes.LIVENESS, "livenessProbe")):
                probe = as_map(c.spec.get(key))
                if probe:
                    self._task(c, self._probe(run, c, gen, kind, probe), kind.lower())

    def _task(self, c: ContainerRun, coro: Any, what: str) -> None:
        t: asyncio.Task[None] = asyncio.create_task(coro, name=f"{c.run.key}/{c.name}:{what}")
        c.tasks.add(t)
        t.add_done_callback(c.tasks.discard)

    async def _wait(self, run: PodRun, c: ContainerRun, gen: int, proc: asyncio.subprocess.Process,
                    logfile: LogFile, pumps: list[asyncio.Task[None]], started_at: str, cid: str) -> None:
        code = await proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the container's other processes end with it
        _done, pending = await asyncio.wait(pumps, timeout=PUMP_DRAIN)
        for t in pending:
            t.cancel()
        logfile.close()
        self._records.pop(cid, None)
        with contextlib.suppress(OSError):
            self._save()
        exit_code, sig = (code, None) if code >= 0 else (128 - code, -code)
        reason = "Completed" if exit_code == 0 else "Error"
        if c.generation == gen:
            self._exited(run, c, Terminated(exit_code, reason, started_at, format_time(), cid, signal=sig))

    def _exited(self, run: PodRun, c: ContainerRun, term: Terminated) -> None:
        c.generation += 1  # stops this run's probes
        for t in list(c.tasks):
            if t is not asyncio.current_task() and not t.get_name().endswith(":wait"):
                t.cancel()
        c.prior_term, c.term = c.term, term
        c.proc = None
        c.running = c.ready = c.started = False
        c.state = "terminated"
        c.container_id = ""
        now = time.monotonic()
        c.not_before = now + c.backoff.wait_after_exit(now)
        if not run.terminating and should_restart(run.policy, term.exit_code) and c.not_before > now:
            self.emit(run.pod, WARNING, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                                   f"{run.name}_{run.namespace}({run.uid})")
        self.on_change(run.key)

    async def _probe(self, run: PodRun, c: ContainerRun, gen: int, kind: str, probe: Obj) -> None:
        timing = probes.Timing.of(probe)
        state = probes.ProbeState(kind, timing)
        await asyncio.sleep(timing.initial_delay)
        while c.generation == gen and c.state == "running":
            if kind == probes.STARTUP and c.started:
                return
            if kind != probes.STARTUP and not c.started:
                await asyncio.sleep(min(timing.period, 0.2))
                continue
            if run.terminating and kind != probes.READINESS:
                return
            assert c.launch is not None
            ok, message = await probes.attempt(probe, container=c.spec, pod_ip=run.ip, env=c.launch.env,
                                               cwd=c.launch.cwd)
            if c.generation != gen or c.state != "running":
                return
            if not ok:
                self.emit(run.pod, WARNING, kev.UNHEALTHY, kev.probe_failed(kind, message))
            verdict = state.observe(ok)
            if verdict is not None:
                if kind == probes.READINESS:
                    c.ready = verdict
                    self.on_change(run.key)
                elif kind == probes.STARTUP and verdict:
                    c.started = True
                    c.ready = not c.spec.get("readinessProbe")
                    self.on_change(run.key)
                elif verdict is False and not run.terminating:
                    self.emit(run.pod, NORMAL, kev.KILLING,
                              f"Container {c.name} failed {kind.lower()} probe, will be restarted")
                    grace = probe.get("terminationGracePeriodSeconds")
                    if not isinstance(grace, int):
                        grace = as_map(run.pod.get("spec")).get("terminationGracePeriodSeconds")
                    deadline = time.monotonic() + max(MIN_GRACE, float(grace if isinstance(grace, int) else 30))
                    await self._kill(run, c, _constant(deadline))
                    return
            await asyncio.sleep(timing.period)

    # ---- stopping -----------------------------------------------------------------

    async def _pre_stop(self, run: PodRun, c: ContainerRun, deadline: Callable[[], float]) -> None:
        hook = as_map(as_map(c.spec.get("lifecycle")).get("preStop"))
        if not hook or c.launch is None:
            return
        budget = max(0.0, deadline() - time.monotonic())
        ok, message = True, ""
        try:
            async with asyncio.timeout(budget):
                if hook.get("sleep"):
                    await asyncio.sleep(float(as_map(hook["sleep"]).get("seconds") or 0))
                elif hook.get("exec"):
                    argv = [str(a) for a in as_list(as_map(hook["exec"]).get("command"))]
                    code, out = await probes.run_command(argv, env=c.launch.env, cwd=c.launch.cwd, timeout=budget)
                    ok, message = code == 0, out or f"command {argv!r} exited with {code}"
                elif hook.get("httpGet"):
                    ok, message = await probes.attempt({"httpGet": hook["httpGet"], "timeoutSeconds": max(1, int(budget))},
                                                       container=c.spec, pod_ip=run.ip, env=c.launch.env,
                                                       cwd=c.launch.cwd)
        except TimeoutError:
            ok, message = False, "the grace period ended before the hook did"
        if not ok:
            self.emit(run.pod, WARNING, "FailedPreStopHook", f"PreStopHook failed: {message}")

    async def _kill(self, run: PodRun, c: ContainerRun, deadline: Callable[[], float]) -> None:
        """preStop, SIGTERM to the group, SIGKILL at the deadline; returns when the process is gone."""
        proc = c.proc
        if proc is None:
            return
        await self._pre_stop(run, c, deadline)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        while proc.returncode is None:
            left = deadline() - time.monotonic()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 0.1)):  # not wait_for: it can swallow a cancel (3.11)
                    await asyncio.shield(proc.wait())
        while c.proc is proc:  # the waiter records the exit
            await asyncio.sleep(0.01)

    async def _terminate(self, run: PodRun) -> None:
        try:
            async with run.lock:
                pass  # a start in progress finishes first
            running = [c for c in run.main if c.proc is not None]
            for c in running:
                self.emit(run.pod, NORMAL, kev.KILLING, kev.killing(c.name))
            await asyncio.gather(*(self._kill(run, c, lambda: run.deadline) for c in running))
            sidecars = [c for c in reversed(run.init) if c.proc is not None]
            for c in sidecars:
                self.emit(run.pod, NORMAL, kev.KILLING, kev.killing(c.name))
                await self._kill(run, c, lambda: run.deadline)
        finally:
            run.stopped.set()
            self.on_change(run.key)
