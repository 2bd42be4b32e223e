"""coordination.k8s.io/v1 Lease (pkg/registry/coordination/lease)."""

from __future__ import annotations

from apimachinery.kinds.base import Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_text, dig, name_age

_D_HOLDER = (
    "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is "
    "used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."
)



KIND = Kind(
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, allow_create_on_update=True,
                 allow_unconditional_update=False),
    schema="apimachinery.schemas.coordination.Lease",
    printer=Printer((NAME, ("Holder", "string", "", _D_HOLDER, 0), AGE),
                    name_age(lambda o: [as_text(dig(o, "spec", "holderIdentity"))])),
)
