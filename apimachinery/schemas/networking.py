"""networking.k8s.io/v1 IPAddress and ServiceCIDR: the ClusterIP allocation ledger.

Why: an IPAddress named after the address is the lock on that address
(creating it twice fails with AlreadyExists); its parentRef names the
Service holding it. ServiceCIDR lists the ranges ClusterIPs come from.
"""

from __future__ import annotations

from typing import ClassVar

from apimachinery.schemas.base import Schema, StringList
from apimachinery.schemas.meta import Condition, TopLevel

_PACKAGE = "io.k8s.api.networking.v1"


class ParentReference(Schema):
    go_package: ClassVar[str] = _PACKAGE

    group: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None


class IPAddressSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    parent_ref: ParentReference | None = None


class IPAddress(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: IPAddressSpec | None = None


class ServiceCIDRSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    cidrs: StringList | None = None


class ServiceCIDRStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    conditions: list[Condition] | None = None


class ServiceCIDR(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: ServiceCIDRSpec | None = None
    status: ServiceCIDRStatus | None = None
