"""core/v1 PersistentVolume (pkg/registry/core/persistentvolume), cluster-scoped; validation in
apiserver.admission.persistentvolume.

kubelite runs no volume binder: a PersistentVolume stays in the phase it was
created with (Pending) unless a client writes its status, as on a cluster
whose controller manager runs no persistentvolume-binder.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, as_text, dig, name_age
from apimachinery.kinds.tags import CORE
from apimachinery.quantity import QuantityError, canonical

# GetAccessModesAsString's order and abbreviations
_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"

_D_CLAIM_REF = (
    "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected "
    "to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"
)

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Capacity", "string", "", "capacity is the description of the persistent volume's resources and capacity. "
     "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity", 0),
    ("Access Modes", "string", "", "accessModes contains all ways the volume can be mounted. More info: "
     "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes", 0),
    ("Reclaim Policy", "string", "", "persistentVolumeReclaimPolicy defines what happens to a persistent volume "
     "when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), "
     "Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be "
     "supported by the volume plugin underlying this PersistentVolume. More info: "
     "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming", 0),
    ("Status", "string", "", "phase indicates if a volume is available, bound to a claim, or released by a "
     "claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase", 0),
    ("Claim", "string", "", _D_CLAIM_REF, 0),
    ("StorageClass", "string", "", "StorageClass of the pv", 0),
    ("VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv", 0),
    ("Reason", "string", "", "reason is a brief CamelCase string that describes any failure and is meant for "
     "machine parsing and tidy display in the CLI.", 0),
    AGE,
    ("VolumeMode", "string", "", "volumeMode defines if a volume is intended to be used with a formatted "
     "filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.", 1),
)


def access_modes_string(modes: Any) -> str:
    """helper.GetAccessModesAsString: ``RWO,ROX,RWX,RWOP`` in that order, each once."""
    present = {as_text(m) for m in as_items(modes)}
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def storage_string(resources: Any) -> str:
    """``Quantity.String()`` of a ResourceList's ``storage``; ``0`` when absent (Go's zero Quantity)."""
    value = dig(resources, "storage")
    if value is None:
        return "0"
    try:
        return canonical(str(value))
    except QuantityError:
        return as_text(value)


def storage_class(obj: dict[str, Any]) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    annotations = dig(obj, "metadata", "annotations")
    if isinstance(annotations, dict) and BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return as_text(annotations[BETA_STORAGE_CLASS_ANNOTATION])
    return as_text(dig(obj, "spec", "storageClassName"))


def _phase(obj: dict[str, Any]) -> str:
    """The printers' phase: ``Terminating`` once deletion started."""
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return as_text(dig(obj, "status", "phase"))


def volume_mode(obj: dict[str, Any]) -> str:
    mode = dig(obj, "spec", "volumeMode")
    return "<unset>" if mode is None else as_text(mode)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printPersistentVolume (VOLUMEMODE, priority 1, comes after AGE: appended by _cells_with_mode)."""
    spec = obj.get("spec") or {}
    claim = spec.get("claimRef")
    claim_text = f"{as_text(dig(claim, 'namespace'))}/{as_text(dig(claim, 'name'))}" if isinstance(claim, dict) else ""
    vac = spec.get("volumeAttributesClassName")
    return [storage_string(spec.get("capacity")), access_modes_string(spec.get("accessModes")),
            as_text(spec.get("persistentVolumeReclaimPolicy")), _phase(obj), claim_text, storage_class(obj),
            "<unset>" if vac is None else as_text(vac), as_text(dig(obj, "status", "reason"))]


def with_mode(cells: Any) -> Any:
    """Cells ending ``AGE, VOLUMEMODE`` (the wide column after the age)."""

    def row(obj: dict[str, Any], now: Any) -> list[Any]:
        return [*cells(obj, now), volume_mode(obj)]

    return row


KIND = Kind(
    ResourceType("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False, ("pv",), (),
                 ("status",)),
    schema="apimachinery.schemas.persistentvolume.PersistentVolume",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": CORE + "PersistentVolumeSpec",
                              "status": CORE + "PersistentVolumeStatus"}),
    printer=Printer(_COLUMNS, with_mode(name_age(_cells))),
)
