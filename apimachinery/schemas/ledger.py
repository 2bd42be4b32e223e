"""kubelite.io/v1 PortAllocation: one object per NodePort held (``<protocol>-<port>``).

Why: like IPAddress for ClusterIPs, creating the object is taking the port,
so uniqueness rests on the database; parentRef names the Service holding it.
"""

from __future__ import annotations

from typing import ClassVar

from apimachinery.schemas.base import Int32, Protocol, Schema
from apimachinery.schemas.meta import TopLevel
from apimachinery.schemas.networking import ParentReference

_PACKAGE = "io.kubelite.v1"


class PortAllocationSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    protocol: Protocol | None = None
    port: Int32 | None = None
    parent_ref: ParentReference | None = None


class PortAllocation(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: PortAllocationSpec | None = None
