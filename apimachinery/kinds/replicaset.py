"""apps/v1 ReplicaSet (pkg/registry/apps/replicaset)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.podtemplate import template_structs
from apimachinery.kinds.tags import APPS

KIND = Kind(
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "ReplicaSetSpec", **template_structs(),
                              "status": APPS + "ReplicaSetStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}}}}),
)
