"""PersistentVolumes and PersistentVolumeClaims (apimachinery/kinds/persistentvolume*.py): what a user sees.

HTTP CRUD with kube's defaults (Retain, Filesystem, phase Pending), the
ValidatePersistentVolume(Claim)(Update) messages, Tables and kubectl's
columns. No binder or provisioner runs: a claim stays Pending.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import run_kubectl

PVC = "/api/v1/namespaces/{ns}/persistentvolumeclaims"
PV = "/api/v1/persistentvolumes"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
ACCESS_MODES = '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
CLAIM_IMMUTABLE = ("spec: Forbidden: spec is immutable after creation except resources.requests and "
                   "volumeAttributesClassName for bound claims")


def _pvc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": {**body, **spec}}


def _pv(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                            "hostPath": {"path": "/data"}}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {k: v for k, v in {**body, **spec}.items() if v is not None}}


def _invalid(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["message"]


# --- claims -----------------------------------------------------------------------------------------


def test_claim_defaults_and_stays_pending(api: httpx.Client, ns: str) -> None:
    r = api.post(PVC.format(ns=ns), json=_pvc("data", status={"phase": "Bound"}))
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}  # the client's status is reset: PrepareForCreate
    got = api.get(PVC.format(ns=ns) + "/data").json()
    assert got["status"] == {"phase": "Pending"} and got["metadata"]["uid"] == claim["metadata"]["uid"]
    assert [i["metadata"]["name"] for i in api.get(PVC.format(ns=ns)).json()["items"]] == ["data"]
    assert api.delete(PVC.format(ns=ns) + "/data").status_code == 200
    assert api.get(PVC.format(ns=ns) + "/data").status_code == 404


def test_claim_validation_messages(api: httpx.Client, ns: str) -> None:
    r = api.post(PVC.format(ns=ns), json=_pvc("bad", accessModes=[], resources={}))
    assert _invalid(r) == (422, 'PersistentVolumeClaim "bad" is invalid: [spec.accessModes: Required value: at least '
                                '1 access mode is required, spec.resources[storage]: Required value]')
    r = api.post(PVC.format(ns=ns), json=_pvc("bad", accessModes=["Foo", "ReadWriteOncePod", "ReadWriteOnce"],
                                               resources={"requests": {"storage": "0"}}, volumeMode="Raw",
                                               storageClassName="Fast"))
    code, message = _invalid(r)
    assert code == 422
    assert message.startswith(
        'PersistentVolumeClaim "bad" is invalid: ['
        f'spec.accessModes: Unsupported value: "Foo": supported values: {ACCESS_MODES}, '
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes, "
        'spec.resources[storage]: Invalid value: "0": must be greater than zero, '
        'spec.storageClassName: Invalid value: "Fast": a lowercase RFC 1123 subdomain'), message
    assert message.endswith('spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"]')


def test_claim_data_source(api: httpx.Client, ns: str) -> None:
    url = PVC.format(ns=ns)
    r = api.post(url, json=_pvc("ds", dataSource={"kind": "Snapshot", "name": "s"}))
    assert _invalid(r) == (422, 'PersistentVolumeClaim "ds" is invalid: spec.dataSource: Invalid value: "Snapshot": '
                                "must be 'PersistentVolumeClaim' when referencing the default apiGroup")
    r = api.post(url, json=_pvc("ds", dataSource={"kind": "PersistentVolumeClaim", "name": "a"},
                                dataSourceRef={"kind": "PersistentVolumeClaim", "name": "b"}))
    assert _invalid(r) == (422, 'PersistentVolumeClaim "ds" is invalid: spec: Invalid value: spec.dataSource: '
                                "must match dataSourceRef")
    r = api.post(url, json=_pvc("ds", dataSource={"kind": "PersistentVolumeClaim", "name": "a"}))
    assert r.status_code == 201, r.text


def test_claim_spec_is_immutable_but_binds_once(api: httpx.Client, ns: str) -> None:
    url = PVC.format(ns=ns)
    assert api.post(url, json=_pvc("c")).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    # an unbound claim cannot be resized
    r = api.patch(url + "/c", content='{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', headers=merge)
    assert _invalid(r) == (422, f'PersistentVolumeClaim "c" is invalid: {CLAIM_IMMUTABLE}')
    r = api.patch(url + "/c", content='{"spec":{"accessModes":["ReadOnlyMany"]}}', headers=merge)
    assert _invalid(r) == (422, f'PersistentVolumeClaim "c" is invalid: {CLAIM_IMMUTABLE}')
    # volumeName may be set once (the binder's write), then not changed
    r = api.patch(url + "/c", content='{"spec":{"volumeName":"pv-a"}}', headers=merge)
    assert r.status_code == 200 and r.json()["spec"]["volumeName"] == "pv-a"
    r = api.patch(url + "/c", content='{"spec":{"volumeName":"pv-b"}}', headers=merge)
    assert _invalid(r) == (422, f'PersistentVolumeClaim "c" is invalid: {CLAIM_IMMUTABLE}')
    # a Bound claim may grow, never shrink
    r = api.patch(url + "/c/status", content='{"status":{"phase":"Bound","capacity":{"storage":"1Gi"},'
                                              '"accessModes":["ReadWriteOnce"]}}', headers=merge)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Bound", r.text
    r = api.patch(url + "/c", content='{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}', headers=merge)
    assert r.status_code == 200 and r.json()["spec"]["resources"]["requests"]["storage"] == "3Gi", r.text
    r = api.patch(url + "/c", content='{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', headers=merge)
    assert _invalid(r) == (422, 'PersistentVolumeClaim "c" is invalid: spec.resources.requests.storage: '
                                "Forbidden: field can not be less than previous value")
    # the main resource cannot write status
    r = api.patch(url + "/c", content='{"status":{"phase":"Lost"}}', headers=merge)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Bound"


def test_claim_table(api: httpx.Client, ns: str) -> None:
    url = PVC.format(ns=ns)
    api.post(url, json=_pvc("t", storageClassName="fast"))
    table = api.get(url, headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age",
        "VolumeMode"]
    [row] = table["rows"]
    cells = row["cells"]
    assert cells[:7] == ["t", "Pending", "", "", "", "fast", "<unset>"] and cells[8] == "Filesystem"


# --- volumes ----------------------------------------------------------------------------------------


def test_volume_defaults_and_status(api: httpx.Client, ns: str) -> None:
    name = f"{ns}-pv"
    r = api.post(PV, json=_pv(name))
    assert r.status_code == 201, r.text
    pv = r.json()
    assert "namespace" not in pv["metadata"]
    spec, status = pv["spec"], pv["status"]
    assert (spec["persistentVolumeReclaimPolicy"], spec["volumeMode"], spec["hostPath"]) == (
        "Retain", "Filesystem", {"path": "/data", "type": ""})
    assert status["phase"] == "Pending" and status["lastPhaseTransitionTime"].endswith("Z")
    # a status write that changes the phase stamps a new transition time
    r = api.put(f"{PV}/{name}/status", json={**pv, "status": {"phase": "Available",
                                                               "lastPhaseTransitionTime": "2020-01-01T00:00:00Z"}})
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Available", r.text
    assert api.delete(f"{PV}/{name}").status_code == 200


def test_volume_validation_messages(api: httpx.Client, ns: str) -> None:
    name = f"{ns}-bad"
    r = api.post(PV, json=_pv(name, capacity=None, accessModes=None, hostPath=None))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: [spec.accessModes: Required value, '
                                "spec.capacity: Required value, spec.capacity: Unsupported value: "
                                'core.ResourceList(nil): supported values: "storage", '
                                "spec: Required value: must specify a volume type]")
    r = api.post(PV, json=_pv(name, nfs={"server": "nfs.example", "path": "exports"},
                              persistentVolumeReclaimPolicy="Keep", capacity={"storage": "-1"}))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: ['
                                'spec.capacity[storage]: Invalid value: "-1": must be greater than zero, '
                                'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: '
                                '"Delete", "Recycle", "Retain", '
                                "spec.nfs: Forbidden: may not specify more than 1 volume type]")
    r = api.post(PV, json=_pv(name, hostPath=None, nodeAffinity={}, volumeMode="Raw", storageClassName="A"))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: ['
                                "spec.nodeAffinity.required: Required value: must specify required node constraints, "
                                "spec: Required value: must specify a volume type, "
                                'spec.storageClassName: Invalid value: "A": a lowercase RFC 1123 subdomain must '
                                "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
                                "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
                                'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"]')
    r = api.post(PV, json=_pv(name, cephfs={"monitors": ["m"]}))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: spec.cephFS: Forbidden: may not specify '
                                "more than 1 volume type")
    r = api.post(PV, json=_pv(name, hostPath=None, local={"path": "/mnt/disk"}))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: spec.nodeAffinity: Required value: '
                                "Local volume requires node affinity")
    r = api.post(PV, json=_pv(name, hostPath={"path": "/a/../b", "type": "Dir"}))
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: ['
                                "spec.hostPath.path: Invalid value: \"/a/../b\": must not contain '..', "
                                'spec.hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", '
                                '"CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]')


def test_volume_source_is_immutable(api: httpx.Client, ns: str) -> None:
    name = f"{ns}-imm"
    assert api.post(PV, json=_pv(name)).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    r = api.patch(f"{PV}/{name}", content='{"spec":{"hostPath":{"path":"/other"}}}', headers=merge)
    assert _invalid(r) == (422, f'PersistentVolume "{name}" is invalid: spec.persistentvolumesource: Forbidden: '
                                "spec.persistentvolumesource is immutable after creation")
    # capacity, access modes and the claim reference may change
    r = api.patch(f"{PV}/{name}", content='{"spec":{"capacity":{"storage":"6Gi"},'
                                          '"claimRef":{"namespace":"default","name":"data"}}}', headers=merge)
    assert r.status_code == 200, r.text


def test_volume_table(api: httpx.Client, ns: str) -> None:
    name = f"{ns}-tbl"
    api.post(PV, json=_pv(name, accessModes=["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                          claimRef={"namespace": "default", "name": "data"}, storageClassName="fast"))
    table = api.get(f"{PV}/{name}", headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]
    cells = table["rows"][0]["cells"]
    assert cells[:9] == [name, "5Gi", "RWO,RWX", "Retain", "Pending", "default/data", "fast", "<unset>", ""]
    assert cells[10] == "Filesystem"


# --- through kubectl --------------------------------------------------------------------------------


def test_kubectl_pvc_and_pv(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    pv = f"{ns}-k"
    manifest = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n"
        f"apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {pv}}}\n"
        "spec: {capacity: {storage: 2Gi}, accessModes: [ReadOnlyMany], nfs: {server: nfs.example, path: /x}}\n"
    )
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "apply", "-f", "-", stdin=manifest)
    assert (r.returncode, r.stdout) == (0, f"persistentvolumeclaim/data created\npersistentvolume/{pv} created\n"), \
        r.stderr

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "pvc", "-o", "wide")
    header, row = r.stdout.splitlines()
    assert re.split(r"\s{2,}", header) == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                                          "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE"]
    assert re.fullmatch(r"data\s+Pending\s+<unset>\s+\d+s\s+Filesystem", row), row

    r = run_kubectl(kubectl_env, tmp_path, "get", "pv", pv)
    header, row = r.stdout.splitlines()
    assert re.split(r"\s{2,}", header) == ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM",
                                          "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]
    assert re.fullmatch(rf"{pv}\s+2Gi\s+ROX\s+Retain\s+Pending\s+<unset>\s+\d+s", row), row

    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=", "--no-headers")
    lines = [line.split() for line in r.stdout.splitlines()]
    assert ["persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"] in lines
    assert ["persistentvolumes", "pv", "v1", "false", "PersistentVolume"] in lines

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "patch", "pvc", "data", "-p", '{"spec":{"storageClassName":"x"}}')
    assert r.returncode == 0, r.stderr  # a claim without a class may get one (retroactive default class)
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "patch", "pvc", "data", "-p", '{"spec":{"storageClassName":"y"}}')
    assert r.returncode == 1
    assert r.stderr == f'The PersistentVolumeClaim "data" is invalid: {CLAIM_IMMUTABLE}\n'
    assert run_kubectl(kubectl_env, tmp_path, "delete", "pv", pv).returncode == 0
