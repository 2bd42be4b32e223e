"""Pod facts every reader needs the same answer to: is it Ready, its IPs, its QoS class, a Service port's target,
which taints it tolerates.

Why one home: the ReplicaSet controller, the endpoints controller and kctl describe each decided
"ready" and "QoS" on their own and could disagree about one Pod; these are the rules of
k8s.io/kubernetes pkg/api/v1/pod (IsPodReady) and pkg/apis/core/helper/qos (GetPodQOS).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from apimachinery.objects import as_list, as_map, as_str
from apimachinery.quantity import value_of
from apimachinery.validation import ip_string, parse_ip_sloppy

QOS_RESOURCES = ("cpu", "memory")


def ready_condition(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Pod's Ready condition (the first one), or None."""
    for c in as_list(as_map(pod.get("status")).get("conditions")):
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c
    return None


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    """IsPodTerminal: the Pod has finished (phase Succeeded or Failed) and its containers will not run again."""
    return as_map(pod.get("status")).get("phase") in ("Succeeded", "Failed")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """IsPodReady: the Ready condition's status is "True"."""
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    """status.podIPs (status.podIP when the list is missing), re-stringified as Go's net.IP does."""
    status = as_map(pod.get("status"))
    raw = [as_str(as_map(p).get("ip")) for p in as_list(status.get("podIPs"))]
    if not raw and status.get("podIP"):
        raw = [as_str(status.get("podIP"))]
    out: list[str] = []
    for value in raw:
        ip = parse_ip_sloppy(value)
        if ip is not None:
            out.append(ip_string(ip))
    return out


def protocol_of(value: Any) -> str:
    """A port's protocol with the API default (TCP)."""
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
    protocol = protocol_of(service_port.get("protocol"))
    spec = as_map(pod.get("spec"))
    containers = [as_map(c) for c in as_list(spec.get("containers"))]
    sidecars = [as_map(c) for c in as_list(spec.get("initContainers")) if as_map(c).get("restartPolicy") == "Always"]
    for container in containers + sidecars:
        for port in as_list(container.get("ports")):
            port = as_map(port)
            if port.get("name") == target and protocol_of(port.get("protocol")) == protocol:
                number = port.get("containerPort")
                return number if isinstance(number, int) and not isinstance(number, bool) else None
    return None


def _containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for key in ("containers", "initContainers") for c in as_list(spec.get(key)) if isinstance(c, dict)]


def qos_class(spec: Mapping[str, Any]) -> str:
    """GetPodQOS over cpu and memory of the regular and init containers of a Pod spec."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in _containers(spec):
        res = as_map(c.get("resources"))
        c_limits = {k: value_of(v) for k, v in as_map(res.get("limits")).items() if k in QOS_RESOURCES}
        c_requests = {k: value_of(v) for k, v in as_map(res.get("requests")).items() if k in QOS_RESOURCES}
        for k, q in c_requests.items():
            if q:
                requests[k] = requests.get(k, Fraction(0)) + q
        for k, q in c_limits.items():
            if q:
                limits[k] = limits.get(k, Fraction(0)) + q
        if set(c_limits) != set(QOS_RESOURCES):
            guaranteed = False
        elif any(c_requests.get(k, c_limits[k]) != c_limits[k] for k in c_limits):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_qos(pod: Mapping[str, Any]) -> str:
    """status.qosClass when the kubelet set it, else computed from the spec."""
    stored = as_map(pod.get("status")).get("qosClass")
    return str(stored) if stored else qos_class(as_map(pod.get("spec")))


def tolerates(pod: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint over the Pod's tolerations (an empty key with Exists matches every taint)."""
    for t in as_list(as_map(pod.get("spec")).get("tolerations")):
        t = as_map(t)
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        key = t.get("key") or ""
        if (t.get("operator") or "Equal") == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False
