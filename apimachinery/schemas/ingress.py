"""networking.k8s.io/v1 Ingress and IngressClass: HTTP routing rules to Services, and who implements them.

Why typed field by field: validation, kubectl's printer and strategic merge
read every spec field; Go struct order.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int32, Schema, StringList
from apimachinery.schemas.meta import TopLevel
from apimachinery.schemas.persistentvolume import TypedLocalObjectReference

_PACKAGE = "io.k8s.api.networking.v1"


class ServiceBackendPort(Schema):
    go_package: ClassVar[str] = _PACKAGE

    name: str | None = None
    number: Int32 | None = None


class IngressServiceBackend(Schema):
    go_package: ClassVar[str] = _PACKAGE

    name: str | None = None
    port: ServiceBackendPort | None = None


class IngressBackend(Schema):
    go_package: ClassVar[str] = _PACKAGE

    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(Schema):
    go_package: ClassVar[str] = _PACKAGE

    path: str | None = None
    path_type: Annotated[str, GoType("v1.PathType")] | None = None
    backend: IngressBackend | None = None


class HTTPIngressRuleValue(Schema):
    go_package: ClassVar[str] = _PACKAGE

    paths: list[HTTPIngressPath] | None = None


class IngressRule(Schema):
    go_package: ClassVar[str] = _PACKAGE

    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(Schema):
    go_package: ClassVar[str] = _PACKAGE

    hosts: StringList | None = None
    secret_name: str | None = None


class IngressSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = None


class IngressPortStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    port: Int32 | None = None
    protocol: Annotated[str, GoType("v1.Protocol")] | None = None
    error: str | None = None


class IngressLoadBalancerIngress(Schema):
    go_package: ClassVar[str] = _PACKAGE

    ip: str | None = None
    hostname: str | None = None
    ports: list[IngressPortStatus] | None = None


class IngressLoadBalancerStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    ingress: list[IngressLoadBalancerIngress] | None = None


class IngressStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    load_balancer: IngressLoadBalancerStatus | None = None


class Ingress(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: IngressSpec | None = None
    status: IngressStatus | None = None


class IngressClassParametersReference(Schema):
    go_package: ClassVar[str] = _PACKAGE

    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    scope: str | None = None
    namespace: str | None = None


class IngressClassSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


class IngressClass(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: IngressClassSpec | None = None
