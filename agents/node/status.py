"""The status a kubelet would post for a Pod and for its Node: pure functions.

Why pure: whether a write is needed is "computed status != current status",
which only works when the computation is a function of the objects (and of
``now``, used only for fields that change: a condition's
lastTransitionTime moves only when its status does).

Pod readiness (pkg/kubelet/status/generate.go): in the simulated runtime a
container is ready unless the Pod is terminating or carries
``kubelite.io/ready: "false"`` (the knob tests and users turn to play
failures); with the process runtime the container statuses and the phase
are what the runtime ``Observed`` (probes decide readiness). ContainersReady
is all containers ready; Ready additionally needs every
``spec.readinessGates`` condition "True" (conditions other writers own are
kept untouched); a finished Pod (Succeeded/Failed) is not ready, reason
PodCompleted. Messages are the kubelet's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apimachinery.objects import as_list, as_map

Obj = dict[str, Any]

READY_ANNOTATION = "kubelite.io/ready"
OWNED_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
NODE_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    # type, healthy status, reason, message (kubelet's setters)
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
DEFAULT_KUBELET_PORT = 10250
NODE_STATUS_UNKNOWN = "NodeStatusUnknown"
NODE_STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status."


def go_list(names: list[str]) -> str:
    """Go's %s of a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def condition(conditions: Any, ctype: str) -> Obj | None:
    for c in as_list(conditions):
        if as_map(c).get("type") == ctype:
            return as_map(c)
    return None


def _with_transition(new: Obj, old: Obj | None, now: str) -> Obj:
    """Keep lastTransitionTime while the status is unchanged (and the old one had it)."""
    if old is not None and old.get("status") == new.get("status") and old.get("lastTransitionTime"):
        new["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        new["lastTransitionTime"] = now
    return new


def containers_held_unready(pod: Mapping[str, Any]) -> bool:
    meta = as_map(pod.get("metadata"))
    annotations = as_map(meta.get("annotations"))
    return meta.get("deletionTimestamp") is not None or str(annotations.get(READY_ANNOTATION, "")).lower() == "false"


def container_id(pod: Mapping[str, Any], name: str) -> str:
    uid = str(as_map(pod.get("metadata")).get("uid") or "")
    return "kubelite://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()[:32]


def _container_status(pod: Mapping[str, Any], container: Mapping[str, Any], old: Obj | None, *, ready: bool,
                      started_at: str) -> Obj:
    running = as_map(as_map((old or {}).get("state")).get("running"))
    name = str(container.get("name") or "")
    image = str(container.get("image") or "")
    return {
        "name": name,
        "state": {"running": {"startedAt": running.get("startedAt") or started_at}},
        "ready": ready,
        "restartCount": int((old or {}).get("restartCount") or 0),
        "image": image,
        "imageID": image,
        "containerID": container_id(pod, name),
        "started": True,
    }


def init_container_status(pod: Mapping[str, Any], container: Mapping[str, Any], old: Obj | None, *, ready: bool,
                 started_at: str) -> Obj:
    if container.get("restartPolicy") == "Always":  # a sidecar runs alongside the containers
        return _container_status(pod, container, old, ready=ready, started_at=started_at)
    name = str(container.get("name") or "")
    image = str(container.get("image") or "")
    return {
        "name": name,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started_at,
                                 "finishedAt": started_at, "containerID": container_id(pod, name)}},
        "ready": True,
        "restartCount": 0,
        "image": image,
        "imageID": image,
        "containerID": container_id(pod, name),
        "started": False,
    }


@dataclass
class Observed:
    """What a real runtime saw: container statuses in API form and the Pod phase it implies."""

    containers: list[Obj] = field(default_factory=list)
    init_containers: list[Obj] = field(default_factory=list)
    phase: str = "Pending"


def _init_incomplete(init_statuses: list[Obj]) -> list[str]:
    """Init containers not done: a regular one that has not exited 0, a sidecar that has not started."""
    out = []
    for s in init_statuses:
        term = as_map(as_map(s.get("state")).get("terminated"))
        if "running" in as_map(s.get("state")) and s.get("started"):
            continue
        if term and term.get("exitCode") == 0:
            continue
        out.append(str(s.get("name")))
    return out


def _waiting_status(container: Mapping[str, Any], old: Obj | None, reason: str, message: str) -> Obj:
    image = str(container.get("image") or "")
    waiting: Obj = {"reason": reason}
    if message:
        waiting["message"] = message
    return {"name": str(container.get("name") or ""), "state": {"waiting": waiting}, "lastState": {},
            "ready": False, "restartCount": int((old or {}).get("restartCount") or 0), "image": image,
            "imageID": "", "started": False}


def pod_status(pod: Mapping[str, Any], *, pod_ip: str, host_ip: str, now: str,
               observed: Observed | None = None, waiting: Mapping[str, tuple[str, str]] | None = None) -> Obj:
    """The full status of a Pod on this node (``pod_ip`` allocated, ``now`` as RFC 3339).

    Without ``observed`` (the simulated runtime) every container runs,
    except those ``waiting`` names (container -> (reason, message), e.g. a
    CreateContainerConfigError): they wait and keep the Pod Pending; with
    ``observed``, the containers, init containers and phase are the runtime's.
    """
    old = as_map(pod.get("status"))
    spec = as_map(pod.get("spec"))
    old_conds = as_list(old.get("conditions"))
    start = str(old.get("startTime") or now)
    unready = containers_held_unready(pod)

    phase = "Running"
    initialized: Obj = {"type": "Initialized", "status": "True"}
    if observed is None:
        by_name = {str(as_map(c).get("name")): as_map(c) for c in as_list(old.get("containerStatuses"))}
        statuses = [_container_status(pod, as_map(c), by_name.get(str(as_map(c).get("name"))), ready=not unready,
                                      started_at=start) for c in as_list(spec.get("containers"))]
        old_init = {str(as_map(c).get("name")): as_map(c) for c in as_list(old.get("initContainerStatuses"))}
        init_statuses = [init_container_status(pod, as_map(c), old_init.get(str(as_map(c).get("name"))), ready=not unready,
                                      started_at=start) for c in as_list(spec.get("initContainers"))]
        if waiting:
            statuses = [_waiting_status(as_map(c), by_name.get(s["name"]), *waiting[s["name"]])
                        if s["name"] in waiting else s for c, s in zip(as_list(spec.get("containers")), statuses,
                                                                        strict=True)]
            init_statuses = [_waiting_status(as_map(c), old_init.get(s["name"]), *waiting[s["name"]])
                             if s["name"] in waiting else s
                             for c, s in zip(as_list(spec.get("initContainers")), init_statuses, strict=True)]
            phase = "Pending"
            incomplete = _init_incomplete(init_statuses)
            if incomplete:
                initialized = {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                               "message": f"containers with incomplete status: {go_list(incomplete)}"}
    else:
        statuses, init_statuses, phase = observed.containers, observed.init_containers, observed.phase
        incomplete = _init_incomplete(init_statuses)
        if incomplete:
            initialized = {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                           "message": f"containers with incomplete status: {go_list(incomplete)}"}

    unready_names = [s["name"] for s in init_statuses if s["started"] and not s["ready"]]
    unready_names += [s["name"] for s in statuses if not s["ready"]]
    containers_ready: Obj = {"type": "ContainersReady", "status": "True"}
    if phase in ("Succeeded", "Failed"):
        containers_ready = {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"}
    elif unready_names:
        containers_ready = {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                            "message": f"containers with unready status: {go_list(unready_names)}"}
    if phase in ("Succeeded", "Failed"):
        ready: Obj = {"type": "Ready", "status": "False", "reason": "PodCompleted"}
    elif containers_ready["status"] != "True":
        ready = {"type": "Ready", "status": "False", "reason": containers_ready["reason"],
                 "message": containers_ready["message"]}
    else:
        gate_msgs: list[str] = []
        for gate in as_list(spec.get("readinessGates")):
            gtype = str(as_map(gate).get("conditionType") or "")
            c = condition(old_conds, gtype)
            if c is None:
                gate_msgs.append(f'corresponding condition of pod readiness gate "{gtype}" does not exist.')
            elif c.get("status") != "True":
                gate_msgs.append(f'the status of pod readiness gate "{gtype}" is not "True", but {c.get("status")}')
        ready = {"type": "Ready", "status": "True"}
        if gate_msgs:
            ready = {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady",
                     "message": ", ".join(gate_msgs)}

    owned = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        initialized,
        ready,
        containers_ready,
        {"type": "PodScheduled", "status": "True"},
    ]
    conditions = [_with_transition(dict(c), condition(old_conds, c["type"]), now) for c in owned]
    conditions += [as_map(c) for c in old_conds if as_map(c).get("type") not in OWNED_POD_CONDITIONS]

    status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start,
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items()
                if k not in ("lastTransitionTime", "lastProbeTime", "lastHeartbeatTime")}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def same_status(a: Any, b: Any) -> bool:
    """Equal but for condition timestamps (a write for a timestamp alone is a wasted write)."""
    return bool(_without_times(a) == _without_times(b))


def ready_status(pod: Mapping[str, Any]) -> str:
    c = condition(as_map(pod.get("status")).get("conditions"), "Ready")
    return str(c.get("status")) if c else ""


def mark_pod_not_ready(pod: Mapping[str, Any], *, now: str) -> Obj | None:
    """MarkPodsNotReady: the Pod's status with Ready "False" (None when it is not "True")."""
    status = dict(as_map(pod.get("status")))
    conds = [dict(as_map(c)) for c in as_list(status.get("conditions"))]
    changed = False
    for c in conds:
        if c.get("type") == "Ready" and c.get("status") == "True":
            c["status"] = "False"
            c["lastTransitionTime"] = now
            changed = True
    if not changed:
        return None
    status["conditions"] = conds
    return status


# ---------------------------------------------------------------------------
# Node
# ---------------------------------------------------------------------------


def node_conditions(old: Any, *, now: str) -> list[Obj]:
    """The healthy kubelet conditions, lastTransitionTime kept where the status did not change."""
    out = []
    for ctype, status, reason, message in NODE_CONDITIONS:
        c: Obj = {"type": ctype, "status": status, "lastHeartbeatTime": now, "reason": reason, "message": message}
        out.append(_with_transition(c, condition(old, ctype), now))
    return out


def unknown_node_conditions(old: Any, *, now: str) -> list[Obj]:
    """The node lifecycle controller's view of a silent kubelet: every kubelet condition Unknown."""
    out = []
    for ctype, _status, _reason, _message in NODE_CONDITIONS:
        prev = condition(old, ctype) or {}
        c: Obj = {"type": ctype, "status": "Unknown", "reason": NODE_STATUS_UNKNOWN,
                  "message": NODE_STATUS_UNKNOWN_MESSAGE}
        if prev.get("lastHeartbeatTime"):
            c["lastHeartbeatTime"] = prev["lastHeartbeatTime"]
        out.append(_with_transition(c, prev or None, now))
    known = {t for t, *_ in NODE_CONDITIONS}
    out += [as_map(c) for c in as_list(old) if as_map(c).get("type") not in known]
    return out


def node_ready(node: Mapping[str, Any]) -> bool:
    c = condition(as_map(node.get("status")).get("conditions"), "Ready")
    return c is not None and c.get("status") == "True"


def node_object(
    name: str,
    *,
    pod_cidr: str,
    address: str,
    now: str,
    zone: str | None = None,
    max_pods: int = 110,
    cpu: str = "8",
    memory: str = "16Gi",
    kubelet_port: int = DEFAULT_KUBELET_PORT,
    version: str,
) -> Obj:
    """The Node a kubelet registers: labels, podCIDR, addresses, capacity, Ready, the kubelet's port, its version."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    capacity = {"cpu": cpu, "memory": memory, "pods": str(max_pods), "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": node_status({}, hostname=name, address=address, now=now, capacity=capacity,
                              kubelet_port=kubelet_port, version=version),
    }


def node_status(old: Mapping[str, Any], *, hostname: str, address: str, now: str,
                capacity: Mapping[str, str], kubelet_port: int = DEFAULT_KUBELET_PORT, version: str) -> Obj:
    """The Node status a healthy kubelet posts.

    ``version`` is the API server's /version gitVersion, read by the agent at
    start (the release lives once, in the API server): a kubelet reports its
    own build, and kubelite's agent is the server's release. v1.32's kubelet
    still fills the deprecated kubeProxyVersion (DisableNodeKubeProxyVersion
    is off by default since 1.31.1), so it carries the same version.
    """
    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": node_conditions(as_map(old).get("conditions"), now=now),
        "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": hostname}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "kubelite",
            "containerRuntimeVersion": "kubelite://0.1.0", "kubeletVersion": version,
            "kubeProxyVersion": version, "operatingSystem": "linux", "architecture": "amd64",
        },
    }
