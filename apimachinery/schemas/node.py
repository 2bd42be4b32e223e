"""core/v1 Node: spec (pod CIDRs, taints) and status (addresses, conditions, capacity).

Why: the node agent registers and heartbeats its Node, the IPAM side reads
podCIDR(s), and ``kubectl get nodes -o wide`` reads addresses and nodeInfo.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    ConditionStatus,
    GoType,
    Int32,
    Int64,
    Object,
    ResourceList,
    Schema,
    StringList,
    Time,
    json_name,
)
from apimachinery.schemas.meta import TopLevel


class Taint(Schema):
    key: str | None = None
    value: str | None = None
    effect: Annotated[str, GoType("v1.TaintEffect")] | None = None
    time_added: Time | None = None


class NodeSpec(Schema):
    pod_cidr: str | None = json_name("podCIDR")
    pod_cidrs: StringList | None = json_name("podCIDRs")
    provider_id: str | None = json_name("providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: Annotated[Object, GoType("v1.NodeConfigSource")] | None = None
    external_id: str | None = json_name("externalID")


class NodeCondition(Schema):
    type: Annotated[str, GoType("v1.NodeConditionType")] | None = None
    status: ConditionStatus | None = None
    last_heartbeat_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(Schema):
    type: Annotated[str, GoType("v1.NodeAddressType")] | None = None
    address: str | None = None


class DaemonEndpoint(Schema):
    port: Int32 | None = json_name("Port")


class NodeDaemonEndpoints(Schema):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(Schema):
    machine_id: str | None = json_name("machineID")
    system_uuid: str | None = json_name("systemUUID")
    boot_id: str | None = json_name("bootID")
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None
    swap: Annotated[Object, GoType("v1.NodeSwapStatus")] | None = None


class ContainerImage(Schema):
    names: StringList | None = None
    size_bytes: Int64 | None = None


class NodeStatus(Schema):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: Annotated[str, GoType("v1.NodePhase")] | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumes_in_use: StringList | None = None
    volumes_attached: list[Annotated[Object, GoType("v1.AttachedVolume")]] | None = None
    config: Annotated[Object, GoType("v1.NodeConfigStatus")] | None = None
    runtime_handlers: list[Annotated[Object, GoType("v1.NodeRuntimeHandler")]] | None = None
    features: Annotated[Object, GoType("v1.NodeFeatures")] | None = None
    declared_features: StringList | None = None


class Node(TopLevel):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None
