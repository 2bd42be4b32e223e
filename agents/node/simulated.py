"""The simulated runtime's containers that end: how a Pod with restartPolicy Never or OnFailure runs.

Why: Jobs need Pods that reach Succeeded or Failed on a node that runs no processes. Each container of
such a Pod runs for ``kubelite.io/simulated-run`` (a Go duration; default 1 s) and exits with
``kubelite.io/simulated-exit-code`` (default 0), as the annotations in apimachinery.labels say:
- Never: one run; the Pod ends Succeeded (exit 0) or Failed.
- OnFailure: exit 0 ends the Pod Succeeded; any other code restarts the container after the kubelet's
  CrashLoopBackOff delay (``backoff``: initial, doubling to the maximum; the node's --restart-backoff
  flags), restartCount counting the restarts, and the Pod stays Running.
- Always: not simulated here: the containers run until the Pod is deleted (status.pod_status).
Statuses are the kubelet's: running with startedAt; terminated with exitCode, reason Completed/Error,
startedAt/finishedAt; waiting CrashLoopBackOff with lastState.terminated.

Pure: the statuses are a function of the Pod, when it started and ``now``; ``simulate`` also says how
long until the next change, so the agent looks again exactly then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agents.node.runtime import pod_phase
from agents.node.status import Observed, container_id, containers_held_unready, init_container_status
from apimachinery.labels import ANNOTATION_SIMULATED_EXIT_CODE, ANNOTATION_SIMULATED_RUN
from apimachinery.objects import annotations_of, as_list, as_map
from apimachinery.timestamps import format_time, parse_go_duration

Obj = dict[str, Any]
DEFAULT_RUN_SECONDS = 1.0
MIN_BACKOFF = 0.1  # a restart is never immediate (and the timeline always moves on)


@dataclass(frozen=True)
class SimulatedRun:
    """How every container of one Pod runs: for ``seconds``, then exits with ``exit_code``."""

    policy: str
    seconds: float = DEFAULT_RUN_SECONDS
    exit_code: int = 0


def simulated_run(pod: Mapping[str, Any]) -> SimulatedRun | None:
    """The Pod's run from its restartPolicy and annotations; None for restartPolicy Always (runs on).

    A value that does not parse is ignored (the default applies): the annotation is a test knob, not
    an API field, and a typo must not wedge the Pod.
    """
    policy = str(as_map(pod.get("spec")).get("restartPolicy") or "Always")
    if policy not in ("Never", "OnFailure"):
        return None
    annotations = annotations_of(pod)
    seconds = DEFAULT_RUN_SECONDS
    try:
        seconds = max(0.0, parse_go_duration(str(annotations[ANNOTATION_SIMULATED_RUN])))
    except (KeyError, ValueError):
        pass
    code = 0
    try:
        code = int(str(annotations[ANNOTATION_SIMULATED_EXIT_CODE]).strip()) % 256
    except (KeyError, ValueError):
        pass
    return SimulatedRun(policy, seconds, code)


def _text(t: float) -> str:
    return format_time(datetime.fromtimestamp(t, UTC))


def _terminated(pod: Mapping[str, Any], name: str, code: int, start: float, end: float, attempt: int) -> Obj:
    return {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": _text(start),
            "finishedAt": _text(end), "containerID": container_id(pod, f"{name}#{attempt}")}


def _one(pod: Mapping[str, Any], c: Mapping[str, Any], run: SimulatedRun, *, started: float, now: float,
         backoff: tuple[float, float], ready: bool) -> tuple[Obj, float | None]:
    """One container's status, and the seconds until it next changes (None: never)."""
    name, image = str(c.get("name") or ""), str(c.get("image") or "")
    meta = as_map(pod.get("metadata"))
    base: Obj = {"name": name, "image": image, "imageID": image}
    restarts = run.policy == "OnFailure" and run.exit_code != 0
    start, attempt, last = started, 0, None
    while True:
        end = start + run.seconds
        if now < end:
            status = {**base, "state": {"running": {"startedAt": _text(start)}}, "ready": ready,
                      "restartCount": attempt, "containerID": container_id(pod, f"{name}#{attempt}"),
                      "started": True}
            if last is not None:
                status["lastState"] = {"terminated": last}
            return _ordered(status), end - now
        term = _terminated(pod, name, run.exit_code, start, end, attempt)
        if not restarts:
            status = {**base, "state": {"terminated": term}, "ready": False, "restartCount": attempt,
                      "containerID": term["containerID"], "started": False}
            if last is not None:
                status["lastState"] = {"terminated": last}
            return _ordered(status), None
        delay = _delay(attempt, backoff)
        if now < end + delay:
            message = (f"back-off {delay:g}s restarting failed container={name} "
                       f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})")
            status = {**base, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
                      "lastState": {"terminated": term}, "ready": False, "restartCount": attempt,
                      "containerID": term["containerID"], "started": False}
            return _ordered(status), end + delay - now
        start, attempt, last = end + delay, attempt + 1, term


def _delay(attempt: int, backoff: tuple[float, float]) -> float:
    """The CrashLoopBackOff delay after the ``attempt``-th exit (0-based): initial, doubled, capped."""
    initial, most = backoff
    return max(MIN_BACKOFF, float(min(most, initial * (2 ** min(attempt, 32)))))


_ORDER = ("name", "state", "lastState", "ready", "restartCount", "image", "imageID", "containerID", "started")


def _ordered(status: Obj) -> Obj:
    return {k: status[k] for k in _ORDER if k in status}


def simulate(pod: Mapping[str, Any], run: SimulatedRun, *, started: float, now: float,
             backoff: tuple[float, float] = (10.0, 300.0)) -> tuple[Observed, float | None]:
    """The containers, init containers and phase of the Pod at ``now``; seconds to its next change."""
    spec = as_map(pod.get("spec"))
    ready = not containers_held_unready(pod)
    old = as_map(pod.get("status"))
    old_init = {str(as_map(s).get("name")): as_map(s) for s in as_list(old.get("initContainerStatuses"))}
    start_text = _text(started)
    init = [init_container_status(pod, as_map(c), old_init.get(str(as_map(c).get("name"))), ready=ready,
                                  started_at=start_text) for c in as_list(spec.get("initContainers"))]
    statuses: list[Obj] = []
    waits: list[float] = []
    for c in as_list(spec.get("containers")):
        status, wait = _one(pod, as_map(c), run, started=started, now=now, backoff=backoff, ready=ready)
        statuses.append(status)
        if wait is not None:
            waits.append(wait)
    phase = pod_phase(run.policy, init_pending=False, init_failed=False, containers=statuses)
    if phase in ("Succeeded", "Failed"):
        waits = []
    return Observed(containers=statuses, init_containers=init, phase=phase), (min(waits) if waits else None)


__all__ = ["DEFAULT_RUN_SECONDS", "SimulatedRun", "simulate", "simulated_run"]
