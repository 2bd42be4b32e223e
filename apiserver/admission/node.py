"""Admission of Node (ValidateNode, ValidateNodeUpdate, node strategy).

The kind itself is declared in apimachinery.kinds.node.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    go_string_list,
    is_dual_stack,
    is_valid_cidr,
    is_valid_label_value,
    validate_label_name,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_list,
    as_map,
    as_str,
    spec_of,
)

# ---------------------------------------------------------------------------
# Node (ValidateNode, ValidateNodeUpdate, node strategy)
# ---------------------------------------------------------------------------


class NodeAdmission(Admission):
    """Nodes may carry status on create (the agent registers with it); updates keep it."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["nodes"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        cidrs = as_list(spec.get("podCIDRs"))
        if spec.get("podCIDR") and not cidrs:
            spec["podCIDRs"] = [spec["podCIDR"]]
        elif cidrs and not spec.get("podCIDR"):
            spec["podCIDR"] = cidrs[0]
        status = obj.get("status")
        if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity") is not None:
            status["allocatable"] = dict(as_map(status.get("capacity")))

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "status" in old:
            obj["status"] = old["status"]

    def validate_create(self, obj: Obj) -> list[FieldError]:
        spec = as_map(obj.get("spec"))
        errs = node_taint_errors(as_list(spec.get("taints")), "metadata.taints")  # sic: kube-apiserver's path
        cidrs = [str(c) for c in as_list(spec.get("podCIDRs"))]
        cidr_errs = [invalid(f"spec.podCIDRs[{i}]", c, m) for i, c in enumerate(cidrs) for m in is_valid_cidr(c)]
        errs += cidr_errs
        if len(cidrs) > 1 and not cidr_errs:
            if len(cidrs) > 2 or not is_dual_stack(cidrs, cidrs=True):
                errs.append(invalid("spec.podCIDRs", go_string_list(cidrs),
                                    "may specify no more than one CIDR for each IP family"))
            seen: set[str] = set()
            for i, cidr in enumerate(cidrs):
                if cidr in seen:
                    errs.append(duplicate(f"spec.podCIDRs[{i}]", cidr))
                seen.add(cidr)
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = as_map(obj.get("spec")), as_map(old.get("spec"))
        errs = _duplicate_address_errors(as_map(obj.get("status")))
        old_cidrs, cidrs = as_list(old_spec.get("podCIDRs")), as_list(spec.get("podCIDRs"))
        if old_cidrs:
            why = 'node updates may not change podCIDR except from "" to valid'
            if len(old_cidrs) != len(cidrs):
                errs.append(forbidden("spec.podCIDRs", why))
            else:
                errs += [forbidden("spec.podCIDRs", why) for a, b in zip(old_cidrs, cidrs, strict=True) if a != b]
        old_provider = as_str(old_spec.get("providerID"))
        if old_provider and old_provider != as_str(spec.get("providerID")):
            errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
        errs += node_taint_errors(as_list(spec.get("taints")), "metadata.taints")
        if as_str(spec.get("externalID")) != as_str(old_spec.get("externalID")):
            errs.append(forbidden("spec.externalID", "may not be updated"))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return _duplicate_address_errors(as_map(obj.get("status")))


def _duplicate_address_errors(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: list[dict[str, Any]] = []
    for i, address in enumerate(as_list(status.get("addresses"))):
        address = as_map(address)
        if address in seen:
            shown = GoValue('core.NodeAddress{Type:"' + as_str(address.get("type")) + '", Address:"'
                            + as_str(address.get("address")) + '"}')
            errs.append(duplicate(f"status.addresses[{i}]", shown))
        seen.append(address)
    return errs


def node_taint_errors(taints: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    unique: dict[str, set[str]] = {}
    effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
    for i, taint in enumerate(taints):
        taint = as_map(taint)
        p = f"{path}[{i}]"
        key, value, effect = as_str(taint.get("key")), as_str(taint.get("value")), as_str(taint.get("effect"))
        errs += validate_label_name(key, f"{p}.key")
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(invalid(f"{p}.value", value, ";".join(msgs)))
        if not effect:
            errs.append(required(f"{p}.effect"))
        elif effect not in effects:
            errs.append(not_supported(f"{p}.effect", effect, effects))
        if key in unique.get(effect, set()):
            shown = GoValue('core.Taint{Key:"' + key + '", Value:"' + value + '", Effect:"' + effect
                            + '", TimeAdded:<nil>}')
            err = duplicate(p, shown)
            errs.append(FieldError(err.type, err.field, err.value, "taints must be unique by key and effect pair"))
            continue
        unique.setdefault(effect, set()).add(key)
    return errs
