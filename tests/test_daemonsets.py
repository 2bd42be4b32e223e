"""DaemonSets as a user sees them (the kind), and the daemonset controller's decisions as tables.

Through HTTP and kubectl against a live API server: v1 defaults, the
template-generation annotation, ValidateDaemonSet / update / status
messages, Table columns, discovery. The plan and status of
controllers.daemonset are pure: table tests pin eligibility (nodeSelector,
node affinity, taints), Nodes leaving, and both rolling-update modes. The
processes end to end are tests/test_daemonsets_e2e.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from controllers.daemonset import daemon_set_status, new_pod, node_should_run, plan
from kubeclient.kctl.commands.rollout import daemonset_status
from tests import needs

DS = "/apis/apps/v1/namespaces/{ns}/daemonsets"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
Obj = dict[str, Any]


def ds(name: str = "agent", **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "a", "image": "agent:1"}]}},
                     **spec}}


def _invalid(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["message"]


# --- the kind through HTTP ---------------------------------------------------------------------------


def test_defaults_generation_and_status(api: httpx.Client, ns: str) -> None:
    body = ds()
    body["status"] = {"numberReady": 4}
    r = api.post(DS.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert got["spec"]["revisionHistoryLimit"] == 10
    assert got["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert got["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    assert got["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                             "numberReady": 0}
    # the template generation follows template changes only
    got["spec"]["minReadySeconds"] = 3
    got = api.put(f"{DS.format(ns=ns)}/agent", json=got).json()
    assert got["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    got["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    got = api.put(f"{DS.format(ns=ns)}/agent", json=got).json()
    assert got["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    assert got["metadata"]["generation"] == 3


def test_validation_messages(api: httpx.Client, ns: str) -> None:
    bad = ds("bad", minReadySeconds=-1, updateStrategy={"type": "RollingUpdate",
                                                       "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "150%"}})
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    code, message = _invalid(api.post(DS.format(ns=ns), json=bad))
    assert (code, message) == (422, (
        'DaemonSet.apps "bad" is invalid: ['
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`, "
        "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds must be nil for daemonset, "
        "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0, "
        'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "150%": must not be greater than 100%, '
        'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "150%": may not be set when maxUnavailable '
        "is non-zero]"))
    code, message = _invalid(api.post(DS.format(ns=ns), json=ds("zero", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})))
    assert (code, message) == (422, 'DaemonSet.apps "zero" is invalid: spec.updateStrategy.rollingUpdate.'
                                    "maxUnavailable: Invalid value: 0: cannot be 0 when maxSurge is 0")
    nocontainers = ds("empty")
    nocontainers["spec"]["template"]["spec"] = {}
    code, message = _invalid(api.post(DS.format(ns=ns), json=nocontainers))
    assert code == 422 and "spec.template.spec.containers: Required value" in message

    url = DS.format(ns=ns)
    created = api.post(url, json=ds()).json()
    created["spec"]["selector"] = {"matchLabels": {"app": "agent", "x": "y"}}
    created["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    code, message = _invalid(api.put(f"{url}/agent", json=created))
    assert code == 422 and message.startswith('DaemonSet.apps "agent" is invalid: spec.selector: Invalid value: ')
    assert message.endswith(": field is immutable")


def test_table_and_discovery(api: httpx.Client, ns: str) -> None:
    api.post(DS.format(ns=ns), json=ds(template={"metadata": {"labels": {"app": "agent"}}, "spec": {
        "nodeSelector": {"disk": "ssd"}, "containers": [{"name": "a", "image": "agent:1"}]}}))
    table = api.get(DS.format(ns=ns), headers=TABLE).json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0),
        ("Node Selector", 0), ("Age", 0), ("Containers", 1), ("Images", 1), ("Selector", 1)]
    [row] = table["rows"]
    assert row["cells"][:7] == ["agent", 0, 0, 0, 0, 0, "disk=ssd"]
    assert row["cells"][8:] == ["a", "agent:1", "app=agent"]
    resources = {r["name"]: r for r in api.get("/apis/apps/v1").json()["resources"]}
    assert resources["daemonsets"]["shortNames"] == ["ds"] and resources["daemonsets"]["categories"] == ["all"]
    assert "daemonsets/status" in resources


def test_kubectl_apply_and_get(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    kubectl = needs.kubectl()

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kubectl, f"--cache-dir={tmp_path / 'cache'}", "-n", ns, *args], capture_output=True,
                              text=True, env=kubectl_env, cwd=tmp_path, timeout=60, check=False, input=stdin)

    r = run("apply", "-f", "-", stdin=json.dumps(ds()))
    assert (r.returncode, r.stdout) == (0, "daemonset.apps/agent created\n"), r.stderr
    r = run("get", "ds")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR",
                              "AGE"]
    assert re.fullmatch(r"agent(\s+0){5}\s+<none>\s+\d+s", row), row
    r = run("get", "all")
    assert "daemonset.apps/agent" in r.stdout, r.stdout + r.stderr
    r = run("delete", "ds", "agent")
    assert (r.returncode, r.stdout) == (0, 'daemonset.apps "agent" deleted\n'), r.stderr


# --- the controller's decisions (pure) ---------------------------------------------------------------


def _node(name: str, *, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _ds(**template_spec: Any) -> Obj:
    d = ds()
    d["metadata"].update(namespace="ns", uid="u1", generation=2,
                         annotations={"deprecated.daemonset.template.generation": "2"})
    d["spec"]["template"]["spec"].update(template_spec)
    d["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    return d


def _pod(node: str, rev: str = "new", *, ready: bool = True, name: str = "") -> Obj:
    pod = new_pod(_ds(), rev, node)
    pod["metadata"].update(name=name or f"agent-{node}-{rev}", uid=f"{node}-{rev}", creationTimestamp="2024-01-01T00:00:00Z")
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return pod


NOEXEC = {"key": "dedicated", "value": "db", "effect": "NoExecute"}
NOSCHED = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}


@pytest.mark.parametrize(("template", "node", "want"), [
    ({}, _node("n"), (True, True)),
    ({"nodeSelector": {"disk": "ssd"}}, _node("n"), (False, False)),
    ({"nodeSelector": {"disk": "ssd"}}, _node("n", labels={"disk": "ssd"}), (True, True)),
    ({"affinity": AFFINITY}, _node("n", labels={"zone": "b"}), (True, True)),
    ({"affinity": AFFINITY}, _node("n", labels={"zone": "c"}), (False, False)),
    ({}, _node("n", taints=[NOSCHED]), (False, True)),
    ({}, _node("n", taints=[NOEXEC]), (False, False)),
    ({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}, _node("n", taints=[NOEXEC]), (True, True)),
    # the daemon tolerations: cordoned and not-ready Nodes keep their daemon Pods
    ({}, _node("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]), (True, True)),
])
def test_node_should_run(template: Obj, node: Obj, want: tuple[bool, bool]) -> None:
    assert node_should_run(_ds(**template), node) == want


def test_plan_creates_deletes_and_follows_nodes() -> None:
    nodes = [_node("a"), _node("b"), _node("c", taints=[NOEXEC])]
    gone = _pod("z")
    out = plan(_ds(), nodes, [_pod("a"), _pod("c"), gone], revision_hash="new", now=0.0)
    assert out.create == ["b"]
    assert [p["spec"]["nodeName"] for p in out.delete] == ["c"]  # an untolerated NoExecute taint evicts
    assert out.force == [gone]  # its Node is gone


def test_rolling_update_max_unavailable() -> None:
    nodes = [_node(n) for n in "abc"]
    # all old and available: one at a time
    out = plan(_ds(), nodes, [_pod(n, "old") for n in "abc"], revision_hash="new", now=0.0)
    assert [p["spec"]["nodeName"] for p in out.delete] == ["a"]
    # one Node already without an available Pod: no budget left
    out = plan(_ds(), nodes, [_pod("a", "new", ready=False), _pod("b", "old"), _pod("c", "old")],
               revision_hash="new", now=0.0)
    assert out.delete == [] and out.create == []
    # an old Pod that is not available is replaced at once
    out = plan(_ds(), nodes, [_pod("a", "old", ready=False), _pod("b", "old"), _pod("c", "new")],
               revision_hash="new", now=0.0)
    assert [p["spec"]["nodeName"] for p in out.delete] == ["a"]


def test_rolling_update_max_surge() -> None:
    d = _ds()
    d["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    nodes = [_node(n) for n in "abc"]
    out = plan(d, nodes, [_pod(n, "old") for n in "abc"], revision_hash="new", now=0.0)
    assert (out.create, out.delete) == (["a"], [])  # a new Pod beside the old one, on one Node
    out = plan(d, nodes, [_pod("a", "old"), _pod("a", "new", ready=False), _pod("b", "old"), _pod("c", "old")],
               revision_hash="new", now=0.0)
    assert (out.create, out.delete) == ([], [])  # the surge is used until the new Pod is available
    old_a = _pod("a", "old")
    out = plan(d, nodes, [old_a, _pod("a", "new"), _pod("b", "old"), _pod("c", "old")], revision_hash="new", now=0.0)
    assert out.delete == [old_a] and out.create == ["b"]


def test_on_delete_replaces_nothing() -> None:
    d = _ds()
    d["spec"]["updateStrategy"] = {"type": "OnDelete"}
    out = plan(d, [_node("a")], [_pod("a", "old")], revision_hash="new", now=0.0)
    assert (out.create, out.delete, out.force) == ([], [], [])


def test_status_counts() -> None:
    nodes = [_node("a"), _node("b"), _node("c"), _node("d", labels={}, taints=[NOEXEC])]
    pods = [_pod("a", "new"), _pod("b", "old", ready=False), _pod("d", "new")]
    status = daemon_set_status(_ds(), nodes, pods, revision_hash="new", collision_count=0, now=0.0)
    assert status == {"currentNumberScheduled": 2, "numberMisscheduled": 1, "desiredNumberScheduled": 3,
                      "numberReady": 1, "observedGeneration": 2, "updatedNumberScheduled": 1,
                      "numberAvailable": 1, "numberUnavailable": 2, "collisionCount": 0}


@pytest.mark.parametrize(("status", "want"), [
    ({"observedGeneration": 1}, ("Waiting for daemon set spec update to be observed...\n", False)),
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1},
     ('Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...\n', False)),
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2},
     ('Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...\n', False)),
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3},
     ('daemon set "agent" successfully rolled out\n', True)),
])
def test_kctl_rollout_status_lines(status: Obj, want: tuple[str, bool]) -> None:
    """kubectl's DaemonSetStatusViewer lines, as kctl rollout status prints them."""
    assert daemonset_status({**_ds(), "status": status}) == want
