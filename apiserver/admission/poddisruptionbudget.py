"""PodDisruptionBudget admission, policy/v1: ValidatePodDisruptionBudget, ValidatePodDisruptionBudgetStatusUpdate
and the strategy's PrepareForCreate/PrepareForUpdate (status reset on create, kept on spec updates).

The kind itself is declared in apimachinery.kinds.poddisruptionbudget.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apimachinery.disruption import UNHEALTHY_POD_EVICTION_POLICIES
from apimachinery.errors import FieldError, duplicate, invalid, not_supported, required, too_long
from apimachinery.resources import BY_KEY
from apimachinery.validation import GoValue, regex_error, validate_label_name, validate_nonnegative
from apiserver.admission.apps import validate_label_selector
from apiserver.admission.base import Obj, StatusResetAdmission, as_list, as_map, as_str

_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_PERCENT_RE = re.compile(_PERCENT_FMT)
_CONDITION_STATUSES = ["False", "True", "Unknown"]
_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_REASON_MSG = "a condition reason must start with alphabetic character, optionally followed by a string of " \
    "alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'"
_REASON_RE = re.compile(_REASON_FMT)
_MAX_REASON_LEN = 1024
_MAX_MESSAGE_LEN = 32 * 1024


def go_int_or_string(value: Any) -> GoValue:
    """%#v of an intstr.IntOrString value (its String() has a pointer receiver, so field.Error prints the struct)."""
    if isinstance(value, str):
        return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(value)}}}")
    return GoValue(f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}')


def _go_pointer(type_name: str, value: Any) -> str:
    """How %#v prints a pointer field: its type and address, or nil. The address is Go's heap address, which no
    client can rely on; a fixed one stands in for it."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000010000)"


def _go_spec(spec: dict[str, Any]) -> GoValue:
    """%#v of the internal policy.PodDisruptionBudgetSpec (what kube's both-set message shows)."""
    return GoValue("policy.PodDisruptionBudgetSpec{"
                   f"MinAvailable:{_go_pointer('intstr.IntOrString', spec.get('minAvailable'))}, "
                   f"Selector:{_go_pointer('v1.LabelSelector', spec.get('selector'))}, "
                   f"MaxUnavailable:{_go_pointer('intstr.IntOrString', spec.get('maxUnavailable'))}, "
                   "UnhealthyPodEvictionPolicy:"
                   f"{_go_pointer('policy.UnhealthyPodEvictionPolicyType', spec.get('unhealthyPodEvictionPolicy'))}}}")


def _int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent."""
    if isinstance(value, str):
        if not _PERCENT_RE.fullmatch(value):
            return [invalid(path, go_int_or_string(value), regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%"))]
        if int(value[:-1]) > 100:
            return [invalid(path, go_int_or_string(value), "must not be greater than 100%")]
        return []
    return validate_nonnegative(value, path)


def validate_pdb_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """ValidatePodDisruptionBudgetSpec."""
    errs: list[FieldError] = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(invalid(path, _go_spec(spec), "minAvailable and maxUnavailable cannot be both set"))
    if min_available is not None:
        errs += _int_or_percent(min_available, f"{path}.minAvailable")
    if max_unavailable is not None:
        errs += _int_or_percent(max_unavailable, f"{path}.maxUnavailable")
    selector = spec.get("selector")
    if isinstance(selector, dict):
        errs += validate_label_selector(selector, f"{path}.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(not_supported(f"{path}.unhealthyPodEvictionPolicy", policy, list(UNHEALTHY_POD_EVICTION_POLICIES)))
    return errs


def validate_conditions(conditions: Any, path: str) -> list[FieldError]:
    """metav1 ValidateConditions: each condition well formed, types unique."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(as_list(conditions)):
        c = as_map(c)
        p = f"{path}[{i}]"
        ctype = as_str(c.get("type"))
        errs += validate_label_name(ctype, f"{p}.type")
        status = as_str(c.get("status"))
        if status not in _CONDITION_STATUSES:
            errs.append(not_supported(f"{p}.status", status, _CONDITION_STATUSES))
        generation = c.get("observedGeneration")
        if isinstance(generation, int) and generation < 0:
            errs.append(invalid(f"{p}.observedGeneration", generation, "must be greater than or equal to zero"))
        if not c.get("lastTransitionTime"):
            errs.append(required(f"{p}.lastTransitionTime", "must be set"))
        reason = as_str(c.get("reason"))
        if not reason:
            errs.append(required(f"{p}.reason", "must be set"))
        else:
            if not _REASON_RE.fullmatch(reason):
                errs.append(invalid(f"{p}.reason", reason,
                                    regex_error(_REASON_MSG, _REASON_FMT, "my_name", "MY_NAME", "MyName",
                                                "ReasonA,ReasonB", "ReasonA:ReasonB")))
            if len(reason) > _MAX_REASON_LEN:
                errs.append(too_long(f"{p}.reason", _MAX_REASON_LEN))
        if len(as_str(c.get("message"))) > _MAX_MESSAGE_LEN:
            errs.append(too_long(f"{p}.message", _MAX_MESSAGE_LEN))
        if ctype in seen:
            errs.append(duplicate(f"{p}.type", ctype))
        seen.add(ctype)
    return errs


def validate_pdb_status(status: dict[str, Any], path: str = "status") -> list[FieldError]:
    """ValidatePodDisruptionBudgetStatusUpdate (policy/v1)."""
    errs = validate_conditions(status.get("conditions"), f"{path}.conditions")
    for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        errs += validate_nonnegative(status.get(key), f"{path}.{key}")
    return errs


class PodDisruptionBudgetAdmission(StatusResetAdmission):
    """podDisruptionBudgetStrategy: status reset on create and kept on update; the spec is mutable (policy/v1)."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["poddisruptionbudgets.policy"])

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        """PrepareForCreate's empty status, as it serialises: the four counts are not omitempty."""
        return {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_pdb_spec(as_map(obj.get("spec")))

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_pdb_status(as_map(obj.get("status")))


__all__ = ["PodDisruptionBudgetAdmission", "go_int_or_string", "validate_conditions", "validate_pdb_spec",
           "validate_pdb_status"]
