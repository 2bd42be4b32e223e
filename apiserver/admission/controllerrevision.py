"""ControllerRevision admission: ValidateControllerRevision / ValidateControllerRevisionUpdate.

Invariant: a stored revision's ``data`` never changes (the history a rollback
restores is what was recorded); the kind is in apimachinery.kinds.controllerrevision.
"""

from __future__ import annotations

from apimachinery.errors import FieldError, required
from apimachinery.resources import BY_KEY
from apimachinery.validation import validate_immutable, validate_nonnegative
from apiserver.admission.base import Admission, Obj


class ControllerRevisionAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["controllerrevisions.apps"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        return errs + validate_nonnegative(obj.get("revision"), "revision")

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate_create(obj) + validate_immutable(obj.get("data"), old.get("data"), "data")
