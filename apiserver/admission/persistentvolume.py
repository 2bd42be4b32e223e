"""PersistentVolume and PersistentVolumeClaim admission: SetDefaults_PersistentVolume(Claim), the
strategies' PrepareForCreate/Update, ValidatePersistentVolume(Update) and
ValidatePersistentVolumeClaim(Update) essentials, with kube-apiserver's messages.

The kinds are declared in apimachinery.kinds.persistentvolume(claim). No
binder or provisioner runs: a volume and a claim stay Pending (PrepareForCreate
sets it) until a client writes their status.

kube appends a go-cmp diff to the "immutable after creation" messages; go-cmp
deliberately randomises that text's spacing, so only the sentence is kept.
"""

from __future__ import annotations

import copy
import posixpath
from fractions import Fraction
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.kinds.persistentvolume import BETA_STORAGE_CLASS_ANNOTATION
from apimachinery.quantity import value_of
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from apimachinery.validation import (
    FIELD_IMMUTABLE,
    GoValue,
    is_dns1123_subdomain,
    name_is_dns_label,
    name_is_dns_subdomain,
    validate_immutable,
)
from apiserver.admission.apps import validate_label_selector
from apiserver.admission.base import (
    Obj,
    StatusResetAdmission,
    as_list,
    as_map,
    as_str,
    semantic_equal,
    spec_of,
)

PENDING = "Pending"
BOUND = "Bound"
ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]  # sets.List: sorted
VOLUME_MODES = ["Block", "Filesystem"]
RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket"]
NOT_POSITIVE = "must be greater than zero"
CLAIM_SPEC_IMMUTABLE = ("spec is immutable after creation except resources.requests and volumeAttributesClassName "
                        "for bound claims")
SOURCE_IMMUTABLE = "spec.persistentvolumesource is immutable after creation"
LESS_THAN_PREVIOUS = "field can not be less than previous value"

# PersistentVolumeSource's members in the order ValidatePersistentVolumeSpec counts them
VOLUME_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd",
                  "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume",
                  "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi")
_FORBIDDEN_PATH = {"cephfs": "cephFS"}  # kube names this one so in its "more than 1 volume type" error


def _access_modes(modes: list[Any], path: str) -> list[FieldError]:
    """The accessModes loop both specs share: supported values, ReadWriteOncePod alone."""
    errs: list[FieldError] = []
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(path, mode, ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            rwop = True
        elif mode in ACCESS_MODES:
            other = True
    if rwop and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _positive(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveQuantityValue."""
    amount = value_of(value)
    if amount is not None and amount <= 0:
        return [invalid(path, as_str(value) or str(value), NOT_POSITIVE)]
    return []


def _class_name(value: Any, path: str) -> list[FieldError]:
    """ValidateClassName (a DNS-1123 subdomain) of a set, non-empty class name."""
    if not isinstance(value, str) or not value:
        return []
    return [invalid(path, value, m) for m in name_is_dns_subdomain(value)]


def _volume_mode(spec: dict[str, Any], path: str) -> list[FieldError]:
    mode = spec.get("volumeMode")
    return [not_supported(path, mode, VOLUME_MODES)] if mode is not None and mode not in VOLUME_MODES else []


def _go_resource_list(value: Any) -> GoValue:
    """%#v of a core.ResourceList, names only (Quantity's Go struct dump is not reproduced)."""
    if not isinstance(value, dict):
        return GoValue("core.ResourceList(nil)")
    return GoValue("core.ResourceList{" + ", ".join(f'"{k}":{as_str(value[k])}' for k in sorted(value)) + "}")


def _storage(spec: dict[str, Any]) -> Fraction | None:
    return value_of(as_map(as_map(spec.get("resources")).get("requests")).get("storage"))


# --- PersistentVolumeClaim ------------------------------------------------------------------------------


def validate_claim_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimSpec."""
    errs: list[FieldError] = []
    modes = as_list(spec.get("accessModes"))
    if not modes:
        errs.append(required(f"{path}.accessModes", "at least 1 access mode is required"))
    if isinstance(spec.get("selector"), dict):
        errs += validate_label_selector(spec["selector"], f"{path}.selector")
    errs += _access_modes(modes, f"{path}.accessModes")
    requests = as_map(as_map(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(f"{path}.resources[storage]"))
    else:
        errs += _positive(requests["storage"], f"{path}.resources[storage]")
    errs += _class_name(spec.get("storageClassName"), f"{path}.storageClassName")
    errs += _volume_mode(spec, f"{path}.volumeMode")
    source, ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if isinstance(source, dict):
        errs += _data_source(source, f"{path}.dataSource")
    if isinstance(ref, dict):
        errs += _data_source(ref, f"{path}.dataSourceRef")
        if as_str(ref.get("namespace")):
            errs += [invalid(f"{path}.dataSourceRef.namespace", ref["namespace"], m)
                     for m in name_is_dns_label(as_str(ref["namespace"]))]
    if isinstance(ref, dict) and as_str(ref.get("namespace")):
        if isinstance(source, dict):
            errs.append(invalid(path, GoValue(f"{path}.dataSource"),
                                "may not be specified when dataSourceRef.namespace is specified"))
    elif isinstance(source, dict) and isinstance(ref, dict):
        if any(source.get(k) != ref.get(k) for k in ("apiGroup", "kind", "name")):
            errs.append(invalid(path, GoValue(f"{path}.dataSource"), "must match dataSourceRef"))
    return errs


def _data_source(ref: dict[str, Any], path: str) -> list[FieldError]:
    """validateDataSource / validateDataSourceRef: a named kind, a PersistentVolumeClaim in the core group."""
    errs = [required(f"{path}.{key}") for key in ("name", "kind") if not as_str(ref.get(key))]
    group = as_str(ref.get("apiGroup"))
    if not group and ref.get("kind") != "PersistentVolumeClaim":
        errs.append(invalid(path, as_str(ref.get("kind")),
                            "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs += [invalid(f"{path}.apiGroup", group, m) for m in is_dns1123_subdomain(group)]
    return errs


class PersistentVolumeClaimAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["persistentvolumeclaims"])

    def default(self, obj: Obj) -> None:
        """SetDefaults_PersistentVolumeClaimSpec: volumeMode Filesystem."""
        spec = spec_of(obj)
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        """SetDefaults_PersistentVolumeClaim on the reset status: a new claim is Pending."""
        return {"phase": PENDING}

    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        # the VolumeAttributesClass feature is off by default in 1.32: dropDisabledFields
        spec_of(obj).pop("volumeAttributesClassName", None)

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "volumeAttributesClassName" not in as_map(old.get("spec")):
            spec_of(obj).pop("volumeAttributesClassName", None)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_claim_spec(as_map(obj.get("spec")), "spec")

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidatePersistentVolumeClaimUpdate: the spec is fixed but for binding once and resizing when Bound."""
        errs = self.validate_create(obj)
        new_spec, old_spec = copy.deepcopy(as_map(obj.get("spec"))), copy.deepcopy(as_map(old.get("spec")))
        if not old_spec.get("volumeName"):
            # volumeName may be set once (the binder's write)
            old_spec["volumeName"] = new_spec.get("volumeName")
        old_annotations = as_map(as_map(old.get("metadata")).get("annotations"))
        new_annotations = as_map(as_map(obj.get("metadata")).get("annotations"))
        errs += validate_immutable(new_annotations.get(BETA_STORAGE_CLASS_ANNOTATION),
                                   old_annotations.get(BETA_STORAGE_CLASS_ANNOTATION),
                                   f"metadata.annotations.{BETA_STORAGE_CLASS_ANNOTATION}")
        if (BETA_STORAGE_CLASS_ANNOTATION not in old_annotations and old_spec.get("storageClassName") is None
                and new_spec.get("storageClassName") is not None):
            # validateStorageClassUpgradeFromNil: a claim without a class may get one (retroactive default)
            new_spec.pop("storageClassName", None)
        if as_str(as_map(obj.get("status")).get("phase")) == BOUND and isinstance(
                as_map(new_spec.get("resources")).get("requests"), dict):
            new_spec["resources"]["requests"]["storage"] = as_map(
                as_map(old_spec.get("resources")).get("requests")).get("storage")
        if not semantic_equal(new_spec, old_spec):
            errs.append(forbidden("spec", CLAIM_SPEC_IMMUTABLE))
        new_size, old_size = _storage(as_map(obj.get("spec"))), _storage(as_map(old.get("spec")))
        if new_size is not None and old_size is not None and new_size < old_size:
            errs.append(forbidden("spec.resources.requests.storage", LESS_THAN_PREVIOUS))
        errs += validate_immutable(as_map(obj.get("spec")).get("volumeMode"),
                                   as_map(old.get("spec")).get("volumeMode"), "volumeMode")
        return errs


# --- PersistentVolume ---------------------------------------------------------------------------------


def _no_backsteps(value: str, path: str) -> list[FieldError]:
    """validatePathNoBacksteps."""
    if ".." in value.replace("\\", "/").split("/"):
        return [invalid(path, value, "must not contain '..'")]
    return []


def _source_errors(name: str, source: dict[str, Any], path: str) -> list[FieldError]:
    """The per-source rules kube applies to the sources kubelite types (hostPath, nfs, local, csi)."""
    errs: list[FieldError] = []
    if name == "hostPath":
        host = as_str(source.get("path"))
        if not host:
            return [required(f"{path}.path")]
        errs += _no_backsteps(host, f"{path}.path")
        kind = source.get("type")
        if kind is not None and kind not in HOST_PATH_TYPES:
            errs.append(not_supported(f"{path}.type", kind, HOST_PATH_TYPES))
    elif name == "nfs":
        if not as_str(source.get("server")):
            errs.append(required(f"{path}.server"))
        if not as_str(source.get("path")):
            errs.append(required(f"{path}.path"))
        if not as_str(source.get("path")).startswith("/"):
            errs.append(invalid(f"{path}.path", as_str(source.get("path")), "must be an absolute path"))
    elif name == "local":
        local = as_str(source.get("path"))
        if not local:
            return [required(f"{path}.path")]
        errs += _no_backsteps(local, f"{path}.path")
    elif name == "csi":
        if not as_str(source.get("driver")):
            errs.append(required(f"{path}.driver"))
        if not as_str(source.get("volumeHandle")):
            errs.append(required(f"{path}.volumeHandle"))
    return errs


def validate_volume_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """ValidatePersistentVolumeSpec for a PersistentVolume object (not an inline spec)."""
    errs: list[FieldError] = []
    modes = as_list(spec.get("accessModes"))
    if not modes:
        errs.append(required(f"{path}.accessModes"))
    errs += _access_modes(modes, f"{path}.accessModes")
    capacity = spec.get("capacity")
    if not as_map(capacity):
        errs.append(required(f"{path}.capacity"))
    if "storage" not in as_map(capacity) or len(as_map(capacity)) > 1:
        errs.append(not_supported(f"{path}.capacity", _go_resource_list(capacity), ["storage"]))
    for resource, amount in as_map(capacity).items():
        errs += _positive(amount, f"{path}.capacity[{resource}]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if as_str(policy) and policy not in RECLAIM_POLICIES:
        errs.append(not_supported(f"{path}.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if isinstance(affinity, dict) and affinity.get("required") is None:
        # validateVolumeNodeAffinity (the node selector's own terms are not checked here)
        errs.append(required(f"{path}.nodeAffinity.required", "must specify required node constraints"))
    count = 0
    for name in VOLUME_SOURCES:
        source = spec.get(name)
        if source is None:
            continue
        if count > 0 and name != "flexVolume":  # kube counts flexVolume without this check
            errs.append(forbidden(f"{path}.{_FORBIDDEN_PATH.get(name, name)}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += _source_errors(name, as_map(source), f"{path}.{name}")
        if name == "local" and not isinstance(affinity, dict):
            errs.append(required(f"{path}.nodeAffinity", "Local volume requires node affinity"))
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    host = as_map(spec.get("hostPath"))
    if host and posixpath.normpath(as_str(host.get("path")) or ".") == "/" and policy == "Recycle":
        errs.append(forbidden(f"{path}.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"))
    errs += _class_name(spec.get("storageClassName"), f"{path}.storageClassName")
    return errs + _volume_mode(spec, f"{path}.volumeMode")


def _sources(spec: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get(name) for name in VOLUME_SOURCES if spec.get(name) is not None}


class PersistentVolumeAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["persistentvolumes"])

    def default(self, obj: Obj) -> None:
        """SetDefaults_PersistentVolume: reclaim policy Retain, volumeMode Filesystem, hostPath type ""."""
        spec = spec_of(obj)
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        host = spec.get("hostPath")
        if isinstance(host, dict) and host.get("type") is None:
            host["type"] = ""

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        """PrepareForCreate: a new volume is Pending since now (lastPhaseTransitionTime)."""
        return {"phase": PENDING, "lastPhaseTransitionTime": format_time()}

    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        spec_of(obj).pop("volumeAttributesClassName", None)  # VolumeAttributesClass: off by default

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "volumeAttributesClassName" not in as_map(old.get("spec")):
            spec_of(obj).pop("volumeAttributesClassName", None)

    def prepare_status_update(self, obj: Obj, old: Obj) -> None:
        """PrepareForUpdate of the status strategy: a phase change stamps lastPhaseTransitionTime."""
        super().prepare_status_update(obj, old)
        status, old_status = as_map(obj.get("status")), as_map(old.get("status"))
        if (status and status.get("phase") != old_status.get("phase")
                and status.get("lastPhaseTransitionTime") == old_status.get("lastPhaseTransitionTime")):
            status["lastPhaseTransitionTime"] = format_time()

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_volume_spec(as_map(obj.get("spec")), "spec")

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidatePersistentVolumeUpdate: the volume source and volumeMode are fixed at creation."""
        new_spec, old_spec = as_map(obj.get("spec")), as_map(old.get("spec"))
        errs = self.validate_create(obj)
        if not semantic_equal(_sources(new_spec), _sources(old_spec)):
            errs.append(forbidden("spec.persistentvolumesource", SOURCE_IMMUTABLE))
        errs += validate_immutable(new_spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode")
        if isinstance(old_spec.get("nodeAffinity"), dict) and not semantic_equal(
                new_spec.get("nodeAffinity"), old_spec.get("nodeAffinity")):
            errs.append(invalid("nodeAffinity", GoValue("<node affinity>"),
                                FIELD_IMMUTABLE + ", except for updating from beta label to GA"))
        return errs
