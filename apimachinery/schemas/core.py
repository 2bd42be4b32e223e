"""core/v1 kinds other than Pod, Service and Node: Namespace, Endpoints, Event.

Also ObjectReference, which Endpoints, Event and EndpointSlice point with.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    UID,
    ConditionStatus,
    GoType,
    Int32,
    MicroTime,
    Protocol,
    Schema,
    Time,
)
from apimachinery.schemas.meta import TopLevel


class ObjectReference(Schema):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: UID | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(Schema):
    name: str | None = None


# --- Namespace ---------------------------------------------------------------


class NamespaceSpec(Schema):
    finalizers: list[Annotated[str, GoType("v1.FinalizerName")]] | None = None


class NamespaceCondition(Schema):
    type: Annotated[str, GoType("v1.NamespaceConditionType")] | None = None
    status: ConditionStatus | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(Schema):
    phase: Annotated[str, GoType("v1.NamespacePhase")] | None = None
    conditions: list[NamespaceCondition] | None = None


class Namespace(TopLevel):
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


# --- Endpoints ---------------------------------------------------------------


class EndpointAddress(Schema):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(Schema):
    name: str | None = None
    port: Int32 | None = None
    protocol: Protocol | None = None
    app_protocol: str | None = None


class EndpointSubset(Schema):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TopLevel):
    subsets: list[EndpointSubset] | None = None


# --- Event -------------------------------------------------------------------


class EventSource(Schema):
    component: str | None = None
    host: str | None = None


class EventSeries(Schema):
    count: Int32 | None = None
    last_observed_time: MicroTime | None = None


class Event(TopLevel):
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: Time | None = None
    last_timestamp: Time | None = None
    count: Int32 | None = None
    type: str | None = None
    event_time: MicroTime | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None
