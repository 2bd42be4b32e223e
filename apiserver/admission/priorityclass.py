"""PriorityClass admission (ValidatePriorityClass/Update, SetDefaults_PriorityClass) and kube-apiserver's
Priority plugin, for Pods and PriorityClasses.

Why the plugin lives here: everything about PriorityClasses has one home. On a Pod create the
plugin resolves ``spec.priorityClassName`` (or the global default class) to ``spec.priority`` and
``spec.preemptionPolicy`` and refuses (403) an unknown class or a priority the Pod set itself that
differs from the class's; on a Pod update it keeps the stored priority. On a PriorityClass write it
refuses a second ``globalDefault``.

The kind itself is declared in apimachinery.kinds.priorityclass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apimachinery import errors
from apimachinery.errors import FieldError, forbidden, not_supported, required
from apimachinery.kinds.priorityclass import (
    HIGHEST_USER_DEFINABLE_PRIORITY,
    PREEMPT_LOWER_PRIORITY,
    PREEMPTION_POLICIES,
    SYSTEM_PRIORITY_CLASS_PREFIX,
    SYSTEM_PRIORITY_CLASSES,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import validate_immutable
from apiserver.admission.base import Admission, Obj, as_int, as_map, as_str, spec_of
from apiserver.admission.serviceaccount import forbidden_pod

PRIORITY_CLASSES = BY_KEY["priorityclasses.scheduling.k8s.io"]

#: Every stored PriorityClass.
Lister = Callable[[], "list[dict[str, Any]]"]


def known_system_class_error(name: str, value: Any, global_default: bool) -> str | None:
    """IsKnownSystemPriorityClass: None when (name, value, globalDefault) is one of the system classes."""
    known = SYSTEM_PRIORITY_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if value != known[0]:
        return f"value of {name} PriorityClass must be {known[0]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(obj: Obj) -> list[FieldError]:
    """ValidatePriorityClass (metadata is checked by the base admission)."""
    errs: list[FieldError] = []
    name = as_str(as_map(obj.get("metadata")).get("name"))
    value = as_int(obj.get("value")) or 0
    if name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
        why = known_system_class_error(name, value, obj.get("globalDefault") is True)
        if why is not None:
            errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' "
                                                   f"prefix are reserved for system use only. error: {why}"))
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if not policy:
            errs.append(required("preemptionPolicy"))
        elif policy not in PREEMPTION_POLICIES:
            errs.append(not_supported("preemptionPolicy", policy, list(PREEMPTION_POLICIES)))
    return errs


class PriorityClassAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(PRIORITY_CLASSES)

    def default(self, obj: Obj) -> None:
        if obj.get("preemptionPolicy") is None:
            obj["preemptionPolicy"] = PREEMPT_LOWER_PRIORITY

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_priority_class(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidatePriorityClass, then ValidatePriorityClassUpdate: value and preemptionPolicy never change."""
        errs = validate_priority_class(obj)
        if (as_int(obj.get("value")) or 0) != (as_int(old.get("value")) or 0):
            errs.append(forbidden("value", "may not be changed in an update."))
        return errs + validate_immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")


def default_class(classes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """getDefaultPriorityClass: of the classes marked globalDefault (a race may leave several), the lowest."""
    marked = [c for c in classes if c.get("globalDefault") is True]
    return min(marked, key=lambda c: as_int(c.get("value")) or 0) if marked else None


def _name(obj: Obj) -> str:
    return as_str(as_map(obj.get("metadata")).get("name"))


def refuse_system_class_delete(name: str) -> None:
    """The PriorityClass REST Delete: the system classes stay."""
    if name in SYSTEM_PRIORITY_CLASSES:
        raise errors.forbidden_error(PRIORITY_CLASSES.plural, name, "this is a system priority class and cannot be "
                                     "deleted", PRIORITY_CLASSES.group)


class PriorityPlugin:
    """The Priority admission plugin: Pods get their class's priority; one global default class."""

    def __init__(self, classes: Lister) -> None:
        self.classes = classes

    async def pods(self, obj: Obj, old: Obj | None, namespace: str) -> None:
        spec = spec_of(obj)
        if old is not None:
            # the plugin set these on create: an update that omits them keeps them
            old_spec = as_map(old.get("spec"))
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old_spec.get(key) is not None:
                    spec[key] = old_spec[key]
            return
        class_name = as_str(spec.get("priorityClassName"))
        if not class_name:
            pc = default_class(self.classes())
            if pc is not None:
                spec["priorityClassName"] = _name(pc)
        else:
            pc = next((c for c in self.classes() if _name(c) == class_name), None)
            if pc is None:
                raise forbidden_pod(obj, f"no PriorityClass with name {class_name} was found")
        priority = (as_int(pc.get("value")) or 0) if pc is not None else 0
        policy = as_str(pc.get("preemptionPolicy")) if pc is not None else PREEMPT_LOWER_PRIORITY
        given = spec.get("priority")
        if given is not None and given != priority:
            raise forbidden_pod(obj, f"the integer value of priority ({given}) must not be provided in pod spec; "
                                     f"priority admission controller computed {priority} from the given "
                                     "PriorityClass name")
        spec["priority"] = priority
        if policy:
            given_policy = spec.get("preemptionPolicy")
            if given_policy is not None and given_policy != policy:
                raise forbidden_pod(obj, f"the string value of PreemptionPolicy ({given_policy}) must not be "
                                         f"provided in pod spec; priority admission controller computed {policy} "
                                         "from the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    async def priority_classes(self, obj: Obj, old: Obj | None, namespace: str) -> None:
        """validatePriorityClass: a second globalDefault class is refused."""
        if obj.get("globalDefault") is not True:
            return
        current = default_class(self.classes())
        if current is None or (old is not None and _name(current) == _name(obj)):
            return
        raise errors.forbidden_error(PRIORITY_CLASSES.plural, _name(obj) or "Unknown",
                                     f"PriorityClass {_name(current)} is already marked as default. "
                                     "Only one default can exist", PRIORITY_CLASSES.group)


__all__ = ["PriorityClassAdmission", "PriorityPlugin", "default_class", "refuse_system_class_delete",
           "validate_priority_class"]
