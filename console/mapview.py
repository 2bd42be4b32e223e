"""The console's picture of one namespace, as a pure function of the API state the console holds.

Why pure: who a Service selects, which Pods nearly match it and why a Service has no ClusterIP or no
endpoints are facts a reader must be able to trust; they are computed here from plain objects (the
informer caches' contents plus "now"), table-tested, and the browser only draws what this returns.

Invariants:
- a Pod is *selected* by a Service exactly when the Service has a non-empty ``spec.selector`` and the
  Pod carries every one of its labels with the same value (Service semantics: an empty selector selects
  nothing, as the endpoints controller treats it);
- a *near miss* carries at least one of the selector's label keys (with the wanted value or another) but
  is not selected; each missing or different label is listed (``env=shield, wanted env=marvel``). A Pod
  sharing no key with the selector is unrelated and not drawn beside the Service;
- a controller is *alive* when its Lease has a holder and was renewed within its leaseDurationSeconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from apimachinery.labels import ANNOTATION_LAST_APPLIED, LABEL_SERVICE_NAME
from apimachinery.objects import annotations_of, as_list, as_map, as_str, labels_of, meta_of, name_of
from apimachinery.pods import is_pod_ready, pod_ips
from apimachinery.timestamps import parse_time

Obj = Mapping[str, Any]

CLUSTER_DOMAIN = "cluster.local"
LEASE_NAMESPACE = "kube-system"
NODE_LEASE_NAMESPACE = "kube-node-lease"
# The controllers whose absence the map explains (their leader Lease is kube-system/kubelite-<name>), listed
# even before they ever ran; others (loadbalancer, gc...) are listed once their Lease exists.
WATCHED_CONTROLLERS = ("ipam", "nodeport", "endpoints")


# ---- selection ----------------------------------------------------------------------------------------


def label_misses(selector: Mapping[str, str], labels: Mapping[str, str]) -> list[dict[str, str | None]]:
    """Each selector label the Pod lacks or carries with another value: ``{key, wanted, has}`` (``has`` None
    when the label is absent), in key order."""
    out: list[dict[str, str | None]] = []
    for key in sorted(selector):
        if labels.get(key) != selector[key]:
            out.append({"key": key, "wanted": selector[key], "has": labels.get(key)})
    return out


def describe_miss(miss: Mapping[str, str | None]) -> str:
    """``env=shield, wanted env=marvel``, or ``no env, wanted env=marvel``."""
    key, wanted, has = miss["key"], miss["wanted"], miss["has"]
    return f"{key}={has}, wanted {key}={wanted}" if has is not None else f"no {key}, wanted {key}={wanted}"


def selection(selector: Mapping[str, str], labels: Mapping[str, str]) -> str:
    """``selected``, ``near`` (carries some of the selector's keys, is not selected) or ``none``."""
    if not selector:
        return "none"
    if all(labels.get(k) == v for k, v in selector.items()):
        return "selected"
    return "near" if any(k in labels for k in selector) else "none"


# ---- health ---------------------------------------------------------------------------------------------


def lease_state(lease: Obj, now: datetime) -> dict[str, Any]:
    """One Lease as the console shows it: who holds it, alive or not, and in words why."""
    spec = as_map(lease.get("spec"))
    holder = as_str(spec.get("holderIdentity"))
    duration = float(spec.get("leaseDurationSeconds") or 0)
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    age = (now - renewed).total_seconds() if renewed is not None else None
    alive = bool(holder) and age is not None and age <= duration
    # Stable words while the state holds (no "renewed 3s ago"): a picture that did not change is not resent.
    if not holder:
        why = "released (no holder)"
    elif renewed is None:
        why = "never renewed"
    elif alive:
        why = f"lease renewed within {duration:.0f}s"
    else:
        why = f"lease expired at {(renewed + timedelta(seconds=duration)).strftime('%H:%M:%SZ')}"
    return {"name": name_of(lease), "namespace": as_str(meta_of(lease).get("namespace")), "holder": holder,
            "alive": alive, "why": why}


def health(leases: Iterable[Obj], now: datetime) -> dict[str, Any]:
    """Controllers (kube-system leader Leases, each watched one listed even when it has none) and nodes
    (kube-node-lease heartbeats)."""
    by_ns: dict[str, dict[str, Obj]] = {}
    for lease in leases:
        by_ns.setdefault(as_str(meta_of(lease).get("namespace")), {})[name_of(lease)] = lease
    system = by_ns.get(LEASE_NAMESPACE, {})
    controllers = []
    for name in sorted(set(WATCHED_CONTROLLERS) | {n.removeprefix("kubelite-") for n in system
                                                  if n.startswith("kubelite-")}):
        held = system.get(f"kubelite-{name}")
        state = lease_state(held, now) if held is not None else {
            "name": f"kubelite-{name}", "namespace": LEASE_NAMESPACE, "holder": "", "alive": False,
            "why": "no lease: never started"}
        controllers.append({**state, "controller": name})
    nodes = [lease_state(lease, now) for _, lease in sorted(by_ns.get(NODE_LEASE_NAMESPACE, {}).items())]
    return {"controllers": controllers, "nodes": nodes}


def alive(h: Mapping[str, Any], controller: str) -> bool:
    return any(c["controller"] == controller and c["alive"] for c in h["controllers"])


# ---- the map ----------------------------------------------------------------------------------------------


def _owner(obj: Obj) -> tuple[str, str] | None:
    for ref in as_list(meta_of(obj).get("ownerReferences")):
        ref = as_map(ref)
        if ref.get("controller"):
            return as_str(ref.get("kind")), as_str(ref.get("name"))
    return None


def owner_chain(pod: Obj, replicasets: Mapping[str, Obj]) -> list[dict[str, str]]:
    """The Pod's controllers, outermost first: ``[Deployment x, ReplicaSet x-abc]``, ``[StatefulSet s]``, []."""
    chain: list[dict[str, str]] = []
    owner = _owner(pod)
    if owner is None:
        return chain
    chain.append({"kind": owner[0], "name": owner[1]})
    if owner[0] == "ReplicaSet" and owner[1] in replicasets:
        up = _owner(replicasets[owner[1]])
        if up is not None:
            chain.insert(0, {"kind": up[0], "name": up[1]})
    return chain


def shown_annotations(obj: Obj) -> dict[str, str]:
    """Annotations but kubectl's last-applied copy of the object itself (noise on a map)."""
    return {k: v for k, v in annotations_of(obj).items() if k != ANNOTATION_LAST_APPLIED}


def pod_view(pod: Obj, replicasets: Mapping[str, Obj]) -> dict[str, Any]:
    status = as_map(pod.get("status"))
    meta = meta_of(pod)
    phase = as_str(status.get("phase")) or "Pending"
    ready = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    state = "terminating" if terminating else ("ready" if ready else phase.lower())
    ips = pod_ips(pod)
    return {"name": name_of(pod), "phase": phase, "ready": ready, "terminating": terminating, "state": state,
            "ip": ips[0] if ips else "", "node": as_str(as_map(pod.get("spec")).get("nodeName")),
            "labels": labels_of(pod), "annotations": shown_annotations(pod),
            "owners": owner_chain(pod, replicasets), "serviceMarks": {}}


def _ports(spec: Obj) -> list[dict[str, Any]]:
    out = []
    for p in as_list(spec.get("ports")):
        p = as_map(p)
        out.append({"name": as_str(p.get("name")), "protocol": as_str(p.get("protocol")) or "TCP",
                    "port": p.get("port"), "targetPort": p.get("targetPort", p.get("port")),
                    "nodePort": p.get("nodePort")})
    return out


def _endpoints(slices: Iterable[Obj]) -> list[dict[str, Any]]:
    out = []
    for s in slices:
        for ep in as_list(s.get("endpoints")):
            ep = as_map(ep)
            cond = as_map(ep.get("conditions"))
            ref = as_map(ep.get("targetRef"))
            for addr in as_list(ep.get("addresses")):
                out.append({"ip": as_str(addr), "pod": as_str(ref.get("name")) if ref.get("kind") == "Pod" else "",
                            "ready": cond.get("ready") is not False, "serving": cond.get("serving") is not False,
                            "terminating": cond.get("terminating") is True, "slice": name_of(s)})
    return sorted(out, key=lambda e: (e["ip"], e["slice"]))


def service_notes(svc: Obj, *, has_slices: bool, h: Mapping[str, Any]) -> list[str]:
    """Why a Service is missing something the picture would show, when the control plane says why."""
    spec = as_map(svc.get("spec"))
    kind = as_str(spec.get("type")) or "ClusterIP"
    notes: list[str] = []
    if kind != "ExternalName" and not spec.get("clusterIP"):
        notes.append("no ClusterIP yet: " + ("the ipam controller is not running" if not alive(h, "ipam")
                                             else "waiting for the ipam controller"))
    if kind in ("NodePort", "LoadBalancer") and any(p.get("nodePort") in (None, 0) for p in _ports(spec)) \
            and not alive(h, "nodeport"):
        notes.append("no node port yet: the nodeport controller is not running")
    if kind == "LoadBalancer" and not as_list(as_map(as_map(svc.get("status")).get("loadBalancer")).get("ingress")) \
            and not alive(h, "loadbalancer"):
        notes.append("no LoadBalancer IP: the loadbalancer controller is not running")
    if spec.get("selector") and not alive(h, "endpoints"):
        notes.append("endpoints are not being updated: the endpoints controller is not running"
                     + ("" if has_slices else " (no EndpointSlices yet)"))
    if not spec.get("selector") and kind != "ExternalName":
        notes.append("no selector: its endpoints are written by hand")
    return notes


def service_map(namespace: str, *, services: Iterable[Obj], pods: Iterable[Obj], replicasets: Iterable[Obj],
                slices: Iterable[Obj], leases: Iterable[Obj], now: datetime,
                cluster_domain: str = CLUSTER_DOMAIN) -> dict[str, Any]:
    """Everything the browser draws for ``namespace`` (objects of other namespaces are ignored).

    ``pods`` carry ``serviceMarks``: per Service, ``selected`` or the near-miss texts, so a Pod card can
    highlight the labels that match and mark the ones that do not.
    """
    def mine(objs: Iterable[Obj]) -> list[Obj]:
        return sorted((o for o in objs if meta_of(o).get("namespace") == namespace), key=name_of)

    rs_by_name = {name_of(r): r for r in mine(replicasets)}
    pod_views = [pod_view(p, rs_by_name) for p in mine(pods)]
    by_service: dict[str, list[Obj]] = {}
    for s in mine(slices):
        by_service.setdefault(labels_of(s).get(LABEL_SERVICE_NAME, ""), []).append(s)
    h = health(leases, now)
    views = []
    for svc in mine(services):
        spec = as_map(svc.get("spec"))
        name = name_of(svc)
        selector = {str(k): str(v) for k, v in as_map(spec.get("selector")).items()}
        selects, near = [], []
        for pv in pod_views:
            how = selection(selector, pv["labels"])
            if how == "selected":
                selects.append(pv["name"])
                pv["serviceMarks"][name] = {"selected": True, "misses": []}
            elif how == "near":
                misses = label_misses(selector, pv["labels"])
                texts = [describe_miss(m) for m in misses]
                near.append({"pod": pv["name"], "misses": misses, "texts": texts})
                pv["serviceMarks"][name] = {"selected": False, "misses": misses, "texts": texts}
        kind = as_str(spec.get("type")) or "ClusterIP"
        ingress = as_list(as_map(as_map(svc.get("status")).get("loadBalancer")).get("ingress"))
        views.append({
            "name": name, "type": kind, "clusterIP": as_str(spec.get("clusterIP")),
            "externalName": as_str(spec.get("externalName")),
            "dns": f"{name}.{namespace}.svc.{cluster_domain}", "ports": _ports(spec), "selector": selector,
            "loadBalancerIPs": [as_str(as_map(i).get("ip") or as_map(i).get("hostname")) for i in ingress],
            "annotations": shown_annotations(svc), "selects": selects, "nearMisses": near,
            "endpoints": _endpoints(by_service.get(name, [])),
            "notes": service_notes(svc, has_slices=name in by_service, h=h),
        })
    groups: dict[str, dict[str, Any]] = {}
    for pv in pod_views:
        key = " > ".join(f"{o['kind']}/{o['name']}" for o in pv["owners"])
        groups.setdefault(key, {"key": key, "owners": pv["owners"], "pods": []})["pods"].append(pv["name"])
    ordered = sorted(groups.values(), key=lambda g: (g["key"] == "", g["key"]))
    return {"namespace": namespace, "services": views, "pods": {pv["name"]: pv for pv in pod_views},
            "groups": ordered, "health": h}
