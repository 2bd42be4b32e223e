"""core/v1 Endpoints (pkg/registry/core/endpoint)."""

from __future__ import annotations

from apimachinery.kinds.base import Kind, ResourceType

# EndpointSubset lists carry no tags: subsets are replaced whole.
KIND = Kind(ResourceType("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), allow_create_on_update=True))
