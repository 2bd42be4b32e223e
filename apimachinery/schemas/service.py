"""core/v1 Service: spec, ports and status.

Why fully typed: ClusterIP/NodePort allocation, the endpoints controller,
DNS and the proxy all read the spec; status carries load-balancer ingress
and conditions. Field order is Go's ServiceSpec order.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    GoType,
    Int32,
    IntOrString,
    Protocol,
    Schema,
    StringList,
    StringMap,
    json_name,
)
from apimachinery.schemas.meta import Condition, TopLevel


class ServicePort(Schema):
    name: str | None = None
    protocol: Protocol | None = None
    app_protocol: str | None = None
    port: Int32 | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None


class ClientIPConfig(Schema):
    timeout_seconds: Int32 | None = None


class SessionAffinityConfig(Schema):
    client_ip: ClientIPConfig | None = json_name("clientIP")


class ServiceSpec(Schema):
    ports: list[ServicePort] | None = None
    selector: StringMap | None = None
    cluster_ip: str | None = json_name("clusterIP")
    cluster_ips: StringList | None = json_name("clusterIPs")
    type: Annotated[str, GoType("v1.ServiceType")] | None = None
    external_ips: StringList | None = json_name("externalIPs")
    session_affinity: Annotated[str, GoType("v1.ServiceAffinity")] | None = None
    load_balancer_ip: str | None = json_name("loadBalancerIP")
    load_balancer_source_ranges: StringList | None = None
    external_name: str | None = None
    external_traffic_policy: Annotated[str, GoType("v1.ServiceExternalTrafficPolicy")] | None = None
    health_check_node_port: Int32 | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[Annotated[str, GoType("v1.IPFamily")]] | None = None
    ip_family_policy: Annotated[str, GoType("v1.IPFamilyPolicy")] | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: Annotated[str, GoType("v1.ServiceInternalTrafficPolicy")] | None = None
    traffic_distribution: str | None = None


class PortStatus(Schema):
    port: Int32 | None = None
    protocol: Protocol | None = None
    error: str | None = None


class LoadBalancerIngress(Schema):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: Annotated[str, GoType("v1.LoadBalancerIPMode")] | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(Schema):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(Schema):
    load_balancer: LoadBalancerStatus | None = None
    conditions: list[Condition] | None = None


class Service(TopLevel):
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None
