"""StatefulSets and ControllerRevisions as a user sees them (the kinds), and the controller's decisions as tables.

Through HTTP and kubectl against a live API server: v1 defaults, kube-apiserver's
ValidateStatefulSet / ValidateStatefulSetUpdate / status and
ValidateControllerRevision(Update) messages, Table columns, discovery,
the scale subresource, watch. The controller's plan (controllers.statefulset.plan),
status and history (controllers.history) are pure: table tests pin them. The
processes end to end are tests/test_statefulsets_e2e.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from controllers import history
from controllers.history import revision_data
from controllers.statefulset import Step, new_pod, plan, stateful_set_status
from kubeclient.kctl.commands.rollout import statefulset_status
from tests.conftest import ApiServerProcess, run_kubectl

STS = "/apis/apps/v1/namespaces/{ns}/statefulsets"
CR = "/apis/apps/v1/namespaces/{ns}/controllerrevisions"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
Obj = dict[str, Any]


def sts(name: str = "web", **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}},
                     **spec}}


def _invalid(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["message"]


# --- the kinds through HTTP --------------------------------------------------------------------------


def test_defaults_and_status_on_create(api: httpx.Client, ns: str) -> None:
    body = sts(volumeClaimTemplates=[{"metadata": {"name": "www"},
                                      "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "1Gi"}}}}])
    body["status"] = {"replicas": 7}
    r = api.post(STS.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    got = r.json()
    spec = got["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert "minReadySeconds" not in spec
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    assert got["status"] == {"replicas": 0, "availableReplicas": 0}  # the status is the controller's
    assert got["metadata"]["generation"] == 1

    # OnDelete gets no rollingUpdate
    r = api.post(STS.format(ns=ns), json=sts("od", updateStrategy={"type": "OnDelete"}))
    assert r.json()["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_validation_messages(api: httpx.Client, ns: str) -> None:
    bad = sts("bad", podManagementPolicy="Sometimes", replicas=-1, minReadySeconds=-2,
              updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}},
              persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep", "whenScaled": "Delete"})
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    bad["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    code, message = _invalid(api.post(STS.format(ns=ns), json=bad))
    assert code == 422
    assert message == (
        'StatefulSet.apps "bad" is invalid: ['
        "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel', "
        "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0, "
        'spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": '
        'supported values: "Retain", "Delete", '
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0, "
        "spec.minReadySeconds: Invalid value: -2: must be greater than or equal to 0, "
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`, "
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always", '
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported]")

    empty = sts("empty")
    empty["spec"]["selector"] = {}
    code, message = _invalid(api.post(STS.format(ns=ns), json=empty))
    assert code == 422 and "spec.selector: Invalid value: " in message
    assert message.endswith(": empty selector is invalid for statefulset")

    missing = sts("missing")
    del missing["spec"]["selector"]
    code, message = _invalid(api.post(STS.format(ns=ns), json=missing))
    # a missing selector selects nothing, so the template's labels do not match it either (as kube says)
    assert (code, message) == (422, 'StatefulSet.apps "missing" is invalid: [spec.selector: Required value, '
                                    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"missing"}: '
                                    "`selector` does not match template `labels`]")

    code, message = _invalid(api.post(STS.format(ns=ns), json=sts("od", updateStrategy={
        "type": "OnDelete", "rollingUpdate": {"partition": 1}})))
    assert code == 422
    assert message.startswith('StatefulSet.apps "od" is invalid: spec.updateStrategy.rollingUpdate: Invalid value: ')
    assert message.endswith(": only allowed for updateStrategy 'RollingUpdate'")


def test_update_rules(api: httpx.Client, ns: str) -> None:
    url = STS.format(ns=ns)
    created = api.post(url, json=sts()).json()
    # replicas, template, updateStrategy, revisionHistoryLimit... may change; generation follows the spec
    changed = json.loads(json.dumps(created))
    changed["spec"]["replicas"] = 3
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    changed["spec"]["revisionHistoryLimit"] = 2
    r = api.put(f"{url}/web", json=changed)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 2
    # anything else is forbidden
    other = r.json()
    other["spec"]["serviceName"] = "elsewhere"
    other["spec"]["podManagementPolicy"] = "Parallel"
    code, message = _invalid(api.put(f"{url}/web", json=other))
    assert (code, message) == (422, (
        'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))

    # status: only through the subresource, with ValidateStatefulSetStatus
    st = api.get(f"{url}/web").json()
    st["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 2, "collisionCount": 1}
    code, message = _invalid(api.put(f"{url}/web/status", json=st))
    assert (code, message) == (422, (
        'StatefulSet.apps "web" is invalid: [status.readyReplicas: Invalid value: 2: cannot be greater than '
        "status.replicas, status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas]"))
    st["status"] = {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1, "collisionCount": 1}
    r = api.put(f"{url}/web/status", json=st)
    assert r.status_code == 200, r.text
    st = r.json()
    st["status"]["collisionCount"] = 0
    code, message = _invalid(api.put(f"{url}/web/status", json=st))
    assert (code, message) == (422, 'StatefulSet.apps "web" is invalid: status.collisionCount: Invalid value: 0: '
                                    "cannot be decremented")


def test_scale_subresource(api: httpx.Client, ns: str) -> None:
    url = STS.format(ns=ns)
    api.post(url, json=sts(replicas=2))
    scale = api.get(f"{url}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}
    r = api.patch(f"{url}/web/scale", content='{"spec":{"replicas":5}}',
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert api.get(f"{url}/web").json()["spec"]["replicas"] == 5


def test_table_columns(api: httpx.Client, ns: str) -> None:
    api.post(STS.format(ns=ns), json=sts(replicas=3))
    table = api.get(STS.format(ns=ns), headers=TABLE).json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)]
    [row] = table["rows"]
    assert row["cells"][:2] == ["web", "0/3"] and row["cells"][3:] == ["nginx", "nginx:1.25"]


def test_discovery(api: httpx.Client) -> None:
    resources = {r["name"]: r for r in api.get("/apis/apps/v1").json()["resources"]}
    assert resources["statefulsets"]["shortNames"] == ["sts"]
    assert resources["statefulsets"]["categories"] == ["all"]
    assert {"statefulsets/status", "statefulsets/scale"} <= set(resources)
    assert resources["controllerrevisions"]["kind"] == "ControllerRevision"
    assert resources["controllerrevisions"]["namespaced"] is True


def test_controller_revisions(api: httpx.Client, ns: str) -> None:
    url = CR.format(ns=ns)
    owner = api.post(STS.format(ns=ns), json=sts()).json()
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
           "metadata": {"name": "web-abc", "ownerReferences": [{
               "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": owner["metadata"]["uid"],
               "controller": True}]},
           "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 1}
    r = api.post(url, json=rev)
    assert r.status_code == 201, r.text
    # data is immutable; metadata may change
    changed = r.json()
    changed["metadata"]["labels"] = {"a": "b"}
    assert api.put(f"{url}/web-abc", json=changed).status_code == 200
    changed = api.get(f"{url}/web-abc").json()
    changed["data"] = {"spec": {}}
    code, message = _invalid(api.put(f"{url}/web-abc", json=changed))
    assert (code, message) == (422, 'ControllerRevision.apps "web-abc" is invalid: data: Invalid value: '
                                    "runtime.RawExtension{Raw:[]byte{0x7b, 0x22, 0x73, 0x70, 0x65, 0x63, 0x22, "
                                    "0x3a, 0x7b, 0x7d, 0x7d}, Object:runtime.Object(nil)}: field is immutable")
    code, message = _invalid(api.post(url, json={**rev, "metadata": {"name": "nodata"}, "data": None,
                                                 "revision": -1}))
    assert (code, message) == (422, 'ControllerRevision.apps "nodata" is invalid: [data: Required value: data is '
                                    "mandatory, revision: Invalid value: -1: must be greater than or equal to 0]")
    table = api.get(url, headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Controller", "Revision", "Age"]
    assert table["rows"][0]["cells"][:3] == ["web-abc", "statefulset.apps/web", 1]


def test_watch_sees_the_set(api: httpx.Client, ns: str) -> None:
    rv = api.get(STS.format(ns=ns)).json()["metadata"]["resourceVersion"]
    api.post(STS.format(ns=ns), json=sts())
    api.delete(f"{STS.format(ns=ns)}/web")
    with api.stream("GET", STS.format(ns=ns), params={"watch": "1", "resourceVersion": rv,
                                                      "timeoutSeconds": "1"}) as r:
        events = [json.loads(line) for line in r.iter_lines() if line]
    seen = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert seen[0] == ("ADDED", "web") and seen[-1] == ("DELETED", "web"), seen


# --- through kubectl ---------------------------------------------------------------------------------


MANIFEST = """
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  clusterIP: None
  selector:
    app: nginx
  ports:
  - port: 80
    name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: nginx
  serviceName: nginx
  replicas: 3
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.8
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ "ReadWriteOnce" ]
      resources:
        requests:
          storage: 1Gi
"""


def test_kubectl_apply_get_and_api_resources(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    """The StatefulSet of Kubernetes' own tutorial applies unchanged."""
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "apply", "-f", "-", stdin=MANIFEST)
    assert (r.returncode, r.stdout) == (0, "service/nginx created\nstatefulset.apps/web created\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "sts")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "AGE"]
    assert re.fullmatch(r"web\s+0/3\s+\d+s", row), row
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "statefulset", "-o", "wide")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert row.split()[3:] == ["nginx", "registry.k8s.io/nginx-slim:0.8"]
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "all")
    assert "statefulset.apps/web" in r.stdout, r.stdout + r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=apps", "--no-headers")
    rows = [line.split() for line in r.stdout.splitlines()]
    assert ["statefulsets", "sts", "apps/v1", "true", "StatefulSet"] in rows
    assert ["controllerrevisions", "apps/v1", "true", "ControllerRevision"] in rows
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "scale", "sts", "web", "--replicas=1")
    assert (r.returncode, r.stdout) == (0, "statefulset.apps/web scaled\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "sts", "web", "-o", "jsonpath={.spec.replicas}")
    assert r.stdout == "1"
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "delete", "sts", "web")
    assert (r.returncode, r.stdout) == (0, 'statefulset.apps "web" deleted\n'), r.stderr


def test_kubectl_shows_validation(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    bad = MANIFEST.split("---")[1].replace("app: nginx\n  serviceName", "app: other\n  serviceName", 1)
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "apply", "-f", "-", stdin=bad)
    assert r.returncode == 1
    assert r.stderr == ('The StatefulSet "web" is invalid: spec.template.metadata.labels: Invalid value: '
                        'map[string]string{"app":"nginx"}: `selector` does not match template `labels`\n')


# --- the controller's decisions (pure) ---------------------------------------------------------------


def _set(replicas: int, *, policy: str = "OrderedReady", partition: int | None = 0, strategy: str = "RollingUpdate",
         image: str = "v1", status: Obj | None = None) -> Obj:
    update: Obj = {"type": strategy}
    if partition is not None:
        update["rollingUpdate"] = {"partition": partition}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 4},
            "spec": {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": "web"}}, "updateStrategy": update,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": status or {}}


def _rev(sts: Obj, name: str, number: int) -> Obj:
    return {"metadata": {"name": name}, "data": revision_data(sts), "revision": number}


V1 = _rev(_set(1), "web-v1", 1)
V2 = _rev(_set(1, image="v2"), "web-v2", 2)


def _pod(ordinal: int, *, rev: str = "web-v1", ready: bool = True, deleting: bool = False,
         phase: str = "Running") -> Obj:
    pod = new_pod(_set(1), {"metadata": {"labels": {"app": "web"}}, "spec": {}}, rev, ordinal)
    pod["metadata"]["uid"] = f"p{ordinal}"
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    pod["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return pod


def _names(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.action, s.pod["metadata"]["name"]) for s in steps]


@pytest.mark.parametrize(("sts", "pods", "current", "update", "want"), [
    # OrderedReady: one create at a time, only after the lower ordinals are Running and Ready
    (_set(3), [], V1, V1, [("create", "web-0")]),
    (_set(3), [_pod(0, ready=False)], V1, V1, []),
    (_set(3), [_pod(0)], V1, V1, [("create", "web-1")]),
    (_set(3), [_pod(0), _pod(1, deleting=True)], V1, V1, []),
    # Parallel: everything missing at once, unhealthy Pods do not block
    (_set(3, policy="Parallel"), [_pod(0, ready=False)], V1, V1, [("create", "web-1"), ("create", "web-2")]),
    # failed Pods are deleted to be recreated
    (_set(2), [_pod(0, phase="Failed")], V1, V1, [("delete", "web-0")]),
    # scale down: highest ordinal first, one at a time; waits for a terminating one
    (_set(1), [_pod(0), _pod(1), _pod(2)], V1, V1, [("delete", "web-2")]),
    (_set(1), [_pod(0), _pod(1), _pod(2, deleting=True)], V1, V1, []),
    (_set(1, policy="Parallel"), [_pod(0), _pod(1), _pod(2)], V1, V1, [("delete", "web-2"), ("delete", "web-1")]),
    (_set(2), [_pod(0, ready=False), _pod(1), _pod(2)], V1, V1, []),
    # RollingUpdate: the highest ordinal not at the update revision, when all are healthy
    (_set(3, image="v2"), [_pod(0), _pod(1), _pod(2)], V1, V2, [("delete", "web-2")]),
    (_set(3, image="v2"), [_pod(0), _pod(1), _pod(2, rev="web-v2")], V1, V2, [("delete", "web-1")]),
    (_set(3, image="v2"), [_pod(0), _pod(1), _pod(2, rev="web-v2", ready=False)], V1, V2, []),
    # partition 2: ordinals below it are left at the current revision
    (_set(3, image="v2", partition=2), [_pod(0), _pod(1), _pod(2, rev="web-v2")], V1, V2, []),
    # OnDelete: nothing is replaced
    (_set(3, image="v2", strategy="OnDelete", partition=None), [_pod(0), _pod(1), _pod(2)], V1, V2, []),
])
def test_plan(sts: Obj, pods: list[Obj], current: Obj, update: Obj, want: list[tuple[str, str]]) -> None:
    assert _names(plan(sts, pods, current=current, update=update, now=0.0)) == want


def test_new_pods_take_their_revision_by_partition() -> None:
    s = _set(3, image="v2", partition=2)
    [step] = plan(s, [_pod(0), _pod(2, rev="web-v2")], current=V1, update=V2, now=0.0)
    assert step.pod["metadata"]["labels"]["controller-revision-hash"] == "web-v1"
    assert step.pod["spec"]["containers"][0]["image"] == "v1"
    [step] = plan(s, [_pod(0), _pod(1)], current=V1, update=V2, now=0.0)
    assert step.pod["metadata"]["labels"]["controller-revision-hash"] == "web-v2"
    assert step.pod["spec"]["containers"][0]["image"] == "v2"
    assert step.pod["spec"]["hostname"] == "web-2" and step.pod["spec"]["subdomain"] == "nginx"
    assert step.pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "2"


def test_claim_templates_become_volumes() -> None:
    s = _set(1)
    s["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {}}]
    pod = new_pod(s, s["spec"]["template"], "web-v1", 0)
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}]


def test_status_counts_and_completes_the_rolling_update() -> None:
    s = _set(3, image="v2")
    mid = stateful_set_status(s, [_pod(0), _pod(1, rev="web-v2"), _pod(2, rev="web-v2", ready=False)],
                              current="web-v1", update="web-v2", collision_count=0, now=0.0)
    assert mid == {"observedGeneration": 4, "replicas": 3, "readyReplicas": 2, "currentReplicas": 1,
                   "updatedReplicas": 2, "currentRevision": "web-v1", "updateRevision": "web-v2",
                   "collisionCount": 0, "availableReplicas": 2}
    done = stateful_set_status(s, [_pod(i, rev="web-v2") for i in range(3)], current="web-v1", update="web-v2",
                               collision_count=0, now=0.0)
    assert (done["currentRevision"], done["currentReplicas"], done["updatedReplicas"]) == ("web-v2", 3, 3)


def test_history_names_numbers_and_truncation() -> None:
    s = _set(1)
    data = revision_data(s)
    assert data["spec"]["template"]["$patch"] == "replace"
    a = history.new_revision(s, api_version="apps/v1", kind="StatefulSet", template_labels={"app": "web"},
                             data=data, revision=1, collision_count=0)
    b = history.new_revision(s, api_version="apps/v1", kind="StatefulSet", template_labels={"app": "web"},
                             data=data, revision=1, collision_count=1)
    assert a["metadata"]["name"].startswith("web-") and a["metadata"]["name"] != b["metadata"]["name"]
    assert a["metadata"]["labels"] == {"app": "web", "controller.kubernetes.io/hash": a["metadata"]["name"][4:]}
    assert a["metadata"]["ownerReferences"][0]["uid"] == "u1"
    revs = [{"metadata": {"name": f"r{i}"}, "revision": i} for i in (3, 1, 2, 4)]
    assert [r["revision"] for r in history.sort_revisions(revs)] == [1, 2, 3, 4]
    assert history.next_revision(revs) == 5 and history.next_revision([]) == 1
    gone = history.history_to_delete(revs, live={"r4", "r1"}, limit=1)
    assert [r["metadata"]["name"] for r in gone] == ["r2"]


# --- the official Python client ----------------------------------------------------------------------


def test_python_client_creates_lists_watches_and_deletes(apiserver: ApiServerProcess, ns: str) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    k8s, k8s_watch = kubernetes.client, kubernetes.watch
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as api_client:
        apps = k8s.AppsV1Api(api_client)
        start_rv = apps.list_namespaced_stateful_set(ns).metadata.resource_version
        body = k8s.V1StatefulSet(
            metadata=k8s.V1ObjectMeta(name="web"),
            spec=k8s.V1StatefulSetSpec(
                service_name="nginx", replicas=2, selector=k8s.V1LabelSelector(match_labels={"app": "web"}),
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels={"app": "web"}),
                    spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx")]))))
        created = apps.create_namespaced_stateful_set(ns, body)
        assert created.spec.pod_management_policy == "OrderedReady"
        assert created.spec.update_strategy.rolling_update.partition == 0
        assert [s.metadata.name for s in apps.list_namespaced_stateful_set(ns).items] == ["web"]
        scaled = apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 4}})
        assert scaled.spec.replicas == 4
        apps.delete_namespaced_stateful_set("web", ns)
        seen = [(ev["type"], ev["object"].metadata.name) for ev in k8s_watch.Watch().stream(
            apps.list_namespaced_stateful_set, ns, resource_version=start_rv, timeout_seconds=1)]
        assert seen[0] == ("ADDED", "web") and seen[-1] == ("DELETED", "web"), seen
        revisions = apps.list_namespaced_controller_revision(ns)
        assert revisions.items == []


def test_an_adopted_pod_gets_its_identity_labels() -> None:
    orphan = _pod(0)
    del orphan["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"]
    [step] = plan(_set(1), [orphan], current=V1, update=V1, now=0.0)
    assert step.action == "update"
    assert step.pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert step.pod["spec"] == orphan["spec"]


@pytest.mark.parametrize(("status", "replicas", "partition", "want"), [
    ({}, 3, 0, ("Waiting for statefulset spec update to be observed...\n", False)),
    ({"observedGeneration": 4, "readyReplicas": 1}, 3, 0, ("Waiting for 2 pods to be ready...\n", False)),
    ({"observedGeneration": 4, "readyReplicas": 3, "updatedReplicas": 1}, 3, 1,
     ("Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...\n", False)),
    ({"observedGeneration": 4, "readyReplicas": 3, "updatedReplicas": 2}, 3, 1,
     ("partitioned roll out complete: 2 new pods have been updated...\n", True)),
    ({"observedGeneration": 4, "readyReplicas": 3, "currentReplicas": 3, "currentRevision": "a",
      "updateRevision": "a"}, 3, None, ("statefulset rolling update complete 3 pods at revision a...\n", True)),
])
def test_kctl_rollout_status_lines(status: Obj, replicas: int, partition: int | None,
                                   want: tuple[str, bool]) -> None:
    """kubectl's StatefulSetStatusViewer lines, as kctl rollout status prints them."""
    s = _set(replicas, partition=partition, status=status)
    assert statefulset_status(s) == want
