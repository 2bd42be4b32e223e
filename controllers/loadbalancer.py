"""The LoadBalancer controller: Services of type LoadBalancer get an ingress IP from a pool.

Why (like MetalLB or k3s's ServiceLB): a cluster without a cloud leaves
EXTERNAL-IP ``<pending>`` forever; this controller plays the cloud. It
writes ``status.loadBalancer.ingress: [{ip, ipMode: VIP}]`` and the
proxies then listen on that address (kubelite's addresses are loopback,
so the pool must be inside 127.0.0.0/8: the controller refuses any other).

Rules:
- a Service is ours when its type is LoadBalancer and its
  ``spec.loadBalancerClass`` is unset (or equals ``--load-balancer-class``
  when that is given, and then only those);
- ``spec.loadBalancerIP`` asks for one address: it is given when it is in
  the pool and free, else the Service keeps no address and gets a Warning
  ``AllocationFailed`` Event (MetalLB's wording);
- otherwise the lowest free address of the pool; a CIDR's network and
  broadcast addresses are skipped;
- an address is released when its Service is deleted, stops being a
  LoadBalancer or stops being ours; its ingress status is then cleared;
- the address book is rebuilt from the Services' status at every start of
  a leadership term (``on_synced``), so a restart keeps every address and
  two Services claiming one keep it for the first (by name) only.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Iterator
from typing import Any

from apimachinery.objects import as_map
from apimachinery.resources import BY_KEY
from controllers.runtime.controller import Controller
from controllers.runtime.events import NORMAL, WARNING
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
SERVICES = BY_KEY["services"]


class Pool:
    """Addresses from CIDRs (``127.20.0.0/24``) and ranges (``127.20.0.10-127.20.0.20``), in order."""

    def __init__(self, specs: list[str]) -> None:
        self.ranges: list[tuple[int, int]] = []
        for spec in specs:
            spec = spec.strip()
            if "-" in spec:
                a, b = (ipaddress.IPv4Address(x.strip()) for x in spec.split("-", 1))
                if int(b) < int(a):
                    raise ValueError(f"range {spec} ends before it starts")
                self.ranges.append((int(a), int(b)))
            else:
                net = ipaddress.IPv4Network(spec, strict=False)
                first, last = int(net.network_address), int(net.broadcast_address)
                if net.prefixlen < 31:
                    first, last = first + 1, last - 1
                self.ranges.append((first, last))
        if not self.ranges:
            raise ValueError("the pool is empty")

    def __contains__(self, ip: object) -> bool:
        try:
            n = int(ipaddress.IPv4Address(str(ip)))
        except ValueError:
            return False
        return any(a <= n <= b for a, b in self.ranges)

    def __iter__(self) -> Iterator[str]:
        for a, b in self.ranges:
            for n in range(a, b + 1):
                yield str(ipaddress.IPv4Address(n))

    def is_loopback(self) -> bool:
        return all(ipaddress.IPv4Address(a).is_loopback and ipaddress.IPv4Address(b).is_loopback
                   for a, b in self.ranges)


def ingress_ips(service: Obj) -> list[str]:
    ingress = as_map(as_map(service.get("status")).get("loadBalancer")).get("ingress") or []
    return [str(as_map(i).get("ip")) for i in ingress if as_map(i).get("ip")]


def is_ours(service: Obj, lb_class: str | None) -> bool:
    spec = as_map(service.get("spec"))
    return spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass") == lb_class


class LoadBalancerController(Controller):
    name = "loadbalancer"

    def __init__(self, client: Client, *, pool: Pool, lb_class: str | None = None,
                 metrics: RuntimeMetrics | None = None, workers: int = 1) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.pool = pool
        self.lb_class = lb_class
        self.services = self.informer(SERVICES, enqueue=True)
        self.holder: dict[str, str] = {}  # ip -> service key
        self.held: dict[str, str] = {}  # service key -> ip

    async def on_synced(self) -> None:
        """Rebuild the address book from the Services' status (first by name wins)."""
        for svc in sorted(self.services.cache.list(), key=object_key):
            if not is_ours(svc, self.lb_class):
                continue
            for ip in ingress_ips(svc):
                if ip in self.pool and ip not in self.holder:
                    self._hold(object_key(svc), ip)
                    break
        self.log.info("%s: %d addresses of the pool are in use", self.name, len(self.holder))

    def _hold(self, key: str, ip: str) -> None:
        self.release(key)
        self.holder[ip] = key
        self.held[key] = ip

    def release(self, key: str) -> str | None:
        ip = self.held.pop(key, None)
        if ip is not None and self.holder.get(ip) == key:
            del self.holder[ip]
        return ip

    def choose(self, key: str, requested: str) -> tuple[str | None, str]:
        """(address, why not) for ``key``: its current one, the requested one, or the first free one."""
        current = self.held.get(key)
        if requested:
            if current == requested:
                return current, ""
            if requested not in self.pool:
                return None, f'Failed to allocate IP for "{key}": ["{requested}"] is not allowed in config'
            other = self.holder.get(requested)
            if other is not None and other != key:
                return None, f'Failed to allocate IP for "{key}": "{requested}" is already in use by {other}'
            return requested, ""
        if current is not None:
            return current, ""
        for ip in self.pool:
            if ip not in self.holder:
                return ip, ""
        return None, f'Failed to allocate IP for "{key}": no available IPs'

    async def _write_status(self, svc: Obj, ingress: list[Obj]) -> None:
        body = dict(svc)
        body["status"] = {**as_map(svc.get("status")), "loadBalancer": {"ingress": ingress} if ingress else {}}
        try:
            await self.client.update_status(SERVICES, body)
        except errors.NotFound:
            return

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.cache.get(ns, name)
        if svc is None:
            if self.release(key):
                self.count("release")
            return
        current_ips = ingress_ips(svc)
        if not is_ours(svc, self.lb_class):
            ip = self.release(key)
            ours = [i for i in current_ips if i in self.pool]
            if ip is not None or (ours and as_map(svc.get("spec")).get("type") != "LoadBalancer"):
                if current_ips:
                    await self._write_status(svc, [])
                    self.count("release")
                    self.log.info("%s: %s is no longer a LoadBalancer of ours; released %s", self.name, key,
                                  ip or ",".join(ours))
            return
        requested = str(as_map(svc.get("spec")).get("loadBalancerIP") or "")
        ip, why = self.choose(key, requested)
        if ip is None:
            await self.recorder.event(svc, WARNING, "AllocationFailed", why)
            if self.release(key) is not None and current_ips:
                await self._write_status(svc, [])
            return
        self._hold(key, ip)
        if current_ips == [ip]:
            return
        await self._write_status(svc, [{"ip": ip, "ipMode": "VIP"}])
        self.count("assign")
        await self.recorder.event(svc, NORMAL, "IPAllocated", f'Assigned IP ["{ip}"]')


def build_lb_parser() -> argparse.ArgumentParser:
    p = build_parser("loadbalancer", "Give LoadBalancer Services an ingress IP from a pool of loopback addresses.")
    p.set_defaults(workers=1)
    p.add_argument("--pool", action="append", default=[], metavar="CIDR|FIRST-LAST",
                   help="addresses to hand out (repeatable), inside 127.0.0.0/8, e.g. 127.20.0.0/24")
    p.add_argument("--load-balancer-class", default=None,
                   help="serve only Services with this spec.loadBalancerClass (default: only those without one)")
    return p


async def run(argv: list[str]) -> int:
    """``kubelite controller loadbalancer --pool CIDR``: run until SIGTERM; returns the exit code."""
    parser = build_lb_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if not args.pool:
        parser.print_usage()
        print("kubelite controller loadbalancer: --pool is required (without a pool, EXTERNAL-IP stays <pending>)")
        return 2
    try:
        pool = Pool(args.pool)
    except ValueError as e:
        print(f"kubelite controller loadbalancer: invalid --pool: {e}")
        return 2
    if not pool.is_loopback():
        print(f"kubelite controller loadbalancer: refusing --pool {','.join(args.pool)}: load-balancer addresses "
              "must be inside 127.0.0.0/8 (kubelite only carries traffic on loopback)")
        return 2

    def factory(client: Client, metrics: RuntimeMetrics, a: argparse.Namespace) -> Controller:
        return LoadBalancerController(client, pool=pool, lb_class=a.load_balancer_class, metrics=metrics,
                                      workers=a.workers)

    return await run_controller_process("loadbalancer", argv, factory, parser=build_lb_parser())


async def main(argv: list[str]) -> int:
    """The entry ``kubelite controller loadbalancer`` calls (``kubelite/cli.py`` CONTROLLERS)."""
    return await run(argv)
