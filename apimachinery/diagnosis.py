"""Why a Service has the endpoints it has, and why a Pod gets traffic or not: a pure function of API state.

Why pure and here: ``kctl why`` and the console both answer the forum's most asked Services
question ("why does my Service have no endpoints?"), and must give the same answer; a function of
the objects (Service, Endpoints/EndpointSlices, Pods across namespaces, Nodes, Leases, Events) and
the current time can be table-tested rule by rule and called by any client above the pure floor.

The rules are the ones the control plane applies, read backwards:
- the endpoints controller lists a Pod when the Service's selector matches its labels in the
  Service's own namespace, the Pod has an IP, is not terminal, and (for ready addresses) is Ready
  and not terminating; a named targetPort must name a container port of the same protocol
  (``apimachinery.pods.find_port``), a numeric one is used as is, declared or not;
- a Service without a selector, or of type ExternalName, gets nothing from that controller;
- kubelite's allocators and endpoints controller hold a leader Lease in kube-system
  (``controller_lease_name``); a Lease not renewed within its duration means no process acts.

Invariant: ``diagnose_service``/``diagnose_pod`` return findings most likely cause first: errors,
then warnings, then facts, each group in the order the rules run (causes before their symptoms).
Reasons are typed (``Reason``) and stable: the console and scripts key on them, never on messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from apimachinery.kinds.printing import human_duration
from apimachinery.labels import LABEL_SERVICE_NAME
from apimachinery.leases import LEASE_NAMESPACE, lease_health
from apimachinery.objects import as_list, as_map, as_str, labels_of, meta_of, name_of
from apimachinery.pods import find_port, is_pod_ready, is_pod_terminal, pod_ips, protocol_of, ready_condition
from apimachinery.timestamps import parse_time

Obj = Mapping[str, Any]

CLUSTER_IP_NONE = "None"
MAX_CLOSEST = 3
MAX_EVENTS = 3


class Severity(StrEnum):
    ERROR = "Error"
    WARNING = "Warning"
    INFO = "Info"


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Reason(StrEnum):
    """Stable names of findings (CamelCase, as Kubernetes' reasons)."""

    SERVICE_HAS_ENDPOINTS = "ServiceHasEndpoints"
    EXTERNAL_NAME = "ExternalNameService"
    HEADLESS = "HeadlessService"
    SELECTORLESS = "SelectorlessService"
    SELECTORLESS_WITHOUT_ENDPOINTS = "SelectorlessServiceWithoutEndpoints"
    SELECTOR_MATCHES_NO_PODS = "SelectorMatchesNoPods"
    POD_LABEL_MISMATCH = "PodLabelMismatch"
    POD_MATCHES_IN_OTHER_NAMESPACE = "PodMatchesInOtherNamespace"
    POD_NOT_READY = "PodNotReady"
    POD_TERMINATING = "PodTerminating"
    POD_TERMINAL = "PodTerminal"
    POD_UNSCHEDULED = "PodUnscheduled"
    POD_HAS_NO_IP = "PodHasNoIP"
    TARGET_PORT_NAME_NOT_FOUND = "TargetPortNameNotFound"
    TARGET_PORT_NOT_DECLARED = "TargetPortNotDeclared"
    PROTOCOL_MISMATCH = "ProtocolMismatch"
    CLUSTER_IP_NOT_ALLOCATED = "ClusterIPNotAllocated"
    NODE_PORT_NOT_ALLOCATED = "NodePortNotAllocated"
    ENDPOINTS_CONTROLLER_NOT_RUNNING = "EndpointsControllerNotRunning"
    IPAM_CONTROLLER_NOT_RUNNING = "IPAMControllerNotRunning"
    NODEPORT_CONTROLLER_NOT_RUNNING = "NodePortControllerNotRunning"
    ENDPOINTS_OUT_OF_DATE = "EndpointsOutOfDate"
    WARNING_EVENT = "WarningEvent"
    PROXY_RULES = "ProxyRules"
    SERVICE_SELECTS_POD = "ServiceSelectsPod"
    POD_NOT_IN_ENDPOINTS = "PodNotInEndpoints"
    NO_SERVICE_SELECTS_POD = "NoServiceSelectsPod"


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"kind": self.kind}
        if self.namespace:
            out["namespace"] = self.namespace
        out["name"] = self.name
        return out

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class Finding:
    """One fact: how bad, its stable reason, what it says, which objects it is about, and the fix."""

    severity: Severity
    reason: Reason
    message: str
    objects: tuple[ObjectRef, ...] = ()
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": str(self.severity), "reason": str(self.reason), "message": self.message,
                               "objects": [o.as_dict() for o in self.objects]}
        if self.fix:
            out["fix"] = self.fix
        return out


@dataclass(frozen=True)
class ClusterState:
    """What the diagnosis reads. ``leases`` None: not readable (controller health is then not judged);
    ``proxy_rules``: ``kubelite proxy --show-rules`` text when a proxy's view is known, else None."""

    now: datetime
    services: Sequence[Obj] = ()
    pods: Sequence[Obj] = ()
    endpoints: Sequence[Obj] = ()
    endpoint_slices: Sequence[Obj] = ()
    nodes: Sequence[Obj] = ()
    leases: Sequence[Obj] | None = None
    events: Sequence[Obj] = ()
    proxy_rules: str | None = None


# ---------------------------------------------------------------------------
# small readers
# ---------------------------------------------------------------------------


def _ns(obj: Obj) -> str:
    return as_str(meta_of(obj).get("namespace"))


def _ref(kind: str, obj: Obj) -> ObjectRef:
    return ObjectRef(kind, name_of(obj), _ns(obj))


def _ago(when: Any, now: datetime) -> str | None:
    t = parse_time(when)
    return None if t is None else human_duration((now - t).total_seconds())


def _selector(service: Obj) -> dict[str, str]:
    return {str(k): as_str(v) for k, v in as_map(as_map(service.get("spec")).get("selector")).items()}


def _pairs(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _mismatch(selector: Mapping[str, str], labels: Mapping[str, str]) -> list[str]:
    """The selector's keys the labels lack or carry with another value."""
    return [k for k in sorted(selector) if labels.get(k) != selector[k]]


def _has_text(labels: Mapping[str, str], selector: Mapping[str, str], key: str) -> str:
    return f"has {key}={labels[key]}" if key in labels else f"has no {key} label"


def _label_difference(pod: Obj, service: Obj) -> tuple[str, str]:
    """``triskelion has env=shield; the-bus wants env=marvel`` and the kctl label command that fixes it."""
    selector, labels = _selector(service), labels_of(pod)
    keys = _mismatch(selector, labels)
    has = ", ".join(_has_text(labels, selector, k) for k in keys)
    wants = ",".join(f"{k}={selector[k]}" for k in keys)
    message = f"{name_of(pod)} {has}; {name_of(service)} wants {wants}"
    overwrite = " --overwrite" if any(k in labels for k in keys) else ""
    fix = f"kctl label pod/{name_of(pod)} -n {_ns(pod)} {' '.join(f'{k}={selector[k]}' for k in keys)}{overwrite}"
    return message, fix


def _events_about(state: ClusterState, kind: str, obj: Obj) -> list[Obj]:
    out = []
    for e in state.events:
        io = as_map(e.get("involvedObject") or e.get("regarding"))
        if io.get("kind") == kind and io.get("name") == name_of(obj) and as_str(io.get("namespace")) == _ns(obj):
            out.append(e)
    return sorted(out, key=_event_time, reverse=True)


def _event_time(e: Obj) -> str:
    series = as_map(e.get("series"))
    return as_str(series.get("lastObservedTime") or e.get("lastTimestamp") or e.get("eventTime")
                  or meta_of(e).get("creationTimestamp"))


def _warning_events(state: ClusterState, kind: str, obj: Obj) -> list[Finding]:
    out = []
    for e in [e for e in _events_about(state, kind, obj) if e.get("type") == "Warning"][:MAX_EVENTS]:
        count = as_map(e.get("series")).get("count") or e.get("count") or 1
        ago = _ago(_event_time(e), state.now)
        when = f" ({count}x, last {ago} ago)" if ago else ""
        out.append(Finding(Severity.WARNING, Reason.WARNING_EVENT,
                           f"event {as_str(e.get('reason'))}{when}: {as_str(e.get('message') or e.get('note'))}",
                           (_ref(kind, obj),)))
    return out


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: _RANK[f.severity])  # stable: rule order within a severity


# ---------------------------------------------------------------------------
# controllers' health from their leader Leases
# ---------------------------------------------------------------------------


def _controller_down(state: ClusterState, controller: str, reason: Reason, symptom: str) -> Finding | None:
    if state.leases is None:
        return None
    health = lease_health(controller, state.leases, state.now)
    if health.running:
        return None
    return Finding(Severity.ERROR, reason, f"{health.describe()}; {symptom}",
                   (ObjectRef("Lease", health.name, LEASE_NAMESPACE),),
                   f"start it: kubelite controller {controller} (kubelite up runs it)")


# ---------------------------------------------------------------------------
# endpoints as observed
# ---------------------------------------------------------------------------


@dataclass
class Observed:
    """What the Service's Endpoints (or, without them, its EndpointSlices) list, per Pod name."""

    exists: bool = False
    ready: dict[str, list[str]] = field(default_factory=dict)  # pod -> ["ip:port", ...]
    not_ready: dict[str, list[str]] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)  # every ready "ip:port", hand-written ones too


def _add(book: dict[str, list[str]], who: str, addr: str) -> None:
    if addr not in book.setdefault(who, []):
        book[who].append(addr)


def observed_endpoints(service: Obj, state: ClusterState) -> Observed:
    ns, name = _ns(service), name_of(service)
    out = Observed()
    ep = next((e for e in state.endpoints if name_of(e) == name and _ns(e) == ns), None)
    if ep is not None:
        out.exists = True
        for subset in as_list(ep.get("subsets")):
            subset = as_map(subset)
            ports = [as_map(p).get("port") for p in as_list(subset.get("ports"))] or [None]
            for key, book in (("addresses", out.ready), ("notReadyAddresses", out.not_ready)):
                for a in as_list(subset.get(key)):
                    a = as_map(a)
                    who = as_str(as_map(a.get("targetRef")).get("name"))
                    for port in ports:
                        addr = as_str(a.get("ip")) + (f":{port}" if port is not None else "")
                        _add(book, who, addr)
                        if key == "addresses" and addr not in out.addresses:
                            out.addresses.append(addr)
        return out
    for sl in state.endpoint_slices:
        if _ns(sl) != ns or labels_of(sl).get(LABEL_SERVICE_NAME) != name:
            continue
        out.exists = True
        ports = [as_map(p).get("port") for p in as_list(sl.get("ports"))] or [None]
        for e in as_list(sl.get("endpoints")):
            e = as_map(e)
            who = as_str(as_map(e.get("targetRef")).get("name"))
            ready = as_map(e.get("conditions")).get("ready") is not False
            for ip in as_list(e.get("addresses")):
                for port in ports:
                    addr = as_str(ip) + (f":{port}" if port is not None else "")
                    _add(out.ready if ready else out.not_ready, who, addr)
                    if ready and addr not in out.addresses:
                        out.addresses.append(addr)
    return out


# ---------------------------------------------------------------------------
# one Pod: why it is not a Ready endpoint
# ---------------------------------------------------------------------------


def _condition(pod: Obj, ctype: str) -> dict[str, Any] | None:
    for c in as_list(as_map(pod.get("status")).get("conditions")):
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def _node_problem(pod: Obj, state: ClusterState) -> str:
    node = as_str(as_map(pod.get("spec")).get("nodeName"))
    found = next((n for n in state.nodes if name_of(n) == node), None)
    if state.nodes and found is None:
        return f"; its node {node} does not exist"
    if found is not None:
        ready = _condition(found, "Ready")
        if ready is None or ready.get("status") != "True":
            return f"; its node {node} is not Ready"
    return ""


def pod_status_findings(pod: Obj, state: ClusterState, *, severity: Severity) -> list[Finding]:
    """Why the Pod cannot be a Ready endpoint of any Service (empty: it can)."""
    ref = _ref("Pod", pod)
    name, ns = name_of(pod), _ns(pod)
    status = as_map(pod.get("status"))
    deleted = meta_of(pod).get("deletionTimestamp")
    if deleted is not None:
        ago = _ago(deleted, state.now)
        when = f" (deletion requested {ago} ago)" if ago else ""
        return [Finding(severity, Reason.POD_TERMINATING,
                        f"{name} is terminating{when}; endpoints list it as terminating, not ready",
                        (ref,), "wait for its replacement, or remove the finalizers that hold it")]
    if is_pod_terminal(pod):
        return [Finding(severity, Reason.POD_TERMINAL,
                        f"{name} has finished (phase {as_str(status.get('phase'))}); it will not serve again",
                        (ref,), "run a new Pod (a Deployment replaces finished Pods)")]
    if not as_str(as_map(pod.get("spec")).get("nodeName")):
        sched = _condition(pod, "PodScheduled")
        if sched is not None and sched.get("status") == "False":
            why = f"{as_str(sched.get('reason'))}: {as_str(sched.get('message'))}"
            ago = _ago(sched.get("lastTransitionTime"), state.now)
            return [Finding(severity, Reason.POD_UNSCHEDULED,
                            f"{name} is not scheduled ({why})" + (f" for {ago}" if ago else ""), (ref,),
                            "fix its nodeSelector/affinity/resources, or add a node that fits")]
        return [Finding(severity, Reason.POD_UNSCHEDULED,
                        f"{name} is not scheduled yet (no scheduler has bound it to a node)", (ref,),
                        "check that a node agent (the scheduler) is running: kubelite node")]
    if not pod_ips(pod):
        return [Finding(severity, Reason.POD_HAS_NO_IP,
                        f"{name} is on node {as_str(as_map(pod.get('spec')).get('nodeName'))} but has no IP yet "
                        f"(phase {as_str(status.get('phase')) or 'Pending'}){_node_problem(pod, state)}", (ref,),
                        "wait for its node agent to start it; if it does not, check that node")]
    if is_pod_ready(pod):
        return []
    cond = ready_condition(pod)
    if cond is None:
        what = "has no Ready condition yet"
    else:
        detail = ": ".join(x for x in (as_str(cond.get("reason")), as_str(cond.get("message"))) if x)
        what = f"is not Ready (Ready={as_str(cond.get('status'))}" + (f", {detail}" if detail else "") + ")"
        ago = _ago(cond.get("lastTransitionTime"), state.now)
        if ago:
            what += f" for {ago}"
    extra = []
    for cs in as_list(status.get("containerStatuses")):
        cs = as_map(cs)
        waiting = as_map(as_map(cs.get("state")).get("waiting"))
        if waiting.get("reason"):
            msg = as_str(waiting.get("message"))
            extra.append(f"container {as_str(cs.get('name'))} waiting: {as_str(waiting.get('reason'))}"
                         + (f" ({msg})" if msg else ""))
    probe = next((e for e in _events_about(state, "Pod", pod) if e.get("reason") == "Unhealthy"), None)
    if probe is not None:
        extra.append(f"last probe: {as_str(probe.get('message') or probe.get('note'))}")
    message = f"{name} {what}" + "".join(f"; {x}" for x in extra)
    return [Finding(severity, Reason.POD_NOT_READY, message, (ref,),
                    f"kctl describe pod/{name} -n {ns}: fix the readiness probe or what it checks")]


def _declared_ports(pod: Obj) -> list[dict[str, Any]]:
    spec = as_map(pod.get("spec"))
    containers = [as_map(c) for c in as_list(spec.get("containers"))]
    containers += [as_map(c) for c in as_list(spec.get("initContainers")) if as_map(c).get("restartPolicy") == "Always"]
    return [as_map(p) for c in containers for p in as_list(c.get("ports"))]


def _port_text(p: Mapping[str, Any]) -> str:
    name = as_str(p.get("name"))
    return (f"{name}=" if name else "") + f"{p.get('containerPort')}/{protocol_of(p.get('protocol'))}"


def _target(sp: Mapping[str, Any]) -> Any:
    target = sp.get("targetPort")
    return sp.get("port") if target in (None, 0, "") else target


def port_findings(service: Obj, pods: Sequence[Obj], *, severity: Severity) -> list[Finding]:
    """Each Service port's targetPort against the Pods' declared container ports, one finding per problem."""
    out: list[Finding] = []
    sname = name_of(service)
    for sp in [as_map(p) for p in as_list(as_map(service.get("spec")).get("ports"))]:
        target, proto = _target(sp), protocol_of(sp.get("protocol"))
        label = f"port {as_str(sp.get('name')) + ' ' if sp.get('name') else ''}{sp.get('port')}/{proto}"
        missing: list[Obj] = []
        other_proto: list[Obj] = []
        undeclared: list[Obj] = []
        for pod in pods:
            declared = _declared_ports(pod)
            if isinstance(target, str):
                if find_port(pod, sp) is not None:
                    continue
                if any(p.get("name") == target for p in declared):
                    other_proto.append(pod)
                else:
                    missing.append(pod)
            elif isinstance(target, int):
                same = [p for p in declared if p.get("containerPort") == target]
                if any(protocol_of(p.get("protocol")) == proto for p in same):
                    continue
                (other_proto if same else undeclared).append(pod)
        refs = (_ref("Service", service),)
        if missing:
            decl = ", ".join(sorted({_port_text(p) for pod in missing for p in _declared_ports(pod)})) or "none"
            out.append(Finding(severity, Reason.TARGET_PORT_NAME_NOT_FOUND,
                               f"{sname} {label} targets the named port {target!s}, which no container of "
                               f"{_names(missing)} declares (declared: {decl})",
                               refs + tuple(_ref("Pod", p) for p in missing),
                               f"name a container port {target!s}, or set targetPort to the container's number"))
        if other_proto:
            decl = ", ".join(sorted({_port_text(p) for pod in other_proto for p in _declared_ports(pod)}))
            named = isinstance(target, str)
            out.append(Finding(severity if named else Severity.WARNING, Reason.PROTOCOL_MISMATCH,
                               f"{sname} {label} targets {target!s}/{proto}, but {_names(other_proto)} declares "
                               f"it with another protocol (declared: {decl})",
                               refs + tuple(_ref("Pod", p) for p in other_proto),
                               "make the Service port's protocol match the container port's"))
        if undeclared:
            decl = ", ".join(sorted({_port_text(p) for pod in undeclared for p in _declared_ports(pod)})) or "none"
            out.append(Finding(Severity.WARNING, Reason.TARGET_PORT_NOT_DECLARED,
                               f"{sname} {label} targets {target!s}, which no container of {_names(undeclared)} "
                               f"declares (declared: {decl}); traffic is sent anyway, so the process must "
                               f"listen on {target!s}",
                               refs + tuple(_ref("Pod", p) for p in undeclared),
                               "declare the port in the container, or point targetPort at a declared one"))
    return out


def _names(pods: Sequence[Obj]) -> str:
    return ", ".join(name_of(p) for p in pods)


def _publishes_not_ready(service: Obj) -> bool:
    """publishNotReadyAddresses: the endpoints list Pods as ready whatever their readiness or termination."""
    return as_map(service.get("spec")).get("publishNotReadyAddresses") is True


def _serves(pod: Obj, service: Obj) -> bool:
    """Would the endpoints controller list the Pod as a ready address of this Service?"""
    if is_pod_terminal(pod) or not pod_ips(pod):
        return False
    if not _publishes_not_ready(service) and (meta_of(pod).get("deletionTimestamp") is not None
                                              or not is_pod_ready(pod)):
        return False
    ports = [as_map(p) for p in as_list(as_map(service.get("spec")).get("ports"))]
    return not ports or any(find_port(pod, sp) is not None for sp in ports)


# ---------------------------------------------------------------------------
# a Service
# ---------------------------------------------------------------------------


def _matches(selector: Mapping[str, str], pod: Obj) -> bool:
    labels = labels_of(pod)
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _proxy_excerpt(service: Obj, rules: str) -> list[str]:
    key = re.escape(f"{_ns(service)}/{name_of(service)}")
    pattern = re.compile(rf'--comment "?{key}(?=[:" ]|$)')
    return [line for line in rules.splitlines() if pattern.search(line)]


def _proxy_finding(service: Obj, state: ClusterState) -> list[Finding]:
    if state.proxy_rules is None:
        return []
    lines = _proxy_excerpt(service, state.proxy_rules)
    who = f"{_ns(service)}/{name_of(service)}"
    message = (f"the proxy's rules for {who}:\n" + "\n".join(lines)) if lines else f"the proxy has no rules for {who}"
    return [Finding(Severity.INFO, Reason.PROXY_RULES, message, (_ref("Service", service),))]


def _allocation_findings(service: Obj, state: ClusterState) -> list[Finding]:
    spec = as_map(service.get("spec"))
    ref = _ref("Service", service)
    name = name_of(service)
    out: list[Finding] = []
    if not as_str(spec.get("clusterIP")):
        down = _controller_down(state, "ipam", Reason.IPAM_CONTROLLER_NOT_RUNNING, f"{name} waits for a ClusterIP")
        out += [down] if down else []
        out.append(Finding(Severity.ERROR, Reason.CLUSTER_IP_NOT_ALLOCATED,
                           f"{name} has no ClusterIP yet: its DNS name and proxy rules wait for it", (ref,),
                           "the ipam controller allocates it; see its Events for a refusal (range full, IP taken)"))
    stype = as_str(spec.get("type")) or "ClusterIP"
    wants_node_ports = stype == "NodePort" or (stype == "LoadBalancer"
                                               and spec.get("allocateLoadBalancerNodePorts") is not False)
    if wants_node_ports:
        lacking = [as_map(p) for p in as_list(spec.get("ports")) if not as_map(p).get("nodePort")]
        if lacking:
            ports = ", ".join(f"{p.get('port')}/{protocol_of(p.get('protocol'))}" for p in lacking)
            down = _controller_down(state, "nodeport", Reason.NODEPORT_CONTROLLER_NOT_RUNNING,
                                    f"{name} waits for a NodePort")
            out += [down] if down else []
            out.append(Finding(Severity.ERROR, Reason.NODE_PORT_NOT_ALLOCATED,
                               f"{name} is type {stype} but port {ports} has no NodePort yet", (ref,),
                               "the nodeport controller allocates it; see its Events for a refusal (port taken)"))
    return out


def diagnose_service(service: Obj, state: ClusterState) -> list[Finding]:
    """Why this Service has these endpoints, and why not the others: findings, most likely cause first."""
    spec = as_map(service.get("spec"))
    ns, name = _ns(service), name_of(service)
    ref = _ref("Service", service)
    stype = as_str(spec.get("type")) or "ClusterIP"
    events = _warning_events(state, "Service", service)
    if stype == "ExternalName":
        return _sorted([Finding(Severity.INFO, Reason.EXTERNAL_NAME,
                                f"{name} is an ExternalName Service: its DNS name is a CNAME to "
                                f"{as_str(spec.get('externalName'))}; it has no ClusterIP, no endpoints and no "
                                f"proxy rules", (ref,),
                                "to send traffic to Pods, make it type ClusterIP with a selector"), *events])
    out = _allocation_findings(service, state)
    if as_str(spec.get("clusterIP")) == CLUSTER_IP_NONE:
        out.append(Finding(Severity.INFO, Reason.HEADLESS,
                           f"{name} is headless (clusterIP None): DNS answers the endpoints' IPs and the proxy "
                           f"writes no rules for it", (ref,)))
    observed = observed_endpoints(service, state)
    selector = _selector(service)
    if not selector:
        if observed.addresses:
            out.append(Finding(Severity.INFO, Reason.SELECTORLESS,
                               f"{name} has no selector; its Endpoints are written by hand: "
                               f"{', '.join(observed.addresses)}", (ref, ObjectRef("Endpoints", name, ns)),
                               f"edit endpoints/{name} (or its EndpointSlices) to change them"))
        else:
            out.append(Finding(Severity.ERROR, Reason.SELECTORLESS_WITHOUT_ENDPOINTS,
                               f"{name} has no selector and no ready Endpoints: nothing receives its traffic",
                               (ref,), f"add a selector, or write Endpoints/EndpointSlices named {name}"))
        return _sorted([*out, *events, *_proxy_finding(service, state)])
    in_ns = [p for p in state.pods if _ns(p) == ns]
    matching = sorted((p for p in in_ns if _matches(selector, p)), key=name_of)
    if not matching:
        out.append(Finding(Severity.ERROR, Reason.SELECTOR_MATCHES_NO_PODS,
                           f"selector {_pairs(selector)} of {name} matches no Pod in namespace {ns}", (ref,),
                           f"label the Pods (kctl label pod/NAME -n {ns} {_pairs(selector).replace(',', ' ')}) "
                           f"or change the selector"))
        out += _closest(service, selector, in_ns)
        elsewhere = sorted((p for p in state.pods if _ns(p) != ns and _matches(selector, p)),
                           key=lambda p: (_ns(p), name_of(p)))
        for pod in elsewhere[:MAX_CLOSEST]:
            out.append(Finding(Severity.INFO, Reason.POD_MATCHES_IN_OTHER_NAMESPACE,
                               f"{name_of(pod)} in namespace {_ns(pod)} matches, but a Service selects Pods of its "
                               f"own namespace only", (ref, _ref("Pod", pod)),
                               f"create the Service in namespace {_ns(pod)}, or the Pod in {ns}"))
        return _sorted([*out, *events, *_proxy_finding(service, state)])
    serving = [p for p in matching if _serves(p, service)]
    severity = Severity.WARNING if serving else Severity.ERROR
    ignored = {Reason.POD_NOT_READY, Reason.POD_TERMINATING} if _publishes_not_ready(service) else set()
    for pod in matching:
        out += [f for f in pod_status_findings(pod, state, severity=severity) if f.reason not in ignored]
    out += port_findings(service, matching, severity=severity)
    expected = {name_of(p) for p in serving}
    listed = {who for who in observed.ready if who}
    if expected != listed or not observed.exists:
        symptom = _stale_text(name, expected, listed, exists=observed.exists)
        down = _controller_down(state, "endpoints", Reason.ENDPOINTS_CONTROLLER_NOT_RUNNING, symptom)
        if down is not None:
            out.insert(0, down)
        elif state.leases is not None or not observed.exists:
            out.append(Finding(Severity.WARNING, Reason.ENDPOINTS_OUT_OF_DATE,
                               f"{symptom}; the endpoints controller should catch up within seconds",
                               (ref, ObjectRef("Endpoints", name, ns)), f"run kctl why svc/{name} -n {ns} again"))
    near = [p for p in in_ns if p not in matching and _almost_selects(service, p)]
    for pod in sorted(near, key=name_of)[:MAX_CLOSEST]:  # why not the others
        message, fix = _label_difference(pod, service)
        out.append(Finding(Severity.INFO, Reason.POD_LABEL_MISMATCH, message, (ref, _ref("Pod", pod)), fix))
    if observed.addresses:
        described = ", ".join(f"{addr} ({who})" if who else addr
                              for who, addrs in sorted(observed.ready.items()) for addr in addrs)
        count = len(observed.addresses)
        out.append(Finding(Severity.INFO, Reason.SERVICE_HAS_ENDPOINTS,
                           f"{name} selects {_plural(len(matching), 'Pod')}; {count} Ready "
                           f"{'endpoint' if count == 1 else 'endpoints'}: {described}",
                           (ref, *(_ref("Pod", p) for p in matching if name_of(p) in observed.ready))))
    return _sorted([*out, *events, *_proxy_finding(service, state)])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _stale_text(name: str, expected: set[str], listed: set[str], *, exists: bool) -> str:
    if not exists:
        return f"{name} has no Endpoints object" + (f" while {', '.join(sorted(expected))} could serve"
                                                     if expected else "")
    parts = []
    if expected - listed:
        parts.append(f"Ready Pods missing from them: {', '.join(sorted(expected - listed))}")
    if listed - expected:
        parts.append(f"listed but not Ready or not selected: {', '.join(sorted(listed - expected))}")
    return f"endpoints/{name} are out of date ({'; '.join(parts)})"


def _closest(service: Obj, selector: Mapping[str, str], pods: Sequence[Obj]) -> list[Finding]:
    """The Pods nearest to matching: sharing a selector key, fewest labels off."""
    ranked = []
    for pod in pods:
        labels = labels_of(pod)
        if not any(k in labels for k in selector):
            continue
        ranked.append((len(_mismatch(selector, labels)), name_of(pod), pod))
    ranked.sort(key=lambda t: (t[0], t[1]))
    out = []
    for _, _, pod in ranked[:MAX_CLOSEST]:
        message, fix = _label_difference(pod, service)
        out.append(Finding(Severity.INFO, Reason.POD_LABEL_MISMATCH, message, (_ref("Service", service),
                                                                               _ref("Pod", pod)), fix))
    return out


# ---------------------------------------------------------------------------
# a Pod
# ---------------------------------------------------------------------------


def _almost_selects(service: Obj, pod: Obj) -> bool:
    """One label off: exactly one selector key differs, and the Pod carries some key of the selector."""
    selector, labels = _selector(service), labels_of(pod)
    return (bool(selector) and len(_mismatch(selector, labels)) == 1
            and any(k in labels for k in selector))


def diagnose_pod(pod: Obj, state: ClusterState) -> list[Finding]:
    """Which Services select this Pod, whether it is in their endpoints and why not; near misses."""
    ns, name = _ns(pod), name_of(pod)
    ref = _ref("Pod", pod)
    services = sorted((s for s in state.services if _ns(s) == ns
                       and as_str(as_map(s.get("spec")).get("type")) != "ExternalName"), key=name_of)
    selecting = [s for s in services if _matches(_selector(s), pod)]
    out: list[Finding] = []
    if not selecting:
        out.append(Finding(Severity.WARNING, Reason.NO_SERVICE_SELECTS_POD,
                           f"no Service in namespace {ns} selects {name} (labels: {_pairs(labels_of(pod)) or 'none'})",
                           (ref,), f"expose it (kctl expose pod/{name} -n {ns} --port=PORT), or label it to match "
                                   f"a Service"))
    status = pod_status_findings(pod, state, severity=Severity.ERROR if selecting else Severity.INFO)
    out += status
    for svc in selecting:
        sname = name_of(svc)
        sref = _ref("Service", svc)
        observed = observed_endpoints(svc, state)
        if name in observed.ready:
            out.append(Finding(Severity.INFO, Reason.SERVICE_SELECTS_POD,
                               f"{sname} selects {name}; it is a Ready endpoint: {', '.join(observed.ready[name])}",
                               (sref, ref)))
        else:
            why = "not Ready" if name in observed.not_ready else "not listed"
            out.append(Finding(Severity.ERROR, Reason.POD_NOT_IN_ENDPOINTS,
                               f"{sname} selects {name}, but its endpoints list it {why}"
                               + (f" ({status[0].reason})" if status else ""), (sref, ref),
                               status[0].fix if status else ""))
        out += port_findings(svc, [pod], severity=Severity.ERROR)
        if _serves(pod, svc) and name not in observed.ready:
            symptom = _stale_text(sname, {name}, set(observed.ready) & {name}, exists=observed.exists)
            down = _controller_down(state, "endpoints", Reason.ENDPOINTS_CONTROLLER_NOT_RUNNING, symptom)
            if down is not None:
                out.append(down)
            else:
                out.append(Finding(Severity.WARNING, Reason.ENDPOINTS_OUT_OF_DATE,
                                   f"{symptom}; the endpoints controller should catch up within seconds",
                                   (sref, ObjectRef("Endpoints", sname, ns))))
        out += _allocation_findings(svc, state)
    for svc in services:
        if svc not in selecting and _almost_selects(svc, pod):
            message, fix = _label_difference(pod, svc)
            out.append(Finding(Severity.INFO, Reason.POD_LABEL_MISMATCH, message, (_ref("Service", svc), ref), fix))
    return _sorted(out)
