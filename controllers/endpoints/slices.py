"""The desired discovery.k8s.io/v1 EndpointSlices of a Service: endpoints grouped by port set and
address type, at most max_endpoints_per_slice each, placed with the real reconciler's churn rules
(an endpoint stays where it is; new ones fill slices that change anyway first)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apimachinery.labels import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
)
from apimachinery.objects import as_list, as_map, as_str, labels_of, meta_of, name_of
from apimachinery.pods import find_port, is_pod_ready, pod_ips, protocol_of
from controllers.endpoints.compare import ref_view, slice_view
from controllers.endpoints.pods import (
    MANAGED_BY,
    MAX_ENDPOINTS_PER_SLICE,
    RESERVED_SLICE_LABELS,
    Obj,
    is_ipv6,
    is_service_ip_set,
    is_terminating,
    pod_sort_key,
    port_tuple,
    set_annotation,
    should_pod_be_in_endpoints,
    should_set_hostname,
    spec_of,
    target_ref,
)

# ---------------------------------------------------------------------------
# EndpointSlices (discovery.k8s.io/v1)
# ---------------------------------------------------------------------------


def service_address_types(service: Mapping[str, Any]) -> list[str]:
    """getAddressTypesForService: from ipFamilies; else the ClusterIP's family; headless: both."""
    spec = spec_of(service)
    types = sorted({"IPv4" if f == "IPv4" else "IPv6" for f in as_list(spec.get("ipFamilies"))
                    if f in ("IPv4", "IPv6")})
    if types:
        return types
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(as_str(spec.get("clusterIP"))) else "IPv4"]
    return ["IPv4", "IPv6"]


def slice_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """getEndpointPorts, sorted so that equal port sets compare equal."""
    spec = spec_of(service)
    ports: list[Obj] = []
    for sp in (as_map(p) for p in as_list(spec.get("ports"))):
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": as_str(sp.get("name")), "port": number, "protocol": protocol_of(sp.get("protocol"))}
        if sp.get("appProtocol") is not None:
            port["appProtocol"] = sp["appProtocol"]
        ports.append(port)
    return sorted(ports, key=port_tuple)


def port_set_key(ports: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int, str, str], ...]:
    """PortMapKey: the port set, independent of order."""
    return tuple(sorted(port_tuple(as_map(p)) for p in ports))


def pod_to_endpoint(pod: Mapping[str, Any], node: Mapping[str, Any] | None, service: Mapping[str, Any],
                    address_type: str) -> Obj:
    """podToEndpoint: addresses of the family, conditions, targetRef, nodeName, zone, hostname."""
    serving = is_pod_ready(pod)
    terminating = is_terminating(pod)
    ready = bool(spec_of(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    want_v6 = address_type == "IPv6"
    ep: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": target_ref(pod),
    }
    node_name = as_str(spec_of(pod).get("nodeName"))
    if node_name:
        ep["nodeName"] = node_name
    zone = labels_of(node).get(LABEL_ZONE, "") if node is not None else ""
    if zone:
        ep["zone"] = zone
    if should_set_hostname(pod, service):
        ep["hostname"] = spec_of(pod)["hostname"]
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
            ref_view(ep.get("targetRef")))


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
    labels = {k: v for k, v in labels_of(service).items() if k not in RESERVED_SLICE_LABELS}
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


def _ours(slice_: Mapping[str, Any], service: Mapping[str, Any], controller_name: str) -> bool:
    labels = labels_of(slice_)
    return (meta_of(slice_).get("namespace") == meta_of(service).get("namespace")
            and labels.get(LABEL_SERVICE_NAME) == meta_of(service).get("name")
            and labels.get(LABEL_MANAGED_BY) == controller_name)


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
    publish = bool(spec_of(service).get("publishNotReadyAddresses"))
    pods = sorted(pods, key=pod_sort_key)
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
            node_name = as_str(spec_of(pod).get("nodeName"))
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
            set_annotation(s, ANNOTATION_TRIGGER_TIME, trigger_time)

        written = {*to_update, *(name_of(s) for s in to_delete)}
        kept = [s for s in of_type if name_of(s) not in written]
        result += sorted([*kept, *to_update.values()], key=name_of) + to_create
    return result, sorted(missing)
