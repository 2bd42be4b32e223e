"""Pod validation of env valueFrom, envFrom and configMap/secret/downwardAPI/projected volumes (kube's messages)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.admission import ADMISSION

POD = ADMISSION["pods"]
MODE = "must be a number between 0 and 0777 (octal), both inclusive"
SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
             "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def pod(volumes: list[Any] | None = None, **container: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "nginx:1.25", **container}
    spec: dict[str, Any] = {"containers": [c]}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def env(value_from: dict[str, Any]) -> dict[str, Any]:
    return pod(env=[{"name": "X", "valueFrom": value_from}])


E = "spec.containers[0].env[0].valueFrom"
V = "spec.volumes[0]"


@pytest.mark.parametrize(("obj", "expected"), [
    (env({"fieldRef": {"fieldPath": "metadata.name"}}), []),
    (env({"fieldRef": {"fieldPath": "metadata.labels['app']"}}), []),
    (env({"fieldRef": {"fieldPath": "status.phase"}}),
     [f'{E}.fieldRef.fieldPath: Unsupported value: "status.phase": supported values: "metadata.name", '
      '"metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", '
      '"status.hostIPs", "status.podIP", "status.podIPs"']),
    (env({"fieldRef": {"fieldPath": "spec.hostname"}}),
     [f'{E}.fieldRef.fieldPath: Invalid value: "spec.hostname": error converting fieldPath: field label not '
      "supported: spec.hostname"]),
    (env({"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v2"}}),
     [f'{E}.fieldRef.fieldPath: Invalid value: "metadata.name": error converting fieldPath: unsupported pod '
      "version: v2"]),
    (env({"fieldRef": {}}), [f"{E}.fieldRef.fieldPath: Required value"]),
    (env({"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}), []),
    (env({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1000m"}}), []),  # canonically "1"
    (env({"resourceFieldRef": {"resource": "limits.gpu"}}),
     [f'{E}.resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", '
      '"limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", '
      '"requests.memory"']),
    (env({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}}),
     [f'{E}.resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor\'s values 1m and 1 are supported '
      "with the cpu resource"]),
    (env({"configMapKeyRef": {"name": "cfg"}}), [f"{E}.configMapKeyRef.key: Required value"]),
    (env({"secretKeyRef": {"name": "Bad", "key": "a/b"}}), [
        f'{E}.secretKeyRef.name: Invalid value: "Bad": {SUBDOMAIN}',
        f'{E}.secretKeyRef.key: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')"]),
    (pod(envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "P_"}, {"secretRef": {"name": "s"}}]), []),
    (pod(envFrom=[{"prefix": "P_"}]),
     ['spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`']),
    (pod(envFrom=[{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}]),
     ['spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time']),
    (pod(envFrom=[{"configMapRef": {}}]), ["spec.containers[0].envFrom[0].configMapRef.name: Required value"]),
    (pod([{"name": "v", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "x/y", "mode": 0o400}]}}]), []),
    (pod([{"name": "v", "configMap": {"defaultMode": 1000, "items": [{"key": "", "path": "../x"}]}}]), [
        f"{V}.configMap.name: Required value",
        f"{V}.configMap.defaultMode: Invalid value: 1000: {MODE}",
        f"{V}.configMap.items[0].key: Required value",
        f'{V}.configMap.items[0].path: Invalid value: "../x": must not contain \'..\'']),
    (pod([{"name": "v", "secret": {"items": [{"key": "k", "path": "/abs"}]}}]), [
        f"{V}.secret.secretName: Required value",
        f'{V}.secret.items[0].path: Invalid value: "/abs": must be a relative path']),
    (pod([{"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.labels"}},
                                                  {"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}},
                                                  {"path": "m"}]}}]), [
        f'{V}.downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: '
        '"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
        f"{V}.downwardAPI: Required value: one of fieldRef and resourceFieldRef is required"]),
    (pod([{"name": "v", "downwardAPI": {"items": [{"path": "c", "resourceFieldRef": {"resource": "limits.cpu"}}]}}]),
     [f"{V}.downwardAPI.resourceFieldRef.containerName: Required value"]),
    (pod([{"name": "v", "projected": {"sources": [{"configMap": {"name": "a", "items": [{"key": "k", "path": "p"}]}},
                                                  {"secret": {"name": "b", "items": [{"key": "k", "path": "p"}]}}]}}]),
     [f'{V}.projected: Invalid value: "b": conflicting duplicate paths']),
    (pod([{"name": "v", "projected": {"sources": [{"configMap": {"name": "a"}, "secret": {"name": "b"}}]}}]),
     [f"{V}.projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"]),
])
def test_validation_messages(obj: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in POD.admit_create(obj)] == expected


def test_downward_api_field_refs_default_their_api_version() -> None:
    obj = pod([{"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
               {"name": "w", "projected": {"sources": [{"downwardAPI": {"items": [
                   {"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}])
    assert POD.admit_create(obj) == []
    vols = obj["spec"]["volumes"]
    assert vols[0]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert vols[0]["downwardAPI"]["defaultMode"] == 420 and vols[1]["projected"]["defaultMode"] == 420
    assert vols[1]["projected"]["sources"][0]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
