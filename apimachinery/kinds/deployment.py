"""apps/v1 Deployment (pkg/registry/apps/deployment)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, ResourceType
from apimachinery.kinds.podtemplate import template_structs
from apimachinery.kinds.tags import APPS

KIND = Kind(
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": APPS + "DeploymentSpec", **template_structs(),
                              "status": APPS + "DeploymentStatus"}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}},
                                    "strategy": {}}}),
)
