"""coordination.k8s.io/v1 Lease (pkg/registry/coordination/lease)."""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Kind, Printer, ResourceType
from apimachinery.objects import as_map

_D_HOLDER = (
    "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is "
    "used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printLease: spec.holderIdentity."""
    holder = as_map(obj.get("spec")).get("holderIdentity")
    return [holder if isinstance(holder, str) else ""]


KIND = Kind(
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, allow_create_on_update=True,
                 allow_unconditional_update=False),
    printer=Printer((("Holder", "string", "", _D_HOLDER, 0),), _cells),
)
