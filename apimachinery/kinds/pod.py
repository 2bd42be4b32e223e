"""core/v1 Pod (pkg/registry/core/pod)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.podtemplate import pod_spec_structs
from apimachinery.kinds.printing import (
    AGE,
    NAME,
    as_int,
    as_items,
    as_text,
    dig,
    human_duration,
    parse_time,
    since,
)
from apimachinery.kinds.tags import CORE
from apimachinery.selectors import FieldReader, bool_field_at, field_at, field_string


def _pod_ip(pod: Mapping[str, Any]) -> str:
    """status.podIP as PodToSelectableFields reads it: status.podIPs[0].ip when set."""
    status = pod.get("status")
    if not isinstance(status, Mapping):
        return ""
    ips = status.get("podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], Mapping):
        return field_string(ips[0].get("ip"))
    return field_string(status.get("podIP"))


# PodToSelectableFields (pkg/registry/core/pod/strategy.go)
_FIELDS: tuple[tuple[str, FieldReader], ...] = (
    ("spec.nodeName", field_at("spec.nodeName")),
    ("spec.restartPolicy", field_at("spec.restartPolicy")),
    ("spec.schedulerName", field_at("spec.schedulerName")),
    ("spec.serviceAccountName", field_at("spec.serviceAccountName")),
    ("spec.hostNetwork", bool_field_at("spec.hostNetwork")),
    ("status.phase", field_at("status.phase")),
    ("status.podIP", _pod_ip),
    ("status.nominatedNodeName", field_at("status.nominatedNodeName")),
)

_D_POD_IP = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."

_D_POD_NODE = (
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling "
    "by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes "
    "responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod "
    "to be scheduled on a specific node. "
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"
)

_D_POD_NOMINATED = (
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled "
    "right away as preemption victims receive their graceful termination periods. This field does not "
    "guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere "
    "if other nodes become available sooner. Scheduler may also decide to give the resources on this node to "
    "a higher priority pod that is created after preemption. As a result, this field may be different than "
    "PodSpec.nodeName when the pod is scheduled."
)

_D_POD_GATES = (
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its "
    'containers are ready AND all conditions specified in the readiness gates have status equal to "True" '
    "More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"
)

_PODS_SUCCEEDED = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]

_PODS_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0),
    ("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
    (
        "Restarts",
        "string",
        "",
        "The number of times the containers in this pod have been restarted and when the last container "
        "in this pod has restarted.",
        0,
    ),
    AGE,
    ("IP", "string", "", _D_POD_IP, 1),
    ("Node", "string", "", _D_POD_NODE, 1),
    ("Nominated Node", "string", "", _D_POD_NOMINATED, 1),
    ("Readiness Gates", "string", "", _D_POD_GATES, 1),
)


def _is_restartable_init(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _has_condition(conditions: Any, ctype: str) -> bool:
    """True when the first condition of ``ctype`` has status True."""
    for c in as_items(conditions):
        if dig(c, "type") == ctype:
            return bool(dig(c, "status") == "True")
    return False


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    t = parse_time(candidate)
    if t is None:
        return current
    return t if current is None or current < t else current


def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    """printPod: Ready, Status reason, Restarts (with ``(5m ago)``), wide IP/Node columns."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = as_items(spec.get("initContainers"))
    restarts = 0
    restartable_restarts = 0
    total = len(as_items(spec.get("containers")))
    ready = 0
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None

    phase = as_text(status.get("phase"))
    reason = as_text(status.get("reason")) or phase
    for cond in as_items(status.get("conditions")):
        if dig(cond, "type") == "PodScheduled" and dig(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_by_name: dict[str, Any] = {}
    for c in init_specs:
        init_by_name[as_text(dig(c, "name"))] = c
        if _is_restartable_init(c):
            total += 1

    initializing = False
    for i, cs in enumerate(as_items(status.get("initContainerStatuses"))):
        restarts += as_int(dig(cs, "restartCount"))
        last_restart = _later(last_restart, dig(cs, "lastState", "terminated", "finishedAt"))
        restartable = _is_restartable_init(init_by_name.get(as_text(dig(cs, "name"))))
        if restartable:
            restartable_restarts += as_int(dig(cs, "restartCount"))
            last_restartable_restart = _later(
                last_restartable_restart, dig(cs, "lastState", "terminated", "finishedAt")
            )
        terminated = dig(cs, "state", "terminated")
        waiting = dig(cs, "state", "waiting")
        if isinstance(terminated, dict) and as_int(terminated.get("exitCode")) == 0:
            continue
        if restartable and dig(cs, "started") is True:
            if dig(cs, "ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not as_text(terminated.get("reason")):
                if as_int(terminated.get("signal")) != 0:
                    reason = f"Init:Signal:{as_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{as_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + as_text(terminated.get("reason"))
        elif isinstance(waiting, dict) and as_text(waiting.get("reason")) and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + as_text(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(status.get("conditions"), "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(as_items(status.get("containerStatuses"))):
            restarts += as_int(dig(cs, "restartCount"))
            last_restart = _later(last_restart, dig(cs, "lastState", "terminated", "finishedAt"))
            terminated = dig(cs, "state", "terminated")
            waiting = dig(cs, "state", "waiting")
            if isinstance(waiting, dict) and as_text(waiting.get("reason")):
                reason = as_text(waiting.get("reason"))
            elif isinstance(terminated, dict) and as_text(terminated.get("reason")):
                reason = as_text(terminated.get("reason"))
            elif isinstance(terminated, dict):
                if as_int(terminated.get("signal")) != 0:
                    reason = f"Signal:{as_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{as_int(terminated.get('exitCode'))}"
            elif dig(cs, "ready") is True and isinstance(dig(cs, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status.get("conditions"), "Ready") else "NotReady"

    deleting = dig(pod, "metadata", "deletionTimestamp") is not None
    if deleting and as_text(status.get("reason")) == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_str = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = as_items(status.get("podIPs"))
    pod_ip = as_text(dig(pod_ips[0], "ip")) if pod_ips else ""
    gates = as_items(spec.get("readinessGates"))
    readiness = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for cond in as_items(status.get("conditions")):
                if dig(cond, "type") == dig(gate, "conditionType"):
                    if dig(cond, "status") == "True":
                        true_count += 1
                    break
        readiness = f"{true_count}/{len(gates)}"
    cells: list[Any] = [
        as_text(dig(pod, "metadata", "name")),
        f"{ready}/{total}",
        reason,
        restarts_str,
        since(dig(pod, "metadata", "creationTimestamp"), now),
        pod_ip or "<none>",
        as_text(spec.get("nodeName")) or "<none>",
        as_text(status.get("nominatedNodeName")) or "<none>",
        readiness,
    ]
    return cells


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, str]] | None:
    """printPod's row conditions: a Succeeded or Failed pod's row is ``Completed``."""
    phase = as_text(dig(pod, "status", "phase"))
    if phase == "Succeeded":
        return copy.deepcopy(_PODS_SUCCEEDED)
    if phase == "Failed":
        return copy.deepcopy(_PODS_FAILED)
    return None


KIND = Kind(
    ResourceType("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",), ("status", "binding", "log", "eviction"),
                 _FIELDS, return_deleted=True, graceful_deletion=True),
    schema="apimachinery.schemas.pod.Pod",
    structs=MappingProxyType({"metadata": OBJECT_META, **pod_spec_structs("spec"), "status": CORE + "PodStatus"}),
    zero=MappingProxyType({"spec": {"containers": None}}),
    printer=Printer(_COLUMNS, _pod_cells, _pod_conditions),
)
