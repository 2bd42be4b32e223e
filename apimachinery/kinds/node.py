"""core/v1 Node (pkg/registry/core/node)."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, as_text, dig, since
from apimachinery.kinds.tags import CORE
from apimachinery.selectors import bool_field_at

_D_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as "
    "mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is "
    "merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. "
    "Consumers should assume that addresses can change during the lifetime of a Node. However, there are "
    "some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own "
    "status or consumers of the downward API (status.hostIP)."
)

_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"

_NODE_ROLE_LABEL = "kubernetes.io/role"


_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Status", "string", "", "The status of the node", 0),
    ("Roles", "string", "", "The roles of the node", 0),
    AGE,
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
)


def _node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
    status = node.get("status") or {}
    states: list[str] = []
    for cond in as_items(status.get("conditions")):
        if dig(cond, "type") == "Ready":
            states = ["Ready" if dig(cond, "status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if dig(node, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    labels = dig(node, "metadata", "labels")
    for k, v in (labels.items() if isinstance(labels, dict) else []):
        if k.startswith(_NODE_ROLE_PREFIX) and k[len(_NODE_ROLE_PREFIX) :]:
            roles.add(k[len(_NODE_ROLE_PREFIX) :])
        elif k == _NODE_ROLE_LABEL and v:
            roles.add(v)

    def address(kind: str) -> str:
        for a in as_items(status.get("addresses")):
            if dig(a, "type") == kind:
                return as_text(dig(a, "address"))
        return "<none>"

    info = status.get("nodeInfo") or {}
    return [
        as_text(dig(node, "metadata", "name")),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        since(dig(node, "metadata", "creationTimestamp"), now),
        as_text(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        as_text(info.get("osImage")) or "<unknown>",
        as_text(info.get("kernelVersion")) or "<unknown>",
        as_text(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


KIND = Kind(
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",),
                 (("spec.unschedulable", bool_field_at("spec.unschedulable")),),
                 allow_create_on_update=True),
    schema="apimachinery.schemas.node.Node",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "NodeSpec", "status": CORE + "NodeStatus"}),
    printer=Printer(_COLUMNS, _node_cells),
)
