"""Admission: defaulting and validation per resource type, with kube-apiserver's messages.

``ADMISSION`` maps every ResourceType.key in apimachinery.resources to its
Admission (types without special rules get the generic one). One module per
kind (``apiserver/admission/<kind>.py``, naming its Go source; apps.py holds
Deployment and ReplicaSet, which share template rules); the kind itself is
declared in ``apimachinery/kinds/<kind>.py``. The REST layer either calls
``admit_create`` / ``admit_update`` /
``admit_status_update`` (the whole kube-apiserver sequence, returning the
field errors to wrap with errors.invalid_object), or the steps one by one:
default -> generate name -> prepare_create/prepare_update -> validate_object_meta
(+ validate_object_meta_update) -> validate_create/validate_update.
"""

from __future__ import annotations

from apimachinery.resources import RESOURCES
from apiserver.admission.apps import DeploymentAdmission, ReplicaSetAdmission
from apiserver.admission.base import Admission, StatusResetAdmission
from apiserver.admission.configmap import ConfigMapAdmission
from apiserver.admission.controllerrevision import ControllerRevisionAdmission
from apiserver.admission.cronjob import CronJobAdmission
from apiserver.admission.daemonset import DaemonSetAdmission
from apiserver.admission.endpoints import EndpointsAdmission
from apiserver.admission.endpointslice import EndpointSliceAdmission
from apiserver.admission.event import EventAdmission
from apiserver.admission.ingress import IngressAdmission, IngressClassAdmission
from apiserver.admission.ipaddress import IPAddressAdmission
from apiserver.admission.job import JobAdmission
from apiserver.admission.lease import LeaseAdmission
from apiserver.admission.namespace import NamespaceAdmission
from apiserver.admission.node import NodeAdmission
from apiserver.admission.persistentvolume import PersistentVolumeAdmission, PersistentVolumeClaimAdmission
from apiserver.admission.pod import PodAdmission
from apiserver.admission.poddisruptionbudget import PodDisruptionBudgetAdmission
from apiserver.admission.priorityclass import PriorityClassAdmission
from apiserver.admission.replicationcontroller import ReplicationControllerAdmission
from apiserver.admission.secret import SecretAdmission
from apiserver.admission.service import ServiceAdmission
from apiserver.admission.serviceaccount import ServiceAccountAdmission
from apiserver.admission.servicecidr import ServiceCIDRAdmission
from apiserver.admission.statefulset import StatefulSetAdmission


def build_admission(*, service_families: tuple[str, ...] = ("IPv4",)) -> dict[str, Admission]:
    """One Admission per served resource; ``service_families`` is the cluster's Service IP families."""
    table: list[Admission] = [
        NamespaceAdmission(),
        PodAdmission(),
        ServiceAdmission(service_families),
        EndpointsAdmission(),
        NodeAdmission(),
        EventAdmission(),
        ConfigMapAdmission(),
        SecretAdmission(),
        PersistentVolumeClaimAdmission(),
        PersistentVolumeAdmission(),
        DeploymentAdmission(),
        ReplicaSetAdmission(),
        JobAdmission(),
        CronJobAdmission(),
        EndpointSliceAdmission(),
        LeaseAdmission(),
        IPAddressAdmission(),
        ServiceCIDRAdmission(),
        IngressAdmission(),
        IngressClassAdmission(),
        PodDisruptionBudgetAdmission(),
        ServiceAccountAdmission(),
        PriorityClassAdmission(),
        ReplicationControllerAdmission(),
        StatefulSetAdmission(),
        ControllerRevisionAdmission(),
        DaemonSetAdmission(),
    ]
    by_key = {a.resource.key: a for a in table}
    # kubelite's own types (e.g. the PortAllocation ledger) get the generic rules:
    # a DNS-1123 subdomain name and valid metadata.
    return {r.key: by_key.get(r.key) or Admission(r) for r in RESOURCES}


# Admissions hold no mutable state, so one shared table serves every request.
ADMISSION: dict[str, Admission] = build_admission()

__all__ = ["ADMISSION", "Admission", "StatusResetAdmission", "build_admission"]
