"""The ipam controller: gives every Service that needs one a ClusterIP, and takes it back.

Why a controller (docs/architecture.md, "Controllers"): kubelite allocates outside the API server, so a
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
from typing import Any

from apimachinery import ledger
from apimachinery.labels import LABEL_IPADDRESS_MANAGED_BY
from apimachinery.resources import BY_KEY
from controllers.allocation import (
    IPRange,
    cluster_ips,
    needs_cluster_ip,
    next_free,
    parent_key,
    wanted_families,
)
from controllers.ledger import FULL_RETRY, MAX_ATTEMPTS, LedgerController, ledger_parser, run_allocator
from controllers.runtime.controller import RequeueAfter
from controllers.runtime.events import WARNING
from controllers.runtime.informer import object_key
from kubeclient import errors
from kubeclient.client import Client

IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]

Obj = dict[str, Any]


def ip_address_object(ip: str, key: str) -> Obj:
    """The IPAddress ledger entry of ``ip`` for the Service ``key``."""
    ns, _, name = key.partition("/")
    return ledger.ip_address_object(ip, namespace=ns, name=name)


class IpamController(LedgerController):
    """Reconciles ``ns/name`` Service keys against the IPAddress ledger."""

    name = "ipam"
    ledger_rt = IPADDRESSES

    def __init__(self, client: Client, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.services.cache.add_index("clusterIP", lambda o: sorted(self.claimed(o)))

    # ---- ledger contract -----------------------------------------------------

    def refused_here(self, refusal: ledger.Refusal) -> bool:
        """The ledger refused a ClusterIP (taken, or outside every ServiceCIDR)."""
        return refusal.ip

    def claimed(self, svc: Obj) -> set[str]:
        spec = svc.get("spec") or {}
        return set(cluster_ips(spec)) if needs_cluster_ip(spec) else set()

    def ledger_object(self, name: str, key: str) -> Obj:
        return ip_address_object(name, key)

    def entry_in_range(self, name: str) -> bool:
        return any(r.contains(name) for rs in self.ranges().values() for r in rs)

    def not_allocated_event(self, name: str) -> tuple[str, str]:
        return "ClusterIPNotAllocated", f"Cluster IP [{ledger.ip_family(name)}]: {name} is not allocated; repairing"

    def manages(self, obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return labels.get(LABEL_IPADDRESS_MANAGED_BY) == ledger.IPADDRESS_MANAGED_BY and parent_key(obj) is not None

    def leak_event(self, obj: Obj, key: str, svc: Obj | None) -> tuple[str, str]:
        ip = obj["metadata"]["name"]
        if svc is None:
            return "IPAddressNotAllocated", f"IPAddress: {ip} for Service {key} appears to have leaked: cleaning up"
        return "IPAddressWrongReference", f"IPAddress: {ip} for Service {key} has a wrong reference; cleaning up"

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

    def taken(self, ip: str, key: str) -> bool:
        """Held in the ledger, claimed by another Service, being tried, or recently refused."""
        if ip in self.inflight or self.ledger.cache.get(None, ip) is not None or self.refused(ip):
            return True
        return any(object_key(o) != key for o in self.services.cache.by_index("clusterIP", ip))

    def pick(self, key: str, ranges: list[IPRange]) -> str | None:
        """A free address for ``key``: its reserved one if it has one, else upper band first."""
        reserved: dict[str, str] = {}
        for r in ranges:
            for k, ip in r.reserved().items():
                reserved.setdefault(k, ip)
        mine = reserved.get(key)
        if mine is not None and not self.taken(mine, key):
            return mine
        others = set(reserved.values())
        for r in ranges:
            found = next_free(r.candidates(self.rng), lambda a: a in others or self.taken(a, key))
            if found is not None:
                return str(found)
        return None

    # ---- allocation --------------------------------------------------------------

    async def allocate(self, key: str, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        if not needs_cluster_ip(spec) or cluster_ips(spec):
            self.waiting.discard(key)
            return
        ranges = self.ranges()
        families = wanted_families(spec)
        fams = [f for f in families if ranges.get(f)]
        if not fams or fams[0] != families[0] or (
                spec.get("ipFamilyPolicy") == "RequireDualStack" and len(fams) < len(families)):
            self.waiting.add(key)
            self.log.info("no ServiceCIDR for %s yet: Service %s waits", "/".join(families), key)
            return
        for _ in range(MAX_ATTEMPTS):
            chosen: list[str] = []
            for fam in fams:
                ip = self.pick(key, ranges[fam])
                if ip is None:
                    self.waiting.add(key)
                    await self.recorder.event(svc, WARNING, "ClusterIPAllocationFailed",
                                              "failed to allocate a serviceIP: range is full")
                    raise RequeueAfter(FULL_RETRY, "ClusterIP range is full")
                chosen.append(ip)
            try:
                written = await self.claim(
                    key, svc, chosen=chosen,
                    expect={"/spec/type": spec.get("type"), "/spec/clusterIP": spec.get("clusterIP"),
                            "/spec/clusterIPs": spec.get("clusterIPs")},
                    set_={"/spec/clusterIP": chosen[0], "/spec/clusterIPs": chosen})
            except errors.NotFound:
                return
            if written is None:
                continue
            self.log.info("allocated ClusterIP %s to Service %s", ",".join(chosen), key)
            return
        raise RequeueAfter(1.0, "every chosen ClusterIP was taken meanwhile")

    # ---- repair ----------------------------------------------------------------

    async def repair_service(self, key: str, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        if not needs_cluster_ip(spec):
            return
        ips = cluster_ips(spec)
        if not ips:
            self.queue.add(key)
            return
        ranges = [r for rs in self.ranges().values() for r in rs]
        for ip in ips:
            if ranges and not any(r.contains(ip) for r in ranges):
                await self.recorder.event(
                    svc, WARNING, "ClusterIPOutOfRange",
                    f"Cluster IP [{ledger.ip_family(ip)}]: {ip} is not within any configured Service CIDR; "
                    "please recreate service")
                continue
            entry = self.ledger.cache.get(None, ip)
            if entry is None:
                self.queue.add(key)
            elif parent_key(entry) != key:
                await self.recorder.event(
                    svc, WARNING, "ClusterIPAlreadyAllocated",
                    f"Cluster IP [{ledger.ip_family(ip)}]:{ip} was assigned to multiple services; please recreate service")


def build_ipam_parser() -> argparse.ArgumentParser:
    return ledger_parser("ipam", "Allocate ClusterIPs to Services (IPAddress ledger).", ledger_kind="IPAddress")


async def main(argv: list[str]) -> int:
    """``kubelite controller ipam [flags]``: returns the process exit code."""
    return await run_allocator("ipam", argv, IpamController, build_ipam_parser())
