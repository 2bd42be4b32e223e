"""core/v1 ServiceAccount: an identity Pods run as, with the secrets it may use."""

from __future__ import annotations

from apimachinery.schemas.core import LocalObjectReference, ObjectReference
from apimachinery.schemas.meta import TopLevel


class ServiceAccount(TopLevel):
    secrets: list[ObjectReference] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None
