"""Pod admission: v1 defaults, admission-plugin fields and exact 422 messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apimachinery.pods import qos_class
from apiserver.admission import ADMISSION
from apiserver.admission.pod import validate_binding

POD = ADMISSION["pods"]
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def pod(spec: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "nginx:1.25", **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [c], **(spec or {})}}


def create_errors(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in POD.admit_create(obj)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod(), []),
        (pod({"containers": []}), ["spec.containers: Required value"]),
        (pod(image=""), ["spec.containers[0].image: Required value"]),
        (pod(name="App"), [f'spec.containers[0].name: Invalid value: "App": {LABEL_MSG}']),
        (pod({"containers": [{"name": "app", "image": "a"}, {"name": "app", "image": "b"}]}),
         ['spec.containers[1].name: Duplicate value: "app"']),
        (pod(ports=[{"containerPort": 0}]), ["spec.containers[0].ports[0].containerPort: Required value"]),
        (pod(ports=[{"containerPort": 70000}]),
         ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        (pod(ports=[{"containerPort": 80, "name": "HTTP"}]), [
            'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters '
            "(a-z, 0-9), and hyphens (-)",
            'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)',
        ]),
        (pod(ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]),
         ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
        (pod(ports=[{"containerPort": 80, "protocol": "ICMP"}]),
         ['spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']),
        (pod(imagePullPolicy="Sometimes"),
         ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
          '"IfNotPresent", "Never"']),
        (pod({"restartPolicy": "Sometimes"}),
         ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
        (pod({"dnsPolicy": "Google"}),
         ['spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
          '"ClusterFirst", "Default", "None"']),
        (pod({"hostname": "My_Host"}), [f'spec.hostname: Invalid value: "My_Host": {LABEL_MSG}']),
        (pod({"subdomain": "a.b"}), ['spec.subdomain: Invalid value: "a.b": must not contain dots']),
        (pod(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
         ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
        (pod({"activeDeadlineSeconds": 0}),
         ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
        (pod({"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}),
         ["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        (pod({"tolerations": [{"operator": "Equal", "value": "x"}]}),
         ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, '
          'which means "match all values and all keys"']),
        (pod({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                             {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}),
         ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"']),
        (pod(livenessProbe={"initialDelaySeconds": 1}),
         ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
        (pod(readinessProbe={"httpGet": {"port": "web-port-too-long"}}),
         ['spec.containers[0].readinessProbe.httpGet.port: Invalid value: "web-port-too-long": '
          "must be no more than 15 characters"]),
        (pod(env=[{"name": "A=B", "value": "x"}]),
         ['spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist '
          "only of printable ASCII characters other than '='"]),
        (pod({"hostNetwork": True}, ports=[{"containerPort": 80, "hostPort": 81}]),
         ["spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` "
          "is true"]),
        (pod({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}),
         ["spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type"]),
        (pod({"initContainers": [{"name": "app", "image": "x"}]}),
         ['spec.initContainers[0].name: Duplicate value: "app"']),
        (pod({"nodeName": "node_1"}),
         ['spec.nodeName: Invalid value: "node_1": a lowercase RFC 1123 subdomain must consist of lower case '
          "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
          "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
          "[a-z0-9])?)*')"]),
    ],
)
def test_create_validation_messages(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(obj) == expected


def test_defaults_match_kube_apiserver() -> None:
    obj = pod(ports=[{"containerPort": 80}], livenessProbe={"httpGet": {"port": 80}})
    obj["status"] = {"phase": "Running"}
    assert POD.admit_create(obj) == []
    assert obj["spec"] == {
        "containers": [{
            "name": "app", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                              "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {},
        }],
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler", "enableServiceLinks": True, "securityContext": {},
        "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ],
    }
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/nginx", "Always"), ("localhost:5000/nginx:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("Nginx", "IfNotPresent"),
])
def test_image_pull_policy_default(image: str, policy: str) -> None:
    obj = pod(image=image)
    POD.default(obj)
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == policy


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
])
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    obj = pod(resources=resources)
    assert POD.admit_create(obj) == []
    assert obj["status"]["qosClass"] == qos
    assert qos_class(obj["spec"]) == qos


def test_limits_default_requests() -> None:
    obj = pod(resources={"limits": {"cpu": "1"}})
    POD.default(obj)
    assert obj["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


def stored() -> dict[str, Any]:
    obj = pod({"activeDeadlineSeconds": 100, "tolerations": [{"key": "gpu", "operator": "Exists"}]})
    assert POD.admit_create(obj) == []
    obj["metadata"].update(resourceVersion="4", uid="u1", creationTimestamp="2024-01-02T03:04:05Z")
    obj["status"] = {"phase": "Running", "podIP": "10.244.0.5"}
    return obj


def test_image_deadline_and_new_tolerations_may_change() -> None:
    new = copy.deepcopy(stored())
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"].append({"key": "ssd", "operator": "Exists"})
    new["status"] = {}
    assert POD.admit_update(new, stored()) == []
    assert new["status"] == {"phase": "Running", "podIP": "10.244.0.5"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["containers"].append({"name": "b", "image": "x"}),
         "spec.containers: Forbidden: pod updates may not add or remove containers"),
        (lambda s: s.update(activeDeadlineSeconds=200),
         "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"),
        (lambda s: s.update(tolerations=[t for t in s["tolerations"] if t["key"] != "gpu"]),
         "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"),
    ],
)
def test_update_rejections(change: Any, expected: str) -> None:
    new = copy.deepcopy(stored())
    change(new["spec"])
    assert [str(e) for e in POD.admit_update(new, stored())] == [expected]


def test_other_spec_changes_are_forbidden_with_kubes_message() -> None:
    new = copy.deepcopy(stored())
    new["spec"]["restartPolicy"] = "Never"
    errs = [str(e) for e in POD.admit_update(new, stored())]
    assert len(errs) == 1
    assert errs[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    assert '- \trestartPolicy: "Always",' in errs[0] and '+ \trestartPolicy: "Never",' in errs[0]


def test_status_update_keeps_spec_and_checks_ips() -> None:
    new = copy.deepcopy(stored())
    new["spec"]["restartPolicy"] = "Never"
    new["status"] = {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}]}
    errs = [str(e) for e in POD.admit_status_update(new, stored())]
    assert new["spec"]["restartPolicy"] == "Always"
    assert errs == ['status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.244.0.5"}, '
                    'core.PodIP{IP:"10.244.0.6"}}: may specify no more than one IP for each IP family']


def test_binding() -> None:
    assert [str(e) for e in validate_binding({"target": {"kind": "Pod"}})] == [
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"',
        "target.name: Required value",
    ]
    assert validate_binding({"target": {"kind": "Node", "name": "n1"}}) == []
