"""The serviceaccount controller: every active namespace has its ``default`` ServiceAccount.

Rules (kube-controller-manager's serviceaccount-controller):
- A namespace that appears, or changes, is looked at; so is the namespace of a deleted
  ServiceAccount, so a deleted ``default`` comes back.
- Only an Active namespace gets one: a Terminating namespace (being emptied) is left alone,
  and a create refused because the namespace began terminating meanwhile is not an error.
- The account is created bare (no secrets, no labels), only when the cache lacks it; a
  concurrent creator's AlreadyExists is success.

Why it matters: the API server's ServiceAccount admission refuses a Pod whose account does not
exist, and a Pod that names none runs as ``default``.
"""

from __future__ import annotations

import argparse
from typing import Any

from apimachinery.kinds.serviceaccount import DEFAULT_SERVICE_ACCOUNT
from apimachinery.objects import as_map
from apimachinery.resources import BY_KEY
from controllers.runtime.controller import Controller
from controllers.runtime.informers import InformerFactory
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

NAMESPACES = BY_KEY["namespaces"]
SERVICE_ACCOUNTS = BY_KEY["serviceaccounts"]
#: ServiceAccountsToEnsure: the accounts every namespace has.
ENSURED = (DEFAULT_SERVICE_ACCOUNT,)


def missing_accounts(namespace: dict[str, Any] | None, existing: set[str]) -> list[str]:
    """The accounts to create in ``namespace`` (None: gone) given the names its cache holds."""
    if namespace is None:
        return []
    meta, status = as_map(namespace.get("metadata")), as_map(namespace.get("status"))
    if meta.get("deletionTimestamp") or status.get("phase", "Active") != "Active":
        return []
    return [name for name in ENSURED if name not in existing]


def desired_account(namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


class ServiceAccountsController(Controller):
    """Reconciles namespace-name keys."""

    name = "serviceaccount"

    def __init__(self, client: Client, *, workers: int = 1, metrics: RuntimeMetrics | None = None,
                 informers: InformerFactory | None = None) -> None:
        super().__init__(client, workers=workers, metrics=metrics, informers=informers)
        self.namespaces = self.informer(NAMESPACES, enqueue=True)
        self.accounts = self.informer(SERVICE_ACCOUNTS)
        self.handle(self.accounts, on_delete=self._account_deleted)

    def _account_deleted(self, sa: dict[str, Any]) -> None:
        meta = as_map(sa.get("metadata"))
        if meta.get("name") in ENSURED and meta.get("namespace"):
            self.queue.add(str(meta["namespace"]))

    async def reconcile(self, key: str) -> None:
        namespace = self.namespaces.cache.get(None, key)
        existing = {str(as_map(sa.get("metadata")).get("name")) for sa in self.accounts.cache.list(key)}
        for name in missing_accounts(namespace, existing):
            try:
                await self.client.create(SERVICE_ACCOUNTS, desired_account(key, name), namespace=key)
            except errors.AlreadyExists:
                continue
            except errors.ApiError as e:
                if e.code == 403 and "being terminated" in e.message:
                    return  # the namespace began terminating meanwhile: nothing to keep
                if isinstance(e, errors.NotFound):
                    return  # the namespace is gone
                raise
            self.count("create_serviceaccount")
            self.log.info("%s: created ServiceAccount %s/%s", self.name, key, name)


def build_serviceaccount_parser() -> argparse.ArgumentParser:
    return build_parser("serviceaccount", "Keep the default ServiceAccount in every namespace.")


async def main(argv: list[str]) -> int:
    """``kubelite controller serviceaccount [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return ServiceAccountsController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("serviceaccount", argv, factory, parser=build_serviceaccount_parser())


__all__ = ["ServiceAccountsController", "desired_account", "main", "missing_accounts"]
