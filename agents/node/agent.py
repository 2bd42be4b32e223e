"""The kubelet half of the node agent: this node's Pods get an IP, a phase, conditions, and an end.

Why a controller: each Pod bound to this node is a key; ``reconcile`` makes
its status what ``status.pod_status`` says (writing only on a difference),
and carries graceful deletion through: a Pod with a deletionTimestamp is
held not ready for its grace period, then deleted with gracePeriodSeconds=0
(and a UID precondition, so a new Pod of the same name is never hit).

IP invariants (see ``ipam``): the allocator is rebuilt from the API when the
caches have synced (``on_synced``) before any allocation, an address is
taken in memory before the status write that publishes it (so two
concurrent reconciles cannot pick the same one), and it is released only
when the informer reports the Pod deleted.

Simulated containers of a Pod whose restartPolicy is Never or OnFailure run for a while and exit
(``simulated``: the ``kubelite.io/simulated-run`` and ``kubelite.io/simulated-exit-code``
annotations, 1 s and 0 by default), so the Pod reaches Succeeded or Failed as a Job's Pods must;
OnFailure restarts after the CrashLoopBackOff delay (``restart_backoff``). restartPolicy Always
containers run until the Pod is deleted.

Simulated containers exit on SIGTERM after ``exit_after`` seconds (1 s by
default, never past the grace period), as a real server does within
moments, so ``kubectl delete pod`` returns quickly. A Pod annotated
``kubelite.io/ignore-sigterm: "true"`` plays a container that ignores
SIGTERM: it terminates for its whole grace period (at least the kubelet's
minimum of 2 s) and is then killed, as the kubelet SIGKILLs at the end of
the grace period. The stop deadline is
the earlier of "first seen terminating + stop" and "deletionTimestamp + 1 s
+ stop" (the timestamp has whole seconds): kube-apiserver sets
deletionTimestamp to the end of the grace period, kubelite's to the request
time; either way the Pod terminates for at least its stop time, and at most
about one second longer than that after the delete was observed (an agent
restart does not start the period over).

Events (``kubeletevents``): the first time the simulated runtime sees a Pod
it tells the kubelet's story of starting it (Pulling/Pulled as the image's
pull policy and this node's images say, Created, Started, per container,
init containers first), and Killing when it starts stopping one; source
component ``kubelet``, host the node's name.

With a process runtime (``runtime``) the containers really run: reconcile
asks the runtime to start what should run, posts what it ``observed``, and
on deletion stops the processes (preStop, SIGTERM, SIGKILL at the end of
the grace period) and deletes the Pod as soon as none is left, as the
kubelet does. The runtime's own events (an exit, a probe verdict, a
back-off ending) enqueue the Pod again.

Configuration (``podsources``): before each pass the agent GETs the
ConfigMaps and Secrets the Pod names (Secrets through the generic path
``/api/v1/namespaces/NS/secrets/NAME``, their data base64-decoded). With
the process runtime they feed the environment and the volume files; with
the simulated one they are resolved the same way, so a missing required
reference shows the same Waiting CreateContainerConfigError (or, for a
volume, ContainerCreating with a FailedMount Event) and the same Warning
Events, and the container "starts" once the object appears. A Pod that
consumes configuration is looked at again every ``config_sync`` seconds
(the kubelet's periodic sync, shorter): a waiting container retries, and
volume files follow their ConfigMaps, Secrets and the Pod's own metadata.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agents.node import kubeletevents as kev
from agents.node import podenv, podvolumes
from agents.node import status as podstatus
from agents.node.ipam import PodIPAllocator, PoolExhausted
from agents.node.runtime import MIN_GRACE, ProcessRuntime
from agents.node.simulated import simulate, simulated_run
from apimachinery import podsources
from apimachinery.objects import meta_of
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.timestamps import format_time, parse_time
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import split_key
from controllers.runtime.metrics import RuntimeMetrics
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
SERVICES = BY_KEY["services"]
CONFIGMAPS = BY_KEY["configmaps"]
# Read generically: the node needs GET only, and this works whether or not this tree serves the kind itself.
SECRETS = BY_KEY.get("secrets") or ResourceType("", "v1", "Secret", "secrets", "secret", True)
CONFIG_SYNC = 3.0
_RESOLVED = "\x00resolved"  # a container whose configuration resolved (its Events told once)
POOL_RETRY = 5.0
SIGTERM_EXIT = 1.0
IGNORE_SIGTERM_ANNOTATION = "kubelite.io/ignore-sigterm"


class PodAgent(Controller):
    """Drives every Pod whose spec.nodeName is this node."""

    name = "kubelet"

    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        pod_cidr: str,
        host_ip: str,
        metrics: RuntimeMetrics | None = None,
        on_write: Callable[[str], None] | None = None,
        workers: int = 4,
        clock: Callable[[], float] = time.time,
        runtime: ProcessRuntime | None = None,
        exit_after: float = SIGTERM_EXIT,
        config_sync: float = CONFIG_SYNC,
        restart_backoff: tuple[float, float] = (10.0, 300.0),
    ) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, kev.COMPONENT, host=node_name)
        self.node_name = node_name
        self.exit_after = exit_after
        self.config_sync = config_sync
        self._config_told: dict[str, dict[str, str]] = {}  # Pod UID -> container -> last Failed message
        self.restart_backoff = restart_backoff
        self._sim_started: dict[str, float] = {}  # Pod UID -> when its simulated containers started
        self._images: set[str] = set()  # what the simulated node has "pulled"
        self._told_started: set[str] = set()  # Pod UIDs whose start Events are recorded
        self.host_ip = host_ip
        self.ipam = PodIPAllocator(pod_cidr)
        self.on_write = on_write or (lambda _what: None)
        self.clock = clock
        self.pods = self.informer(PODS, enqueue=True, field_selector=f"spec.nodeName={node_name}")
        self.handle(self.pods, on_delete=self._deleted)
        self._terminating_since: dict[str, float] = {}
        self.runtime = runtime
        self._events: set[asyncio.Task[None]] = set()
        if runtime is not None:
            runtime.on_change = self.queue.add
            runtime.emit = self._emit
            self.services = self.informer(SERVICES)  # the kubelet's service environment variables

    def _emit(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        """Record an Event about ``pod`` without holding up the caller."""
        task = asyncio.create_task(self.recorder.event(pod, type_, reason, message))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def on_synced(self) -> None:
        """Rebuild the address book from the API before the first allocation."""
        for pod in self.pods.cache.list():
            uid = str(meta_of(pod).get("uid") or "")
            ip = str((pod.get("status") or {}).get("podIP") or "")
            if ip and not self.ipam.observe(uid, ip):
                self.log.warning("%s: Pod %s/%s has IP %s outside %s or held twice", self.name,
                                 meta_of(pod).get("namespace"), meta_of(pod).get("name"), ip, self.ipam.network)
        self.ipam.resume_after_highest()
        self.log.info("%s: %d Pods on %s hold addresses of %s", self.name, len(self.ipam), self.node_name,
                      self.ipam.network)

    def _deleted(self, pod: Obj) -> None:
        uid = str(meta_of(pod).get("uid") or "")
        self.ipam.release(uid)
        self._terminating_since.pop(uid, None)
        self._told_started.discard(uid)
        self._config_told.pop(uid, None)
        self._sim_started.pop(uid, None)
        if self.runtime is not None:
            self.runtime.forget(uid)

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pods.cache.get(ns, name)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        uid = str(meta_of(pod).get("uid") or "")
        if self.runtime is not None:
            await self._reconcile_process(pod, uid)
            return
        if meta_of(pod).get("deletionTimestamp") is not None:
            await self._terminate(pod, uid)
            return
        ip = self._allocate(pod, uid)
        sources = await self._sources(pod)
        waiting = self._simulated_config(pod, uid, sources, ip)
        if waiting:
            await self._post_status(pod, ip, waiting=waiting)
            raise RequeueAfter(self.config_sync)
        self._tell_started(pod, uid)
        run = simulated_run(pod)
        if run is None:
            await self._post_status(pod, ip)
            return
        # restartPolicy Never/OnFailure: the containers run for a while and exit (agents/node/simulated.py)
        started = self._sim_started.get(uid)
        if started is None:
            begun = parse_time(status.get("startTime"))
            started = begun.timestamp() if begun is not None else self.clock()
            self._sim_started[uid] = started
        observed, wait = simulate(pod, run, started=started, now=self.clock(), backoff=self.restart_backoff)
        await self._post_status(pod, ip, observed=observed)
        if wait is not None:
            raise RequeueAfter(wait + 0.01)

    async def _sources(self, pod: Obj) -> dict[tuple[str, str], podsources.Source]:
        """GET every ConfigMap and Secret the Pod names (NotFound leaves it out); other errors retry the Pod."""
        namespace = str(meta_of(pod).get("namespace") or "")
        out: dict[tuple[str, str], podsources.Source] = {}
        for kind, name in sorted(podsources.references(pod)):
            rt = CONFIGMAPS if kind == podsources.CONFIGMAP else SECRETS
            try:
                obj = await self.client.get(rt, name, namespace=namespace)
            except errors.NotFound:
                continue
            out[(kind, name)] = podsources.source_of(kind, obj)
        return out

    def _simulated_config(self, pod: Obj, uid: str, sources: podsources.Sources, ip: str) -> dict[str, tuple[str, str]]:
        """The simulated runtime's configuration pass: container name -> (waiting reason, message).

        The same resolution the process runtime makes before a start
        (volume payloads, then each container's environment), with the same
        Events, told once per new message.
        """
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        if not podsources.references(pod):
            return {}
        status = pod.get("status") or {}
        running = {str((s or {}).get("name")) for key in ("containerStatuses", "initContainerStatuses")
                   for s in status.get(key) or [] if "running" in ((s or {}).get("state") or {})}
        told = self._config_told.setdefault(uid, {})
        out: dict[str, tuple[str, str]] = {}
        for vol in spec.get("volumes") or []:
            try:
                podvolumes.payload(pod, vol, sources=sources, pod_ip=ip, host_ip=self.host_ip)
            except podvolumes.MountError as e:
                if told.get("") != str(e):
                    self._emit(pod, WARNING, "FailedMount", str(e))
                told[""] = str(e)
                return {str(c.get("name") or ""): ("ContainerCreating", "") for c in containers
                        if str(c.get("name") or "") not in running}
        told.pop("", None)
        for c in containers:
            name = str(c.get("name") or "")
            if name in running:
                continue  # started before: the kubelet does not re-resolve a running container
            warnings: list[str] = []
            try:
                podenv.container_env(pod, c, services=[], pod_ip=ip, host_ip=self.host_ip, sources=sources,
                                     events=warnings)
            except podenv.ConfigError as e:
                if told.get(name) != str(e):
                    self._emit(pod, WARNING, "Failed", f"Error: {e}")
                told[name] = str(e)
                out[name] = ("CreateContainerConfigError", str(e))
                continue
            if told.get(name) != _RESOLVED:
                for message in warnings:
                    self._emit(pod, WARNING, "InvalidEnvironmentVariableNames", message)
            told[name] = _RESOLVED
        return out

    def _tell_started(self, pod: Obj, uid: str) -> None:
        """The start Events of a Pod the simulated runtime has not shown running yet (once per UID)."""
        if uid in self._told_started:
            return
        self._told_started.add(uid)
        status = pod.get("status") or {}
        shown = {str((s or {}).get("name")) for key in ("containerStatuses", "initContainerStatuses")
                 for s in status.get(key) or []}
        spec = pod.get("spec") or {}
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            name, image = str(c.get("name") or ""), str(c.get("image") or "")
            if name in shown:
                continue  # shown running before this agent (re)started: nothing new happened
            if kev.pull_decision(c, self._images) == kev.PULL:
                began = time.monotonic()
                self._emit(pod, NORMAL, kev.PULLING, kev.pulling(image))
                took = time.monotonic() - began  # the simulated pull is instant; its size unknown (0)
                self._emit(pod, NORMAL, kev.PULLED, kev.pulled(image, seconds=took, waited=took, size=0))
                self._images.add(image)
            else:
                self._emit(pod, NORMAL, kev.PULLED, kev.already_present(image))
            self._emit(pod, NORMAL, kev.CREATED, kev.created(name))
            self._emit(pod, NORMAL, kev.STARTED, kev.started(name))

    def _allocate(self, pod: Obj, uid: str) -> str:
        ip = str((pod.get("status") or {}).get("podIP") or "")
        if ip:
            if not self.ipam.observe(uid, ip):
                self.log.warning("%s: Pod %s keeps IP %s it was given elsewhere", self.name,
                                 meta_of(pod).get("name"), ip)
            return ip
        try:
            return self.ipam.allocate(uid)
        except PoolExhausted as e:
            raise RequeueAfter(POOL_RETRY, str(e)) from e

    async def _reconcile_process(self, pod: Obj, uid: str) -> None:
        """The process runtime's pass: run, observe, post; on deletion stop, then delete."""
        assert self.runtime is not None
        meta = meta_of(pod)
        if meta.get("deletionTimestamp") is not None:
            grace = max(0, int(meta.get("deletionGracePeriodSeconds") or 0))
            done = self.runtime.terminate(uid, grace)
            ip = str((pod.get("status") or {}).get("podIP") or "")
            if ip and self.runtime.get(uid) is not None:
                await self._post_status(pod, ip)
            if not done:
                return  # the runtime enqueues the Pod when its last process is gone
            try:
                await self.client.delete(PODS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                         grace_period_seconds=0, preconditions={"uid": uid})
                self.on_write("pod_delete")
            except (errors.NotFound, errors.Conflict):
                pass
            return
        ip = self._allocate(pod, uid)
        namespace = str(meta.get("namespace") or "")
        services = [s for s in self.services.cache.list()
                    if meta_of(s).get("namespace") in (namespace, "default")]
        sources = await self._sources(pod)
        run = await self.runtime.sync(pod, pod_ip=ip, host_ip=self.host_ip, services=services, sources=sources)
        await self._post_status(pod, ip)
        if not run.terminating and not run.final_phase and (podsources.references(pod) or podvolumes.refreshed(pod)):
            raise RequeueAfter(self.config_sync)  # the kubelet's periodic sync: retries, and volume files follow

    async def _post_status(self, pod: Obj, ip: str, *, waiting: dict[str, tuple[str, str]] | None = None,
                           observed: podstatus.Observed | None = None) -> None:
        if self.runtime is not None:
            observed = self.runtime.observed(str(meta_of(pod).get("uid") or ""))
        new = podstatus.pod_status(pod, pod_ip=ip, host_ip=self.host_ip, now=format_time(), observed=observed,
                                   waiting=waiting)
        if podstatus.same_status(new, pod.get("status")):
            return
        body = dict(pod)
        body["status"] = new
        try:
            await self.client.update_status(PODS, body)
        except errors.NotFound:
            return  # deleted meanwhile; the informer will release the address
        self.on_write("pod_status")

    def _stop_after(self, pod: Obj) -> float:
        """Seconds a terminating Pod's simulated containers take to end: moments, or the grace period."""
        meta = meta_of(pod)
        grace = float(max(0, int(meta.get("deletionGracePeriodSeconds") or 0)))
        annotations = meta.get("annotations") or {}
        if str(annotations.get(IGNORE_SIGTERM_ANNOTATION, "")).lower() == "true":
            return max(MIN_GRACE, grace)  # SIGTERM ignored: SIGKILL at the end of the grace period (2 s at least)
        return min(grace, self.exit_after)

    async def _terminate(self, pod: Obj, uid: str) -> None:
        meta = meta_of(pod)
        stop = self._stop_after(pod)
        now = self.clock()
        if uid not in self._terminating_since:
            self._terminating_since[uid] = now
            spec = pod.get("spec") or {}
            running = [*(c for c in spec.get("containers") or []),
                       *(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always")]
            for c in running:
                self._emit(pod, NORMAL, kev.KILLING, kev.killing(str(c.get("name") or "")))
        deadline = self._terminating_since[uid] + stop
        requested = parse_time(meta.get("deletionTimestamp"))
        if requested is not None:  # metav1.Time has whole seconds: the request was within [t, t+1)
            deadline = min(deadline, requested.timestamp() + 1 + stop)
        ip = str((pod.get("status") or {}).get("podIP") or "")
        if ip and now < deadline:
            await self._post_status(pod, ip)  # terminating: not ready
        remaining = deadline - self.clock()
        if remaining > 0:
            raise RequeueAfter(remaining)
        try:
            await self.client.delete(PODS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                     grace_period_seconds=0, preconditions={"uid": uid})
            self.on_write("pod_delete")
        except (errors.NotFound, errors.Conflict):
            pass  # already gone, or a new Pod took the name
