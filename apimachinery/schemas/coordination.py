"""coordination.k8s.io/v1 Lease, the object leader election renews."""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int32, MicroTime, Schema
from apimachinery.schemas.meta import TopLevel

_PACKAGE = "io.k8s.api.coordination.v1"


class LeaseSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: Int32 | None = None
    strategy: Annotated[str, GoType("v1.CoordinatedLeaseStrategy")] | None = None
    preferred_holder: str | None = None


class Lease(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: LeaseSpec | None = None
