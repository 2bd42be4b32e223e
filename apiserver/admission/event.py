"""Admission of Event, core/v1 (legacyValidateEvent).

The kind itself is declared in apimachinery.kinds.event.
"""

from __future__ import annotations

from apimachinery.errors import (
    FieldError,
    invalid,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    is_dns1123_subdomain,
    is_qualified_name,
    name_is_path_segment,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_map,
    as_str,
)

# ---------------------------------------------------------------------------
# Event, core/v1 (legacyValidateEvent)
# ---------------------------------------------------------------------------


class EventAdmission(Admission):
    """core/v1 Events get only legacy validation; names just need to be path segments.

    Kubernetes does not require involvedObject for v1 Events, so neither do we.
    """

    def __init__(self) -> None:
        super().__init__(BY_KEY["events"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_path_segment(name)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        namespace = as_str(as_map(obj.get("metadata")).get("namespace"))
        involved_ns = as_str(as_map(obj.get("involvedObject")).get("namespace"))
        if not obj.get("eventTime"):
            if not involved_ns:
                if namespace not in ("", "default"):
                    errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
            elif namespace != involved_ns:
                errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        else:
            if not involved_ns and namespace not in ("default", "kube-system"):
                errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
            controller = as_str(obj.get("reportingComponent"))
            if not controller:
                errs.append(required("reportingController"))
            errs += [invalid("reportingController", controller, m) for m in is_qualified_name(controller)]
            for key, field, limit in (("reportingInstance", "reportingInstance", 128), ("action", "action", 128),
                                      ("reason", "reason", 128)):
                value = as_str(obj.get(key))
                if not value:
                    errs.append(required(field))
                if len(value) > limit:
                    errs.append(invalid(field, "", f"can have at most {limit} characters"))
            if len(as_str(obj.get("message"))) > 1024:
                errs.append(invalid("message", "", "can have at most 1024 characters"))
        errs += [invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace)]
        return errs
