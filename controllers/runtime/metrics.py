"""Prometheus metrics of the controller runtime, on a registry owned by the process.

Why: a private ``CollectorRegistry`` per process (never the global default)
keeps import free of side effects and lets tests build several runtimes in
one interpreter. Names follow client-go/controller-runtime where they exist.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RuntimeMetrics:
    """The counters a controller, its queue and its elector update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total", "Reconciles by controller and result.",
            ["controller", "result"], registry=r)
        self.reconcile_seconds = Histogram(
            "controller_runtime_reconcile_time_seconds", "Time per reconcile.", ["controller"], registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.queue_depth = Gauge("workqueue_depth", "Keys waiting in the queue.", ["name"], registry=r)
        self.queue_adds = Gauge("workqueue_adds_total", "Keys added to the queue.", ["name"], registry=r)
        self.queue_retries = Gauge("workqueue_retries_total", "Rate-limited requeues.", ["name"], registry=r)
        self.leader = Gauge("leader_election_master_status", "1 while this process holds the lease.",
                            ["name"], registry=r)
        self.actions = Counter("controller_actions_total", "Writes a controller made, by kind of action.",
                               ["controller", "action"], registry=r)

    def watch_queue(self, name: str, depth: Callable[[], float], adds: Callable[[], float],
                    retries: Callable[[], float]) -> None:
        self.queue_depth.labels(name=name).set_function(depth)
        self.queue_adds.labels(name=name).set_function(adds)
        self.queue_retries.labels(name=name).set_function(retries)

    def watch_leader(self, name: str, is_leader: Callable[[], bool]) -> None:
        self.leader.labels(name=name).set_function(lambda: 1.0 if is_leader() else 0.0)
