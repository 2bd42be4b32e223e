"""A container's environment with ConfigMaps, Secrets, the downward API and resourceFieldRef (kubelet rules)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from apimachinery import containerenv, podsources

Obj = dict[str, Any]
POD: Obj = {
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"},
                 "annotations": {"team": "fe", "note": 'say "hi"'}},
    "spec": {"nodeName": "node-2", "serviceAccountName": "builder"},
}


def resolve(container: Obj, sources: podsources.Sources | None = None, events: list[str] | None = None) -> dict[str, str]:
    return dict(containerenv.container_env(POD, container, services=[], pod_ip="127.10.2.5", host_ip="127.0.1.2",
                                           sources=sources, events=events))


@pytest.mark.parametrize(("path", "expected"), [
    ("metadata.name", "web-1"), ("metadata.namespace", "shop"), ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"), ("metadata.labels['absent']", ""),
    ("metadata.annotations['team']", "fe"), ("spec.nodeName", "node-2"), ("spec.serviceAccountName", "builder"),
    ("status.podIP", "127.10.2.5"), ("status.podIPs", "127.10.2.5"), ("status.hostIP", "127.0.1.2"),
    ("status.hostIPs", "127.0.1.2"), ("metadata.annotations", 'note="say \\"hi\\""\nteam="fe"'),
])
def test_field_ref(path: str, expected: str) -> None:
    assert resolve({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": path}}}]})["X"] == expected


@pytest.mark.parametrize(("resources", "resource", "divisor", "expected"), [
    ({"limits": {"cpu": "500m"}}, "limits.cpu", None, "1"),  # cores, rounded up
    ({"limits": {"cpu": "500m"}}, "limits.cpu", "1m", "500"),
    ({"limits": {"cpu": "1.5"}}, "limits.cpu", "1", "2"),
    ({}, "limits.cpu", None, "8"),  # no limit: the node's allocatable
    ({}, "limits.cpu", "1m", "8000"),
    ({}, "requests.cpu", None, "0"),  # no request: 0
    ({"requests": {"cpu": "250m"}}, "requests.cpu", "1m", "250"),
    ({"requests": {"cpu": "1m"}}, "requests.cpu", None, "1"),
    ({"limits": {"memory": "64Mi"}}, "limits.memory", None, "67108864"),
    ({"limits": {"memory": "64Mi"}}, "limits.memory", "1Mi", "64"),
    ({"limits": {"memory": "100M"}}, "limits.memory", "1Mi", "96"),  # 95.37 rounded up
    ({"requests": {"memory": "1Gi"}}, "requests.memory", "1k", "1073742"),
    ({}, "limits.memory", "1Gi", "16"),
    ({}, "limits.ephemeral-storage", "1Gi", "100"),
    ({}, "requests.ephemeral-storage", None, "0"),
    ({"limits": {"cpu": "2"}}, "limits.cpu", "0", "2"),  # a zero divisor is no divisor
])
def test_resource_field_ref(resources: Obj, resource: str, divisor: str | None, expected: str) -> None:
    ref: Obj = {"resource": resource}
    if divisor is not None:
        ref["divisor"] = divisor
    c = {"resources": resources, "env": [{"name": "X", "valueFrom": {"resourceFieldRef": ref}}]}
    assert resolve(c)["X"] == expected


def test_unsupported_resource_is_a_config_error() -> None:
    c = {"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]}
    with pytest.raises(containerenv.ConfigError, match=r"unsupported container resource : limits\.gpu"):
        resolve(c)


def cm(name: str, data: dict[str, str], **extra: Any) -> podsources.Source:
    return podsources.source_of(podsources.CONFIGMAP, {"metadata": {"namespace": "shop", "name": name},
                                                       "data": data, **extra})


def secret(name: str, data: dict[str, str]) -> podsources.Source:
    return podsources.source_of(podsources.SECRET, {"metadata": {"namespace": "shop", "name": name},
                                                    "data": {k: base64.b64encode(v.encode()).decode()
                                                             for k, v in data.items()}})


SOURCES = {("configmap", "cfg"): cm("cfg", {"mode": "fast", "1bad": "x", "good.name": "y"}),
           ("secret", "creds"): secret("creds", {"user": "admin", "pass": "hunter2"})}


@pytest.mark.parametrize(("var", "expected"), [
    ({"configMapKeyRef": {"name": "cfg", "key": "mode"}}, "fast"),
    ({"secretKeyRef": {"name": "creds", "key": "pass"}}, "hunter2"),
])
def test_key_refs(var: Obj, expected: str) -> None:
    assert resolve({"env": [{"name": "X", "valueFrom": var}]}, SOURCES)["X"] == expected


@pytest.mark.parametrize(("var", "message"), [
    ({"configMapKeyRef": {"name": "cfg", "key": "absent"}}, "couldn't find key absent in ConfigMap shop/cfg"),
    ({"secretKeyRef": {"name": "creds", "key": "absent"}}, "couldn't find key absent in Secret shop/creds"),
    ({"configMapKeyRef": {"name": "gone", "key": "k"}}, 'configmap "gone" not found'),
    ({"secretKeyRef": {"name": "gone", "key": "k"}}, 'secret "gone" not found'),
])
def test_missing_references_fail_unless_optional(var: Obj, message: str) -> None:
    with pytest.raises(containerenv.ConfigError) as e:
        resolve({"env": [{"name": "X", "valueFrom": var}]}, SOURCES)
    assert str(e.value) == message
    next(iter(var.values()))["optional"] = True
    assert "X" not in resolve({"env": [{"name": "X", "valueFrom": var}]}, SOURCES)


def test_env_from_prefixes_skips_invalid_names_with_the_kubelets_event_and_env_wins() -> None:
    events: list[str] = []
    c = {"envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "creds"}, "prefix": "DB_"},
                     {"configMapRef": {"name": "gone", "optional": True}}],
         "env": [{"name": "mode", "value": "slow $(DB_user)"}]}
    env = resolve(c, SOURCES, events)
    assert env["mode"] == "slow admin"  # env after envFrom, and it expands envFrom's variables
    assert env["good.name"] == "y" and env["DB_user"] == "admin" and env["DB_pass"] == "hunter2"
    assert "1bad" not in env
    assert events == ["Keys [1bad] from the EnvFrom configMap shop/cfg were skipped since they are considered "
                      "invalid environment variable names."]
    with pytest.raises(containerenv.ConfigError, match='configmap "gone" not found'):
        resolve({"envFrom": [{"configMapRef": {"name": "gone"}}]}, SOURCES)


def test_a_source_never_prints_its_values() -> None:
    s = SOURCES[("secret", "creds")]
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)


def test_references_cover_env_env_from_and_volumes() -> None:
    pod = {"spec": {"initContainers": [{"envFrom": [{"secretRef": {"name": "s1"}}]}],
                    "containers": [{"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c1", "key": "k"}}}]}],
                    "volumes": [{"name": "v", "configMap": {"name": "c2"}}, {"name": "w", "secret": {"secretName": "s2"}},
                                {"name": "p", "projected": {"sources": [{"configMap": {"name": "c3"}},
                                                                        {"secret": {"name": "s3"}}]}}]}}
    assert podsources.references(pod) == {("secret", "s1"), ("configmap", "c1"), ("configmap", "c2"),
                                          ("secret", "s2"), ("configmap", "c3"), ("secret", "s3")}
