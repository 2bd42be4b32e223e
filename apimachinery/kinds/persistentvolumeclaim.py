"""core/v1 PersistentVolumeClaim (pkg/registry/core/persistentvolumeclaim); validation in
apiserver.admission.persistentvolume.

kubelite runs no storage provisioner and no volume binder: a claim stays
Pending, as on a cluster without a provisioner for its storage class.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.persistentvolume import access_modes_string, storage_class, storage_string, with_mode
from apimachinery.kinds.printing import AGE, NAME, as_text, dig, name_age
from apimachinery.kinds.tags import CORE

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0),
    ("Volume", "string", "", "volumeName is the binding reference to the PersistentVolume backing this claim.", 0),
    ("Capacity", "string", "", "capacity represents the actual resources of the underlying volume.", 0),
    ("Access Modes", "string", "", "accessModes contains the actual access modes the volume backing the PVC has. "
     "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1", 0),
    ("StorageClass", "string", "", "StorageClass of the pvc", 0),
    ("VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc", 0),
    AGE,
    ("VolumeMode", "string", "", "volumeMode defines what type of volume is required by the claim. Value of "
     "Filesystem is implied when not included in claim spec.", 1),
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printPersistentVolumeClaim: capacity and access modes only once bound to a volume."""
    spec = obj.get("spec") or {}
    phase = "Terminating" if dig(obj, "metadata", "deletionTimestamp") is not None else as_text(
        dig(obj, "status", "phase"))
    volume = as_text(spec.get("volumeName"))
    capacity = access = ""
    if volume:
        access = access_modes_string(dig(obj, "status", "accessModes"))
        capacity = storage_string(dig(obj, "status", "capacity"))
    vac = as_text(spec.get("volumeAttributesClassName")) or "<unset>"
    return [phase, volume, capacity, access, storage_class(obj), vac]


KIND = Kind(
    ResourceType("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", True,
                 ("pvc",), (), ("status",)),
    schema="apimachinery.schemas.persistentvolume.PersistentVolumeClaim",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "PersistentVolumeClaimSpec",
                              "status": CORE + "PersistentVolumeClaimStatus"}),
    zero=MappingProxyType({"spec": {"resources": {}}}),
    printer=Printer(_COLUMNS, with_mode(name_age(_cells))),
)
