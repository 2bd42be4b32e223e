"""meta.k8s.io/v1 Table responses, cell for cell like kube-apiserver's printers.

Why: ``kubectl get`` asks the server for a Table and prints its cells as
they come; users compare that output with a real cluster's, so the columns
and every cell string follow pkg/printers/internalversion/printers.go
(``<none>``, ``<pending>``, ``80:30080/TCP``, ``10.0.0.1:80 + 1 more...``,
pod status reasons, Age via duration.HumanDuration).

Invariants:
- Like kube-apiserver, cells are always generated in wide form (priority-1
  columns included); kubectl hides those columns unless ``-o wide``.
- ``len(row["cells"]) == len(table["columnDefinitions"])`` for every row.
- Each row carries ``object`` per ``includeObject`` (PartialObjectMetadata by
  default), which ``kubectl get --sort-by`` and ``-w`` need.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apimachinery.errors import bad_request
from apimachinery.kinds import KIND_BY_KEY
from apimachinery.kinds.base import Printer
from apimachinery.resources import ResourceType
from apimachinery.selectors import from_label_selector_object

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

# SwaggerDoc strings kube-apiserver puts in columnDefinitions[].description
# (from the Kubernetes API reference; clients only display the column names).
_D_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_D_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_D_SVC_TYPE = (
    'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, '
    'ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for '
    "load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by "
    'manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual '
    "IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "
    '"NodePort" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as '
    'the clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in '
    'the current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this '
    "service to the specified externalName. Several other fields do not apply to ExternalName services. More "
    "info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"
)
_D_SVC_CLUSTER_IP = (
    "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified "
    "manually, is in-range (as per system configuration), and is not in use, it will be allocated to the "
    "service; otherwise creation of the service will fail. This field may not be changed through updates "
    "unless the type field is also being changed to ExternalName (which requires this field to be blank) or "
    "the type field is being changed from ExternalName (in which case this field may optionally be "
    'specified, as describe above).  Valid values are "None", empty string (""), or a valid IP address. '
    'Setting this to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint '
    "connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and "
    "LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will "
    "fail. This field will be wiped when updating a Service to type ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
_D_SVC_EXTERNAL_IPS = (
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this "
    "service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic "
    "arrives at a node with this IP.  A common example is external load-balancers that are not part of the "
    "Kubernetes system."
)
_D_SVC_PORTS = (
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
_D_SVC_SELECTOR = (
    "Route service traffic to pods with label keys and values matching this selector. If empty or not "
    "present, the service is assumed to have an external process managing its endpoints, which Kubernetes "
    "will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is "
    "ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/"
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
_D_EP_SUBSETS = (
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to "
    "the IPs they share. A single address with multiple ports, some of which are ready and some of which are "
    "not (because they come from different containers) will result in the address being displayed in "
    "different subsets for the different ports. No address will appear in both Addresses and "
    "NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."
)
_D_EPS_ADDRESS_TYPE = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice "
    "must be the same type. This field is immutable after creation. The following address types are "
    "currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: "
    "Represents a Fully Qualified Domain Name."
)
_D_EPS_PORTS = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a "
    "unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined "
    'with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.'
)
_D_EPS_ENDPOINTS = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."
)
_D_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as "
    "mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is "
    "merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. "
    "Consumers should assume that addresses can change during the lifetime of a Node. However, there are "
    "some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own "
    "status or consumers of the downward API (status.hostIP)."
)
_D_EV_FIELD_PATH = (
    "If referring to a piece of an object instead of an entire object, this string should contain a valid "
    "JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object "
    'reference is to a container within a pod, this would take on a value like: "spec.containers{name}" '
    '(where "name" refers to the name of the container that triggered the event) or if no container name is '
    'specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have '
    "some well-defined way of referencing a part of an object."
)
_D_PARENT_REF = (
    "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a "
    "parent object."
)

_D_DEPLOY_UPDATED = (
    "Total number of non-terminated pods targeted by this deployment that have the desired template spec."
)
_D_DEPLOY_AVAILABLE = (
    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."
)
_D_DEPLOY_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by "
    "this deployment."
)
_D_CONTAINERS = "Names of each container in the template."
_D_IMAGES = "Images referenced by each container in the template."
_D_RS_DESIRED = (
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
    "unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_D_RS_CURRENT = (
    "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_D_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is empty, it is "
    "defaulted to the labels present on the pod template. Label keys and values that must match in order to be "
    "controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)

Column = tuple[str, str, str, str, int]  # name, type, format, description, priority

_NAME: Column = ("Name", "string", "name", _D_NAME, 0)
_AGE: Column = ("Age", "string", "", _D_AGE, 0)

_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Service"): [
        _NAME,
        ("Type", "string", "", _D_SVC_TYPE, 0),
        ("Cluster-IP", "string", "", _D_SVC_CLUSTER_IP, 0),
        ("External-IP", "string", "", _D_SVC_EXTERNAL_IPS, 0),
        ("Port(s)", "string", "", _D_SVC_PORTS, 0),
        _AGE,
        ("Selector", "string", "", _D_SVC_SELECTOR, 1),
    ],
    ("", "Pod"): [
        _NAME,
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
        _AGE,
        ("IP", "string", "", _D_POD_IP, 1),
        ("Node", "string", "", _D_POD_NODE, 1),
        ("Nominated Node", "string", "", _D_POD_NOMINATED, 1),
        ("Readiness Gates", "string", "", _D_POD_GATES, 1),
    ],
    ("", "Endpoints"): [_NAME, ("Endpoints", "string", "", _D_EP_SUBSETS, 0), _AGE],
    ("discovery.k8s.io", "EndpointSlice"): [
        _NAME,
        ("AddressType", "string", "", _D_EPS_ADDRESS_TYPE, 0),
        ("Ports", "string", "", _D_EPS_PORTS, 0),
        ("Endpoints", "string", "", _D_EPS_ENDPOINTS, 0),
        _AGE,
    ],
    ("", "Node"): [
        _NAME,
        ("Status", "string", "", "The status of the node", 0),
        ("Roles", "string", "", "The roles of the node", 0),
        _AGE,
        ("Version", "string", "", "Kubelet Version reported by the node.", 0),
        ("Internal-IP", "string", "", _D_NODE_ADDRESSES, 1),
        ("External-IP", "string", "", _D_NODE_ADDRESSES, 1),
        ("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
        ("Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
        (
            "Container-Runtime",
            "string",
            "",
            "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            1,
        ),
    ],
    ("", "Event"): [
        ("Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0),
        ("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0),
        (
            "Reason",
            "string",
            "",
            "This should be a short, machine understandable string that gives the reason for the transition "
            "into the object's current status.",
            0,
        ),
        ("Object", "string", "", "The object that this event is about.", 0),
        ("Subobject", "string", "", _D_EV_FIELD_PATH, 1),
        ("Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1),
        ("Message", "string", "", "A human-readable description of the status of this operation.", 0),
        ("First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
        ("Count", "string", "", "The number of times this event has occurred.", 1),
        ("Name", "string", "name", _D_NAME, 1),
    ],
    ("networking.k8s.io", "IPAddress"): [_NAME, ("ParentRef", "string", "", _D_PARENT_REF, 0)],
    ("apps", "Deployment"): [
        _NAME,
        ("Ready", "string", "", "Number of the pod with ready state", 0),
        ("Up-to-date", "string", "", _D_DEPLOY_UPDATED, 0),
        ("Available", "string", "", _D_DEPLOY_AVAILABLE, 0),
        _AGE,
        ("Containers", "string", "", _D_CONTAINERS, 1),
        ("Images", "string", "", _D_IMAGES, 1),
        ("Selector", "string", "", _D_DEPLOY_SELECTOR, 1),
    ],
    ("apps", "ReplicaSet"): [
        _NAME,
        ("Desired", "integer", "", _D_RS_DESIRED, 0),
        ("Current", "integer", "", _D_RS_CURRENT, 0),
        ("Ready", "integer", "", "The number of ready replicas for this replica set.", 0),
        _AGE,
        ("Containers", "string", "", _D_CONTAINERS, 1),
        ("Images", "string", "", _D_IMAGES, 1),
        ("Selector", "string", "", _D_RS_SELECTOR, 1),
    ],
}

# The default table convertor's columns for kinds without a printer.
_DEFAULT_COLUMNS: list[Column] = [_NAME, ("Created At", "date", "", _D_AGE, 0)]

_PODS_SUCCEEDED = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]
_PODS_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]

_LOAD_BALANCER_WIDTH = 16
_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
_NODE_ROLE_LABEL = "kubernetes.io/role"


# --- small helpers --------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: ~2-3 significant figures (``45s``, ``5m3s``, ``3h``, ``3d``, ``2y10d``)."""
    secs = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (metav1.Time or MicroTime); None for the zero time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: ``<unknown>`` for a missing time."""
    t = _parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def _d(obj: Any, *path: str) -> Any:
    """obj[path0][path1]...; None when any step is missing or not a dict."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: brackets around IPv6 literals."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]:{port}"
    except ValueError:
        if ":" in host:
            return f"[{host}]:{port}"
    return f"{host}:{port}"


def _list_with_more(items: list[str], more: bool, *, count: int, limit: int) -> str:
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret or "<unset>"


# --- per-kind cells -------------------------------------------------------------------------------


def _service_external_ip(svc: dict[str, Any]) -> str:
    spec = svc.get("spec") or {}
    svc_type = _s(spec.get("type"))
    external_ips = [_s(ip) for ip in _list(spec.get("externalIPs"))]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        found: set[str] = set()
        for ing in _list(_d(svc, "status", "loadBalancer", "ingress")):
            ip, host = _s(_d(ing, "ip")), _s(_d(ing, "hostname"))
            if ip:
                found.add(ip)
            elif host:
                found.add(host)
        lb_ips = ",".join(sorted(found))  # wide: never clipped to 16 bytes
        if external_ips:
            return ",".join([*(lb_ips.split(",") if lb_ips else []), *external_ips])
        return lb_ips or "<pending>"
    if svc_type == "ExternalName":
        return _s(spec.get("externalName"))
    return "<unknown>"


def _service_ports(ports: list[Any]) -> str:
    """makePortString: ``80/TCP,443:30443/TCP``."""
    pieces: list[str] = []
    for p in ports:
        port, proto, node_port = _int(_d(p, "port")), _s(_d(p, "protocol")), _int(_d(p, "nodePort"))
        pieces.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return ",".join(pieces)


def _service_cells(svc: dict[str, Any], now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = _list(spec.get("clusterIPs"))
    if cluster_ips:
        internal_ip = _s(cluster_ips[0])
    elif _s(spec.get("clusterIP")):
        internal_ip = _s(spec.get("clusterIP"))
    elif _s(spec.get("type")) != "ExternalName":
        # kubelite allocates ClusterIPs asynchronously (DESIGN.md); until then the
        # address is pending. kube-apiserver never shows this state.
        internal_ip = "<pending>"
    else:
        internal_ip = "<none>"
    ports = _service_ports(_list(spec.get("ports"))) or "<none>"
    return [
        _s(_d(svc, "metadata", "name")),
        _s(spec.get("type")),
        internal_ip,
        _service_external_ip(svc),
        ports,
        _since(_d(svc, "metadata", "creationTimestamp"), now),
        format_labels(spec.get("selector")),
    ]


def _is_restartable_init(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _has_condition(conditions: Any, ctype: str) -> bool:
    """True when the first condition of ``ctype`` has status True."""
    for c in _list(conditions):
        if _d(c, "type") == ctype:
            return bool(_d(c, "status") == "True")
    return False


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    t = _parse_time(candidate)
    if t is None:
        return current
    return t if current is None or current < t else current


def _pod_cells(pod: dict[str, Any], now: datetime) -> tuple[list[Any], list[dict[str, str]] | None]:
    """printPod: Ready, Status reason, Restarts (with ``(5m ago)``), wide IP/Node columns."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = _list(spec.get("initContainers"))
    restarts = 0
    restartable_restarts = 0
    total = len(_list(spec.get("containers")))
    ready = 0
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None

    phase = _s(status.get("phase"))
    reason = _s(status.get("reason")) or phase
    for cond in _list(status.get("conditions")):
        if _d(cond, "type") == "PodScheduled" and _d(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    conditions: list[dict[str, str]] | None = None
    if phase == "Succeeded":
        conditions = copy.deepcopy(_PODS_SUCCEEDED)
    elif phase == "Failed":
        conditions = copy.deepcopy(_PODS_FAILED)

    init_by_name: dict[str, Any] = {}
    for c in init_specs:
        init_by_name[_s(_d(c, "name"))] = c
        if _is_restartable_init(c):
            total += 1

    initializing = False
    for i, cs in enumerate(_list(status.get("initContainerStatuses"))):
        restarts += _int(_d(cs, "restartCount"))
        last_restart = _later(last_restart, _d(cs, "lastState", "terminated", "finishedAt"))
        restartable = _is_restartable_init(init_by_name.get(_s(_d(cs, "name"))))
        if restartable:
            restartable_restarts += _int(_d(cs, "restartCount"))
            last_restartable_restart = _later(
                last_restartable_restart, _d(cs, "lastState", "terminated", "finishedAt")
            )
        terminated = _d(cs, "state", "terminated")
        waiting = _d(cs, "state", "waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and _d(cs, "started") is True:
            if _d(cs, "ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not _s(terminated.get("reason")):
                if _int(terminated.get("signal")) != 0:
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + _s(terminated.get("reason"))
        elif isinstance(waiting, dict) and _s(waiting.get("reason")) and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + _s(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(status.get("conditions"), "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(_d(cs, "restartCount"))
            last_restart = _later(last_restart, _d(cs, "lastState", "terminated", "finishedAt"))
            terminated = _d(cs, "state", "terminated")
            waiting = _d(cs, "state", "waiting")
            if isinstance(waiting, dict) and _s(waiting.get("reason")):
                reason = _s(waiting.get("reason"))
            elif isinstance(terminated, dict) and _s(terminated.get("reason")):
                reason = _s(terminated.get("reason"))
            elif isinstance(terminated, dict):
                if _int(terminated.get("signal")) != 0:
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif _d(cs, "ready") is True and isinstance(_d(cs, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status.get("conditions"), "Ready") else "NotReady"

    deleting = _d(pod, "metadata", "deletionTimestamp") is not None
    if deleting and _s(status.get("reason")) == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_str = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = _list(status.get("podIPs"))
    pod_ip = _s(_d(pod_ips[0], "ip")) if pod_ips else ""
    gates = _list(spec.get("readinessGates"))
    readiness = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for cond in _list(status.get("conditions")):
                if _d(cond, "type") == _d(gate, "conditionType"):
                    if _d(cond, "status") == "True":
                        true_count += 1
                    break
        readiness = f"{true_count}/{len(gates)}"
    cells: list[Any] = [
        _s(_d(pod, "metadata", "name")),
        f"{ready}/{total}",
        reason,
        restarts_str,
        _since(_d(pod, "metadata", "creationTimestamp"), now),
        pod_ip or "<none>",
        _s(spec.get("nodeName")) or "<none>",
        _s(status.get("nominatedNodeName")) or "<none>",
        readiness,
    ]
    return cells, conditions


def format_endpoints(endpoints: dict[str, Any]) -> str:
    """formatEndpoints: up to three ``ip:port`` then `` + N more...``; ``<none>`` without subsets."""
    subsets = _list(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = _list(_d(ss, "addresses"))
        ports = _list(_d(ss, "ports"))
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_s(_d(addr, "ip")))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(_s(_d(addr, "ip")), _int(_d(port, "port"))))
    ret = ",".join(shown)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


def _slice_ports(ports: list[Any]) -> str:
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for p in ports:
        if len(shown) < limit:
            if isinstance(_d(p, "port"), int):
                shown.append(str(_d(p, "port")))
            elif isinstance(_d(p, "name"), str):
                shown.append(_s(_d(p, "name")))
            else:
                shown.append("*")
        elif len(shown) == limit:
            more = True
        count += 1
    return _list_with_more(shown, more, count=count, limit=limit)


def _slice_endpoints(endpoints: list[Any]) -> str:
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ep in endpoints:
        for address in _list(_d(ep, "addresses")):
            if len(shown) < limit:
                shown.append(_s(address))
            elif len(shown) == limit:
                more = True
            count += 1
    return _list_with_more(shown, more, count=count, limit=limit)


def _node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
    status = node.get("status") or {}
    states: list[str] = []
    for cond in _list(status.get("conditions")):
        if _d(cond, "type") == "Ready":
            states = ["Ready" if _d(cond, "status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if _d(node, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    labels = _d(node, "metadata", "labels")
    for k, v in (labels.items() if isinstance(labels, dict) else []):
        if k.startswith(_NODE_ROLE_PREFIX) and k[len(_NODE_ROLE_PREFIX) :]:
            roles.add(k[len(_NODE_ROLE_PREFIX) :])
        elif k == _NODE_ROLE_LABEL and v:
            roles.add(v)

    def address(kind: str) -> str:
        for a in _list(status.get("addresses")):
            if _d(a, "type") == kind:
                return _s(_d(a, "address"))
        return "<none>"

    info = status.get("nodeInfo") or {}
    return [
        _s(_d(node, "metadata", "name")),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _since(_d(node, "metadata", "creationTimestamp"), now),
        _s(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        _s(info.get("osImage")) or "<unknown>",
        _s(info.get("kernelVersion")) or "<unknown>",
        _s(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


def _event_cells(ev: dict[str, Any], now: datetime) -> list[Any]:
    first = _since(ev.get("firstTimestamp"), now)
    if _parse_time(ev.get("firstTimestamp")) is None:
        first = _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now)
    if _parse_time(ev.get("lastTimestamp")) is None:
        last = first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    kind = _s(_d(ev, "involvedObject", "kind")).lower()
    name = _s(_d(ev, "involvedObject", "name"))
    target = f"{kind}/{name}" if name else kind
    component = _s(_d(ev, "source", "component")) or _s(ev.get("reportingComponent"))
    host = _s(_d(ev, "source", "host")) or _s(ev.get("reportingInstance"))
    source = f"{component}, {host}" if host else component
    return [
        last,
        _s(ev.get("type")),
        _s(ev.get("reason")),
        target,
        _s(_d(ev, "involvedObject", "fieldPath")),
        source,
        _s(ev.get("message")).strip(),
        first,
        count,
        _s(_d(ev, "metadata", "name")),
    ]


def _ip_address_cells(ip: dict[str, Any], now: datetime) -> list[Any]:
    ref = _d(ip, "spec", "parentRef")
    parent = "<none>"
    if isinstance(ref, dict):
        group, resource = _s(ref.get("group")), _s(ref.get("resource"))
        parent = (f"{resource}.{group}" if group else resource).lower()
        if _s(ref.get("namespace")):
            parent += "/" + _s(ref.get("namespace"))
        parent += "/" + _s(ref.get("name"))
    # kube-apiserver also appends an Age cell without a column; kubectl drops it, so do we.
    return [_s(_d(ip, "metadata", "name")), parent]


def _container_cells(template: Any) -> list[str]:
    """layoutContainerCells: container names and images, comma-joined."""
    containers = _list(_d(template, "spec", "containers"))
    return [",".join(_s(_d(c, "name")) for c in containers), ",".join(_s(_d(c, "image")) for c in containers)]


def _selector_string(selector: Any, *, empty: str) -> str | None:
    """metav1.LabelSelectorAsSelector(...).String(); None when it does not parse."""
    try:
        text = str(from_label_selector_object(selector if isinstance(selector, dict) else None))
    except Exception:
        return None
    return text or empty


def _deployment_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printDeployment: READY is ready/desired; UP-TO-DATE and AVAILABLE are integers."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = _selector_string(spec.get("selector"), empty="")
    return [
        _s(_d(obj, "metadata", "name")),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _since(_d(obj, "metadata", "creationTimestamp"), now),
        *_container_cells(spec.get("template")),
        "<invalid>" if selector is None else selector,
    ]


def _replica_set_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printReplicaSet: the selector through metav1.FormatLabelSelector (``<none>``, ``<error>``)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = _selector_string(spec.get("selector"), empty="<none>")
    return [
        _s(_d(obj, "metadata", "name")),
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _since(_d(obj, "metadata", "creationTimestamp"), now),
        *_container_cells(spec.get("template")),
        "<error>" if selector is None else selector,
    ]


def _default_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    t = _parse_time(_d(obj, "metadata", "creationTimestamp"))
    created = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "0001-01-01T00:00:00Z"
    return [_s(_d(obj, "metadata", "name")), created]


def _name_age(extra: Callable[[dict[str, Any]], list[Any]]) -> Callable[[dict[str, Any], datetime], list[Any]]:
    """Cells ``[name, *extra(obj), age]`` for the many kinds printed that way."""

    def cells(obj: dict[str, Any], now: datetime) -> list[Any]:
        return [_s(_d(obj, "metadata", "name")), *extra(obj), _since(_d(obj, "metadata", "creationTimestamp"), now)]

    return cells


def _printer(rt: ResourceType) -> Printer | None:
    """The kind's declared Printer; None for kube's default columns (also for a type not served)."""
    kind = KIND_BY_KEY.get(rt.key)
    return kind.printer if kind else None


def _printed(printer: Printer) -> Callable[[dict[str, Any], datetime], list[Any]]:
    """A kind's declared Printer (apimachinery.kinds) as a row: name, its cells, age."""
    return _name_age(printer.cells)


_CELLS: dict[tuple[str, str], Callable[[dict[str, Any], datetime], list[Any]]] = {
    ("", "Service"): _service_cells,
    ("", "Endpoints"): _name_age(lambda o: [format_endpoints(o)]),
    ("discovery.k8s.io", "EndpointSlice"): _name_age(
        lambda o: [_s(o.get("addressType")), _slice_ports(_list(o.get("ports"))), _slice_endpoints(_list(o.get("endpoints")))]
    ),
    ("", "Node"): _node_cells,
    ("", "Event"): _event_cells,
    ("networking.k8s.io", "IPAddress"): _ip_address_cells,
    ("apps", "Deployment"): _deployment_cells,
    ("apps", "ReplicaSet"): _replica_set_cells,
}


# --- the Table ------------------------------------------------------------------------------------


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """kube-apiserver's TableColumnDefinitions for a kind (all five fields, as Go emits them)."""
    printer = _printer(rt)
    cols = [_NAME, *printer.columns, _AGE] if printer else _COLUMNS.get((rt.group, rt.kind), _DEFAULT_COLUMNS)
    return [
        {"name": n, "type": t, "format": f, "description": d, "priority": p} for n, t, f, d, p in cols
    ]


def _row_object(rt: ResourceType, obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        full = copy.deepcopy(obj)
        if "apiVersion" not in full or "kind" not in full:
            full = {"apiVersion": rt.api_version, "kind": rt.kind, **full}
        return full
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(obj.get("metadata") or {}),
    }


def to_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of ``objects`` (all of kind ``rt``).

    ``include_object`` is the ``includeObject`` query value: ``Metadata``
    (default, also for ""), ``Object`` or ``None``; anything else is a 400
    like kube-apiserver's. ``list_meta`` becomes the Table's metadata (a
    list's resourceVersion/continue); when omitted for a single object (GET
    or a watch event) the object's resourceVersion is used.
    """
    if include_object == "":
        include_object = "Metadata"
    if include_object not in ("Metadata", "Object", "None"):
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    now = now or datetime.now(UTC)
    key = (rt.group, rt.kind)
    if list_meta is None:
        rv = _d(objects[0], "metadata", "resourceVersion") if len(objects) == 1 else None
        list_meta = {"resourceVersion": rv} if isinstance(rv, str) and rv else {}
    rows: list[dict[str, Any]] = []
    printer = _printer(rt)
    row_cells = _printed(printer) if printer else _CELLS.get(key, _default_cells)
    for obj in objects:
        conditions: list[dict[str, str]] | None = None
        if key == ("", "Pod"):
            cells, conditions = _pod_cells(obj, now)
        else:
            cells = row_cells(obj, now)
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row_object = _row_object(rt, obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta),
        "columnDefinitions": column_definitions(rt),
        "rows": rows,
    }


def wants_table(accept_header: str) -> tuple[bool, str]:
    """(answer a Table?, Content-Type to answer with).

    Only when the FIRST Accept entry is JSON asking
    ``as=Table;v=v1;g=meta.k8s.io`` (in any parameter order): kubectl puts
    that first for human output and plain ``application/json`` first for
    ``-o yaml|json|name``; other clients send plain JSON.
    """
    first = (accept_header or "").split(",")[0]
    pieces = [p.strip() for p in first.split(";")]
    media = pieces[0].lower()
    params: dict[str, str] = {}
    for p in pieces[1:]:
        key, sep, value = p.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    if media in ("application/json", "application/*", "*/*") and (
        params.get("as"),
        params.get("v"),
        params.get("g"),
    ) == ("Table", "v1", "meta.k8s.io"):
        return True, TABLE_CONTENT_TYPE
    return False, "application/json"
