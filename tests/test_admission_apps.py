"""apps/v1 Deployment and ReplicaSet admission: v1 defaults and kube-apiserver's 422 messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.admission import ADMISSION

DEPLOY = ADMISSION["deployments.apps"]
RS = ADMISSION["replicasets.apps"]
PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
               "regex used for validation is '[0-9]+%')")


def deployment(spec: dict[str, Any] | None = None, *, labels: dict[str, str] | None = None,
               **container: Any) -> dict[str, Any]:
    c = {"name": "echo", "image": "kubelite/echo", **container}
    base: dict[str, Any] = {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"} if labels is None else labels},
                     "spec": {"containers": [c]}},
    }
    base.update(spec or {})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": base}


def replica_set(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    d = deployment(spec)
    d["kind"] = "ReplicaSet"
    d["metadata"]["name"] = "web-5c8b7f4c99"
    return d


def errors_of(admission: Any, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in admission.admit_create(obj)]


def test_deployment_defaults_as_kube_apiserver() -> None:
    obj = deployment({"replicas": None, "strategy": {}})
    obj["spec"].pop("replicas")
    assert errors_of(DEPLOY, obj) == []
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert {k: pod[k] for k in ("dnsPolicy", "restartPolicy", "securityContext", "terminationGracePeriodSeconds",
                                "schedulerName")} == {
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
        "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"}
    assert pod["containers"][0] == {"name": "echo", "image": "kubelite/echo", "imagePullPolicy": "Always",
                                    "terminationMessagePath": "/dev/termination-log",
                                    "terminationMessagePolicy": "File", "resources": {}}
    # Pod-only defaults (admission plugins, SetDefaults_Pod) are not applied to a template
    assert "tolerations" not in pod and "priority" not in pod and "enableServiceLinks" not in pod
    assert obj["status"] == {}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({"type": "Recreate"}, {"type": "Recreate"}),
        ({"rollingUpdate": {"maxSurge": 0}}, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0,
                                                                                         "maxUnavailable": "25%"}}),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "maxSurge": "25%"}}),
    ],
)
def test_strategy_defaults(strategy: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = deployment({"strategy": strategy})
    assert errors_of(DEPLOY, obj) == []
    assert obj["spec"]["strategy"] == expected


def test_replica_set_defaults_replicas_only() -> None:
    obj = replica_set()
    obj["spec"].pop("replicas")
    assert errors_of(RS, obj) == []
    assert obj["spec"]["replicas"] == 1
    assert "strategy" not in obj["spec"] and "revisionHistoryLimit" not in obj["spec"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(), []),
        (deployment({"selector": None}), [
            "spec.selector: Required value",
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
            "`selector` does not match template `labels`",
        ]),
        (deployment({"selector": {}}), [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
        ]),
        (deployment(labels={"app": "other"}), [
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            "`selector` does not match template `labels`",
        ]),
        (deployment({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}), [
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is "
            "'In' or 'NotIn'",
            # as in Go, LabelSelectorAsSelector fails too (an In without values)
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", '
            "Values:[]string(nil)}}}: invalid label selector",
        ]),
        (deployment({"replicas": -1}), ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        (deployment({"strategy": {"type": "Rolling"}}), [
            'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Rolling", '
            'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"',
        ]),
        (deployment({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}), [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        ]),
        (deployment({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}), [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ]),
        (deployment({"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}}), [
            'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
        ]),
        (deployment({"strategy": {"rollingUpdate": {"maxUnavailable": "110%"}}}), [
            'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "110%": must not be greater than 100%',
        ]),
        (deployment({"strategy": {"rollingUpdate": {"maxSurge": "lots"}}}), [
            f'spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": {PERCENT_MSG}',
        ]),
        (deployment({"strategy": {"rollingUpdate": {"maxSurge": -1}}}), [
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
        ]),
        (deployment({"minReadySeconds": 700}), [
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
        ]),
        (deployment({"revisionHistoryLimit": -2}), [
            "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
        ]),
        (deployment(image=""), ["spec.template.spec.containers[0].image: Required value"]),
        (deployment({"template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}],
                                           "restartPolicy": "OnFailure"}}}), [
            'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
        ]),
        (deployment({"template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}],
                                           "activeDeadlineSeconds": 5}}}), [
            "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in ReplicaSet "
            "is not Supported",
        ]),
    ],
)
def test_deployment_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(DEPLOY, obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (replica_set(), []),
        (replica_set({"replicas": -3, "minReadySeconds": -1}), [
            "spec.replicas: Invalid value: -3: must be greater than or equal to 0",
            "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
        ]),
        (replica_set({"selector": {"matchLabels": {"app": "other"}}}), [
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
            "`selector` does not match template `labels`",
        ]),
    ],
)
def test_replica_set_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(RS, obj) == expected


@pytest.mark.parametrize("admission", [DEPLOY, RS], ids=["deployment", "replicaset"])
def test_selector_is_immutable(admission: Any) -> None:
    old = deployment() if admission is DEPLOY else replica_set()
    assert admission.admit_create(old) == []
    old["metadata"].update(uid="u1", resourceVersion="5", creationTimestamp="2024-05-01T10:00:00Z")
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "front"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    assert [str(e) for e in admission.admit_update(new, old)] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
        '"tier":"front"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]
    same = copy.deepcopy(old)
    same["spec"]["replicas"] = 7
    assert admission.admit_update(same, old) == []


def test_update_keeps_status_and_status_update_keeps_spec() -> None:
    old = deployment()
    DEPLOY.admit_create(old)
    old["metadata"].update(uid="u1", resourceVersion="5")
    old["status"] = {"replicas": 3, "observedGeneration": 1}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 99}
    assert DEPLOY.admit_update(new, old) == []
    assert new["status"] == {"replicas": 3, "observedGeneration": 1}


@pytest.mark.parametrize(
    ("admission", "status", "expected"),
    [
        (DEPLOY, {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}, []),
        (DEPLOY, {"replicas": 2, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 2}, [
            "status.updatedReplicas: Invalid value: 3: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas",
        ]),
        (DEPLOY, {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "collisionCount": -1},
         ["status.collisionCount: Invalid value: -1: must be greater than or equal to 0"]),
        (RS, {"replicas": 1, "readyReplicas": 2, "availableReplicas": 2}, [
            "status.readyReplicas: Invalid value: 2: cannot be greater than the number of replicas",
            "status.availableReplicas: Invalid value: 2: cannot be greater than the number of replicas",
        ]),
    ],
)
def test_status_validation(admission: Any, status: dict[str, Any], expected: list[str]) -> None:
    obj = deployment() if admission is DEPLOY else replica_set()
    admission.admit_create(obj)
    obj["metadata"].update(uid="u1", resourceVersion="5")
    new = copy.deepcopy(obj)
    new["status"] = status
    assert [str(e) for e in admission.admit_status_update(new, obj)] == expected


def test_template_volumes_default_as_a_pods_do() -> None:
    """SetDefaults_HostPathVolumeSource and the projection modes apply wherever the type appears."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["volumes"] = [{"name": "h", "hostPath": {"path": "/srv"}}, {"name": "e"},
                                                  {"name": "c", "configMap": {"name": "cfg"}}]
    assert errors_of(DEPLOY, obj) == []
    assert obj["spec"]["template"]["spec"]["volumes"] == [
        {"name": "h", "hostPath": {"path": "/srv", "type": ""}}, {"name": "e", "emptyDir": {}},
        {"name": "c", "configMap": {"name": "cfg", "defaultMode": 420}}]
