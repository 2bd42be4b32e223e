"""The desired core/v1 Endpoints of a Service: subsets repacked as RepackSubsets does, truncated
at 1000 addresses with the over-capacity annotation, labels mirrored from the Service."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from apimachinery.labels import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
)
from apimachinery.objects import annotations_of, as_list, as_map, as_str, labels_of, meta_of
from apimachinery.pods import find_port, is_pod_ready, pod_ips, protocol_of
from controllers.endpoints.compare import address_key, canonical_subsets
from controllers.endpoints.pods import (
    CLUSTER_IP_NONE,
    MAX_ENDPOINTS_CAPACITY,
    NO_PORT,
    TRUNCATED,
    Obj,
    is_ipv6,
    is_service_ip_set,
    pod_sort_key,
    port_tuple,
    set_annotation,
    should_pod_be_in_endpoints,
    should_set_hostname,
    spec_of,
    status_of,
    target_ref,
)

# ---------------------------------------------------------------------------
# Endpoints (core/v1)
# ---------------------------------------------------------------------------


def _service_ip_family(service: Mapping[str, Any], pod: Mapping[str, Any]) -> str:
    """podToEndpointAddressForService's choice of family: ipFamilies[0], else the ClusterIP's, else the Pod's."""
    spec = spec_of(service)
    families = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    if families:
        return families[0]
    if is_service_ip_set(service):
        return "IPv6" if is_ipv6(as_str(spec.get("clusterIP"))) else "IPv4"
    return "IPv6" if is_ipv6(as_str(status_of(pod).get("podIP"))) else "IPv4"


def _endpoints_address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    want_v6 = _service_ip_family(service, pod) == "IPv6"
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return None
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, service):
        addr["hostname"] = spec_of(pod)["hostname"]
    node = as_str(spec_of(pod).get("nodeName"))
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = target_ref(pod)
    return addr


def _endpoints_port(service_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = protocol_of(service_port.get("protocol"))
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
        akey = address_key(addr)
        addresses.setdefault(akey, addr)
        pkey = NO_PORT if port is None else port_tuple(port)
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
    spec = spec_of(service)
    publish = bool(spec.get("publishNotReadyAddresses"))
    service_ports = [as_map(p) for p in as_list(spec.get("ports"))]
    headless_no_ports = not service_ports and spec.get("clusterIP") == CLUSTER_IP_NONE
    entries: list[tuple[Obj, bool, Obj | None]] = []
    for pod in sorted(pods, key=pod_sort_key):
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
    new.setdefault("metadata", {})["labels"] = labels
    set_annotation(new, ANNOTATION_TRIGGER_TIME, trigger_time)
    set_annotation(new, ANNOTATION_OVER_CAPACITY, TRUNCATED if truncated else None)
    new["subsets"] = subsets
    return new
