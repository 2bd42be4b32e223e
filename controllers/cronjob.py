"""The cronjob controller: makes each CronJob's Jobs on its schedule (pkg/controller/cronjob, v2).

Rules, as kube-controller-manager 1.32 applies them:
- The schedule (apimachinery.cron) is read in ``spec.timeZone`` (default: this process's local zone);
  the run due is the most recent scheduled time in (lastScheduleTime or creationTimestamp, now]: missed
  runs are not replayed one by one, only the latest starts (more than 100 missed: a TooManyMissedTimes
  Warning). With startingDeadlineSeconds, a run older than that is missed (MissSchedule Warning).
- The Job is named ``<cronjob>-<scheduled time in minutes since the epoch>``, so a run is never created
  twice; it carries the jobTemplate's labels and annotations, the
  ``batch.kubernetes.io/cronjob-scheduled-timestamp`` annotation and a controller ownerReference.
- concurrencyPolicy: Allow runs beside active Jobs; Forbid skips the run while one is active
  (JobAlreadyActive); Replace deletes the active Jobs first.
- status.active lists the unfinished Jobs it made (finished or missing ones leave it: SawCompletedJob,
  MissingJob); lastScheduleTime is the last run started, lastSuccessfulTime the latest completionTime of
  a succeeded Job. suspend stops new runs only.
- History: finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted, oldest
  first (by status.startTime), with propagationPolicy Background.

The clock is a parameter (``clock``), so a test moves time; the decision is ``due_run``, a pure function.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import format_datetime
from typing import Any

from apimachinery import cron
from apimachinery.kinds.job import has_condition
from apimachinery.labels import ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP
from apimachinery.objects import as_list, as_map, meta_of
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time, parse_time
from controllers.ownership import controller_ref, is_deleting, uid_of
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
JOBS = BY_KEY["jobs.batch"]
CRONJOBS = BY_KEY["cronjobs.batch"]
MAX_MISSED = 100
NEXT_SCHEDULE_DELTA = 0.1  # look again just after the next scheduled time


@dataclass(frozen=True)
class Due:
    """What the schedule says at ``now``: the run to start (if any), the next one, and why not."""

    scheduled: datetime | None  # the run to start now (aware)
    next_run: datetime | None  # the first scheduled time after now
    warning: tuple[str, str] | None = None  # (reason, message) of a Warning Event
    too_late: bool = False


def local_zone() -> tzinfo:
    """The zone a CronJob without spec.timeZone runs in: this process's (time.Local)."""
    return datetime.now().astimezone().tzinfo or UTC


def job_finished(job: Mapping[str, Any]) -> str:
    """IsJobFinished: "Complete" or "Failed" (the condition that is True), else ""."""
    for ctype in ("Complete", "Failed"):
        if has_condition(job, ctype):
            return ctype
    return ""


def due_run(cj: Mapping[str, Any], schedule: cron.Schedule, tz: tzinfo, now: datetime) -> Due:
    """mostRecentScheduleTime and the starting deadline: which run is due at ``now``."""
    spec, status = as_map(cj.get("spec")), as_map(cj.get("status"))
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(meta_of(cj).get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and not isinstance(deadline, bool):
        earliest = max(earliest, datetime.fromtimestamp(now.timestamp() - deadline, UTC))
    times = schedule.times_between(earliest, now, tz, limit=MAX_MISSED)
    next_run = schedule.next_after(now, tz)
    warning = None
    if len(times) > MAX_MISSED:
        warning = ("TooManyMissedTimes", "too many missed start times. Set or decrease "
                                         ".spec.startingDeadlineSeconds or check clock skew")
        # the latest one is still the run to start: find it from just before now
        times = schedule.times_between(max(earliest, datetime.fromtimestamp(now.timestamp() - 86400 * 400, UTC)),
                                       now, tz)
    if not times:
        return Due(None, next_run, warning)
    scheduled = times[-1]
    if isinstance(deadline, int) and scheduled.timestamp() + deadline < now.timestamp():
        return Due(scheduled, next_run, ("MissSchedule", "Missed scheduled time to start a job: "
                                         + format_datetime(scheduled.astimezone(UTC))), too_late=True)
    return Due(scheduled, next_run, warning)


def job_name(cj: Mapping[str, Any], scheduled: datetime) -> str:
    """getJobName: the CronJob's name and the scheduled time in minutes since the epoch."""
    return f"{meta_of(cj).get('name')}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Mapping[str, Any], scheduled: datetime, tz: tzinfo) -> Obj:
    """getJobFromTemplate2: the jobTemplate's labels, annotations and spec; owned by the CronJob."""
    meta = meta_of(cj)
    template = as_map(as_map(cj.get("spec")).get("jobTemplate"))
    tmeta = as_map(template.get("metadata"))
    annotations = dict(as_map(tmeta.get("annotations")))
    annotations[ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")
    job_meta: Obj = {"name": job_name(cj, scheduled)}
    if tmeta.get("labels"):
        job_meta["labels"] = dict(as_map(tmeta.get("labels")))
    job_meta["annotations"] = annotations
    job_meta["ownerReferences"] = [{"apiVersion": CRONJOBS.api_version, "kind": CRONJOBS.kind,
                                    "name": meta.get("name"), "uid": meta.get("uid"), "controller": True,
                                    "blockOwnerDeletion": True}]
    return {"apiVersion": JOBS.api_version, "kind": JOBS.kind, "metadata": job_meta,
            "spec": dict(as_map(template.get("spec")))}


def job_ref(job: Mapping[str, Any]) -> Obj:
    """The ObjectReference status.active holds."""
    meta = meta_of(job)
    return {"kind": JOBS.kind, "namespace": meta.get("namespace"), "name": meta.get("name"),
            "uid": meta.get("uid"), "apiVersion": JOBS.api_version, "resourceVersion": meta.get("resourceVersion")}


def tracked_status(cj: Mapping[str, Any], jobs: Sequence[Obj]) -> tuple[Obj, list[tuple[str, str, str]]]:
    """status.active and lastSuccessfulTime from the CronJob's Jobs; the Events that tell what changed."""
    status = dict(as_map(cj.get("status")))
    by_uid = {uid_of(j): j for j in jobs}
    events: list[tuple[str, str, str]] = []
    active: list[Obj] = []
    listed = set()
    for ref in as_list(status.get("active")):
        ref = as_map(ref)
        uid = str(ref.get("uid") or "")
        listed.add(uid)
        job = by_uid.get(uid)
        if job is None:
            events.append((NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}"))
            continue
        finished = job_finished(job)
        if finished:
            events.append((NORMAL, "SawCompletedJob", f"Saw completed job: {meta_of(job).get('name')}, "
                                                      f"condition: {finished}"))
            continue
        active.append(ref)
    for job in jobs:
        if uid_of(job) not in listed and not job_finished(job):
            events.append((WARNING, "UnexpectedJob", "Saw a job that the controller did not create or forgot: "
                                                     f"{meta_of(job).get('name')}"))
        if job_finished(job) == "Complete":
            done = parse_time(as_map(job.get("status")).get("completionTime"))
            last = parse_time(status.get("lastSuccessfulTime"))
            if done is not None and (last is None or done > last):
                status["lastSuccessfulTime"] = format_time(done)
    if active:
        status["active"] = active
    else:
        status.pop("active", None)
    return status, events


def history_to_delete(cj: Mapping[str, Any], jobs: Sequence[Obj]) -> list[Obj]:
    """cleanupFinishedJobs: the oldest finished Jobs beyond the history limits."""
    spec = as_map(cj.get("spec"))
    out: list[Obj] = []
    for ctype, key in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(key)
        if not isinstance(limit, int) or isinstance(limit, bool):
            continue
        done = [j for j in jobs if job_finished(j) == ctype and not is_deleting(j)]

        def started(j: Obj) -> tuple[int, float, str]:
            t = parse_time(as_map(j.get("status")).get("startTime"))
            return (0 if t is not None else 1, t.timestamp() if t is not None else 0.0, str(meta_of(j).get("name")))

        done.sort(key=started)
        if len(done) > limit:
            out += done[:len(done) - limit]
    return out


class CronJobController(Controller):
    """Reconciles ``ns/name`` CronJob keys."""

    name = "cronjob"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "cronjob-controller")
        self.clock = clock
        self.cronjobs = self.informer(CRONJOBS, enqueue=True)
        self.jobs = self.informer(JOBS)
        self.handle(self.jobs, on_add=self._job_event, on_update=lambda _old, new: self._job_event(new),
                    on_delete=self._job_event)

    def _job_event(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == CRONJOBS.kind and ref.get("apiVersion") == CRONJOBS.api_version:
            self.queue.add(f"{meta_of(job).get('namespace') or ''}/{ref.get('name')}")

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cj = self.cronjobs.cache.get(ns or None, name)
        if cj is None:
            return
        owned = [j for j in self.jobs.cache.list(ns) if (controller_ref(j) or {}).get("uid") == uid_of(cj)]
        status, events = tracked_status(cj, owned)
        for type_, reason, message in events:
            await self.recorder.event(cj, type_, reason, message)
        requeue: float | None = None
        spec = as_map(cj.get("spec"))
        if not is_deleting(cj) and spec.get("suspend") is not True:
            requeue = await self._schedule(cj, status)
        if status != as_map(cj.get("status")):
            try:
                await self.client.update_status(CRONJOBS, {**cj, "status": status})
            except errors.NotFound:
                return
            except errors.Conflict as e:
                raise RequeueAfter(0.0, "status conflict") from e
        for job in history_to_delete(cj, owned):
            await self._delete_job(cj, job)
        if requeue is not None:
            raise RequeueAfter(requeue)

    async def _schedule(self, cj: Obj, status: Obj) -> float | None:
        """Start the due run if the policy allows (``status`` updated in place); seconds to the next run."""
        spec = as_map(cj.get("spec"))
        tz_name = spec.get("timeZone")
        tz = local_zone() if tz_name is None else cron.load_zone(str(tz_name))
        if tz is None:
            await self.recorder.event(cj, WARNING, "UnknownTimeZone",
                                      f"invalid timeZone: {tz_name!r}: unknown time zone {tz_name}")
            return None
        try:
            schedule = cron.parse(str(spec.get("schedule") or ""))
        except cron.CronError as e:
            await self.recorder.event(cj, WARNING, "UnparseableSchedule",
                                      f"unparseable schedule: {spec.get('schedule')!r} : {e}")
            return None
        if schedule.zone:
            tz = cron.load_zone(schedule.zone) or tz
        now = datetime.fromtimestamp(self.clock(), UTC)
        due = due_run({**cj, "status": status}, schedule, tz, now)
        wait = None if due.next_run is None else max(0.0, (due.next_run - now).total_seconds()) + NEXT_SCHEDULE_DELTA
        if due.warning is not None:
            await self.recorder.event(cj, WARNING, *due.warning)
        if due.scheduled is None or due.too_late:
            return wait
        name = job_name(cj, due.scheduled)
        active = as_list(status.get("active"))
        if any(as_map(r).get("name") == name for r in active):
            return wait
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            await self.recorder.event(cj, NORMAL, "JobAlreadyActive", "Not starting job because prior execution is "
                                                                      "running and concurrency policy is Forbid")
            return wait
        if policy == "Replace":
            for ref in active:
                job = self.jobs.cache.get(str(as_map(ref).get("namespace") or ""), str(as_map(ref).get("name")))
                if job is not None:
                    await self._delete_job(cj, job)
            status.pop("active", None)
            active = []
        ns = str(meta_of(cj).get("namespace") or "")
        try:
            job = await self.client.create(JOBS, job_from_template(cj, due.scheduled, tz), namespace=ns)
        except errors.AlreadyExists:
            existing = self.jobs.cache.get(ns, name)
            if existing is None or (controller_ref(existing) or {}).get("uid") != uid_of(cj):
                return wait  # someone else's Job holds the name
            job = existing
        except errors.ApiError as e:
            await self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: {e.message}")
            raise
        else:
            await self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {meta_of(job).get('name')}")
        if not job_finished(job):
            status["active"] = [*active, job_ref(job)]
        status["lastScheduleTime"] = format_time(due.scheduled)
        return wait

    async def _delete_job(self, cj: Obj, job: Obj) -> None:
        meta = meta_of(job)
        try:
            await self.client.delete(JOBS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                     propagation_policy="Background", preconditions={"uid": uid_of(job)})
        except (errors.NotFound, errors.Conflict):
            return
        await self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta.get('name')}")


def build_cronjob_parser() -> argparse.ArgumentParser:
    return build_parser("cronjob", "Create every CronJob's Jobs on its schedule and keep its history.")


async def main(argv: list[str]) -> int:
    """``kubelite controller cronjob [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return CronJobController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("cronjob", argv, factory, parser=build_cronjob_parser())


__all__ = [
    "CronJobController",
    "Due",
    "due_run",
    "history_to_delete",
    "job_from_template",
    "job_name",
    "main",
    "tracked_status",
]
