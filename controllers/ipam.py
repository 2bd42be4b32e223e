"""The ipam controller: gives every Service that needs one a ClusterIP, and takes it back.

Why a controller (DESIGN.md): kubelite allocates outside the API server, so a
new Service's clusterIP is empty (kubectl shows it pending) until this
process writes one. Uniqueness never rests on this process's memory: every
address a Service holds is a networking.k8s.io/v1 IPAddress object named
after the IP, and the API server creates it in the same transaction as the
Service write that claims the IP (or refuses the write with
``provided IP is already allocated``). Two allocators racing, with or
without leader election, therefore can never give one IP to two Services;
the loser picks another address.

Rules (kube-apiserver's ipallocator and repair controller):
- the range is the ServiceCIDR objects (``kubernetes`` is created by the
  API server from --service-cluster-ip-range);
- dynamic allocation uses the upper band first (KEP-3070), never the
  addresses reserved for ``default/kubernetes`` (1st) and
  ``kube-system/kube-dns`` (10th), which those Services get when they ask;
- headless and ExternalName Services hold none; an ExternalName switch or a
  deletion releases the IPAddress;
- a repair pass at start and every --repair-interval recreates missing
  IPAddresses, reports duplicates (ClusterIPAlreadyAllocated) and
  out-of-range IPs (ClusterIPOutOfRange) as Events, and deletes leaked
  IPAddresses older than --orphan-grace;
- a full range is an Event (``failed to allocate a serviceIP: range is full``)
  and a retry when an address is released.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime
from typing import Any

from apimachinery.resources import BY_KEY
from controllers.allocation import (
    IPRange,
    cluster_ips,
    needs_cluster_ip,
    next_free,
    parent_key,
    parent_ref,
    rv_int,
    seen_through,
    wanted_families,
)
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import WARNING
from controllers.runtime.informer import Informer, object_key, resource_version
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]
SERVICECIDRS = BY_KEY["servicecidrs.networking.k8s.io"]

MANAGED_BY = "ipallocator.k8s.io"
LABEL_FAMILY = "ipaddress.kubernetes.io/ip-family"
LABEL_MANAGED_BY = "ipaddress.kubernetes.io/managed-by"
MAX_ATTEMPTS = 8
TAKEN_MEMORY = 30.0  # seconds an address refused by the server is skipped locally
FULL_RETRY = 30.0


def ip_family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def ip_address_object(ip: str, key: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {"name": ip, "labels": {LABEL_FAMILY: ip_family(ip), LABEL_MANAGED_BY: MANAGED_BY}},
        "spec": {"parentRef": parent_ref(key)},
    }


def is_ledger_refusal(err: errors.Invalid) -> bool:
    """The 422 the API server sends when a claimed IP is taken or outside every ServiceCIDR."""
    text = err.message
    return "provided IP is already allocated" in text or "is not in the valid range" in text


def _created_age(obj: dict[str, Any]) -> float:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return float("inf")
    try:
        t = datetime.strptime(str(ts), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - t).total_seconds()


class IpamController(Controller):
    """Reconciles ``ns/name`` Service keys against the IPAddress ledger."""

    name = "ipam"

    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        metrics: RuntimeMetrics | None = None,
        repair_interval: float = 60.0,
        orphan_grace: float = 60.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.repair_interval = repair_interval
        self.orphan_grace = orphan_grace
        self.rng = random.Random(seed)
        self.services: Informer = self.informer(SERVICES, enqueue=True)
        self.services.cache.add_index(
            "clusterIP", lambda o: cluster_ips(o.get("spec") or {}) if needs_cluster_ip(o.get("spec") or {}) else [])
        self.ips: Informer = self.informer(IPADDRESSES)
        self.ips.cache.add_index("parent", lambda o: [k] if (k := parent_key(o)) else [])
        self.ips.add_handler(on_add=self._ip_changed, on_update=lambda _o, n: self._ip_changed(n),
                             on_delete=self._ip_deleted)
        self.cidrs: Informer = self.informer(SERVICECIDRS)
        self.cidrs.add_handler(on_add=self._cidrs_changed, on_update=lambda _o, _n: self._wake_waiting(),
                               on_delete=self._cidrs_changed)
        self._inflight: set[str] = set()
        self._refused: dict[str, float] = {}
        self._waiting: set[str] = set()

    # ---- event mapping -------------------------------------------------------

    def _ip_changed(self, obj: dict[str, Any]) -> None:
        key = parent_key(obj)
        if key is not None:
            self.queue.add(key)

    def _ip_deleted(self, obj: dict[str, Any]) -> None:
        self._ip_changed(obj)
        self._wake_waiting()

    def _cidrs_changed(self, _obj: dict[str, Any]) -> None:
        self._wake_waiting()

    def _wake_waiting(self) -> None:
        for key in list(self._waiting):
            self.queue.add(key)

    # ---- ranges and choice ---------------------------------------------------

    def ranges(self) -> dict[str, list[IPRange]]:
        """Family -> ranges of every ServiceCIDR, ``kubernetes`` first, skipping ones being deleted."""
        out: dict[str, list[IPRange]] = {}
        cidrs = sorted(self.cidrs.cache.list(),
                       key=lambda o: (o["metadata"].get("name") != "kubernetes", o["metadata"].get("name", "")))
        for obj in cidrs:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            for text in (obj.get("spec") or {}).get("cidrs") or []:
                try:
                    r = IPRange.parse(str(text))
                except ValueError:
                    continue
                out.setdefault(r.family, []).append(r)
        return out

    def _taken(self, ip: str, key: str) -> bool:
        if ip in self._inflight or self.ips.cache.get(None, ip) is not None:
            return True
        until = self._refused.get(ip)
        if until is not None:
            if until > time.monotonic():
                return True
            del self._refused[ip]
        return any(object_key(o) != key for o in self.services.cache.by_index("clusterIP", ip))

    def pick(self, key: str, ranges: list[IPRange]) -> str | None:
        """A free address for ``key``: its reserved one if it has one, else upper band first."""
        reserved: dict[str, str] = {}
        for r in ranges:
            for k, ip in r.reserved().items():
                reserved.setdefault(k, ip)
        mine = reserved.get(key)
        if mine is not None and not self._taken(mine, key):
            return mine
        others = set(reserved.values())
        for r in ranges:
            found = next_free(r.candidates(self.rng), lambda a: a in others or self._taken(a, key))
            if found is not None:
                return str(found)
        return None

    # ---- reconcile -----------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        svc = self.services.cache.get_by_key(key)
        owned = self.ips.cache.by_index("parent", key)
        spec = (svc or {}).get("spec") or {}
        claimed = set(cluster_ips(spec)) if svc is not None and needs_cluster_ip(spec) else set()
        for ipa in owned:
            if ipa["metadata"]["name"] not in claimed:
                await self._release(ipa, key, "service deleted" if svc is None else "no longer claimed")
        if svc is None or not needs_cluster_ip(spec):
            self._waiting.discard(key)
            return
        if claimed:
            self._waiting.discard(key)
            await self._ensure_ledger(key, svc, sorted(claimed))
            return
        await self._allocate(key, svc)

    async def _release(self, ipa: dict[str, Any], key: str, why: str) -> None:
        """Delete a ledger entry, but only once the Service cache is at least as new as the entry."""
        meta = ipa["metadata"]
        if not seen_through(self.services.last_resource_version, meta.get("resourceVersion")):
            return  # the Service write that claims it may still be on its way to our cache
        try:
            await self.client.delete(IPADDRESSES, meta["name"],
                                     preconditions={"uid": meta.get("uid", ""),
                                                    "resourceVersion": meta.get("resourceVersion", "")})
        except errors.NotFound:
            return
        self.log.info("released ClusterIP %s of Service %s (%s)", meta["name"], key, why)
        self.count("release")

    async def _ensure_ledger(self, key: str, svc: dict[str, Any], ips: list[str]) -> None:
        """Recreate IPAddresses deleted behind our back (the repair the ledger relies on)."""
        svc_rv = rv_int(resource_version(svc))
        for ip in ips:
            if self.ips.cache.get(None, ip) is not None:
                continue
            if svc_rv is None or not seen_through(self.ips.last_resource_version, str(svc_rv + 1)):
                continue  # the IPAddress written with the Service may not have reached our cache yet
            if not any(r.contains(ip) for rs in self.ranges().values() for r in rs):
                continue  # out of range: reported by the repair pass, never recreated
            await self.recorder.event(svc, WARNING, "ClusterIPNotAllocated",
                                      f"Cluster IP [{ip_family(ip)}]: {ip} is not allocated; repairing")
            try:
                await self.client.create(IPADDRESSES, ip_address_object(ip, key))
            except errors.AlreadyExists:
                continue
            self.log.info("repaired ClusterIP %s of Service %s: recreated its IPAddress", ip, key)
            self.count("repair")

    async def _allocate(self, key: str, svc: dict[str, Any]) -> None:
        spec = svc.get("spec") or {}
        ranges = self.ranges()
        families = wanted_families(spec)
        fams = [f for f in families if ranges.get(f)]
        if not fams or fams[0] != families[0] or (
                spec.get("ipFamilyPolicy") == "RequireDualStack" and len(fams) < len(families)):
            self._waiting.add(key)
            self.log.info("no ServiceCIDR for %s yet: Service %s waits", "/".join(families), key)
            return
        for _ in range(MAX_ATTEMPTS):
            chosen: list[str] = []
            for fam in fams:
                ip = self.pick(key, ranges[fam])
                if ip is None:
                    self._waiting.add(key)
                    await self.recorder.event(svc, WARNING, "ClusterIPAllocationFailed",
                                              "failed to allocate a serviceIP: range is full")
                    raise RequeueAfter(FULL_RETRY, "ClusterIP range is full")
                chosen.append(ip)
            new = {**svc, "spec": {**spec, "clusterIP": chosen[0], "clusterIPs": chosen}}
            self._inflight.update(chosen)
            try:
                await self.client.update(SERVICES, new)
            except errors.Invalid as e:
                if not is_ledger_refusal(e):
                    raise
                for ip in chosen:
                    self._refused[ip] = time.monotonic() + TAKEN_MEMORY
                self.log.info("ClusterIP %s for Service %s was taken meanwhile; choosing again", chosen, key)
                continue
            except errors.NotFound:
                return
            finally:
                self._inflight.difference_update(chosen)
            self._waiting.discard(key)
            self.log.info("allocated ClusterIP %s to Service %s", ",".join(chosen), key)
            self.count("allocate")
            return
        raise RequeueAfter(1.0, "every chosen ClusterIP was taken meanwhile")

    # ---- repair ----------------------------------------------------------------

    async def run(self) -> None:
        repair = asyncio.create_task(self._repair_loop(), name="ipam:repair")
        try:
            await super().run()
        finally:
            repair.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await repair

    async def _repair_loop(self) -> None:
        for inf in self.informers:
            await inf.wait_synced()
        while True:
            try:
                await self.repair()
            except errors.ClientError as e:
                self.log.warning("repair pass failed: %s", e)
            await asyncio.sleep(self.repair_interval)

    async def repair(self) -> None:
        """One pass over every Service and IPAddress (kube-apiserver's RepairIPAddress)."""
        ranges = [r for rs in self.ranges().values() for r in rs]
        for svc in self.services.cache.list():
            spec = svc.get("spec") or {}
            key = object_key(svc)
            if not needs_cluster_ip(spec):
                continue
            ips = cluster_ips(spec)
            if not ips:
                self.queue.add(key)
                continue
            for ip in ips:
                if ranges and not any(r.contains(ip) for r in ranges):
                    await self.recorder.event(
                        svc, WARNING, "ClusterIPOutOfRange",
                        f"Cluster IP [{ip_family(ip)}]: {ip} is not within any configured Service CIDR; "
                        "please recreate service")
                    continue
                ipa = self.ips.cache.get(None, ip)
                if ipa is None:
                    self.queue.add(key)
                elif parent_key(ipa) != key:
                    await self.recorder.event(
                        svc, WARNING, "ClusterIPAlreadyAllocated",
                        f"Cluster IP [{ip_family(ip)}]:{ip} was assigned to multiple services; please recreate service")
        for ipa in self.ips.cache.list():
            await self._check_leak(ipa)

    async def _check_leak(self, ipa: dict[str, Any]) -> None:
        labels = (ipa.get("metadata") or {}).get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) != MANAGED_BY:
            return
        ip = ipa["metadata"]["name"]
        key = parent_key(ipa)
        if key is None:
            return
        svc = self.services.cache.get_by_key(key)
        if svc is not None and ip in cluster_ips(svc.get("spec") or {}) and needs_cluster_ip(svc.get("spec") or {}):
            return
        if _created_age(ipa) < self.orphan_grace:
            return
        if not seen_through(self.services.last_resource_version, ipa["metadata"].get("resourceVersion")):
            return
        if svc is None:
            msg = f"IPAddress: {ip} for Service {key} appears to have leaked: cleaning up"
            await self.recorder.event(ipa, WARNING, "IPAddressNotAllocated", msg)
        else:
            msg = f"IPAddress: {ip} for Service {key} has a wrong reference; cleaning up"
            await self.recorder.event(ipa, WARNING, "IPAddressWrongReference", msg)
        await self._release(ipa, key, "leaked")


def build_ipam_parser() -> argparse.ArgumentParser:
    p = build_parser("ipam", "Allocate ClusterIPs to Services (IPAddress ledger).")
    p.add_argument("--repair-interval", type=duration, default=60.0, metavar="DURATION",
                   help="how often the repair pass runs (default 60s)")
    p.add_argument("--orphan-grace", type=duration, default=60.0, metavar="DURATION",
                   help="age before a leaked IPAddress is deleted (default 60s)")
    return p


async def main(argv: list[str]) -> int:
    """``kubelite controller ipam [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return IpamController(client, workers=args.workers, metrics=metrics,
                              repair_interval=args.repair_interval, orphan_grace=args.orphan_grace)

    return await run_controller_process("ipam", argv, factory, parser=build_ipam_parser())
