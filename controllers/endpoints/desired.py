"""The Endpoints and EndpointSlices a Service should have: a pure function of API objects.

Why pure: the controller, its tests and the churn test's final check all need
the same answer to "what should exist now?", and only a function of its
arguments can be checked against the API's state after the fact.

The rules are kube-controller-manager's (pkg/controller/endpoint and
staging/src/k8s.io/endpointslice):

- a Service without a selector, or of type ExternalName, gets nothing from
  this controller (its Endpoints are the user's);
- a Pod takes part when it has an IP and is not terminal (Succeeded or
  Failed); Endpoints leave out terminating Pods (deletionTimestamp set)
  unless ``publishNotReadyAddresses``, EndpointSlices keep them with
  ``serving``/``terminating`` conditions and ``ready`` false;
- a named targetPort is looked up per Pod (containers, then restartable
  init containers, same protocol); a Pod without it is skipped for that port;
  EndpointSlices group Pods by the resulting port set;
- hostname is published when the Pod's hostname is set and its subdomain is
  the Service's name; nodeName, zone (the Node's topology.kubernetes.io/zone
  label) and a targetRef to the Pod are filled in;
- at most ``max_endpoints_per_slice`` (100) endpoints per slice; an empty
  placeholder slice when nothing else would exist; Endpoints hold at most
  1000 addresses (``endpoints.kubernetes.io/over-capacity: truncated``).

Churn: slices are not re-packed from scratch. Given the existing slices, an
endpoint stays in the slice it is in, new endpoints fill slices that change
anyway, then the fullest slice they fit in, and only then a new slice; a
slice left empty is reused for what would otherwise be created (the real
reconciler's algorithm, made deterministic). Objects that need no change are
returned as the very objects passed in, so "write iff different" is exact.

Deliberate differences from Kubernetes, each to avoid a stale or invalid
object: a change of only the reserved labels (the headless-service label,
which flips here when the ClusterIP gets allocated after creation) updates
Endpoints and slices too; an Endpoints subset emptied by truncation is dropped
rather than written invalid; an over-capacity Endpoints whose truncated form
is already stored is not rewritten on every sync.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery.labels import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
)
from apimachinery.objects import annotations_of, as_list, as_map, as_str, labels_of, meta_of, name_of
from apimachinery.pods import is_pod_ready, pod_ips
from apimachinery.selectors import selector_from_set

Obj = dict[str, Any]

MANAGED_BY = "endpointslice-controller.k8s.io"
TRUNCATED = "truncated"
MAX_ENDPOINTS_CAPACITY = 1000
MAX_ENDPOINTS_PER_SLICE = 100
CLUSTER_IP_NONE = "None"
_RESERVED_SLICE_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})
_NO_PORT = ("", -1, "", "")  # RepackSubsets' sentinel for addresses of a headless Service without ports


# ---------------------------------------------------------------------------
# small accessors (objects are plain JSON dicts; any field may be missing)
# ---------------------------------------------------------------------------


def _spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(obj.get("spec"))


def _status(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(obj.get("status"))


# ---------------------------------------------------------------------------
# Pod and Service predicates (endpointslice/util, api/v1/pod)
# ---------------------------------------------------------------------------


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return _status(pod).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return meta_of(pod).get("deletionTimestamp") is not None


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def should_pod_be_in_endpoints(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: has an IP, not terminal, terminating only if asked."""
    if is_pod_terminal(pod):
        return False
    status = _status(pod)
    if not status.get("podIP") and not as_list(status.get("podIPs")):
        return False
    return include_terminating or not is_terminating(pod)


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    spec = _spec(pod)
    return (bool(as_str(spec.get("hostname")))
            and spec.get("subdomain") == meta_of(service).get("name")
            and meta_of(service).get("namespace") == meta_of(pod).get("namespace"))


def is_service_ip_set(service: Mapping[str, Any]) -> bool:
    cip = as_str(_spec(service).get("clusterIP"))
    return cip not in ("", CLUSTER_IP_NONE)


def is_managed(service: Mapping[str, Any]) -> bool:
    """Services of type ExternalName and Services without a selector get nothing from this controller.

    An empty selector is the same as none: it does not survive the API's
    round trip (omitempty), so Kubernetes never sees one either.
    """
    spec = _spec(service)
    return spec.get("type") != "ExternalName" and bool(as_map(spec.get("selector")))


def selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The Pod is in the Service's namespace and matches its (non-empty) selector."""
    selector = as_map(_spec(service).get("selector"))
    if not selector or meta_of(pod).get("namespace") != meta_of(service).get("namespace"):
        return False
    return selector_from_set({str(k): as_str(v) for k, v in selector.items()}).matches(as_map(meta_of(pod).get("labels")))


def _protocol(value: Any) -> str:
    return as_str(value) or "TCP"


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """podutil.FindPort: a numeric targetPort as is; a named one from the Pod's containers."""
    target = service_port.get("targetPort")
    if target is None or target == 0 or target == "":
        target = service_port.get("port")  # the API defaults targetPort to port
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    if not isinstance(target, str):
        return None
    protocol = _protocol(service_port.get("protocol"))
    spec = _spec(pod)
    containers = [as_map(c) for c in as_list(spec.get("containers"))]
    sidecars = [as_map(c) for c in as_list(spec.get("initContainers")) if as_map(c).get("restartPolicy") == "Always"]
    for container in containers + sidecars:
        for port in as_list(container.get("ports")):
            port = as_map(port)
            if port.get("name") == target and _protocol(port.get("protocol")) == protocol:
                number = port.get("containerPort")
                return number if isinstance(number, int) and not isinstance(number, bool) else None
    return None


def _port_tuple(port: Mapping[str, Any]) -> tuple[str, int, str, str]:
    """A hashable, sortable identity of an Endpoints/EndpointSlice port."""
    number = port.get("port")
    return (as_str(port.get("name")), number if isinstance(number, int) else 0, _protocol(port.get("protocol")),
            as_str(port.get("appProtocol")))


def _target_ref(pod: Mapping[str, Any]) -> Obj:
    meta = meta_of(pod)
    ref: Obj = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", "")}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def _pod_sort_key(pod: Mapping[str, Any]) -> tuple[str, str]:
    return (as_str(meta_of(pod).get("namespace")), as_str(meta_of(pod).get("name")))


# ---------------------------------------------------------------------------
# normalisation: what "the same object" means when comparing with the API
# ---------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drop None, empty lists and empty maps, recursively: they do not survive a JSON round trip in Go."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            pv = _prune(v)
            if pv is None or pv == [] or pv == {}:
                continue
            out[k] = pv
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _ref_view(ref: Any) -> Any:
    """An ObjectReference compared without resourceVersion (semanticIgnoreResourceVersion)."""
    if not isinstance(ref, dict):
        return None
    return _prune({k: v for k, v in ref.items() if k != "resourceVersion"})


def _address_view(addr: Any) -> Obj:
    a = as_map(addr)
    view = _prune({k: v for k, v in a.items() if k != "targetRef"})
    if a.get("targetRef") is not None:
        view["targetRef"] = _ref_view(a.get("targetRef"))
    return dict(view)


def _address_key(addr: Mapping[str, Any]) -> tuple[str, str]:
    """LessEndpointAddress: by IP text, then targetRef UID."""
    return (as_str(addr.get("ip")), as_str(as_map(addr.get("targetRef")).get("uid")))


def canonical_subsets(subsets: Any) -> list[Obj]:
    """Endpoints subsets in one canonical order, pruned, targetRef without resourceVersion."""
    out: list[tuple[Any, Obj]] = []
    for subset in as_list(subsets):
        s = as_map(subset)
        ready = sorted((_address_view(a) for a in as_list(s.get("addresses"))), key=_address_key)
        not_ready = sorted((_address_view(a) for a in as_list(s.get("notReadyAddresses"))), key=_address_key)
        ports = sorted((dict(_prune(as_map(p))) for p in as_list(s.get("ports"))), key=_port_tuple)
        for p in ports:
            p.setdefault("protocol", "TCP")
        view: Obj = {}
        if ready:
            view["addresses"] = ready
        if not_ready:
            view["notReadyAddresses"] = not_ready
        if ports:
            view["ports"] = ports
        key = (tuple(_port_tuple(p) for p in ports), tuple(_address_key(a) for a in ready),
               tuple(_address_key(a) for a in not_ready))
        out.append((key, view))
    out.sort(key=lambda kv: kv[0])
    return [view for _, view in out]


def _endpoint_view(ep: Any) -> Obj:
    e = as_map(ep)
    view = dict(_prune({k: v for k, v in e.items() if k not in ("targetRef", "addresses")}))
    view["addresses"] = sorted(as_str(a) for a in as_list(e.get("addresses")))
    if e.get("targetRef") is not None:
        view["targetRef"] = _ref_view(e.get("targetRef"))
    return view


def endpoints_view(obj: Mapping[str, Any]) -> Obj:
    """What the controller owns of an Endpoints object, normalised for comparison."""
    meta = meta_of(obj)
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels_of(obj),
        "annotations": annotations_of(obj),
        "subsets": canonical_subsets(obj.get("subsets")),
    }


def slice_view(obj: Mapping[str, Any]) -> Obj:
    """What the controller owns of an EndpointSlice, normalised for comparison (endpoint order kept)."""
    meta = meta_of(obj)
    ports = sorted((dict(_prune(as_map(p))) for p in as_list(obj.get("ports"))), key=_port_tuple)
    for p in ports:
        p.setdefault("protocol", "TCP")
        p.setdefault("name", "")
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels_of(obj),
        "annotations": annotations_of(obj),
        "ownerReferences": _prune(as_list(meta.get("ownerReferences"))),
        "addressType": obj.get("addressType"),
        "endpoints": [_endpoint_view(e) for e in as_list(obj.get("endpoints"))],
        "ports": ports,
    }


def same_endpoints(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return endpoints_view(a) == endpoints_view(b)


def same_slice(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return slice_view(a) == slice_view(b)


# ---------------------------------------------------------------------------
# Endpoints (core/v1)
# ---------------------------------------------------------------------------


def _service_ip_family(service: Mapping[str, Any], pod: Mapping[str, Any]) -> str:
    """podToEndpointAddressForService's choice of family: ipFamilies[0], else the ClusterIP's, else the Pod's."""
    spec = _spec(service)
    families = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    if families:
        return families[0]
    if is_service_ip_set(service):
        return "IPv6" if is_ipv6(as_str(spec.get("clusterIP"))) else "IPv4"
    return "IPv6" if is_ipv6(as_str(_status(pod).get("podIP"))) else "IPv4"


def _endpoints_address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    want_v6 = _service_ip_family(service, pod) == "IPv6"
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return None
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, service):
        addr["hostname"] = _spec(pod)["hostname"]
    node = as_str(_spec(pod).get("nodeName"))
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = _target_ref(pod)
    return addr


def _endpoints_port(service_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = _protocol(service_port.get("protocol"))
    if service_port.get("appProtocol") is not None:
        port["appProtocol"] = service_port["appProtocol"]
    return port


def repack_subsets(entries: Iterable[tuple[Obj, bool, Obj | None]]) -> list[Obj]:
    """endpoints.RepackSubsets over (address, ready, port-or-None) triples.

    Addresses are de-duplicated by (IP, Pod UID); for each port, not-ready
    wins over ready; addresses offering the same ports share a subset. A
    None port (headless Service without ports) keeps its address, with no
    ports in the subset.
    """
    addresses: dict[tuple[str, str], Obj] = {}
    ports: dict[tuple[str, int, str, str], Obj | None] = {}
    by_port: dict[tuple[str, int, str, str], dict[tuple[str, str], bool]] = {}
    for addr, ready, port in entries:
        akey = _address_key(addr)
        addresses.setdefault(akey, addr)
        pkey = _NO_PORT if port is None else _port_tuple(port)
        ports.setdefault(pkey, port)
        states = by_port.setdefault(pkey, {})
        if states.get(akey, True):
            states[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[str, int, str, str]]] = {}
    for pkey, states in by_port.items():
        groups.setdefault(frozenset(states.items()), []).append(pkey)
    subsets: list[Obj] = []
    for members, pkeys in groups.items():
        subset: Obj = {}
        ready_addrs = [copy.deepcopy(addresses[a]) for a, r in sorted(members) if r]
        not_ready = [copy.deepcopy(addresses[a]) for a, r in sorted(members) if not r]
        if ready_addrs:
            subset["addresses"] = ready_addrs
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subset_ports = [dict(p) for k in sorted(pkeys) if (p := ports[k]) is not None]
        if subset_ports:
            subset["ports"] = subset_ports
        subsets.append(subset)
    return canonical_subsets(subsets)


def truncate_subsets(subsets: list[Obj], capacity: int = MAX_ENDPOINTS_CAPACITY) -> bool:
    """truncateEndpoints: keep ``capacity`` addresses, ready ones first, spread by each subset's share.

    Mutates ``subsets``; returns whether anything was cut. Subsets left with
    no address at all are removed (Kubernetes would write them and fail
    validation).
    """
    total_ready = sum(len(as_list(s.get("addresses"))) for s in subsets)
    total_not_ready = sum(len(as_list(s.get("notReadyAddresses"))) for s in subsets)
    if total_ready + total_not_ready <= capacity:
        return False
    truncate_ready = total_ready > capacity
    limit = capacity if truncate_ready else capacity - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_be_added = limit
    for subset in subsets:
        key = "addresses" if truncate_ready else "notReadyAddresses"
        in_subset = len(as_list(subset.get(key)))
        to_add = min(math.ceil((float(in_subset) / float(num_total)) * float(limit)), can_be_added)
        kept = as_list(subset.get(key))[:to_add]
        if kept:
            subset[key] = kept
        else:
            subset.pop(key, None)
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        can_be_added -= len(kept)
    subsets[:] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True


def _endpoints_labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = labels_of(service)
    if is_service_ip_set(service):
        labels.pop(LABEL_HEADLESS, None)
    else:
        labels[LABEL_HEADLESS] = ""
    return labels


def desired_endpoints_object(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    *,
    existing: Mapping[str, Any] | None = None,
    trigger_time: str | None = None,
) -> Obj:
    """The Endpoints the Service should have; ``existing`` itself when it needs no change.

    ``pods`` must already be the Service's (namespace and selector). The
    trigger-time annotation is written with a change, never a reason for one.
    """
    spec = _spec(service)
    publish = bool(spec.get("publishNotReadyAddresses"))
    service_ports = [as_map(p) for p in as_list(spec.get("ports"))]
    headless_no_ports = not service_ports and spec.get("clusterIP") == CLUSTER_IP_NONE
    entries: list[tuple[Obj, bool, Obj | None]] = []
    for pod in sorted(pods, key=_pod_sort_key):
        if not should_pod_be_in_endpoints(pod, include_terminating=publish):
            continue
        addr = _endpoints_address(service, pod)
        if addr is None:
            continue
        ready = publish or is_pod_ready(pod)
        if not service_ports:
            if headless_no_ports:
                entries.append((addr, ready, None))
            continue
        for sp in service_ports:
            number = find_port(pod, sp)
            if number is not None:
                entries.append((addr, ready, _endpoints_port(sp, number)))
    subsets = repack_subsets(entries)
    truncated = truncate_subsets(subsets)
    labels = _endpoints_labels(service)

    if existing is not None:
        unchanged = (
            labels_of(existing) == labels
            and canonical_subsets(existing.get("subsets")) == subsets
            and annotations_of(existing).get(ANNOTATION_OVER_CAPACITY) == (TRUNCATED if truncated else None)
        )
        if unchanged:
            return dict(existing)
        new: Obj = copy.deepcopy(dict(existing))
    else:
        meta = meta_of(service)
        new = {"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": meta.get("name", ""), "namespace": meta.get("namespace", "")}}
    new_meta = new.setdefault("metadata", {})
    new_meta["labels"] = labels
    annotations = annotations_of(new)
    if trigger_time:
        annotations[ANNOTATION_TRIGGER_TIME] = trigger_time
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if truncated:
        annotations[ANNOTATION_OVER_CAPACITY] = TRUNCATED
    else:
        annotations.pop(ANNOTATION_OVER_CAPACITY, None)
    if annotations:
        new_meta["annotations"] = annotations
    else:
        new_meta.pop("annotations", None)
    new["subsets"] = subsets
    return new


# ---------------------------------------------------------------------------
# EndpointSlices (discovery.k8s.io/v1)
# ---------------------------------------------------------------------------


def service_address_types(service: Mapping[str, Any]) -> list[str]:
    """getAddressTypesForService: from ipFamilies; else the ClusterIP's family; headless: both."""
    spec = _spec(service)
    types = sorted({"IPv4" if f == "IPv4" else "IPv6" for f in as_list(spec.get("ipFamilies"))
                    if f in ("IPv4", "IPv6")})
    if types:
        return types
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(as_str(spec.get("clusterIP"))) else "IPv4"]
    return ["IPv4", "IPv6"]


def slice_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """getEndpointPorts, sorted so that equal port sets compare equal."""
    spec = _spec(service)
    ports: list[Obj] = []
    for sp in (as_map(p) for p in as_list(spec.get("ports"))):
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": as_str(sp.get("name")), "port": number, "protocol": _protocol(sp.get("protocol"))}
        if sp.get("appProtocol") is not None:
            port["appProtocol"] = sp["appProtocol"]
        ports.append(port)
    return sorted(ports, key=_port_tuple)


def port_set_key(ports: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int, str, str], ...]:
    """PortMapKey: the port set, independent of order."""
    return tuple(sorted(_port_tuple(as_map(p)) for p in ports))


def pod_to_endpoint(pod: Mapping[str, Any], node: Mapping[str, Any] | None, service: Mapping[str, Any],
                    address_type: str) -> Obj:
    """podToEndpoint: addresses of the family, conditions, targetRef, nodeName, zone, hostname."""
    serving = is_pod_ready(pod)
    terminating = is_terminating(pod)
    ready = bool(_spec(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    want_v6 = address_type == "IPv6"
    ep: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": _target_ref(pod),
    }
    node_name = as_str(_spec(pod).get("nodeName"))
    if node_name:
        ep["nodeName"] = node_name
    zone = labels_of(node).get(LABEL_ZONE, "") if node is not None else ""
    if zone:
        ep["zone"] = zone
    if should_set_hostname(pod, service):
        ep["hostname"] = _spec(pod)["hostname"]
    return ep


EndpointId = tuple[tuple[str, ...], str, str, str]


def endpoint_id(ep: Mapping[str, Any]) -> EndpointId:
    """hashEndpoint's identity: sorted addresses, hostname, targetRef namespace and name."""
    ref = as_map(ep.get("targetRef"))
    return (tuple(sorted(as_str(a) for a in as_list(ep.get("addresses")))), as_str(ep.get("hostname")),
            as_str(ref.get("namespace")), as_str(ref.get("name")))


def _beyond_hash(ep: Mapping[str, Any]) -> tuple[Any, ...]:
    """EndpointsEqualBeyondHash's fields: nodeName, zone, the three conditions, targetRef sans resourceVersion."""
    cond = as_map(ep.get("conditions"))
    return (ep.get("nodeName"), ep.get("zone"), cond.get("ready"), cond.get("serving"), cond.get("terminating"),
            _ref_view(ep.get("targetRef")))


def owner_reference(service: Mapping[str, Any]) -> Obj:
    """metav1.NewControllerRef(service, v1 Service)."""
    meta = meta_of(service)
    return {"apiVersion": "v1", "kind": "Service", "name": meta.get("name", ""), "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def owned_by(slice_: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    uid = meta_of(service).get("uid")
    return any(as_map(o).get("uid") == uid and as_map(o).get("kind") == "Service" and as_map(o).get("apiVersion") == "v1"
               for o in as_list(meta_of(slice_).get("ownerReferences")))


def slice_labels(service: Mapping[str, Any], controller_name: str = MANAGED_BY) -> dict[str, str]:
    """setEndpointSliceLabels: the Service's labels minus the reserved ones, then the reserved ones set."""
    labels = {k: v for k, v in labels_of(service).items() if k not in _RESERVED_SLICE_LABELS}
    if not is_service_ip_set(service):
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = as_str(meta_of(service).get("name"))
    labels[LABEL_MANAGED_BY] = controller_name
    return labels


def slice_prefix(service_name: str) -> str:
    """getEndpointSlicePrefix: ``<service>-`` (Service names are short enough for the dash)."""
    return f"{service_name}-" if len(service_name) < 253 else service_name


def _new_slice(service: Mapping[str, Any], ports: list[Obj], address_type: str, controller_name: str) -> Obj:
    meta = meta_of(service)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": slice_prefix(as_str(meta.get("name"))),
            "namespace": meta.get("namespace", ""),
            "labels": slice_labels(service, controller_name),
            "ownerReferences": [owner_reference(service)],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": [dict(p) for p in ports],
    }


def _is_placeholder_of(existing: Mapping[str, Any], placeholder: Mapping[str, Any]) -> bool:
    """placeholderSliceCompare: namespace, labels, ownerReferences, addressType, no endpoints, no ports."""
    a, b = slice_view(existing), slice_view(placeholder)
    return all(a[k] == b[k] for k in ("namespace", "labels", "ownerReferences", "addressType", "endpoints", "ports"))


def _slice_to_fill(candidates: list[Obj], count: int, limit: int) -> Obj | None:
    """getSliceToFill: the slice closest to full once ``count`` endpoints are added."""
    closest_diff = limit
    closest: Obj | None = None
    for candidate in candidates:
        diff = limit - (count + len(as_list(candidate.get("endpoints"))))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, candidate
            if diff == 0:
                break
    return closest


@dataclass
class _PortGroupPlan:
    create: list[Obj] = field(default_factory=list)
    update: dict[str, Obj] = field(default_factory=dict)
    delete: list[Obj] = field(default_factory=list)


def _reconcile_port_group(
    service: Mapping[str, Any],
    existing: list[Obj],
    desired: dict[EndpointId, Obj],
    ports: list[Obj],
    address_type: str,
    *,
    limit: int,
    controller_name: str,
) -> _PortGroupPlan:
    """reconcileByPortMapping, deterministic: names sorted, new endpoints in Pod order."""
    plan = _PortGroupPlan()
    labels = slice_labels(service, controller_name)
    unchanged: dict[str, Obj] = {}
    for current in sorted(existing, key=name_of):
        kept: list[Obj] = []
        updated = False
        for ep in as_list(current.get("endpoints")):
            got = desired.pop(endpoint_id(as_map(ep)), None)
            if got is not None:
                kept.append(got)
                updated = updated or _beyond_hash(got) != _beyond_hash(as_map(ep))
        labels_changed = labels_of(current) != labels
        if updated or len(kept) != len(as_list(current.get("endpoints"))):
            if not kept:
                plan.delete.append(current)
            else:
                new = copy.deepcopy(current)
                new["endpoints"] = kept
                new.setdefault("metadata", {})["labels"] = dict(labels)
                plan.update[name_of(current)] = new
        elif labels_changed:
            new = copy.deepcopy(current)
            new.setdefault("metadata", {})["labels"] = dict(labels)
            plan.update[name_of(current)] = new
        else:
            unchanged[name_of(current)] = current

    pending = list(desired.values())
    # 2. fill the slices that are written anyway, fullest first
    if pending and plan.update:
        for written in sorted(plan.update.values(), key=lambda s: (-len(as_list(s.get("endpoints"))), name_of(s))):
            room = limit - len(as_list(written.get("endpoints")))
            if room > 0:
                written["endpoints"] = [*as_list(written.get("endpoints")), *pending[:room]]
                pending = pending[room:]
    # 3. then the unchanged slice they fit in best, then new slices
    while pending:
        target: Obj | None = None
        if len(pending) < limit and unchanged:
            found = _slice_to_fill([unchanged[n] for n in sorted(unchanged)], len(pending), limit)
            if found is not None:
                target = copy.deepcopy(found)
                del unchanged[name_of(found)]
        if target is None:
            target = _new_slice(service, ports, address_type, controller_name)
        room = limit - len(as_list(target.get("endpoints")))
        target["endpoints"] = [*as_list(target.get("endpoints")), *pending[:room]]
        pending = pending[room:]
        if name_of(target):
            plan.update[name_of(target)] = target
        else:
            plan.create.append(target)
    return plan


def _set_trigger_time(slice_: Obj, trigger_time: str | None) -> None:
    meta = slice_.setdefault("metadata", {})
    annotations = annotations_of(slice_)
    if trigger_time:
        annotations[ANNOTATION_TRIGGER_TIME] = trigger_time
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)


def _ours(slice_: Mapping[str, Any], service: Mapping[str, Any], controller_name: str) -> bool:
    labels = labels_of(slice_)
    return (meta_of(slice_).get("namespace") == meta_of(service).get("namespace")
            and labels.get(LABEL_SERVICE_NAME) == meta_of(service).get("name")
            and labels.get(LABEL_MANAGED_BY) == controller_name)


@dataclass
class Desired:
    """The outcome for one Service.

    ``endpoints`` is None when the controller leaves the Service's Endpoints
    alone (no selector, ExternalName). ``slices`` lists every slice that
    should exist afterwards: existing ones (unchanged: the very object passed
    in; changed: a full replacement with the same name) and new ones (no name,
    ``generateName`` set). ``missing_nodes`` names Nodes referenced by Pods but
    absent, whose Pods were left out for now (the caller retries later).
    """

    endpoints: Obj | None
    slices: list[Obj]
    missing_nodes: list[str] = field(default_factory=list)


def desired_slices(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    *,
    existing: Iterable[Mapping[str, Any]] = (),
    trigger_time: str | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    controller_name: str = MANAGED_BY,
) -> tuple[list[Obj], list[str]]:
    """The slices the Service should have (see ``Desired.slices``) and the missing Nodes."""
    limit = max(1, max_endpoints_per_slice)
    mine = [dict(s) for s in existing if _ours(s, service, controller_name)]
    address_types = service_address_types(service)
    publish = bool(_spec(service).get("publishNotReadyAddresses"))
    pods = sorted(pods, key=_pod_sort_key)
    result: list[Obj] = []
    missing: set[str] = set()
    for address_type in address_types:
        of_type = [s for s in mine if s.get("addressType") == address_type]
        owned = [s for s in of_type if owned_by(s, service)]
        to_delete = [s for s in of_type if not owned_by(s, service)]
        existing_by_ports: dict[tuple[Any, ...], list[Obj]] = {}
        for s in owned:
            existing_by_ports.setdefault(port_set_key(as_list(s.get("ports"))), []).append(s)

        desired_by_ports: dict[tuple[Any, ...], dict[EndpointId, Obj]] = {}
        ports_by_key: dict[tuple[Any, ...], list[Obj]] = {}
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, include_terminating=True):
                continue
            ports = slice_ports(service, pod)
            key = port_set_key(ports)
            group = desired_by_ports.setdefault(key, {})
            ports_by_key.setdefault(key, ports)
            node_name = as_str(_spec(pod).get("nodeName"))
            node = nodes.get(node_name)
            if node is None and not publish:
                if node_name:
                    missing.add(node_name)
                continue
            ep = pod_to_endpoint(pod, node, service, address_type)
            if ep["addresses"]:
                group.setdefault(endpoint_id(ep), ep)

        to_create: list[Obj] = []
        to_update: dict[str, Obj] = {}
        for key in sorted(desired_by_ports):
            group_plan = _reconcile_port_group(service, existing_by_ports.get(key, []), desired_by_ports[key],
                                               ports_by_key[key], address_type, limit=limit,
                                               controller_name=controller_name)
            to_create += group_plan.create
            to_update.update(group_plan.update)
            to_delete += group_plan.delete
        for key in sorted(existing_by_ports):
            if key not in desired_by_ports:
                to_delete += existing_by_ports[key]

        if len(of_type) == len(to_delete) and not to_create:
            placeholder = _new_slice(service, [], address_type, controller_name)
            if len(to_delete) == 1 and _is_placeholder_of(to_delete[0], placeholder):
                to_delete = []
            else:
                to_create.append(placeholder)

        # finalize: a slice that would be deleted is reused for one that would be created
        to_delete.sort(key=name_of)
        i = 0
        while i < len(to_delete) and to_create:
            old = to_delete[i]
            if old.get("addressType") == address_type and owned_by(old, service):
                reused = to_create.pop()
                reused["metadata"]["name"] = name_of(old)
                to_update[name_of(old)] = reused
                del to_delete[i]
            else:
                i += 1
        if meta_of(service).get("deletionTimestamp") is not None:
            to_create = []  # no new slices for a Service on its way out
        for s in [*to_update.values(), *to_create]:
            _set_trigger_time(s, trigger_time)

        written = {*to_update, *(name_of(s) for s in to_delete)}
        kept = [s for s in of_type if name_of(s) not in written]
        result += sorted([*kept, *to_update.values()], key=name_of) + to_create
    return result, sorted(missing)


def _node_map(nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    if isinstance(nodes, Mapping):
        return nodes
    return {as_str(meta_of(n).get("name")): n for n in nodes}


def plan(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    existing_endpoints: Mapping[str, Any] | None = None,
    existing_slices: Iterable[Mapping[str, Any]] = (),
    trigger_time: str | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    controller_name: str = MANAGED_BY,
) -> Desired:
    """Everything the controller should make true for ``service`` (see ``Desired``).

    ``pods`` may be any Pods: those outside the Service's namespace or
    selector are ignored. ``nodes`` maps names to Nodes (or lists them).
    """
    if not is_managed(service):
        return Desired(None, [])
    members: Sequence[Mapping[str, Any]] = [p for p in pods if selects(service, p)]
    endpoints = desired_endpoints_object(service, members, existing=existing_endpoints, trigger_time=trigger_time)
    slices, missing = desired_slices(service, members, _node_map(nodes), existing=existing_slices,
                                     trigger_time=trigger_time, max_endpoints_per_slice=max_endpoints_per_slice,
                                     controller_name=controller_name)
    return Desired(endpoints, slices, missing)


def desired_endpoints(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    existing_endpoints: Mapping[str, Any] | None = None,
    existing_slices: Iterable[Mapping[str, Any]] = (),
    trigger_time: str | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> tuple[Obj | None, list[Obj]]:
    """``(Endpoints or None, EndpointSlices)`` the Service should have; see ``plan``."""
    d = plan(service, pods, nodes, existing_endpoints=existing_endpoints, existing_slices=existing_slices,
             trigger_time=trigger_time, max_endpoints_per_slice=max_endpoints_per_slice)
    return d.endpoints, d.slices
