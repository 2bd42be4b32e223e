"""core/v1 Pod: PodSpec, Container, PodStatus.

Why this depth: the endpoints controller, the node agent and kubectl read
containers (ports, probes, resources), readiness gates, hostname/subdomain,
and status (phase, conditions, podIP(s), containerStatuses), so those are
typed field by field. Volumes, affinity, security contexts and lifecycle
hooks are typed loosely (any object) but keep their Go type names for
error messages.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    ConditionStatus,
    GoType,
    Int32,
    Int64,
    IntOrString,
    Object,
    Protocol,
    Quantity,
    ResourceList,
    Schema,
    StringList,
    StringMap,
    Time,
    json_name,
)
from apimachinery.schemas.core import LocalObjectReference
from apimachinery.schemas.meta import TopLevel

# --- containers ----------------------------------------------------------------


class ContainerPort(Schema):
    name: str | None = None
    host_port: Int32 | None = None
    container_port: Int32 | None = None
    protocol: Protocol | None = None
    host_ip: str | None = json_name("hostIP")


class ObjectFieldSelector(Schema):
    api_version: str | None = None
    field_path: str | None = None


class ResourceFieldSelector(Schema):
    container_name: str | None = None
    resource: str | None = None
    divisor: Quantity | None = None


class ConfigMapKeySelector(Schema):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class SecretKeySelector(Schema):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class EnvVarSource(Schema):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: Annotated[Object, GoType("v1.FileKeySelector")] | None = None


class EnvVar(Schema):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class ConfigMapEnvSource(Schema):
    name: str | None = None
    optional: bool | None = None


class SecretEnvSource(Schema):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(Schema):
    prefix: str | None = None
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


class ResourceClaim(Schema):
    name: str | None = None
    request: str | None = None


class ResourceRequirements(Schema):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[ResourceClaim] | None = None


class ContainerResizePolicy(Schema):
    resource_name: Annotated[str, GoType("v1.ResourceName")] | None = None
    restart_policy: Annotated[str, GoType("v1.ResourceResizeRestartPolicy")] | None = None


class VolumeMount(Schema):
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: Annotated[str, GoType("v1.RecursiveReadOnlyMode")] | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    mount_propagation: Annotated[str, GoType("v1.MountPropagationMode")] | None = None
    sub_path_expr: str | None = None


class VolumeDevice(Schema):
    name: str | None = None
    device_path: str | None = None


class ExecAction(Schema):
    command: StringList | None = None


class HTTPHeader(Schema):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(Schema):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: Annotated[str, GoType("v1.URIScheme")] | None = None
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(Schema):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(Schema):
    port: Int32 | None = None
    service: str | None = None


class Probe(Schema):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None
    termination_grace_period_seconds: Int64 | None = None


class Container(Schema):
    name: str | None = None
    image: str | None = None
    command: StringList | None = None
    args: StringList | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resize_policy: list[ContainerResizePolicy] | None = None
    restart_policy: Annotated[str, GoType("v1.ContainerRestartPolicy")] | None = None
    restart_policy_rules: list[Annotated[Object, GoType("v1.ContainerRestartRule")]] | None = None
    volume_mounts: list[VolumeMount] | None = None
    volume_devices: list[VolumeDevice] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Annotated[Object, GoType("v1.Lifecycle")] | None = None
    termination_message_path: str | None = None
    termination_message_policy: Annotated[str, GoType("v1.TerminationMessagePolicy")] | None = None
    image_pull_policy: Annotated[str, GoType("v1.PullPolicy")] | None = None
    security_context: Annotated[Object, GoType("v1.SecurityContext")] | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


class EphemeralContainer(Container):
    target_container_name: str | None = None


# --- pod spec ------------------------------------------------------------------


class Toleration(Schema):
    key: str | None = None
    operator: Annotated[str, GoType("v1.TolerationOperator")] | None = None
    value: str | None = None
    effect: Annotated[str, GoType("v1.TaintEffect")] | None = None
    toleration_seconds: Int64 | None = None


class HostAlias(Schema):
    ip: str | None = None
    hostnames: StringList | None = None


class PodDNSConfigOption(Schema):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(Schema):
    nameservers: StringList | None = None
    searches: StringList | None = None
    options: list[PodDNSConfigOption] | None = None


class PodReadinessGate(Schema):
    condition_type: Annotated[str, GoType("v1.PodConditionType")] | None = None


class PodOS(Schema):
    name: Annotated[str, GoType("v1.OSName")] | None = None


class PodSchedulingGate(Schema):
    name: str | None = None


class PodSpec(Schema):
    volumes: list[Annotated[Object, GoType("v1.Volume")]] | None = None
    init_containers: list[Container] | None = None
    containers: list[Container] | None = None
    ephemeral_containers: list[EphemeralContainer] | None = None
    restart_policy: Annotated[str, GoType("v1.RestartPolicy")] | None = None
    termination_grace_period_seconds: Int64 | None = None
    active_deadline_seconds: Int64 | None = None
    dns_policy: Annotated[str, GoType("v1.DNSPolicy")] | None = None
    node_selector: StringMap | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = json_name("hostPID")
    host_ipc: bool | None = json_name("hostIPC")
    share_process_namespace: bool | None = None
    security_context: Annotated[Object, GoType("v1.PodSecurityContext")] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Annotated[Object, GoType("v1.Affinity")] | None = None
    scheduler_name: str | None = None
    tolerations: list[Toleration] | None = None
    host_aliases: list[HostAlias] | None = None
    priority_class_name: str | None = None
    priority: Int32 | None = None
    dns_config: PodDNSConfig | None = None
    readiness_gates: list[PodReadinessGate] | None = None
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: Annotated[str, GoType("v1.PreemptionPolicy")] | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[Annotated[Object, GoType("v1.TopologySpreadConstraint")]] | None = None
    set_hostname_as_fqdn: bool | None = json_name("setHostnameAsFQDN")
    os: PodOS | None = None
    host_users: bool | None = None
    scheduling_gates: list[PodSchedulingGate] | None = None
    resource_claims: list[Annotated[Object, GoType("v1.PodResourceClaim")]] | None = None
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None


# --- pod status ----------------------------------------------------------------


class PodCondition(Schema):
    type: Annotated[str, GoType("v1.PodConditionType")] | None = None
    observed_generation: Int64 | None = None
    status: ConditionStatus | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class HostIP(Schema):
    ip: str | None = None


class PodIP(Schema):
    ip: str | None = None


class ContainerStateWaiting(Schema):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(Schema):
    started_at: Time | None = None


class ContainerStateTerminated(Schema):
    exit_code: Int32 | None = None
    signal: Int32 | None = None
    reason: str | None = None
    message: str | None = None
    started_at: Time | None = None
    finished_at: Time | None = None
    container_id: str | None = json_name("containerID")


class ContainerState(Schema):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Schema):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: Int32 | None = None
    image: str | None = None
    image_id: str | None = json_name("imageID")
    container_id: str | None = json_name("containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[Annotated[Object, GoType("v1.VolumeMountStatus")]] | None = None
    user: Annotated[Object, GoType("v1.ContainerUser")] | None = None
    allocated_resources_status: list[Annotated[Object, GoType("v1.ResourceStatus")]] | None = None
    stop_signal: Annotated[str, GoType("v1.Signal")] | None = None


class PodStatus(Schema):
    observed_generation: Int64 | None = None
    phase: Annotated[str, GoType("v1.PodPhase")] | None = None
    conditions: list[PodCondition] | None = None
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = json_name("hostIP")
    host_ips: list[HostIP] | None = json_name("hostIPs")
    pod_ip: str | None = json_name("podIP")
    pod_ips: list[PodIP] | None = json_name("podIPs")
    start_time: Time | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: Annotated[str, GoType("v1.PodQOSClass")] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    resize: Annotated[str, GoType("v1.PodResizeStatus")] | None = None
    resource_claim_statuses: list[Annotated[Object, GoType("v1.PodResourceClaimStatus")]] | None = None


class Pod(TopLevel):
    spec: PodSpec | None = None
    status: PodStatus | None = None
