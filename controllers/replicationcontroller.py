"""The replicationcontroller controller: keeps spec.replicas Pods of each ReplicationController.

Why a subclass: kube-controller-manager's ReplicationManager is its ReplicaSet manager run over
ReplicationControllers, and so is this one (controllers.replicaset.ReplicaSetController: the same
adoption, slow-start creates, deletion ranking, expectations and status). What differs is the
kind kept, the Events' component, and the selector: a label map that selects Pods carrying
every one of its labels (labels.SelectorFromSet).
"""

from __future__ import annotations

import argparse
from typing import Any

from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from controllers.replicaset import ReplicaSetController, build_replicaset_parser
from controllers.runtime.controller import Controller
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import run_controller_process
from kubeclient.client import Client

REPLICATION_CONTROLLERS = BY_KEY["replicationcontrollers"]


class ReplicationManager(ReplicaSetController):
    """Reconciles ``ns/name`` ReplicationController keys."""

    name = "replicationcontroller"
    owner_rt = REPLICATION_CONTROLLERS
    component = "replication-controller"

    @staticmethod
    def parse_selector(raw: Any) -> LabelSelector:
        """labels.SelectorFromSet(spec.selector): every label of the map, as matchLabels."""
        return from_label_selector_object({"matchLabels": raw} if isinstance(raw, dict) else None)


async def main(argv: list[str]) -> int:
    """``kubelite controller replicationcontroller [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        ctl = ReplicationManager(client, workers=args.workers, metrics=metrics, burst=args.burst_replicas)
        ctl.expectations.timeout = args.expectations_timeout
        return ctl

    return await run_controller_process("replicationcontroller", argv, factory,
                                        parser=build_replicaset_parser(
                                            "replicationcontroller",
                                            "Keep the Pods of every ReplicationController at spec.replicas."))


__all__ = ["ReplicationManager", "main"]
