"""Admission of IPAddress, networking.k8s.io/v1 (ValidateIPAddress).

The kind itself is declared in apimachinery.kinds.ipaddress.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import (
    FieldError,
    invalid,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    is_dns1123_subdomain,
    is_valid_path_segment_name,
    name_is_canonical_ip,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_map,
    as_str,
    semantic_equal,
)

# ---------------------------------------------------------------------------
# IPAddress, networking.k8s.io/v1 (ValidateIPAddress)
# ---------------------------------------------------------------------------


class IPAddressAdmission(Admission):
    """The name is the address itself, canonical; it is never generated (noopNameGenerator)."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["ipaddresses.networking.k8s.io"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_canonical_ip(name)

    def generate_name(self, base: str) -> str:
        return base

    def validate_create(self, obj: Obj) -> list[FieldError]:
        ref = as_map(obj.get("spec")).get("parentRef")
        if ref is None:
            return [required("spec.parentRef")]
        ref = as_map(ref)
        path = "spec.parentRef"
        errs: list[FieldError] = []
        group = as_str(ref.get("group"))
        if group:
            errs += [invalid(f"{path}.group", group, m) for m in is_dns1123_subdomain(group)]
        for key in ("resource", "name"):
            value = as_str(ref.get(key))
            if not value:
                errs.append(required(f"{path}.{key}"))
            else:
                errs += [invalid(f"{path}.{key}", value, m) for m in is_valid_path_segment_name(value)]
        namespace = as_str(ref.get("namespace"))
        if namespace:
            errs += [invalid(f"{path}.namespace", namespace, m) for m in is_valid_path_segment_name(namespace)]
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        new_ref, old_ref = as_map(obj.get("spec")).get("parentRef"), as_map(old.get("spec")).get("parentRef")
        if semantic_equal(new_ref, old_ref):
            return []
        return [invalid("spec.parentRef", _go_parent_ref(new_ref), "field is immutable")]


def _go_parent_ref(ref: Any) -> Any:
    if ref is None:
        return None
    ref = as_map(ref)
    fields = ", ".join(f'{go}:"{as_str(ref.get(js))}"' for go, js in
                       (("Group", "group"), ("Resource", "resource"), ("Namespace", "namespace"), ("Name", "name")))
    return GoValue("networking.ParentReference{" + fields + "}")
