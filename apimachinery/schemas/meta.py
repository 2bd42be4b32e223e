"""meta/v1 structs: ObjectMeta and the types every kind shares.

Why: ObjectMeta is on every write path (uid, resourceVersion, labels,
ownerReferences, finalizers, managedFields) so it is modelled field by
field, in Go struct order, which is also the order we print fields in.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    UID,
    GoType,
    Int64,
    MetaSchema,
    Object,
    Schema,
    StringList,
    StringMap,
    Time,
)


class OwnerReference(MetaSchema):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: UID | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ManagedFieldsEntry(MetaSchema):
    manager: str | None = None
    operation: Annotated[str, GoType("v1.ManagedFieldsOperationType")] | None = None
    api_version: str | None = None
    time: Time | None = None
    fields_type: str | None = None
    fields_v1: Annotated[Object, GoType("v1.FieldsV1")] | None = None
    subresource: str | None = None


class ObjectMeta(MetaSchema):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: UID | None = None
    resource_version: str | None = None
    generation: Int64 | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: Int64 | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: StringList | None = None
    managed_fields: list[ManagedFieldsEntry] | None = None


class Condition(MetaSchema):
    """metav1.Condition, the shape new APIs (ServiceCIDR, Service status) use."""

    type: str | None = None
    status: Annotated[str, GoType("v1.ConditionStatus")] | None = None
    observed_generation: Int64 | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class LabelSelectorRequirement(MetaSchema):
    key: str | None = None
    operator: Annotated[str, GoType("v1.LabelSelectorOperator")] | None = None
    values: StringList | None = None


class LabelSelector(MetaSchema):
    match_labels: StringMap | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class TopLevel(Schema):
    """TypeMeta (inline) plus ObjectMeta: the head of every kind, in Go's order."""

    kind: str | None = None
    api_version: str | None = None
    metadata: ObjectMeta | None = None
