"""A Service create answers with its ClusterIPs and node ports, as kube-apiserver's does.

Why: kube-apiserver allocates a Service's ClusterIPs and node ports inside the
create, so ``kubectl create service ... -o jsonpath='{.spec.clusterIP}'``
prints the IP. kubelite allocates in controller processes (controllers/ipam.py,
controllers/nodeport.py: uniqueness rests on the ledger, never on one
process's memory), so the API server holds the create's answer until those
controllers have filled the fields, bounded by ``--allocation-wait``, and then
answers with the object as it is in the watch cache.

Invariants:
- it waits only for allocators that are up: the controller's leader Lease
  (``kube-system/kubelite-ipam``, ``kube-system/kubelite-nodeport``, their
  default ``--leader-elect-resource-name``) is held and not expired; without
  them a create answers at once, with the fields empty, as before;
- it never polls the database: it watches the object in the watch cache,
  from the create's own revision, so no write in between is missed;
- the answer is the newest cached state of the same object (same uid); if
  the object was deleted meanwhile, the created object is the answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from apimachinery.leases import LEASE_NAMESPACE, controller_lease_name, lease_held
from apimachinery.resources import BY_KEY
from apimachinery.selectors import OBJECT_META_FIELDS, field_matcher, parse_field_selector
from apiserver.admission.service import (
    cluster_ips,
    is_headless,
    needs_health_check,
    needs_node_port,
    svc_type,
)
from apiserver.watchcache import Filter, WatchCache

SERVICES = BY_KEY["services"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
# allocator -> its leader Lease (namespace, name), as the controller processes hold it
ALLOCATOR_LEASES: dict[str, tuple[str, str]] = {
    name: (LEASE_NAMESPACE, controller_lease_name(name)) for name in ("ipam", "nodeport")
}

Obj = dict[str, Any]


def pending_allocators(svc: Obj) -> set[str]:
    """The allocators that still owe this Service a value kube-apiserver would have set at create."""
    spec = svc.get("spec") or {}
    out: set[str] = set()
    if svc_type(spec) != "ExternalName" and not is_headless(spec) and not cluster_ips(spec) \
            and spec.get("clusterIP") != "None":
        out.add("ipam")
    if needs_node_port(spec) and spec.get("allocateLoadBalancerNodePorts") is not False:
        if any(isinstance(p, dict) and not p.get("nodePort") for p in spec.get("ports") or []):
            out.add("nodeport")
    if needs_health_check(spec) and not spec.get("healthCheckNodePort"):
        out.add("nodeport")
    return out


class AllocationWait:
    """Holds a Service create's answer until the running allocators have filled its fields (bounded)."""

    def __init__(self, cache: WatchCache, *, bound: float) -> None:
        self.cache = cache
        self.bound = bound

    def running(self) -> set[str]:
        """The allocators whose leader Lease is currently held."""
        now = datetime.now(UTC)
        out: set[str] = set()
        for allocator, (ns, name) in ALLOCATOR_LEASES.items():
            entry = self.cache.get(LEASES.key, ns, name)
            if lease_held(entry.obj if entry else None, now):
                out.add(allocator)
        return out

    def _owed(self, svc: Obj) -> set[str]:
        return pending_allocators(svc) & self.running()

    async def settle(self, created: Obj) -> Obj:
        """The created Service as it is once nothing running owes it a value, or after the bound."""
        if self.bound <= 0 or not self._owed(created):
            return created
        meta = created.get("metadata") or {}
        ns, name, uid = str(meta.get("namespace") or ""), str(meta["name"]), meta.get("uid")
        since = int(meta.get("resourceVersion") or 0)
        filt = Filter(ns, None, field_matcher(parse_field_selector(f"metadata.name={name}"), OBJECT_META_FIELDS))
        registered = self.cache.watch(SERVICES.key, filt, since=since)
        if registered is None:  # history already compacted past the create: nothing to wait for
            return self._current(ns, name, uid) or created
        watcher, _initial = registered
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bound
        latest = created
        try:
            while True:
                current = self._current(ns, name, uid)
                if current is None:  # deleted (or replaced) meanwhile
                    return latest
                latest = current
                if not self._owed(latest):
                    return latest
                left = deadline - loop.time()
                if left <= 0:
                    return latest
                try:
                    async with asyncio.timeout(left):  # not wait_for: it can swallow a cancel (3.11)
                        kind, _ = await watcher.queue.get()
                except TimeoutError:
                    return self._current(ns, name, uid) or latest
                if kind == "CLOSE":
                    return self._current(ns, name, uid) or latest
        finally:
            self.cache.unwatch(SERVICES.key, watcher)

    def _current(self, ns: str, name: str, uid: Any) -> Obj | None:
        entry = self.cache.get(SERVICES.key, ns, name)
        if entry is None or (entry.obj.get("metadata") or {}).get("uid") != uid:
            return None
        return entry.obj
