"""discovery.k8s.io/v1 EndpointSlice.

Why fully typed: the endpoints controller writes slices and the DNS and
proxy controllers read every field of them (addresses, conditions,
hostname, nodeName, targetRef, zone, ports).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int32, Protocol, Schema, StringList, StringMap
from apimachinery.schemas.core import ObjectReference
from apimachinery.schemas.meta import TopLevel

_PACKAGE = "io.k8s.api.discovery.v1"


class EndpointConditions(Schema):
    go_package: ClassVar[str] = _PACKAGE

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(Schema):
    go_package: ClassVar[str] = _PACKAGE

    name: str | None = None


class ForNode(Schema):
    go_package: ClassVar[str] = _PACKAGE

    name: str | None = None


class EndpointHints(Schema):
    go_package: ClassVar[str] = _PACKAGE

    for_zones: list[ForZone] | None = None
    for_nodes: list[ForNode] | None = None


class Endpoint(Schema):
    go_package: ClassVar[str] = _PACKAGE

    addresses: StringList | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: StringMap | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointPort(Schema):
    go_package: ClassVar[str] = _PACKAGE

    name: str | None = None
    protocol: Protocol | None = None
    port: Int32 | None = None
    app_protocol: str | None = None


class EndpointSlice(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    address_type: Annotated[str, GoType("v1.AddressType")] | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None
