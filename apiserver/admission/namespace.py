"""Admission of Namespace (pkg/registry/core/namespace/strategy.go, ValidateNamespace).

The kind itself is declared in apimachinery.kinds.namespace.
"""

from __future__ import annotations

from apimachinery.errors import (
    FieldError,
    invalid,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    is_qualified_name,
    name_is_dns_label,
)
from apiserver.admission.base import (
    Obj,
    StatusResetAdmission,
    as_list,
    as_map,
    spec_of,
)

STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


# ---------------------------------------------------------------------------
# Namespace (pkg/registry/core/namespace/strategy.go, ValidateNamespace)
# ---------------------------------------------------------------------------


class NamespaceAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["namespaces"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_dns_label(name)

    def default(self, obj: Obj) -> None:
        meta = obj.get("metadata")
        if isinstance(meta, dict) and meta.get("name"):
            labels = as_map(meta.get("labels"))
            labels[NAMESPACE_NAME_LABEL] = meta["name"]
            meta["labels"] = labels
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        spec = spec_of(obj)
        finalizers = list(as_list(spec.get("finalizers")))
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        spec["finalizers"] = finalizers

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        obj["spec"] = as_map(old.get("spec"))  # finalizers change only through /finalize

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for name in as_list(as_map(obj.get("spec")).get("finalizers")):
            errs += finalizer_name_errors(str(name), "spec.finalizers")
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []

    def validate_finalize_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidateNamespaceFinalizeUpdate: each finalizer a qualified name (or a standard one)."""
        errs: list[FieldError] = []
        for name in as_list(as_map(obj.get("spec")).get("finalizers")):
            errs += finalizer_name_errors(str(name), "spec.finalizers")
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        phase = as_map(obj.get("status")).get("phase")
        if not as_map(obj.get("metadata")).get("deletionTimestamp"):
            if phase != "Active":
                return [invalid("status.Phase", phase or "", "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [invalid("status.Phase", phase or "", "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []


def finalizer_name_errors(name: str, path: str) -> list[FieldError]:
    """validateFinalizerName: a qualified name, and unqualified ones must be standard."""
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs
