"""ControllerRevision admission: ValidateControllerRevision / ValidateControllerRevisionUpdate.

Invariant: a stored revision's ``data`` never changes (the history a rollback
restores is what was recorded); the kind is in apimachinery.kinds.controllerrevision.
"""

from __future__ import annotations

import json
from typing import Any

from apimachinery.errors import FieldError, invalid, required
from apimachinery.resources import BY_KEY
from apimachinery.validation import FIELD_IMMUTABLE, GoValue, validate_nonnegative
from apiserver.admission.base import Admission, Obj, semantic_equal


def go_raw_extension(data: Any) -> GoValue:
    """%#v of a runtime.RawExtension holding ``data`` (its bytes: the compact JSON)."""
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return GoValue("runtime.RawExtension{Raw:[]byte{" + ", ".join(f"0x{b:x}" for b in raw)
                   + "}, Object:runtime.Object(nil)}")


class ControllerRevisionAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["controllerrevisions.apps"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        return errs + validate_nonnegative(obj.get("revision"), "revision")

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate_create(obj)
        if not semantic_equal(obj.get("data"), old.get("data")):
            errs.append(invalid("data", go_raw_extension(obj.get("data")), FIELD_IMMUTABLE))
        return errs
