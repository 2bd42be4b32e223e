"""apps/v1 ReplicaSet (pkg/registry/apps/replicaset)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType, merge
from apimachinery.kinds.podtemplate import template_fields

KIND = Kind(
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    patch=MappingProxyType({**OBJECT_META, **template_fields(), "status.conditions": merge("type")}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}}}}),
)
