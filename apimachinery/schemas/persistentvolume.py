"""core/v1 PersistentVolume and PersistentVolumeClaim: storage a cluster offers and storage a Pod asks for.

Why typed field by field where kubelite reads a field (access modes,
capacity, claimRef, the volume sources kube validates most: hostPath, nfs,
local, csi); the cloud and legacy volume sources are kept as objects of
their Go type, accepted and stored as sent. Go struct order.
"""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.base import (
    GoType,
    Object,
    ResourceList,
    Schema,
    StringList,
    StringMap,
    Time,
    json_name,
)
from apimachinery.schemas.core import ObjectReference
from apimachinery.schemas.meta import LabelSelector, TopLevel

AccessMode = Annotated[str, GoType("v1.PersistentVolumeAccessMode")]
VolumeMode = Annotated[str, GoType("v1.PersistentVolumeMode")]


# the volume sources kept as objects of their Go type
_GCEPersistentDiskVolumeSource = Annotated[Object, GoType("v1.GCEPersistentDiskVolumeSource")]
_AWSElasticBlockStoreVolumeSource = Annotated[Object, GoType("v1.AWSElasticBlockStoreVolumeSource")]
_GlusterfsPersistentVolumeSource = Annotated[Object, GoType("v1.GlusterfsPersistentVolumeSource")]
_RBDPersistentVolumeSource = Annotated[Object, GoType("v1.RBDPersistentVolumeSource")]
_ISCSIPersistentVolumeSource = Annotated[Object, GoType("v1.ISCSIPersistentVolumeSource")]
_CinderPersistentVolumeSource = Annotated[Object, GoType("v1.CinderPersistentVolumeSource")]
_CephFSPersistentVolumeSource = Annotated[Object, GoType("v1.CephFSPersistentVolumeSource")]
_FCVolumeSource = Annotated[Object, GoType("v1.FCVolumeSource")]
_FlockerVolumeSource = Annotated[Object, GoType("v1.FlockerVolumeSource")]
_FlexPersistentVolumeSource = Annotated[Object, GoType("v1.FlexPersistentVolumeSource")]
_AzureFilePersistentVolumeSource = Annotated[Object, GoType("v1.AzureFilePersistentVolumeSource")]
_VsphereVirtualDiskVolumeSource = Annotated[Object, GoType("v1.VsphereVirtualDiskVolumeSource")]
_QuobyteVolumeSource = Annotated[Object, GoType("v1.QuobyteVolumeSource")]
_AzureDiskVolumeSource = Annotated[Object, GoType("v1.AzureDiskVolumeSource")]
_PhotonPersistentDiskVolumeSource = Annotated[Object, GoType("v1.PhotonPersistentDiskVolumeSource")]
_PortworxVolumeSource = Annotated[Object, GoType("v1.PortworxVolumeSource")]
_ScaleIOPersistentVolumeSource = Annotated[Object, GoType("v1.ScaleIOPersistentVolumeSource")]
_StorageOSPersistentVolumeSource = Annotated[Object, GoType("v1.StorageOSPersistentVolumeSource")]
_CSIPersistentVolumeSource = Annotated[Object, GoType("v1.CSIPersistentVolumeSource")]


class TypedLocalObjectReference(Schema):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class TypedObjectReference(Schema):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class VolumeResourceRequirements(Schema):
    limits: ResourceList | None = None
    requests: ResourceList | None = None


class PersistentVolumeClaimSpec(Schema):
    access_modes: list[AccessMode] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: VolumeMode | None = None
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimCondition(Schema):
    type: Annotated[str, GoType("v1.PersistentVolumeClaimConditionType")] | None = None
    status: Annotated[str, GoType("v1.ConditionStatus")] | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ModifyVolumeStatus(Schema):
    target_volume_attributes_class_name: str | None = None
    status: Annotated[str, GoType("v1.PersistentVolumeClaimModifyVolumeStatus")] | None = None


class PersistentVolumeClaimStatus(Schema):
    phase: Annotated[str, GoType("v1.PersistentVolumeClaimPhase")] | None = None
    access_modes: list[AccessMode] | None = None
    capacity: ResourceList | None = None
    conditions: list[PersistentVolumeClaimCondition] | None = None
    allocated_resources: ResourceList | None = None
    allocated_resource_statuses: StringMap | None = None
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: ModifyVolumeStatus | None = None


class PersistentVolumeClaim(TopLevel):
    spec: PersistentVolumeClaimSpec | None = None
    status: PersistentVolumeClaimStatus | None = None


class HostPathVolumeSource(Schema):
    path: str | None = None
    type: Annotated[str, GoType("v1.HostPathType")] | None = None


class NFSVolumeSource(Schema):
    server: str | None = None
    path: str | None = None
    read_only: bool | None = None


class LocalVolumeSource(Schema):
    path: str | None = None
    fs_type: str | None = None


class PersistentVolumeSpec(Schema):
    capacity: ResourceList | None = None
    # PersistentVolumeSource, inlined: exactly one of these is set
    gce_persistent_disk: _GCEPersistentDiskVolumeSource | None = None
    aws_elastic_block_store: _AWSElasticBlockStoreVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    glusterfs: _GlusterfsPersistentVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    rbd: _RBDPersistentVolumeSource | None = None
    iscsi: _ISCSIPersistentVolumeSource | None = None
    cinder: _CinderPersistentVolumeSource | None = None
    cephfs: _CephFSPersistentVolumeSource | None = None
    fc: _FCVolumeSource | None = None
    flocker: _FlockerVolumeSource | None = None
    flex_volume: _FlexPersistentVolumeSource | None = None
    azure_file: _AzureFilePersistentVolumeSource | None = None
    vsphere_volume: _VsphereVirtualDiskVolumeSource | None = None
    quobyte: _QuobyteVolumeSource | None = None
    azure_disk: _AzureDiskVolumeSource | None = None
    photon_persistent_disk: _PhotonPersistentDiskVolumeSource | None = None
    portworx_volume: _PortworxVolumeSource | None = None
    scale_io: _ScaleIOPersistentVolumeSource | None = json_name("scaleIO")
    local: LocalVolumeSource | None = None
    storageos: _StorageOSPersistentVolumeSource | None = None
    csi: _CSIPersistentVolumeSource | None = None
    access_modes: list[AccessMode] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: Annotated[str, GoType("v1.PersistentVolumeReclaimPolicy")] | None = None
    storage_class_name: str | None = None
    mount_options: StringList | None = None
    volume_mode: VolumeMode | None = None
    node_affinity: Annotated[Object, GoType("v1.VolumeNodeAffinity")] | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeStatus(Schema):
    phase: Annotated[str, GoType("v1.PersistentVolumePhase")] | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: Time | None = None


class PersistentVolume(TopLevel):
    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None
