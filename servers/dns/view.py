"""The cluster as DNS sees it: an index of Services, EndpointSlices and Pods.

Why an index of its own: ``answer`` must be a pure function of (question,
view), and the server precomputes wire answers that stay valid until the
objects behind them change.  So every mutation here reports the *dependency
keys* it touched, and every answer names the keys it read:

- ``svc/<ns>/<name>``: the Service and its EndpointSlices (every name under
  ``<name>.<ns>.svc.<zone>``),
- ``ns/<ns>``: whether the namespace exists (``<ns>.svc``/``<ns>.pod`` names),
- ``ip/<ip>``: what the reverse name of ``<ip>`` points to,
- ``pod/<ns>/<ip>``: whether a Pod in ``<ns>`` has ``<ip>`` (verified mode).

Invariant: after any mutation, every answer that read a key the mutation
reports must be recomputed; answers that read none of them stay valid.
All lookups are case-insensitive: keys are stored lower-cased.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.name

from apimachinery.labels import ANNOTATION_TOLERATE_UNREADY, LABEL_SERVICE_NAME
from apimachinery.pods import is_pod_terminal
from apimachinery.pods import pod_ips as status_pod_ips

SCHEMA_VERSION = "1.1.0"
PODS_MODES = ("disabled", "insecure", "verified")
DEFAULT_ZONE = "cluster.local"
DEFAULT_TTL = 5

Obj = Mapping[str, Any]
Listener = Callable[[frozenset[str]], None]


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str
    ready: bool

    @property
    def label(self) -> str:
        """The endpoint's DNS label: its hostname, else its IP with dashes (as CoreDNS)."""
        if self.hostname:
            return self.hostname.lower()
        return self.ip.replace(".", "-").replace(":", "-")


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    # ClusterIP (has addresses) | Headless | ExternalName | Pending (no address yet)
    kind: str
    ips: tuple[str, ...]
    ports: tuple[Port, ...]
    external_name: str
    publish_not_ready: bool


@dataclass(frozen=True)
class SliceEntry:
    namespace: str
    name: str
    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


def normalize_ip(value: object) -> str | None:
    """Canonical text of an IP address (compressed IPv6), or None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def _ip_order(ip: str) -> tuple[int, int]:
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default").lower(), str(meta.get("name") or "").lower()


def _ports(items: object) -> tuple[Port, ...]:
    ports: list[Port] = []
    for p in items if isinstance(items, list) else []:
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            continue
        ports.append(Port(str(p.get("name") or "").lower(), str(p.get("protocol") or "TCP").lower(), p["port"]))
    return tuple(ports)


def service_entry(obj: Obj) -> ServiceEntry:
    """Reduce a Service object to what DNS needs."""
    namespace, name = _meta(obj)
    spec = obj.get("spec") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    publish = bool(spec.get("publishNotReadyAddresses")) or annotations.get(ANNOTATION_TOLERATE_UNREADY) == "true"
    ips: tuple[str, ...] = ()
    external = ""
    if spec.get("type") == "ExternalName":
        kind = "ExternalName"
        external = str(spec.get("externalName") or "").rstrip(".").lower()
    elif spec.get("clusterIP") == "None":
        kind = "Headless"
    else:
        raw = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        ips = tuple(ip for ip in (normalize_ip(r) for r in raw) if ip is not None)
        kind = "ClusterIP" if ips else "Pending"
    return ServiceEntry(namespace, name, kind, ips, _ports(spec.get("ports")), external, publish)


def slice_entry(obj: Obj) -> SliceEntry:
    """Reduce an EndpointSlice to its IP endpoints; FQDN slices carry none."""
    namespace, name = _meta(obj)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    service = str(labels.get(LABEL_SERVICE_NAME) or "").lower()
    endpoints: list[Endpoint] = []
    if obj.get("addressType", "IPv4") in ("IPv4", "IPv6"):
        for ep in obj.get("endpoints") or []:
            if not isinstance(ep, dict):
                continue
            ready = (ep.get("conditions") or {}).get("ready")
            hostname = str(ep.get("hostname") or "")
            for raw in ep.get("addresses") or []:
                ip = normalize_ip(raw)
                if ip is not None:
                    # EndpointSlice API: a nil ready condition means ready.
                    endpoints.append(Endpoint(ip, hostname, ready is None or ready is True))
    return SliceEntry(namespace, name, service, tuple(endpoints), _ports(obj.get("ports")))


def pod_ips(obj: Obj) -> tuple[str, ...]:
    """Addresses a verified pod record may answer with: none once the Pod is
    terminating or finished, since its IP may then belong to another Pod."""
    if (obj.get("metadata") or {}).get("deletionTimestamp") or is_pod_terminal(obj):
        return ()
    return tuple(dict.fromkeys(ip for ip in map(normalize_ip, status_pod_ips(obj)) if ip is not None))


class ClusterView:
    """Incremental index of the cluster objects DNS answers from.

    Mutations run on one thread (the event loop feeding it); readers on the
    same thread see a consistent state between mutations.
    """

    def __init__(
        self,
        *,
        zone: str = DEFAULT_ZONE,
        pods_mode: str = "verified",
        ttl: int = DEFAULT_TTL,
        nameserver_ips: Iterable[str] = ("127.0.0.1",),
        serial: int | None = None,
    ) -> None:
        if pods_mode not in PODS_MODES:
            raise ValueError(f"pods mode must be one of {', '.join(PODS_MODES)}, not {pods_mode!r}")
        if not 0 <= ttl <= 3600:
            raise ValueError(f"ttl must be between 0 and 3600, not {ttl}")
        self.zone = dns.name.from_text(zone.lower())
        self.pods_mode = pods_mode
        self.ttl = ttl
        # The SOA serial stays fixed: negative answers carry the SOA and are
        # precomputed; we serve no zone transfers that would need it to move.
        self.serial = int(time.time()) & 0xFFFFFFFF if serial is None else serial
        self.fallback_ns_ips = tuple(ip for ip in (normalize_ip(i) for i in nameserver_ips) if ip)
        self.synced = False
        self._listeners: list[Listener] = []
        self._services: dict[tuple[str, str], ServiceEntry] = {}
        self._slices: dict[tuple[str, str], SliceEntry] = {}
        self._slices_by_service: dict[tuple[str, str], set[str]] = {}
        self._services_by_ip: dict[str, set[tuple[str, str]]] = {}
        self._slices_by_ip: dict[str, set[tuple[str, str]]] = {}
        self._pods: dict[tuple[str, str], tuple[str, ...]] = {}
        self._pod_ips: dict[tuple[str, str], int] = {}
        self._namespaces: set[str] = set()
        self._ns_objects: dict[str, int] = {}

    @classmethod
    def build(
        cls,
        *,
        services: Iterable[Obj] = (),
        endpoint_slices: Iterable[Obj] = (),
        pods: Iterable[Obj] = (),
        namespaces: Iterable[Obj] = (),
        synced: bool = True,
        **options: Any,
    ) -> ClusterView:
        """A view holding the given objects (tests, benchmarks)."""
        view = cls(**options)
        for n in namespaces:
            view.set_namespace(n)
        for s in services:
            view.set_service(s)
        for e in endpoint_slices:
            view.set_endpoint_slice(e)
        for p in pods:
            view.set_pod(p)
        if synced:
            view.mark_synced()
        return view

    # ---- change notification -------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(keys)`` after every mutation with the dependency keys it touched."""
        self._listeners.append(listener)

    def _notify(self, keys: set[str]) -> None:
        if keys:
            frozen = frozenset(keys)
            for listener in self._listeners:
                listener(frozen)

    def mark_synced(self, synced: bool = True) -> None:
        self.synced = synced
        self._notify({"synced"})

    def _ns_ref(self, namespace: str, delta: int, keys: set[str]) -> None:
        before = self.namespace_exists(namespace)
        count = self._ns_objects.get(namespace, 0) + delta
        if count > 0:
            self._ns_objects[namespace] = count
        else:
            self._ns_objects.pop(namespace, None)
        if before != self.namespace_exists(namespace):
            keys.add(f"ns/{namespace}")

    # ---- mutations -----------------------------------------------------------

    def set_namespace(self, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "").lower()
        if name and name not in self._namespaces:
            before = self.namespace_exists(name)
            self._namespaces.add(name)
            self._notify({f"ns/{name}"} if not before else set())

    def delete_namespace(self, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "").lower()
        if name in self._namespaces:
            self._namespaces.discard(name)
            self._notify(set() if self.namespace_exists(name) else {f"ns/{name}"})

    def set_service(self, obj: Obj) -> None:
        entry = service_entry(obj)
        if entry.name:
            self._replace_service((entry.namespace, entry.name), entry)

    def delete_service(self, obj: Obj) -> None:
        self._replace_service(_meta(obj), None)

    def _replace_service(self, key: tuple[str, str], entry: ServiceEntry | None) -> None:
        old = self._services.get(key)
        if old is None and entry is None:
            return
        keys = {f"svc/{key[0]}/{key[1]}"}
        for ip in (old.ips if old else ()):
            self._services_by_ip.get(ip, set()).discard(key)
            if not self._services_by_ip.get(ip, True):
                del self._services_by_ip[ip]
            keys.add(f"ip/{ip}")
        if entry is None:
            del self._services[key]
            self._ns_ref(key[0], -1, keys)
        else:
            self._services[key] = entry
            if old is None:
                self._ns_ref(key[0], 1, keys)
            for ip in entry.ips:
                self._services_by_ip.setdefault(ip, set()).add(key)
                keys.add(f"ip/{ip}")
        # Readiness (publishNotReadyAddresses) and existence shape endpoint PTRs.
        for slice_name in self._slices_by_service.get(key, ()):
            keys.update(f"ip/{ep.ip}" for ep in self._slices[(key[0], slice_name)].endpoints)
        self._notify(keys)

    def set_endpoint_slice(self, obj: Obj) -> None:
        entry = slice_entry(obj)
        if entry.name:
            self._replace_slice((entry.namespace, entry.name), entry)

    def delete_endpoint_slice(self, obj: Obj) -> None:
        self._replace_slice(_meta(obj), None)

    def _replace_slice(self, key: tuple[str, str], entry: SliceEntry | None) -> None:
        old = self._slices.get(key)
        if old is None and entry is None:
            return
        keys: set[str] = set()
        if old is not None:
            keys.add(f"svc/{key[0]}/{old.service}")
            self._slices_by_service.get((key[0], old.service), set()).discard(key[1])
            if not self._slices_by_service.get((key[0], old.service), True):
                del self._slices_by_service[(key[0], old.service)]
            for ep in old.endpoints:
                keys.add(f"ip/{ep.ip}")
                self._slices_by_ip.get(ep.ip, set()).discard(key)
                if not self._slices_by_ip.get(ep.ip, True):
                    del self._slices_by_ip[ep.ip]
        if entry is None:
            del self._slices[key]
            self._ns_ref(key[0], -1, keys)
        else:
            self._slices[key] = entry
            if old is None:
                self._ns_ref(key[0], 1, keys)
            keys.add(f"svc/{key[0]}/{entry.service}")
            self._slices_by_service.setdefault((key[0], entry.service), set()).add(key[1])
            for ep in entry.endpoints:
                keys.add(f"ip/{ep.ip}")
                self._slices_by_ip.setdefault(ep.ip, set()).add(key)
        self._notify(keys)

    def set_pod(self, obj: Obj) -> None:
        key = _meta(obj)
        if key[1]:
            self._replace_pod(key, pod_ips(obj), present=True)

    def delete_pod(self, obj: Obj) -> None:
        self._replace_pod(_meta(obj), (), present=False)

    def _replace_pod(self, key: tuple[str, str], ips: tuple[str, ...], *, present: bool) -> None:
        old = self._pods.get(key)
        if old is None and not present:
            return
        keys: set[str] = set()
        for ip in old or ():
            keys.add(f"pod/{key[0]}/{ip}")
            count = self._pod_ips.get((key[0], ip), 0) - 1
            if count > 0:
                self._pod_ips[(key[0], ip)] = count
            else:
                self._pod_ips.pop((key[0], ip), None)
        if present:
            self._pods[key] = ips
            if old is None:
                self._ns_ref(key[0], 1, keys)
            for ip in ips:
                keys.add(f"pod/{key[0]}/{ip}")
                self._pod_ips[(key[0], ip)] = self._pod_ips.get((key[0], ip), 0) + 1
        else:
            del self._pods[key]
            self._ns_ref(key[0], -1, keys)
        self._notify(keys)

    # ---- reads ---------------------------------------------------------------

    def namespace_exists(self, namespace: str) -> bool:
        """A Namespace object was seen, or some object lives in it."""
        return namespace in self._namespaces or namespace in self._ns_objects

    def service(self, namespace: str, name: str) -> ServiceEntry | None:
        return self._services.get((namespace.lower(), name.lower()))

    def ready_endpoints(self, service: ServiceEntry) -> list[tuple[Endpoint, tuple[Port, ...]]]:
        """Ready endpoints of the Service with their slice's ports, one per IP, ordered by IP.

        Ready as the specification defines it: the EndpointSlice condition, or
        every endpoint when the Service publishes not-ready addresses.
        """
        key = (service.namespace, service.name)
        found: dict[str, tuple[Endpoint, tuple[Port, ...]]] = {}
        for slice_name in sorted(self._slices_by_service.get(key, ())):
            entry = self._slices[(service.namespace, slice_name)]
            for ep in entry.endpoints:
                if (ep.ready or service.publish_not_ready) and ep.ip not in found:
                    found[ep.ip] = (ep, entry.ports)
        return [found[ip] for ip in sorted(found, key=_ip_order)]

    def ptr_targets(self, ip: str) -> list[dns.name.Name]:
        """Names whose address is ``ip``: the Service owning that ClusterIP, else
        every ready endpoint with that IP (``<hostname>.<svc>.<ns>.svc.<zone>``)."""
        names: list[dns.name.Name] = []
        for ns, name in sorted(self._services_by_ip.get(ip, ())):
            return [dns.name.from_text(f"{name}.{ns}.svc", self.zone)]
        for ns, slice_name in sorted(self._slices_by_ip.get(ip, ())):
            entry = self._slices[(ns, slice_name)]
            service = self._services.get((ns, entry.service))
            if service is None or service.kind == "ExternalName":
                continue
            for ep in entry.endpoints:
                if ep.ip == ip and (ep.ready or service.publish_not_ready):
                    target = dns.name.from_text(f"{ep.label}.{service.name}.{ns}.svc", self.zone)
                    if target not in names:
                        names.append(target)
        return names

    def pod_ip_exists(self, namespace: str, ip: str) -> bool:
        return (namespace.lower(), ip) in self._pod_ips

    def nameserver_ips(self) -> tuple[str, ...]:
        """Addresses of the zone's name server: kube-system/kube-dns, else our own."""
        kube_dns = self._services.get(("kube-system", "kube-dns"))
        if kube_dns is not None and kube_dns.ips:
            return kube_dns.ips
        return self.fallback_ns_ips
