"""Admission of ServiceCIDR, networking.k8s.io/v1 (ValidateServiceCIDR).

The kind itself is declared in apimachinery.kinds.servicecidr.
"""

from __future__ import annotations

from apimachinery.errors import (
    FieldError,
    invalid,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    go_string_list,
    is_canonical_cidr,
    is_dual_stack,
)
from apiserver.admission.base import (
    Obj,
    StatusResetAdmission,
    as_list,
    as_map,
    semantic_equal,
)

# ---------------------------------------------------------------------------
# ServiceCIDR, networking.k8s.io/v1 (ValidateServiceCIDR)
# ---------------------------------------------------------------------------


class ServiceCIDRAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["servicecidrs.networking.k8s.io"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        cidrs = [str(c) for c in as_list(as_map(obj.get("spec")).get("cidrs"))]
        path = "spec.cidrs"
        if not cidrs:
            return [required(path, "at least one CIDR required")]
        shown = GoValue("networking.ServiceCIDRSpec{CIDRs:" + str(go_string_list(cidrs)) + "}")
        if len(cidrs) > 2:
            return [invalid(path, shown, "may only hold up to 2 values")]
        if len(cidrs) == 2 and not is_dual_stack(cidrs, cidrs=True):
            return [invalid(path, shown, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and "
                            "2001:db8::/64")]
        errs: list[FieldError] = []
        for i, cidr in enumerate(cidrs):
            errs += [invalid(f"{path}[{i}]", cidr, m) for m in is_canonical_cidr(cidr)]
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        new, prev = as_list(as_map(obj.get("spec")).get("cidrs")), as_list(as_map(old.get("spec")).get("cidrs"))
        if semantic_equal(new, prev):
            return []
        return [invalid("spec.cidrs", go_string_list(new), "field is immutable")]
