"""core/v1 Event (pkg/registry/core/event)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import Kind, ResourceType

_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

KIND = Kind(
    ResourceType("", "v1", "Event", "events", "event", True, ("ev",), (), (), _FIELDS, allow_create_on_update=True),
    zero=MappingProxyType({"involvedObject": {}, "source": {}, "firstTimestamp": None, "lastTimestamp": None,
                           "eventTime": None, "reportingComponent": "", "reportingInstance": ""}),
)
