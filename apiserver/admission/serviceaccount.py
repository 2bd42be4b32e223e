"""ServiceAccount admission (ValidateServiceAccount) and kube-apiserver's ServiceAccount plugin for Pods.

Why the plugin lives here: everything about ServiceAccounts has one home. On a Pod create it
names the account the Pod runs as (``default`` when the Pod names none, mirrored into the
deprecated ``serviceAccount``), refuses the Pod with a 403 when that account does not exist, and
copies the account's imagePullSecrets into a Pod that lists none. The ``default`` account of a new
namespace is created a moment later by the serviceaccount controller (controllers.serviceaccount),
so, as kube's plugin does, a missing ``default`` is looked up again for a short while before the
Pod is refused. Token volumes are not mounted: kubelite issues no service account tokens.

The kind itself is declared in apimachinery.kinds.serviceaccount.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from apimachinery import errors
from apimachinery.kinds.serviceaccount import DEFAULT_SERVICE_ACCOUNT
from apimachinery.resources import BY_KEY
from apiserver.admission.base import Admission, Obj, as_list, as_map, as_str, spec_of

#: (namespace, name) -> the stored ServiceAccount, or None.
Lookup = Callable[[str, str], "dict[str, Any] | None"]

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# getServiceAccount: the default account is looked up this many times (the controller may lag a
# new namespace), another account once; between tries a pause of 100-200 ms, drawn once.
DEFAULT_ATTEMPTS = 10
RETRY_BASE = 0.1

PODS = BY_KEY["pods"]


class ServiceAccountAdmission(Admission):
    """ValidateServiceAccount: valid metadata with a DNS-1123 subdomain name (the base rules)."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["serviceaccounts"])


def forbidden_pod(obj: Obj, message: str) -> errors.StatusError:
    """admission.NewForbidden for a Pod: named by its name, else its generateName, else ``Unknown``."""
    meta = as_map(obj.get("metadata"))
    name = as_str(meta.get("name")) or as_str(meta.get("generateName")) or "Unknown"
    return errors.forbidden_error(PODS.plural, name, message, PODS.group)


class ServiceAccountPlugin:
    """The ServiceAccount admission plugin, for Pod creates (an update keeps the stored account)."""

    def __init__(self, lookup: Lookup, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.lookup = lookup
        self.sleep = sleep

    async def _account(self, namespace: str, name: str) -> dict[str, Any] | None:
        """getServiceAccount: the cache first, then again a few times for the default account."""
        attempts = DEFAULT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        pause = RETRY_BASE + random.random() * RETRY_BASE
        for i in range(attempts + 1):
            if i > 1:
                await self.sleep(pause)
            found = self.lookup(namespace, name)
            if found is not None:
                return found
        return None

    async def __call__(self, obj: Obj, old: Obj | None, namespace: str) -> None:
        spec = spec_of(obj)
        if old is not None:
            # kube mutates only creates, so replacing a Pod with the manifest it was created from is
            # refused there (its account, and token volume, differ); kubelite keeps the stored
            # account when an update names none, as the Pod defaults keep replaces working
            if not spec.get("serviceAccountName") and not spec.get("serviceAccount"):
                stored = as_str(as_map(old.get("spec")).get("serviceAccountName"))
                if stored:
                    spec["serviceAccountName"] = spec["serviceAccount"] = stored
            return
        if MIRROR_POD_ANNOTATION in as_map(as_map(obj.get("metadata")).get("annotations")):
            if spec.get("serviceAccountName") or spec.get("serviceAccount"):
                raise forbidden_pod(obj, "a mirror pod may not reference service accounts")
            return
        # the v1 conversion: the deprecated serviceAccount stands in for an empty serviceAccountName
        name = as_str(spec.get("serviceAccountName")) or as_str(spec.get("serviceAccount")) or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        account = await self._account(namespace, name)
        if account is None:
            raise forbidden_pod(obj, f'error looking up service account {namespace}/{name}: '
                                     f'serviceaccount "{name}" not found')
        pull = [as_map(s).get("name") for s in as_list(account.get("imagePullSecrets"))]
        if not as_list(spec.get("imagePullSecrets")) and pull:
            spec["imagePullSecrets"] = [{"name": n} if n else {} for n in pull]


__all__ = ["MIRROR_POD_ANNOTATION", "ServiceAccountAdmission", "ServiceAccountPlugin", "forbidden_pod"]
