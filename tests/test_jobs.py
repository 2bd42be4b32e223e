"""batch/v1 Jobs: the kind through HTTP and kubectl, the job controller's decision, and Jobs run end to end.

- ``sync_job`` (controllers/job.py) in table tests: how many Pods, which indexes, the counting through
  uncountedTerminatedPods and the finalizer, the conditions and their reasons, the failure back-off.
- The simulated runtime's ending containers (agents/node/simulated.py) in table tests.
- kube-apiserver's defaults, generated selector and ValidateJob messages over HTTP; kubectl create job,
  get jobs (-o wide) and wait --for=condition=complete.
- End to end with real processes (API server, a simulated node, a process-runtime node on loopback, the
  job and gc controllers): a Job of 3 completions, parallelism 2, whose first Pod fails and is counted
  against backoffLimit; a Job failing past its backoffLimit; Indexed completions with
  JOB_COMPLETION_INDEX; activeDeadlineSeconds; ttlSecondsAfterFinished deleting the Job and its Pods.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents.node.simulated import SimulatedRun, simulate, simulated_run
from controllers.job import Backoff, format_indexes, parse_indexes, pod_from_template, sync_job
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import free_port, start_apiserver
from tests.test_deployments_e2e import Cluster

Obj = dict[str, Any]
JOBS = "/apis/batch/v1/namespaces/{ns}/jobs"
FINALIZER = "batch.kubernetes.io/job-tracking"
NOW = 1_800_000_000.0


# ---------------------------------------------------------------------------
# sync_job: the pure decision
# ---------------------------------------------------------------------------


def _job(status: Obj | None = None, **spec: Any) -> Obj:
    base: Obj = {"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
                 "podReplacementPolicy": "TerminatingOrFailed",
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never",
                                                                          "containers": [{"name": "c"}]}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "ns", "uid": "job-uid", "creationTimestamp": "2027-01-15T08:00:00Z"},
            "spec": base, "status": status or {}}


def _pod(uid: str, phase: str = "Running", *, finalizer: bool = True, index: int | None = None,
         deleting: bool = False, ready: bool = False, restarts: int = 0) -> Obj:
    meta: Obj = {"name": f"p-{uid}", "namespace": "ns", "uid": uid, "creationTimestamp": "2027-01-15T08:00:00Z"}
    if finalizer:
        meta["finalizers"] = [FINALIZER]
    if index is not None:
        meta["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    if deleting:
        meta["deletionTimestamp"] = "2027-01-15T08:00:01Z"
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    return {"metadata": meta, "spec": {"nodeName": "n"}, "status": status}


def _types(status: Obj) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in status.get("conditions", [])]


@pytest.mark.parametrize(("spec", "pods", "creates", "deletes"), [
    ({"completions": 3, "parallelism": 2}, [], [None, None], 0),
    ({"completions": 3, "parallelism": 5}, [], [None] * 3, 0),
    ({"completions": None, "parallelism": 4}, [], [None] * 4, 0),  # work queue: parallelism Pods
    ({"completions": 3, "parallelism": 2}, [_pod("a"), _pod("b")], [], 0),  # enough running
    ({"completions": 3, "parallelism": 1}, [_pod("a"), _pod("b")], [], 1),  # parallelism lowered
    ({"completions": 3, "parallelism": 2, "suspend": True}, [_pod("a")], [], 1),  # suspended: no Pods
    ({"completions": 3, "parallelism": 2, "completionMode": "Indexed"}, [], [0, 1], 0),
    ({"completions": 4, "parallelism": 4, "completionMode": "Indexed"},
     [_pod("a", index=1), _pod("s", "Succeeded", finalizer=False, index=2)], [0, 3], 0),
])
def test_how_many_pods(spec: Obj, pods: list[Obj], creates: list[int | None], deletes: int) -> None:
    plan = sync_job(_job(**spec), pods, now=NOW)
    assert plan.create == creates
    assert len(plan.delete) == deletes


def test_a_new_job_starts() -> None:
    plan = sync_job(_job(completions=3, parallelism=2), [], now=NOW)
    assert plan.status == {"startTime": "2027-01-15T08:00:00Z", "active": 2, "terminating": 0,
                           "uncountedTerminatedPods": {}, "ready": 0}


def test_a_finished_pod_is_recorded_then_unfinalized_then_counted() -> None:
    """uncountedTerminatedPods first, the finalizer next, the counter last: each Pod counted once."""
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 2}, completions=3, parallelism=2)
    pods = [_pod("ok", "Succeeded"), _pod("bad", "Failed"), _pod("run", ready=True)]
    plan = sync_job(job, pods, now=NOW, pod_failure_backoff=0)
    assert plan.uncounted == {"succeeded": ["ok"], "failed": ["bad"]}
    assert sorted(p["metadata"]["uid"] for p in plan.unfinalize) == ["bad", "ok"]
    assert (plan.status["succeeded"], plan.status["failed"], plan.status["active"], plan.status["ready"]) == (1, 1, 2, 1)
    assert plan.status["uncountedTerminatedPods"] == {}
    assert plan.create == [None]  # 3 - 1 succeeded = 2 wanted, 1 running
    # the Pods seen again before the informer shows their finalizer gone: not counted twice
    again = sync_job({**job, "status": plan.status}, pods, now=NOW, expected_removed=frozenset({"ok", "bad"}))
    assert (again.status["succeeded"], again.status["failed"]) == (1, 1)
    # recorded as uncounted, finalizer still on (the removal failed): still counted once
    recorded = {**job["status"], "uncountedTerminatedPods": plan.uncounted}
    retry = sync_job({**job, "status": recorded}, pods, now=NOW)
    assert (retry.status["succeeded"], retry.status["failed"]) == (1, 1)


def test_a_deleted_pod_counts_as_failed_unless_only_failed_pods_are_replaced() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1})
    assert sync_job(job, [_pod("d", deleting=True)], now=NOW).status["failed"] == 1
    keep = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1}, podReplacementPolicy="Failed")
    plan = sync_job(keep, [_pod("d", deleting=True)], now=NOW)
    assert plan.status.get("failed", 0) == 0 and plan.create == []  # the terminating Pod still counts as active


def test_completions_reached_success_criteria_then_complete() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "succeeded": 2, "active": 1}, completions=3, parallelism=2)
    plan = sync_job(job, [_pod("last", "Succeeded")], now=NOW)
    assert _types(plan.status) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                   ("Complete", "True", "CompletionsReached")]
    assert plan.status["completionTime"] == "2027-01-15T08:00:00Z"
    assert plan.status["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert plan.events == [("Normal", "Completed", "Job completed")]


def test_backoff_limit_failure_target_then_failed_when_pods_are_gone() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "failed": 1, "active": 2}, completions=3, parallelism=2,
               backoffLimit=1)
    pods = [_pod("x", "Failed"), _pod("run")]
    plan = sync_job(job, pods, now=NOW)
    assert _types(plan.status) == [("FailureTarget", "True", "BackoffLimitExceeded")]
    assert [p["metadata"]["uid"] for p in plan.delete] == ["run"] and plan.create == []
    assert plan.status["failed"] == 2
    assert plan.events == [("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
    # next sync: the running Pod is terminating, so Failed waits; once it is gone, Failed is added
    later = {**job, "status": plan.status}
    waiting = sync_job(later, [_pod("run", deleting=True)], now=NOW + 1)
    assert [t for t, _, _ in _types(waiting.status)] == ["FailureTarget"]
    done = sync_job({**later, "status": waiting.status}, [], now=NOW + 2)
    assert _types(done.status) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                   ("Failed", "True", "BackoffLimitExceeded")]
    assert done.status["failed"] == 3 and "completionTime" not in done.status


def test_on_failure_restarts_count_against_backoff_limit() -> None:
    spec = {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c"}]}}}
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1}, **spec)
    assert sync_job(job, [_pod("r", restarts=1)], now=NOW).status.get("conditions") is None
    plan = sync_job(job, [_pod("r", restarts=2)], now=NOW)
    assert _types(plan.status) == [("FailureTarget", "True", "BackoffLimitExceeded")]


def test_active_deadline() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1}, activeDeadlineSeconds=30)
    early = sync_job(job, [_pod("r")], now=NOW + 10)
    assert early.status.get("conditions") is None and early.requeue == pytest.approx(20.0)
    late = sync_job(job, [_pod("r")], now=NOW + 30)
    assert _types(late.status) == [("FailureTarget", "True", "DeadlineExceeded")]
    assert late.status["conditions"][0]["message"] == "Job was active longer than specified deadline"


def test_failure_backoff_delays_the_replacement() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1}, completions=2, parallelism=1)
    plan = sync_job(job, [_pod("f", "Failed")], now=NOW, pod_failure_backoff=10)
    assert plan.create == [] and plan.requeue == pytest.approx(10.0)
    assert plan.backoff == Backoff(1, NOW)
    later = sync_job({**job, "status": plan.status}, [], now=NOW + 10, backoff=plan.backoff, pod_failure_backoff=10)
    assert later.create == [None]
    second = Backoff(2, NOW)  # the second failure in a row waits twice as long
    assert sync_job({**job, "status": plan.status}, [], now=NOW + 15, backoff=second,
                    pod_failure_backoff=10).requeue == pytest.approx(5.0)


def test_suspend_and_resume() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 1}, suspend=True)
    plan = sync_job(job, [_pod("r")], now=NOW)
    assert _types(plan.status) == [("Suspended", "True", "JobSuspended")] and "startTime" not in plan.status
    resumed = _job(plan.status, suspend=False)
    again = sync_job(resumed, [], now=NOW + 5)
    assert _types(again.status) == [("Suspended", "False", "JobResumed")]
    assert again.status["startTime"] == "2027-01-15T08:00:05Z" and again.create == [None]


def test_indexed_completions() -> None:
    job = _job({"startTime": "2027-01-15T08:00:00Z", "active": 2}, completions=5, parallelism=2,
               completionMode="Indexed")
    pods = [_pod("a", "Succeeded", index=0), _pod("b", "Succeeded", index=3), _pod("c", "Failed", index=1)]
    plan = sync_job(job, pods, now=NOW, pod_failure_backoff=0)
    assert plan.status["completedIndexes"] == "0,3" and plan.status["succeeded"] == 2
    assert plan.status["failed"] == 1 and plan.uncounted == {"failed": ["c"]}
    assert plan.create == [1, 2]


@pytest.mark.parametrize(("indexes", "text"), [
    ([], ""), ([0], "0"), ([0, 1], "0,1"), ([0, 1, 2], "0-2"), ([1, 3, 4, 5, 7], "1,3-5,7"), ([5, 4, 3, 9, 8], "3-5,8,9"),
])
def test_completed_indexes_text(indexes: list[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == set(indexes)


def test_pod_from_template_indexed() -> None:
    job = _job(completions=3, completionMode="Indexed")
    pod = pod_from_template(job, 2)
    meta = pod["metadata"]
    assert meta["generateName"] == "j-2-" and meta["finalizers"] == [FINALIZER]
    assert meta["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert meta["labels"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert meta["ownerReferences"][0]["kind"] == "Job" and meta["ownerReferences"][0]["controller"] is True
    assert pod["spec"]["hostname"] == "j-2"
    assert pod["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]


# ---------------------------------------------------------------------------
# the simulated runtime's containers that end
# ---------------------------------------------------------------------------


def _sim_pod(policy: str, **annotations: str) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u", "annotations": annotations},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox"}]}}


def test_simulated_run_from_annotations() -> None:
    assert simulated_run(_sim_pod("Always")) is None
    assert simulated_run(_sim_pod("Never")) == SimulatedRun("Never", 1.0, 0)
    assert simulated_run(_sim_pod("OnFailure", **{"kubelite.io/simulated-run": "2.5s",
                                                   "kubelite.io/simulated-exit-code": "3"})) == \
        SimulatedRun("OnFailure", 2.5, 3)
    assert simulated_run(_sim_pod("Never", **{"kubelite.io/simulated-run": "soon"})) == SimulatedRun("Never", 1.0, 0)


@pytest.mark.parametrize(("policy", "code", "at", "phase", "state", "reason", "restarts", "next_in"), [
    ("Never", 0, 0.5, "Running", "running", None, 0, 1.5),
    ("Never", 0, 2.0, "Succeeded", "terminated", "Completed", 0, None),
    ("Never", 2, 2.0, "Failed", "terminated", "Error", 0, None),
    ("OnFailure", 0, 3.0, "Succeeded", "terminated", "Completed", 0, None),
    ("OnFailure", 1, 3.0, "Running", "waiting", "CrashLoopBackOff", 0, 9.0),
    ("OnFailure", 1, 13.0, "Running", "running", None, 1, 1.0),
    ("OnFailure", 1, 15.0, "Running", "waiting", "CrashLoopBackOff", 1, 19.0),
])
def test_simulated_containers(policy: str, code: int, at: float, phase: str, state: str, reason: str | None,
                              restarts: int, next_in: float | None) -> None:
    pod = _sim_pod(policy)
    observed, wait = simulate(pod, SimulatedRun(policy, 2.0, code), started=NOW, now=NOW + at, backoff=(10.0, 300.0))
    status = observed.containers[0]
    assert observed.phase == phase
    assert list(status["state"]) == [state]
    assert status["state"][state].get("reason") == reason
    assert status["restartCount"] == restarts
    assert wait == (pytest.approx(next_in) if next_in is not None else None)
    if state == "terminated":
        assert status["state"]["terminated"]["exitCode"] == code and status["ready"] is False
    if state == "waiting":
        assert status["lastState"]["terminated"]["reason"] == "Error"


# ---------------------------------------------------------------------------
# the kind through HTTP
# ---------------------------------------------------------------------------


def _body(name: str, **spec: Any) -> Obj:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": template, **spec}}


def test_defaults_and_generated_selector(api: httpx.Client, ns: str) -> None:
    r = api.post(JOBS.format(ns=ns), json=_body("d"))
    assert r.status_code == 201, r.text
    job = r.json()
    uid = job["metadata"]["uid"]
    spec = job["spec"]
    assert {k: spec[k] for k in ("parallelism", "completions", "backoffLimit", "completionMode", "suspend",
                                 "manualSelector", "podReplacementPolicy")} == {
        "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed"}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {"batch.kubernetes.io/controller-uid": uid,
                                                      "batch.kubernetes.io/job-name": "d",
                                                      "controller-uid": uid, "job-name": "d"}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert job["status"] == {}
    # only parallelism given: completions stays unset (a work queue)
    q = api.post(JOBS.format(ns=ns), json=_body("q", parallelism=3)).json()["spec"]
    assert (q["parallelism"], q.get("completions")) == (3, None)
    # discovery: in the "all" category, with a status subresource
    resources = {r["name"]: r for r in api.get("/apis/batch/v1").json()["resources"]}
    assert resources["jobs"]["categories"] == ["all"] and "jobs/status" in resources


def _invalid(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    return str(r.json()["message"])


def test_validation_messages(api: httpx.Client, ns: str) -> None:
    url = JOBS.format(ns=ns)
    body = _body("r")
    del body["spec"]["template"]["spec"]["restartPolicy"]
    assert _invalid(api.post(url, json=body)) == (
        'Job.batch "r" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
        '"Never"')
    assert _invalid(api.post(url, json=_body("n", parallelism=-1, backoffLimit=-2, completionMode="Sometimes"))) == (
        'Job.batch "n" is invalid: [spec.parallelism: Invalid value: -1: must be greater than or equal to 0, '
        "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0, "
        'spec.completionMode: Unsupported value: "Sometimes": supported values: "Indexed", "NonIndexed"]')
    assert _invalid(api.post(url, json=_body("i", completionMode="Indexed", completions=None,
                                             parallelism=2))) == (
        'Job.batch "i" is invalid: spec.completions: Required value: when completion mode is Indexed')
    bad = _body("s")
    bad["spec"]["template"]["metadata"] = {"labels": {"batch.kubernetes.io/job-name": "other"}}
    assert "spec.template.metadata.labels[batch.kubernetes.io/job-name]: Invalid value: " in _invalid(
        api.post(url, json=bad))
    assert _invalid(api.post(url, json=_body("p", podReplacementPolicy="Sometimes"))) == (
        'Job.batch "p" is invalid: spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: '
        '"Failed", "TerminatingOrFailed"')


def test_update_rules(api: httpx.Client, ns: str) -> None:
    url = JOBS.format(ns=ns)
    job = api.post(url, json=_body("u", completions=2, parallelism=1)).json()
    job["spec"]["completions"] = 5
    assert _invalid(api.put(f"{url}/u", json=job)) == (
        'Job.batch "u" is invalid: spec.completions: Invalid value: 5: field is immutable')
    job["spec"]["completions"] = 2
    job["spec"]["parallelism"] = 2  # parallelism may change
    assert api.put(f"{url}/u", json=job).status_code == 200
    # the status subresource counts are never negative
    fresh = api.get(f"{url}/u").json()
    r = api.put(f"{url}/u/status", json={**fresh, "status": {"succeeded": -1}})
    assert _invalid(r) == 'Job.batch "u" is invalid: status.succeeded: Invalid value: -1: must be greater than or equal to 0'


def test_table_columns(api: httpx.Client, ns: str) -> None:
    url = JOBS.format(ns=ns)
    assert api.post(url, json=_body("t", completions=None, parallelism=3)).status_code == 201
    table = api.get(url, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["t", "Running", "0/1 of 3", ""]
    assert cells[5:7] == ["c", "busybox"] and cells[7].startswith("batch.kubernetes.io/controller-uid=")


def test_official_python_client(apiserver: Any, ns: str) -> None:
    """kubernetes.client's BatchV1Api creates, lists, watches and deletes Jobs and CronJobs."""
    k8s = pytest.importorskip("kubernetes.client")
    k8s_watch = pytest.importorskip("kubernetes.watch")
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as api_client:
        batch = k8s.BatchV1Api(api_client)
        template = k8s.V1PodTemplateSpec(spec=k8s.V1PodSpec(
            restart_policy="Never", containers=[k8s.V1Container(name="c", image="busybox")]))
        rv = batch.list_namespaced_job(ns).metadata.resource_version
        created = batch.create_namespaced_job(ns, k8s.V1Job(metadata=k8s.V1ObjectMeta(name="py"),
                                                            spec=k8s.V1JobSpec(template=template, completions=2)))
        assert created.spec.backoff_limit == 6 and created.spec.selector.match_labels == {
            "batch.kubernetes.io/controller-uid": created.metadata.uid}
        assert [j.metadata.name for j in batch.list_namespaced_job(ns).items] == ["py"]
        batch.create_namespaced_cron_job(ns, k8s.V1CronJob(
            metadata=k8s.V1ObjectMeta(name="pycron"),
            spec=k8s.V1CronJobSpec(schedule="@hourly", job_template=k8s.V1JobTemplateSpec(
                spec=k8s.V1JobSpec(template=template)))))
        assert batch.read_namespaced_cron_job("pycron", ns).spec.concurrency_policy == "Allow"
        batch.delete_namespaced_job("py", ns, propagation_policy="Background")
        batch.delete_namespaced_cron_job("pycron", ns)
        seen = [(ev["type"], ev["object"].metadata.name) for ev in k8s_watch.Watch().stream(
            batch.list_namespaced_job, ns, resource_version=rv, timeout_seconds=2)]
        assert seen == [("ADDED", "py"), ("DELETED", "py")]
        assert batch.list_namespaced_cron_job(ns).items == []


# ---------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("jobs")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        c.spawn("job", "controller", "job", "--no-leader-elect", "--pod-failure-backoff", "0.2s")
        c.spawn("gc", "controller", "gc", "--no-leader-elect")
        c.spawn("sim", "node", "--name", "sim-1", "--pod-cidr", "10.87.1.0/24", "--leader-elect-lease-duration",
                "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "0.5s")
        c.spawn("proc", "node", "--name", "proc-1", "--pod-cidr", "127.16.7.0/24", "--node-ip", "127.0.0.1",
                "--runtime", "process", "--root-dir", str(base / "root"), "--kubelet-port", str(free_port()),
                "--no-leader-elect")
        (base / "kubeconfig").write_text(render_kubeconfig(c.url))
        yield c
    finally:
        c.stop()


@pytest.fixture
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=15) as c:
        yield c


_ns = iter(range(1, 1000))


@pytest.fixture
def jns(http: httpx.Client) -> str:
    name = f"jobs-{os.getpid()}-{next(_ns)}"
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def kubectl(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([needs.kubectl(), "--cache-dir", str(cluster.dir / "kcache"), *args], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "KUBECONFIG": str(cluster.dir / "kubeconfig")},
                         check=False)
    assert not check or out.returncode == 0, out.stderr
    return out


def wait_for(cond: Callable[[], Any], what: str, cluster: Cluster, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")


def _on(node: str, body: Obj) -> Obj:
    body["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    return body


def _condition(job: Obj, ctype: str) -> Obj | None:
    for c in job.get("status", {}).get("conditions", []):
        if c["type"] == ctype and c["status"] == "True":
            return dict(c)
    return None


def _pods(http: httpx.Client, ns: str, job: str) -> list[Obj]:
    r = http.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": f"batch.kubernetes.io/job-name={job}"})
    return list(r.json()["items"])


@pytest.mark.slow
def test_completions_with_a_failing_pod_counted_against_backoff_limit(cluster: Cluster, http: httpx.Client,
                                                                     jns: str, tmp_path: Path) -> None:
    """Process runtime: the first Pod to run takes a lock and exits 1, every later one exits 0."""
    lock = tmp_path / "lock"
    body = _on("proc-1", _body("work", completions=3, parallelism=2, backoffLimit=1))
    body["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "sh", "-c", f"if mkdir {lock} 2>/dev/null; then echo first; exit 1; fi; echo done"]
    assert http.post(JOBS.format(ns=jns), json=body).status_code == 201
    out = kubectl(cluster, "-n", jns, "wait", "--for=condition=complete", "job/work", "--timeout=60s", check=False)
    job = http.get(JOBS.format(ns=jns) + "/work").json()
    assert out.returncode == 0, f"{out.stderr}\n{job.get('status')}\n{cluster.logs()}"
    status = job["status"]
    assert (status["succeeded"], status["failed"]) == (3, 1)
    assert status["uncountedTerminatedPods"] == {} and "completionTime" in status
    assert _condition(job, "Complete")["reason"] == "CompletionsReached"  # type: ignore[index]
    pods = _pods(http, jns, "work")
    phases = sorted(p["status"]["phase"] for p in pods)
    assert phases == ["Failed", "Succeeded", "Succeeded", "Succeeded"]
    assert all("batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or []) for p in pods)
    failed = next(p for p in pods if p["status"]["phase"] == "Failed")
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")
    rows = kubectl(cluster, "-n", jns, "get", "jobs").stdout.splitlines()
    assert rows[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows[1].split()[:3] == ["work", "Complete", "3/3"]


@pytest.mark.slow
def test_a_job_failing_past_its_backoff_limit(cluster: Cluster, http: httpx.Client, jns: str) -> None:
    body = _on("sim-1", _body("broken", backoffLimit=1))
    body["spec"]["template"]["metadata"] = {"annotations": {"kubelite.io/simulated-exit-code": "1",
                                                            "kubelite.io/simulated-run": "200ms"}}
    assert http.post(JOBS.format(ns=jns), json=body).status_code == 201
    job = wait_for(lambda: (j := http.get(JOBS.format(ns=jns) + "/broken").json()) and _condition(j, "Failed") and j,
                   "the Job to fail", cluster)
    assert job["status"]["failed"] == 2 and job["status"].get("succeeded", 0) == 0
    failed = _condition(job, "Failed")
    assert failed is not None and (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert _condition(job, "FailureTarget") is not None
    assert sorted(p["status"]["phase"] for p in _pods(http, jns, "broken")) == ["Failed", "Failed"]
    row = kubectl(cluster, "-n", jns, "get", "job", "broken", "--no-headers").stdout.split()
    assert row[:3] == ["broken", "Failed", "0/1"]


@pytest.mark.slow
def test_indexed_job_runs_every_index(cluster: Cluster, http: httpx.Client, jns: str) -> None:
    body = _on("proc-1", _body("idx", completions=3, parallelism=3, completionMode="Indexed"))
    body["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", 'echo "index=$JOB_COMPLETION_INDEX"']
    assert http.post(JOBS.format(ns=jns), json=body).status_code == 201
    job = wait_for(lambda: (j := http.get(JOBS.format(ns=jns) + "/idx").json()) and _condition(j, "Complete") and j,
                   "the Indexed Job to complete", cluster)
    assert (job["status"]["completedIndexes"], job["status"]["succeeded"]) == ("0-2", 3)
    logs = set()
    for pod in _pods(http, jns, "idx"):
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["spec"]["hostname"] == f"idx-{index}"
        logs.add(http.get(f"/api/v1/namespaces/{jns}/pods/{pod['metadata']['name']}/log").text.strip())
    assert logs == {"index=0", "index=1", "index=2"}


@pytest.mark.slow
def test_active_deadline_and_ttl_after_finished(cluster: Cluster, http: httpx.Client, jns: str) -> None:
    body = _on("sim-1", _body("slow", activeDeadlineSeconds=1, ttlSecondsAfterFinished=2))
    body["spec"]["template"]["metadata"] = {"annotations": {"kubelite.io/simulated-run": "1h"}}
    assert http.post(JOBS.format(ns=jns), json=body).status_code == 201
    job = wait_for(lambda: (j := http.get(JOBS.format(ns=jns) + "/slow").json()) and _condition(j, "Failed") and j,
                   "the deadline", cluster)
    assert _condition(job, "Failed")["reason"] == "DeadlineExceeded"  # type: ignore[index]
    # ttlSecondsAfterFinished: the Job goes, and the garbage collector takes its Pods
    wait_for(lambda: http.get(JOBS.format(ns=jns) + "/slow").status_code == 404, "the Job's TTL", cluster)
    wait_for(lambda: not _pods(http, jns, "slow"), "the Job's Pods to be collected", cluster)


@pytest.mark.slow
def test_kubectl_create_job_and_wait(cluster: Cluster, http: httpx.Client, jns: str) -> None:
    kubectl(cluster, "-n", jns, "create", "job", "hello", "--image=busybox", "--", "echo", "hi")
    out = kubectl(cluster, "-n", jns, "wait", "--for=condition=complete", "job/hello", "--timeout=60s", check=False)
    assert out.returncode == 0, out.stderr + cluster.logs()
    assert out.stdout.strip() == "job.batch/hello condition met"
    wide = kubectl(cluster, "-n", jns, "get", "jobs", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[:3] == ["hello", "Complete", "1/1"]
    assert wide[1].split()[-3:-1] == ["hello", "busybox"]
