"""Admission of Lease, coordination.k8s.io/v1 (ValidateLeaseSpec).

The kind itself is declared in apimachinery.kinds.lease.
"""

from __future__ import annotations

from apimachinery.errors import (
    FieldError,
    forbidden,
    invalid,
    not_supported,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    is_qualified_name,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_int,
    as_map,
    as_str,
)

# ---------------------------------------------------------------------------
# Lease, coordination.k8s.io/v1 (ValidateLeaseSpec)
# ---------------------------------------------------------------------------


class LeaseAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["leases.coordination.k8s.io"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        spec = as_map(obj.get("spec"))
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (as_int(duration) is None or duration <= 0):
            errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (as_int(transitions) is None or transitions < 0):
            errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None:
            strategy = as_str(strategy)
            if "/" not in strategy:
                if strategy != "OldestEmulationVersion":
                    errs.append(not_supported("spec.strategy.strategy", strategy, ["OldestEmulationVersion"]))
            else:
                errs += [invalid("spec.strategy.strategy", strategy, m) for m in is_qualified_name(strategy)]
        if as_str(spec.get("preferredHolder")) and not as_str(strategy):
            errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return errs
