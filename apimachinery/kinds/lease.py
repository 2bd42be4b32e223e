"""coordination.k8s.io/v1 Lease (pkg/registry/coordination/lease)."""

from __future__ import annotations

from apimachinery.kinds.base import Kind, ResourceType

KIND = Kind(ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, allow_create_on_update=True,
                         allow_unconditional_update=False))
