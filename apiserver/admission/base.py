"""The admission contract every resource implements (a registry "strategy").

Why: kube-apiserver runs, per request, decode-time defaulting, the
strategy's PrepareForCreate/PrepareForUpdate (server-owned fields such as
status), name generation and validation, in a fixed order. Keeping that
order in one place (``admit_*``) means every resource gets the same
sequence and the REST layer cannot forget a step.

Invariant: ``validate_*`` never mutate; ``default``/``prepare_*`` never fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apimachinery.errors import FieldError
from apimachinery.objects import as_list as as_list  # re-exported: admission modules share one reader
from apimachinery.objects import as_map as as_map
from apimachinery.objects import as_str as as_str
from apimachinery.resources import ResourceType
from apimachinery.validation import (
    NOT_FOUND,
    generate_name,
    name_is_dns_subdomain,
    validate_object_meta,
    validate_object_meta_update,
)

Obj = dict[str, Any]

# metadata fields the server owns; an update that omits them keeps the stored value
_CARRIED_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


_KEPT_ON_STATUS = ("metadata", "status", "apiVersion", "kind")


def carry_meta(obj: Obj, old: Obj) -> None:
    """rest.BeforeUpdate: uid, timestamps and generation the request omitted come from storage."""
    meta, old_meta = obj.get("metadata"), old.get("metadata")
    if isinstance(meta, dict) and isinstance(old_meta, dict):
        for key in _CARRIED_META:
            if key not in meta and key in old_meta:
                meta[key] = old_meta[key]


def as_int(value: Any) -> int | None:
    """An int the way Go would decode one; bools and strings are not ints."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def spec_of(obj: Obj) -> dict[str, Any]:
    """The object's spec, created empty when absent (Go structs are never nil)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        obj["spec"] = spec
    return spec


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, path, value)


def _is_zero(value: Any) -> bool:
    return value is None or value is False or (not isinstance(value, bool) and value in ("", 0, [], {}))


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on JSON, where an absent field is its Go zero value.

    Missing, null, "", 0, false and empty collections compare equal, so a
    client that spells out a zero value does not count as changing a field.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return all(semantic_equal(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_zero(a) and _is_zero(b):
        return True
    if isinstance(a, Mapping | list) or isinstance(b, Mapping | list):
        return _is_zero(a) and _is_zero(b)
    return type(a) is type(b) and bool(a == b)


class Admission:
    """Defaults, server-side preparation and validation for one resource type."""

    def __init__(self, resource: ResourceType) -> None:
        self.resource = resource

    # -- names ---------------------------------------------------------------
    def name_validator(self, name: str) -> list[str]:
        """Most resources: a DNS-1123 subdomain."""
        return name_is_dns_subdomain(name)

    def generate_name(self, base: str) -> str:
        """names.SimpleNameGenerator unless the type says otherwise."""
        return generate_name(base)

    # -- mutation -----------------------------------------------------------
    def default(self, obj: Obj) -> None:
        """SetDefaults_*: what decoding a request fills in. Runs on every write."""

    def prepare_create(self, obj: Obj) -> None:
        """PrepareForCreate: reset fields the server owns (usually status)."""

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        """PrepareForUpdate: keep server-owned fields (identity metadata, status) from the stored object."""
        carry_meta(obj, old)

    def prepare_status_update(self, obj: Obj, old: Obj) -> None:
        """The status subresource may change status only: everything else is the stored object's."""
        carry_meta(obj, old)
        for key in [k for k in obj if k not in _KEPT_ON_STATUS]:
            del obj[key]
        for key, value in old.items():
            if key not in _KEPT_ON_STATUS:
                obj[key] = value

    # -- validation ---------------------------------------------------------
    def validate_create(self, obj: Obj) -> list[FieldError]:
        """Type-specific create validation (metadata is checked by validate_object_meta)."""
        return []

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """Type-specific update validation; by default the create rules on the new object."""
        return self.validate_create(obj)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []

    def validate_finalize_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """A ``finalize`` subresource write (declared only by kinds that serve one)."""
        return []

    # -- warnings -----------------------------------------------------------
    def warnings_on_create(self, obj: Obj) -> list[str]:
        """WarningsOnCreate: texts for the response's Warning headers about a valid object."""
        return []

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        """WarningsOnUpdate: as warnings_on_create, for an update of the main resource."""
        return []

    # -- the whole sequence -------------------------------------------------
    def admit_create(self, obj: Obj) -> list[FieldError]:
        """Default, generate the name, prepare, validate: kube-apiserver's create order."""
        self.default(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
            obj["metadata"] = meta
        generate = meta.get("generateName")
        if not meta.get("name") and isinstance(generate, str) and generate:
            meta["name"] = self.generate_name(generate)
        self.prepare_create(obj)
        errs = validate_object_meta(meta, namespaced=self.resource.namespaced, name_validator=self.name_validator)
        return errs + self.validate_create(obj)

    def admit_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        self.default(obj)
        self.prepare_update(obj, old)
        meta, old_meta = as_map(obj.get("metadata")), as_map(old.get("metadata"))
        errs = validate_object_meta_update(meta, old_meta)
        errs += validate_object_meta(meta, namespaced=self.resource.namespaced, name_validator=self.name_validator)
        return errs + self.validate_update(obj, old)

    def admit_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        self.default(obj)
        self.prepare_status_update(obj, old)
        errs = validate_object_meta_update(as_map(obj.get("metadata")), as_map(old.get("metadata")))
        return errs + self.validate_status_update(obj, old)


class StatusResetAdmission(Admission):
    """Types whose status is written only through the status subresource."""

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = self.initial_status(obj)

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        return {}

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)
