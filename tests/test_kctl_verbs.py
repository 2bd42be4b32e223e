"""kctl's scale, logs, rollout, patch, apply --server-side and edit: pure parts, then side by side with kubectl.

Why side by side: kctl promises kubectl's verbs, so each command runs through
both tools against one live cluster (API server, the replicaset, deployment
and gc controllers, one node agent with the process runtime so containers
really run and write logs) and stdout, the last stderr line and the exit code
must match (test_kctl's Runner and assert_same). Commands that change objects
run in one namespace per tool, with the same steps; reads run on shared
objects.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeclient.kctl.commands import edit as edit_mod
from kubeclient.kctl.commands.apply import (
    LAST_APPLIED_PATH,
    fields_owners,
    upgrade_managed_fields_patch,
    upgraded_managed_fields,
)
from kubeclient.kctl.commands.logs import by_logging_key, choose_container, log_params
from kubeclient.kctl.commands.patch import patch_bytes, ref_of
from kubeclient.kctl.commands.rollout import (
    deployment_status,
    history_table,
    rollback_source,
    undo_patch,
)
from kubeclient.kctl.describers import describe_pod_template
from kubeclient.kctl.failures import KctlError
from tests import test_kctl
from tests.conftest import ApiServerProcess, free_port, start_apiserver
from tests.test_deployments_e2e import Cluster
from tests.test_kctl import Result, Runner, _runner, assert_same, new_namespace

# test_kctl's fixtures, here resolved against this module's ``server`` (the cluster below)
home = test_kctl.home
http = test_kctl.http
kctl = test_kctl.kctl
kubectl = test_kctl.kubectl

pytestmark = pytest.mark.slow
APPS = "/apis/apps/v1"


# ---- pure parts ---------------------------------------------------------------


def _deploy(spec_replicas: int = 3, generation: int = 2, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "x", "generation": generation, "uid": "u1"}, "spec": {"replicas": spec_replicas},
            "status": {"observedGeneration": 2, **status}}


@pytest.mark.parametrize(("deployment", "line", "done"), [
    (_deploy(generation=3), "Waiting for deployment spec update to be observed...\n", False),
    (_deploy(updatedReplicas=1, replicas=3),
     'Waiting for deployment "x" rollout to finish: 1 out of 3 new replicas have been updated...\n', False),
    (_deploy(updatedReplicas=3, replicas=4),
     'Waiting for deployment "x" rollout to finish: 1 old replicas are pending termination...\n', False),
    (_deploy(updatedReplicas=3, replicas=3, availableReplicas=1),
     'Waiting for deployment "x" rollout to finish: 1 of 3 updated replicas are available...\n', False),
    (_deploy(updatedReplicas=3, replicas=3, availableReplicas=3), 'deployment "x" successfully rolled out\n', True),
])
def test_deployment_status_lines(deployment: dict[str, Any], line: str, done: bool) -> None:
    assert deployment_status(deployment) == (line, done)


def test_deployment_status_errors() -> None:
    timed_out = _deploy(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}])
    with pytest.raises(KctlError, match='deployment "x" exceeded its progress deadline'):
        deployment_status(timed_out)
    with pytest.raises(KctlError, match=r"desired revision \(2\) is different from the running revision \(1\)"):
        deployment_status({**_deploy(), "metadata": {"name": "x", "annotations": {
            "deployment.kubernetes.io/revision": "1"}}}, 2)


def _rs(rev: int, image: str, cause: str = "") -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(rev)}
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return {"metadata": {"name": f"x-{rev}", "annotations": annotations,
                         "ownerReferences": [{"controller": True, "uid": "u1"}]},
            "spec": {"template": {"metadata": {"labels": {"app": "x", "pod-template-hash": f"h{rev}"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def test_history_table_and_rollback_choice() -> None:
    sets = [_rs(3, "v3"), _rs(1, "v1", "first"), _rs(2, "v2")]
    assert history_table(sets) == "REVISION  CHANGE-CAUSE\n1         first\n2         <none>\n3         <none>\n"
    assert history_table([]) == "No rollout history found."
    d = {**_deploy(), "spec": {"template": sets[0]["spec"]["template"]}}
    assert rollback_source(d, sets, 0)["metadata"]["name"] == "x-2"  # the one before the latest
    assert rollback_source(d, sets, 1)["metadata"]["name"] == "x-1"
    with pytest.raises(KctlError, match="unable to find specified revision 7 in history"):
        rollback_source(d, sets, 7)
    with pytest.raises(KctlError, match='no rollout history found for deployment "x"'):
        rollback_source(d, sets[:1], 0)
    assert undo_patch(d, sets[0]) is None  # same template once the hash label is ignored
    patch = undo_patch(d, sets[1])
    assert patch is not None and patch[0]["value"]["metadata"]["labels"] == {"app": "x"}
    assert patch[1] == {"op": "replace", "path": "/metadata/annotations", "value": {"kubernetes.io/change-cause":
                                                                                    "first"}}


def test_pod_template_page_is_untabbed() -> None:
    page = describe_pod_template(_rs(1, "kubelite/echo:v1")["spec"]["template"])
    assert page.splitlines()[:6] == ["Pod Template:", "  Labels:\tapp=x", "\tpod-template-hash=h1", "  Containers:",
                                     "   c:", "    Image:\tkubelite/echo:v1"]


def test_container_choice_and_pod_order() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                                "initContainers": [{"name": "i"}]}}
    assert choose_container(pod, "") == ("a", 'Defaulted container "a" out of: a, b, i (init)\n')
    assert choose_container(pod, "i") == ("i", "")
    annotated = {**pod, "metadata": {"name": "p", "annotations": {"kubectl.kubernetes.io/default-container": "b"}}}
    assert choose_container(annotated, "") == ("b", "")
    with pytest.raises(KctlError, match="container z is not valid for pod p"):
        choose_container(pod, "z")
    pending = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"nodeName": "n"},
               "status": {"phase": "Pending"}}
    running = {"metadata": {"creationTimestamp": "2026-01-02T00:00:00Z"}, "spec": {"nodeName": "n"},
               "status": {"phase": "Running"}}
    unassigned = {"metadata": {}, "spec": {}, "status": {"phase": "Running"}}
    assert sorted([unassigned, pending, running], key=by_logging_key) == [running, pending, unassigned]
    assert log_params(container="a", follow=True, previous=False, timestamps=True, tail=2, since=1.5,
                      since_time=None, limit_bytes=0) == {"container": "a", "follow": "true", "timestamps": "true",
                                                          "tailLines": "2", "sinceSeconds": "2"}


def test_patch_text_and_names() -> None:
    assert patch_bytes('{"a": 1}') == b'{"a": 1}'
    assert patch_bytes("spec:\n  replicas: 2\n") == b'{"spec":{"replicas":2}}'
    assert patch_bytes("{bad") == b"{bad"  # left for the server to reject, as kubectl does
    with pytest.raises(KctlError, match='unable to parse "a: \\[": yaml: line 1: did not find expected node'):
        patch_bytes("a: [")
    assert ref_of({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "w"}}) == \
        "scale.autoscaling/w"
    assert ref_of({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}) == "service/s"


def test_edit_file_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    header = edit_mod.header_text([edit_mod.Reason('services "s" was not valid', ["spec.x: bad"])])
    assert header.endswith('#\n# services "s" was not valid:\n# * spec.x: bad\n#\n')
    assert edit_mod.strip_comments("# c\na: 1\n") == edit_mod.strip_comments("a:   1\n")
    assert not edit_mod.has_lines("# only\n\n")
    monkeypatch.setenv("KUBE_EDITOR", "")
    monkeypatch.setenv("EDITOR", "nano -w")
    assert edit_mod.editor_argv("/tmp/f") == ["nano", "-w", "/tmp/f"]
    monkeypatch.setenv("KUBE_EDITOR", "vim")
    assert edit_mod.editor_argv("/tmp/f") == ["vim", "/tmp/f"]
    monkeypatch.setenv("KUBE_EDITOR", "code --wait 'x y'")
    monkeypatch.setenv("SHELL", "/bin/sh")
    assert edit_mod.editor_argv("/tmp/f") == ["/bin/sh", "-c", "code --wait 'x y' \"/tmp/f\""]


# ---- a live cluster -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """The API server test_kctl's fixtures talk to, with controllers and a node that runs real processes."""
    base = tmp_path_factory.mktemp("kctl-verbs")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("replicaset", "deployment", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        c.spawn("node", "node", "--name", "verbs-1", "--pod-cidr", "127.14.1.0/24", "--node-ip", "127.0.0.1",
                "--runtime", "process", "--root-dir", str(base / "root"), "--kubelet-port", str(free_port()),
                "--restart-backoff", "1s", "--leader-elect-lease-duration", "3s",
                "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "0.5s")
        yield c.api
    finally:
        c.stop()


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def deployment(name: str, replicas: int, *, image: str = "kubelite/echo:v1",
               command: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if command:
        container["command"] = command
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def create(http: httpx.Client, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    r = http.post(path, json=obj)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def rolled_out(http: httpx.Client, ns: str, name: str) -> bool:
    d = http.get(f"{APPS}/namespaces/{ns}/deployments/{name}").json()
    st, want = d.get("status") or {}, d["spec"]["replicas"]
    return bool(st.get("observedGeneration", 0) >= d["metadata"]["generation"] and
                st.get("updatedReplicas", 0) == want and st.get("availableReplicas", 0) == want and
                st.get("replicas", 0) == want)


def in_turn(kctl: Runner, kubectl: Runner, mine: str, theirs: str, steps: list[list[str]], **kw: Any) -> None:
    """Each step through kctl in ``mine`` and kubectl in ``theirs``; the results must be kubectl's."""
    for step in steps:
        ours, kube = kctl(*step, "-n", mine, **kw), kubectl(*step, "-n", theirs, **kw)
        assert_same(ours, Result(kube.code, kube.out.replace(theirs, mine), kube.err.replace(theirs, mine)),
                    " ".join(step))


def test_scale_matches_kubectl(http: httpx.Client, home: Path, kctl: Runner, kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "scale-kctl"), new_namespace(http, "scale-kubectl")
    (home / "web.yaml").write_text(json.dumps(deployment("web", 1)))
    for ns in (mine, theirs):
        create(http, f"{APPS}/namespaces/{ns}/deployments", deployment("web", 1))
        create(http, "/api/v1/namespaces/" + ns + "/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    in_turn(kctl, kubectl, mine, theirs, [
        ["scale", "deploy/web", "--replicas=2"],
        ["scale", "deploy", "web", "--replicas=3", "--current-replicas=2"],
        ["scale", "deploy/web", "--replicas=1", "--current-replicas=5"],
        ["scale", "deploy/web", "--replicas=-1"],
        ["scale", "deploy/nope", "--replicas=2"],
        ["scale", "deploy", "web", "nope", "--replicas=2"],
        ["scale", "deploy", "--replicas=2"],
        ["scale", "--replicas=2"],
        ["scale", "svc/svc", "--replicas=2"],
        ["scale", "deploy/web", "--replicas=1", "-o", "name"],
        ["scale", "-f", "web.yaml", "--replicas=0"],
    ])
    ours, kube = kctl("scale", "deploy/web", "-n", mine), kubectl("scale", "deploy/web", "-n", theirs)
    assert (ours.code, ours.last_err) == (kube.code, 'error: required flag(s) "replicas" not set')
    for ns in (mine, theirs):
        assert http.get(f"{APPS}/namespaces/{ns}/deployments/web").json()["spec"]["replicas"] == 0


STATUS_LINE = re.compile(r'^(Waiting for deployment "web" rollout to finish: .*\.\.\.|Waiting for deployment spec '
                         r'update to be observed\.\.\.|deployment "web" successfully rolled out)$')


def wait_rolled_out(tool: Runner, ns: str, http: httpx.Client) -> None:
    """``rollout status`` until done: every line is one of kubectl's, the last one says it is done."""
    r = tool("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=120)
    lines = r.out.splitlines()
    assert r.code == 0 and lines and lines[-1] == 'deployment "web" successfully rolled out', (
        r, http.get(f"{APPS}/namespaces/{ns}/deployments/web").json().get("status"),
        [(p["metadata"]["name"], p["status"].get("phase"), p["metadata"].get("deletionTimestamp"))
         for p in http.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]])
    assert all(STATUS_LINE.match(line) for line in lines), lines


def test_rollout_matches_kubectl(http: httpx.Client, kctl: Runner, kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "rollout-kctl"), new_namespace(http, "rollout-kubectl")
    for ns in (mine, theirs):
        create(http, f"{APPS}/namespaces/{ns}/deployments", deployment("web", 2))
        create(http, "/api/v1/namespaces/" + ns + "/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    wait_rolled_out(kctl, mine, http)
    wait_rolled_out(kubectl, theirs, http)
    v2 = '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"kubelite/echo:v2"}]}}}}'
    in_turn(kctl, kubectl, mine, theirs, [
        ["rollout", "status", "deploy/web"],
        ["rollout", "status", "deployment", "web", "--watch=false"],
        ["rollout", "history", "deploy/web"],
        ["rollout", "undo", "deploy/web"],
        ["patch", "deploy/web", "-p", v2],
        ["annotate", "deploy/web", "kubernetes.io/change-cause=to v2"],
    ])
    wait_rolled_out(kctl, mine, http)
    wait_rolled_out(kubectl, theirs, http)
    in_turn(kctl, kubectl, mine, theirs, [
        ["rollout", "history", "deploy/web"],
        ["rollout", "history", "deploy/web", "--revision=1"],
        ["rollout", "history", "deploy/web", "--revision=9"],
        ["rollout", "undo", "deploy/web", "--to-revision=9"],
        ["rollout", "undo", "deploy/web", "--to-revision=2"],
        ["rollout", "undo", "deploy/web"],
    ])
    wait_rolled_out(kctl, mine, http)
    wait_rolled_out(kubectl, theirs, http)
    in_turn(kctl, kubectl, mine, theirs, [
        ["rollout", "history", "deploy/web"],
        ["rollout", "undo", "deploy/web", "--to-revision=3"],
        ["rollout", "pause", "deploy/web"],
        ["rollout", "pause", "deploy/web", "deploy/nope"],
        ["rollout", "restart", "deploy/web"],
        ["rollout", "undo", "deploy/web"],
        ["rollout", "resume", "deploy/web", "-o", "name"],
        ["rollout", "resume", "deploy/web"],
        ["rollout", "pause", "svc/svc"],
        ["rollout", "restart", "deploy/web"],
        ["rollout", "status", "deploy/nope"],
        ["rollout", "history", "deploy/nope"],
        ["rollout", "status", "svc/svc"],
        ["rollout", "undo", "svc/svc"],
        ["rollout", "history", "svc/svc"],
        ["rollout", "restart", "svc/svc"],
    ])
    wait_rolled_out(kctl, mine, http)
    d = http.get(f"{APPS}/namespaces/{mine}/deployments/web").json()
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "kubelite/echo:v1"
    restarted = d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", restarted)


def test_rollout_status_waits_and_times_out_like_kubectl(http: httpx.Client, kctl: Runner,
                                                         kubectl: Runner) -> None:
    ns = new_namespace(http, "stuck")
    create(http, f"{APPS}/namespaces/{ns}/deployments", deployment("web", 2, image="nowhere/none:1"))

    def counted() -> bool:
        st = http.get(f"{APPS}/namespaces/{ns}/deployments/web").json().get("status") or {}
        return bool(st.get("updatedReplicas") == 2 and st.get("replicas") == 2)

    eventually(counted, "the Deployment's status to count its 2 (never available) Pods")
    for args in (["--timeout=2s"], ["--watch=false"]):
        ours, theirs = kctl("rollout", "status", "deploy/web", "-n", ns, *args), kubectl(
            "rollout", "status", "deploy/web", "-n", ns, *args)
        assert_same(ours, theirs, f"rollout status {args}")
        assert ours.out == 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...\n'
    assert ours.code == 0
    ours = kctl("rollout", "status", "deploy/web", "-n", ns, "--timeout=2s")
    assert (ours.code, ours.last_err) == (1, "error: timed out waiting for the condition")
    assert kctl("rollout").code == kubectl("rollout").code == 1  # the help, and a failure: no subcommand


TALKER = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker", "labels": {"app": "talk"}},
    "spec": {"containers": [
        {"name": "main", "image": "busybox",
         "command": ["sh", "-c", 'for i in 1 2 3 4 5; do echo "line $i"; done; echo oops >&2; sleep 3600']},
        {"name": "side", "image": "busybox", "command": ["sh", "-c", "echo side-hello; sleep 3600"]},
    ]},
}


@pytest.fixture(scope="module")
def talk(http: httpx.Client) -> str:
    """A namespace with a two-container Pod, a Service and a Deployment whose Pods print known lines."""
    ns = new_namespace(http, "logs")
    create(http, f"/api/v1/namespaces/{ns}/pods", TALKER)
    create(http, f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "talk"},
        "spec": {"selector": {"app": "talk"}, "ports": [{"port": 80}]}})
    create(http, f"{APPS}/namespaces/{ns}/deployments",
           deployment("web", 2, image="busybox", command=["sh", "-c", "echo hello from web; sleep 3600"]))
    create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "brief"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "once", "image": "busybox", "command": ["sh", "-c", "sleep 2; echo a; echo b"]}]}})

    def logged() -> bool:
        r = http.get(f"/api/v1/namespaces/{ns}/pods/talker/log", params={"container": "main"})
        pods = http.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "app=web"}).json()["items"]
        return r.status_code == 200 and "line 5" in r.text and len(pods) == 2 and all(
            p.get("status", {}).get("phase") == "Running" for p in pods)

    eventually(logged, "the talker's lines and two running web Pods")
    return ns


LOGS_COMMANDS = [
    ["logs", "talker"],
    ["logs", "talker", "-c", "main"],
    ["logs", "talker", "side"],
    ["logs", "pod/talker", "-c", "side"],
    ["logs", "po/talker", "-c", "main", "--tail=2"],
    ["logs", "talker", "-c", "main", "--tail=1", "--timestamps"],
    ["logs", "talker", "-c", "main", "--since=1h"],
    ["logs", "talker", "-c", "main", "--since-time=2000-01-01T00:00:00Z"],
    ["logs", "talker", "-c", "main", "--limit-bytes=8"],
    ["logs", "svc/talk", "-c", "side"],
    ["logs", "talker", "-c", "nope"],
    ["logs", "talker", "side", "-c", "main"],
    ["logs", "pod", "talker", "-c", "side"],
    ["logs", "nope"],
    ["logs", "deploy/nope"],
    ["logs"],
    ["logs", "a", "b", "c"],
    ["logs", "talker", "--since=1h", "--since-time=2000-01-01T00:00:00Z"],
    ["logs", "talker", "--tail=-5"],
    ["logs", "talker", "--limit-bytes=-1"],
]


@pytest.mark.parametrize("args", LOGS_COMMANDS, ids=[" ".join(a) for a in LOGS_COMMANDS])
def test_logs_match_kubectl(args: list[str], talk: str, kctl: Runner, kubectl: Runner) -> None:
    ours, theirs = kctl(*args, "-n", talk), kubectl(*args, "-n", talk)
    assert_same(ours, Result(theirs.code, theirs.out, theirs.err.replace("kubectl logs -h", "kctl logs -h")),
                " ".join(args))


def test_logs_of_a_deployment_and_follow(talk: str, kctl: Runner, kubectl: Runner, home: Path) -> None:
    ours, theirs = kctl("logs", "deploy/web", "-n", talk), kubectl("logs", "deploy/web", "-n", talk)
    assert (ours.code, ours.out) == (theirs.code, theirs.out) == (0, "hello from web\n")
    found = re.compile(r"^Found 2 pods, using pod/web-[a-z0-9]+-[a-z0-9]+$")
    assert found.match(ours.err.strip()) and found.match(theirs.err.strip()), (ours.err, theirs.err)
    # -f ends with the container: the whole log, then exit 0, as kubectl
    ours, theirs = (tool("logs", "-f", "brief", "-n", talk, timeout=60) for tool in (kctl, kubectl))
    assert (ours.code, ours.out) == (theirs.code, theirs.out) == (0, "a\nb\n")
    # -f on a running container keeps streaming until interrupted
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "kubeclient.kctl.cli", "logs", "-f", "talker", "-c", "side",
                             "-n", talk], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=home)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "side-hello\n"
        time.sleep(1)
        assert proc.poll() is None  # still following
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_patch_matches_kubectl(http: httpx.Client, home: Path, kctl: Runner, kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "patch-kctl"), new_namespace(http, "patch-kubectl")
    (home / "web-patch.yaml").write_text(json.dumps(deployment("web", 1)))
    (home / "replicas.yaml").write_text("spec:\n  replicas: 2\n")
    for ns in (mine, theirs):
        create(http, f"{APPS}/namespaces/{ns}/deployments", deployment("web", 1))
        create(http, f"/api/v1/namespaces/{ns}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    in_turn(kctl, kubectl, mine, theirs, [
        ["patch", "deploy", "web", "-p", '{"spec":{"replicas":3}}'],
        ["patch", "deploy", "web", "-p", '{"spec":{"replicas":3}}'],
        ["patch", "deploy/web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":"front"}}}'],
        ["patch", "deploy/web", "--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]'],
        ["patch", "deploy/web", "--type", "json", "-p", '[{"op":"test","path":"/spec/replicas","value":9}]'],
        ["patch", "deploy/web", "--type", "json", "-p", '{"a":1}'],
        ["patch", "deploy/web", "--type=bogus", "-p", "{}"],
        ["patch", "deploy/web"],
        ["patch", "deploy/web", "-p", "{bad"],
        ["patch", "deploy/web", "-p", "a: ["],
        ["patch", "deploy/web", "-p", '{"spec":{"replicas":-1}}'],
        ["patch", "deploy/nope", "-p", "{}"],
        ["patch", "svc", "svc", "nope", "-p", "{}"],
        ["patch", "deploy", "-p", "{}"],
        ["patch", "deploy/web", "-p", "{}", "-o", "name"],
        ["patch", "svc/svc", "-p", "spec:\n  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 0"],
        ["patch", "deploy/web", "--patch-file=replicas.yaml"],
        ["patch", "deploy/web", "--patch-file=/does/not/exist"],
        ["patch", "deploy/web", "-p", '{"spec":{"replicas":1}}', "--subresource=scale"],
        ["patch", "svc/svc", "-p", "{}", "--subresource=bogus"],
        ["patch", "-f", "web-patch.yaml", "-p", '{"spec":{"replicas":4}}'],
        ["patch", "deploy/web", "-p", '{"spec":{"replicas":5}}', "--dry-run=server"],
    ])
    d = http.get(f"{APPS}/namespaces/{mine}/deployments/web").json()
    assert (d["spec"]["replicas"], d["metadata"]["labels"]["tier"]) == (4, "front")
    assert http.get(f"/api/v1/namespaces/{mine}/services/svc").json()["spec"]["type"] == "NodePort"


SSA = """\
apiVersion: v1
kind: Service
metadata: {name: ssa, labels: {v: "@V@"}}
spec:
  selector: {app: ssa}
  ports: [{port: 80, targetPort: 808@V@}]
"""


def test_server_side_apply_matches_kubectl(http: httpx.Client, home: Path, kctl: Runner, kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "ssa-kctl"), new_namespace(http, "ssa-kubectl")
    for v in ("1", "2"):
        (home / f"ssa{v}.yaml").write_text(SSA.replace("@V@", v))
    in_turn(kctl, kubectl, mine, theirs, [
        ["apply", "--server-side", "-f", "ssa1.yaml"],
        ["apply", "--server-side", "-f", "ssa1.yaml"],
        ["apply", "--server-side", "-f", "ssa2.yaml", "--field-manager=other"],
        ["apply", "--server-side", "-f", "ssa2.yaml", "--field-manager=other", "--dry-run=server"],
        ["apply", "--server-side", "-f", "ssa2.yaml", "--field-manager=other", "--force-conflicts"],
        ["apply", "--server-side", "-f", "ssa1.yaml", "-o", "name", "--dry-run=server"],
        ["apply", "--server-side", "-f", "ssa1.yaml", "--dry-run=client"],
        ["apply", "--force-conflicts", "-f", "ssa1.yaml"],
        ["get", "svc", "ssa", "-o", "jsonpath={.metadata.managedFields[*].manager} {.spec.ports[0].targetPort}"],
    ])
    assert kctl("get", "svc", "ssa", "-n", mine, "-o", "jsonpath={.spec.ports[0].targetPort}").out == "8082"
    full = kctl("apply", "--server-side", "-f", "ssa1.yaml", "-n", mine)
    assert full.err.startswith('error: Apply failed with 2 conflicts: conflicts with "other":\n'), full.err
    assert "re-run the apply\n  command with the `--force-conflicts` flag." in full.err
    managers = {m["manager"]: m["operation"] for m in
                http.get(f"/api/v1/namespaces/{mine}/services/ssa").json()["metadata"]["managedFields"]}
    assert managers == {"kubectl": "Apply", "other": "Apply"}
    # client-side applied first: kubectl moves the fields to its server-side manager (else every later
    # server-side apply would conflict with kubectl-client-side-apply) and keeps last-applied under its own
    (home / "csa.yaml").write_text(SSA.replace("@V@", "1").replace("name: ssa", "name: csa"))
    in_turn(kctl, kubectl, mine, theirs, [["apply", "-f", "csa.yaml"], ["apply", "--server-side", "-f", "csa.yaml"],
                                          ["apply", "--server-side", "-f", "csa.yaml"]])

    def entries(ns: str) -> list[dict[str, Any]]:
        mf = http.get(f"/api/v1/namespaces/{ns}/services/csa").json()["metadata"]["managedFields"]
        return [{k: v for k, v in m.items() if k != "time"} for m in mf]

    assert entries(mine) == entries(theirs)
    assert [(m["manager"], m["operation"]) for m in entries(mine)] == [("kubectl", "Apply"),
                                                                        ("kubectl-last-applied", "Apply")]


def test_client_side_ownership_moves_to_the_server_side_manager() -> None:
    last_applied: dict[str, Any] = {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}
    csa = {"manager": "kubectl-client-side-apply", "operation": "Update",
           "fieldsV1": {**last_applied, "f:spec": {"f:a": {}}}}
    ssa = {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:b": {}}}}
    other = {"manager": "ctl", "operation": "Update", "fieldsV1": {"f:status": {}}}
    assert [e["manager"] for e in fields_owners([csa, ssa, other], "Update", LAST_APPLIED_PATH)] == [
        "kubectl-client-side-apply"]
    obj = {"metadata": {"resourceVersion": "7", "managedFields": [csa, ssa, other]}}
    patch = upgrade_managed_fields_patch(obj, ["kubectl-client-side-apply"], "kubectl")
    assert patch is not None and patch[1] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"}
    assert patch[0]["value"] == [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {
        "f:spec": {"f:a": {}, "f:b": {}}, **last_applied}}, other]
    # no server-side entry yet: the client-side one becomes it
    assert upgraded_managed_fields([csa, other], "kubectl-client-side-apply", "kubectl")[0]["operation"] == "Apply"
    assert upgrade_managed_fields_patch({"metadata": {"managedFields": [ssa, other]}},
                                        ["kubectl-client-side-apply"], "kubectl") is None


def _editor(home: Path, name: str, script: str) -> str:
    path = home / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def _with_env(argv0: list[str], home: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Runner:
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        return _runner(argv0, home)


def test_edit_matches_kubectl(http: httpx.Client, home: Path, kubectl: Runner,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import needs

    mine, theirs = new_namespace(http, "edit-kctl"), new_namespace(http, "edit-kubectl")
    for ns in (mine, theirs):
        create(http, f"/api/v1/namespaces/{ns}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    kctl_argv = [sys.executable, "-m", "kubeclient.kctl.cli"]
    kubectl_argv = [needs.kubectl(), f"--cache-dir={home / 'kube-cache'}"]
    editors = {
        "change": _editor(home, "change.sh", "sed -i 's/targetPort: 8080/targetPort: 9090/' \"$1\"\n"),
        "noop": _editor(home, "noop.sh", "true\n"),
        "invalid": _editor(home, "invalid.sh", "sed -i 's/targetPort: 9090/targetPort: 999999/' \"$1\"\n"),
        "empty": _editor(home, "empty.sh", ': > "$1"\n'),
        "fails": _editor(home, "fails.sh", "exit 3\n"),
    }
    for what, editor in [*editors.items(), ("missing", "/does/not/exist"), ("unknown", "no-such-editor-here")]:
        ours = _with_env(kctl_argv, home, monkeypatch, KUBE_EDITOR=editor, EDITOR="")(
            "edit", "svc", "svc", "-n", mine)
        kube = _with_env(kubectl_argv, home, monkeypatch, KUBE_EDITOR=editor, EDITOR="")(
            "edit", "svc", "svc", "-n", theirs)
        assert_same(ours, kube, f"edit with the {what} editor")
        if what in ("invalid", "empty"):
            copy = re.search(r'A copy of your changes has been stored to "(.+)"', ours.err)
            assert copy is not None and Path(copy.group(1)).exists(), ours.err
    # EDITOR is used when KUBE_EDITOR is unset; KUBE_EDITOR wins over it
    ours = _with_env(kctl_argv, home, monkeypatch, KUBE_EDITOR="", EDITOR=editors["fails"])(
        "edit", "svc/svc", "-n", mine)
    assert ours.last_err == f'error: there was a problem with the editor "{editors["fails"]}"'
    ours = _with_env(kctl_argv, home, monkeypatch, KUBE_EDITOR=editors["noop"], EDITOR=editors["fails"])(
        "edit", "svc/svc", "-n", mine)
    assert (ours.code, ours.err) == (0, "Edit cancelled, no changes made.\n")
    ports = http.get(f"/api/v1/namespaces/{mine}/services/svc").json()["spec"]["ports"]
    assert ports[0]["targetPort"] == 9090
    # the file the editor sees is kubectl's, byte for byte (same object, so same text)
    out = home / "seen"
    out.mkdir(exist_ok=True)
    for fmt in ("yaml", "json"):
        seen = _editor(home, f"seen-{fmt}.sh", f'cp "$1" "{out}/$TOOL.{fmt}"\n')
        for tool, argv0 in (("kctl", kctl_argv), ("kubectl", kubectl_argv)):
            r = _with_env(argv0, home, monkeypatch, KUBE_EDITOR=seen, TOOL=tool)(
                "edit", "svc", "svc", "-n", mine, "-o", fmt)
            assert (r.code, r.err) == (0, "Edit cancelled, no changes made.\n"), r
        assert (out / f"kctl.{fmt}").read_text() == (out / f"kubectl.{fmt}").read_text()
    managers = {m["manager"] for m in
                http.get(f"/api/v1/namespaces/{mine}/services/svc").json()["metadata"]["managedFields"]}
    assert "kubectl-edit" in managers
