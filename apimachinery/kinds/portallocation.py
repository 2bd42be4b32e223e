"""kubelite.io/v1 PortAllocation: kubelite's NodePort ledger.

Kubernetes keeps node ports in a bitmap; we keep one object per port so
that a create failing with AlreadyExists is how a collision is detected, as
for IPAddress. No tagged lists.
"""

from __future__ import annotations

from apimachinery.kinds.base import Kind, ResourceType

KIND = Kind(
    ResourceType("kubelite.io", "v1", "PortAllocation", "portallocations", "portallocation", False),
    schema="apimachinery.schemas.ledger.PortAllocation",
)
