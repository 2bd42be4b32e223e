"""batch/v1 CronJobs: the schedule grammar, the controller's decision, the kind over HTTP and kubectl, and runs.

- apimachinery/cron.py against robfig/cron's ParseStandard: fields, names, steps, descriptors, the
  day-of-month/day-of-week rule, time zones, and its error messages (kube-apiserver returns them).
- ``due_run``, ``tracked_status``, ``history_to_delete`` (controllers/cronjob.py) in table tests.
- Defaults and ValidateCronJob messages over HTTP; ``kubectl create cronjob``, ``get cj -o wide`` and
  ``kubectl create job --from=cronjob/x``.
- The controller in this process with a clock the test moves: a ``* * * * *`` CronJob under Forbid,
  Replace and Allow. And with real processes (API server, cronjob, job and gc controllers, a node): a
  missed run starts at once and its Job completes, filling lastScheduleTime and lastSuccessfulTime.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from apimachinery import cron
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from controllers.cronjob import (
    CronJobController,
    due_run,
    history_to_delete,
    job_from_template,
    tracked_status,
)
from kubeclient.client import Client
from tests.conftest import ApiServerProcess, run_kubectl, start_apiserver
from tests.test_deployments_e2e import Cluster

Obj = dict[str, Any]
CJ = "/apis/batch/v1/namespaces/{ns}/cronjobs"
JOBS = "/apis/batch/v1/namespaces/{ns}/jobs"
NY = cron.load_zone("America/New_York")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------------------
# the schedule grammar
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("* * * * *", "2027-01-15T08:00:30+00:00", "2027-01-15T08:01:00+00:00"),
    ("*/15 * * * *", "2027-01-15T08:01:00+00:00", "2027-01-15T08:15:00+00:00"),
    ("5/20 * * * *", "2027-01-15T08:26:00+00:00", "2027-01-15T08:45:00+00:00"),
    ("0 9-17/4 * * *", "2027-01-15T13:00:00+00:00", "2027-01-15T17:00:00+00:00"),
    ("30 2 * * mon-fri", "2027-01-15T03:00:00+00:00", "2027-01-18T02:30:00+00:00"),  # Friday -> Monday
    ("0 0 1 JAN,jul *", "2027-01-15T00:00:00+00:00", "2027-07-01T00:00:00+00:00"),
    ("0 0 13 * 5", "2027-01-01T00:00:00+00:00", "2027-01-08T00:00:00+00:00"),  # the 13th OR a Friday
    ("0 0 13 * *", "2027-01-01T00:00:00+00:00", "2027-01-13T00:00:00+00:00"),
    ("0 0 29 2 *", "2027-01-01T00:00:00+00:00", "2028-02-29T00:00:00+00:00"),
    ("@hourly", "2027-01-15T08:00:00+00:00", "2027-01-15T09:00:00+00:00"),
    ("@daily", "2027-01-15T08:00:00+00:00", "2027-01-16T00:00:00+00:00"),
    ("@weekly", "2027-01-15T08:00:00+00:00", "2027-01-17T00:00:00+00:00"),  # Sunday
    ("@monthly", "2027-01-15T08:00:00+00:00", "2027-02-01T00:00:00+00:00"),
    ("@yearly", "2027-01-15T08:00:00+00:00", "2028-01-01T00:00:00+00:00"),
    ("@every 90s", "2027-01-15T08:00:00.5+00:00", "2027-01-15T08:01:30+00:00"),
])
def test_next_run(spec: str, after: str, expected: str) -> None:
    assert cron.parse(spec).next_after(_t(after), UTC) == _t(expected)


def test_time_zones_and_daylight_saving() -> None:
    assert NY is not None
    schedule = cron.parse("0 9 * * *")
    # 09:00 in New York is 14:00 UTC in winter, 13:00 UTC in summer
    assert schedule.next_after(_t("2027-01-15T00:00:00+00:00"), NY) == _t("2027-01-15T14:00:00+00:00")
    assert schedule.next_after(_t("2027-07-15T00:00:00+00:00"), NY) == _t("2027-07-15T13:00:00+00:00")
    # 02:30 does not exist on the day daylight saving time starts (2027-03-14): that day is skipped
    skipped = cron.parse("30 2 * * *").next_after(_t("2027-03-14T05:00:00+00:00"), NY)
    assert skipped == _t("2027-03-15T06:30:00+00:00")


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * 13 *", "end of range (13) above maximum (12): 13"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
])
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message


# ---------------------------------------------------------------------------
# the controller's decisions
# ---------------------------------------------------------------------------


def _cj(status: Obj | None = None, **spec: Any) -> Obj:
    base: Obj = {"schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                 "jobTemplate": {"metadata": {"labels": {"app": "x"}}, "spec": {"template": {"spec": {
                     "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    base.update(spec)
    return {"metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": "2027-01-15T08:00:10Z"},
            "spec": base, "status": status or {}}


@pytest.mark.parametrize(("status", "spec", "now", "scheduled", "too_late", "warning"), [
    ({}, {}, "2027-01-15T08:00:50+00:00", None, False, None),  # created 08:00:10: nothing due yet
    ({}, {}, "2027-01-15T08:01:05+00:00", "2027-01-15T08:01:00+00:00", False, None),
    ({"lastScheduleTime": "2027-01-15T08:01:00Z"}, {}, "2027-01-15T08:01:30+00:00", None, False, None),
    ({}, {}, "2027-01-15T08:05:30+00:00", "2027-01-15T08:05:00+00:00", False, None),  # the latest missed run only
    ({}, {"startingDeadlineSeconds": 10}, "2027-01-15T08:05:30+00:00", None, False, None),
    ({}, {"startingDeadlineSeconds": 40}, "2027-01-15T08:05:30+00:00", "2027-01-15T08:05:00+00:00", False, None),
    ({}, {}, "2027-01-15T11:00:30+00:00", "2027-01-15T11:00:00+00:00", False, "TooManyMissedTimes"),
])
def test_due_run(status: Obj, spec: Obj, now: str, scheduled: str | None, too_late: bool,
                 warning: str | None) -> None:
    due = due_run(_cj(status, **spec), cron.parse("* * * * *"), UTC, _t(now))
    assert due.scheduled == (_t(scheduled) if scheduled else None)
    assert due.too_late is too_late
    assert (due.warning[0] if due.warning else None) == warning
    assert due.next_run == _t(now).replace(second=0, microsecond=0) + timedelta(minutes=1)


def _job(name: str, finished: str = "", *, start: str = "2027-01-15T08:00:00Z", done: str = "") -> Obj:
    status: Obj = {"startTime": start}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    if done:
        status["completionTime"] = done
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}, "status": status}


def test_tracked_status() -> None:
    cj = _cj({"active": [{"name": "a", "uid": "uid-a"}, {"name": "b", "uid": "uid-b"}, {"name": "gone", "uid": "x"}]})
    jobs = [_job("a"), _job("b", "Complete", done="2027-01-15T08:03:00Z"), _job("c", "Complete",
                                                                             done="2027-01-15T08:02:00Z")]
    status, events = tracked_status(cj, jobs)
    assert status["active"] == [{"name": "a", "uid": "uid-a"}]
    assert status["lastSuccessfulTime"] == "2027-01-15T08:03:00Z"
    assert [(t, r) for t, r, _ in events] == [("Normal", "SawCompletedJob"), ("Normal", "MissingJob")]
    assert events[0][2] == "Saw completed job: b, condition: Complete"


def test_history_limits() -> None:
    cj = _cj(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
    jobs = [_job("s1", "Complete", start="2027-01-15T08:01:00Z"), _job("s2", "Complete", start="2027-01-15T08:02:00Z"),
            _job("s0", "Complete", start="2027-01-15T08:00:00Z"), _job("f1", "Failed"), _job("run")]
    assert sorted(j["metadata"]["name"] for j in history_to_delete(cj, jobs)) == ["f1", "s0", "s1"]


def test_job_from_template() -> None:
    job = job_from_template(_cj(), _t("2027-01-15T08:05:00+00:00"), NY or UTC)
    assert job["metadata"]["name"] == f"cj-{int(_t('2027-01-15T08:05:00+00:00').timestamp()) // 60}"
    assert job["metadata"]["labels"] == {"app": "x"}
    assert job["metadata"]["annotations"] == {"batch.kubernetes.io/cronjob-scheduled-timestamp":
                                              "2027-01-15T03:05:00-05:00"}
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("CronJob", "cj", "cj-uid", True)


# ---------------------------------------------------------------------------
# the kind through HTTP and kubectl
# ---------------------------------------------------------------------------


def _body(name: str, schedule: str = "*/5 * * * *", **spec: Any) -> Obj:
    template = {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                               "containers": [{"name": "c", "image": "busybox"}]}}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": template, **spec}}


def _invalid(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    return str(r.json()["message"])


def test_defaults(api: httpx.Client, ns: str) -> None:
    r = api.post(CJ.format(ns=ns), json=_body("d"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert {k: spec[k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit",
                                 "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec and "selector" not in job_spec  # a template's JobSpec is not defaulted
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    resources = {x["name"]: x for x in api.get("/apis/batch/v1").json()["resources"]}
    assert resources["cronjobs"]["shortNames"] == ["cj"] and resources["cronjobs"]["categories"] == ["all"]


@pytest.mark.parametrize(("body", "message"), [
    (_body("bad", "61 * * * *"),
     'CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum '
     "(59): 61"),
    (_body("bad", "TZ=UTC * * * * *"),
     'CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in '
     "schedule, use timeZone field instead"),
    (_body("bad", timeZone="Mars/Olympus"),
     'CronJob.batch "bad" is invalid: spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    (_body("bad", concurrencyPolicy="Sometimes"),
     'CronJob.batch "bad" is invalid: spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: '
     '"Allow", "Forbid", "Replace"'),
    (_body("bad", startingDeadlineSeconds=-1, successfulJobsHistoryLimit=-1),
     'CronJob.batch "bad" is invalid: [spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal '
     "to 0, spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0]"),
    (_body("x" * 53),
     f'CronJob.batch "{"x" * 53}" is invalid: metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 '
     "characters"),
    (_body("bad", ""), 'CronJob.batch "bad" is invalid: spec.schedule: Required value'),
])
def test_validation_messages(api: httpx.Client, ns: str, body: Obj, message: str) -> None:
    assert _invalid(api.post(CJ.format(ns=ns), json=body)) == message


def test_job_template_rules(api: httpx.Client, ns: str) -> None:
    body = _body("tpl")
    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert _invalid(api.post(CJ.format(ns=ns), json=body)) == (
        'CronJob.batch "tpl" is invalid: spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid '
        'values: "OnFailure", "Never"')
    good = api.post(CJ.format(ns=ns), json=_body("tz", "@hourly", timeZone="Europe/Paris"))
    assert good.status_code == 201, good.text


def test_kubectl_create_cronjob_and_job_from_it(api: httpx.Client, kubectl_env: dict[str, str], tmp_path: Path,
                                                ns: str) -> None:
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "cronjob", "tick", "--image=busybox",
                 "--schedule=*/1 * * * *", "--", "date")
    assert r.returncode == 0 and r.stdout.strip() == "cronjob.batch/tick created", r.stderr
    rows = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "cj", "-o", "wide").stdout.splitlines()
    assert rows[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE",
                               "CONTAINERS", "IMAGES", "SELECTOR"]
    cells = rows[1].split()
    assert cells[:9] == ["tick", "*/1", "*", "*", "*", "*", "<none>", "False", "0"]
    assert cells[9] == "<none>" and cells[11:] == ["tick", "busybox", "<none>"]
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "job", "manual", "--from=cronjob/tick")
    assert r.returncode == 0 and r.stdout.strip() == "job.batch/manual created", r.stderr
    job = api.get(JOBS.format(ns=ns) + "/manual").json()
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"]) == ("CronJob", "tick")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]
    assert job["spec"]["backoffLimit"] == 6  # the Job's own defaults apply
    all_rows = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "all").stdout
    assert "cronjob.batch/tick" in all_rows and "job.batch/manual" in all_rows


# ---------------------------------------------------------------------------
# the controller with a clock the test moves
# ---------------------------------------------------------------------------


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[Client]:
    async with Client(apiserver.url, timeout=15) as c:
        yield c


async def _eventually(cond: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_concurrency_policies_with_a_fake_clock(client: Client, ns: str) -> None:
    created = await client.create(BY_KEY["cronjobs.batch"], _body("tick", "* * * * *", concurrencyPolicy="Forbid"),
                                  namespace=ns)
    start = datetime.fromisoformat(created["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    clock = [start.timestamp()]
    ctl = CronJobController(client, clock=lambda: clock[0])
    # the informers only: this test runs every reconcile itself (ctl.process), at the times it chooses
    ctl.factory.start()
    await ctl.factory.wait_synced()
    key = f"{ns}/tick"
    try:
        await _eventually(lambda: ctl.cronjobs.cache.get(ns, "tick") is not None, "the cache")

        def jobs() -> list[Obj]:
            return [j for j in ctl.jobs.cache.list(ns) if not j["metadata"].get("deletionTimestamp")]

        def active() -> list[str]:
            cj = ctl.cronjobs.cache.get(ns, "tick") or {}
            return [a["name"] for a in cj.get("status", {}).get("active", [])]

        async def tick(minutes: int) -> None:
            clock[0] += 60 * minutes
            await ctl.process(key)

        await ctl.process(key)
        assert jobs() == []  # nothing due in the first minute
        await tick(1)
        first = await _eventually(lambda: active() and active(), "the first run")
        minute = (int(clock[0]) // 60)
        assert first == [f"tick-{minute}"]
        cj = ctl.cronjobs.cache.get(ns, "tick") or {}
        assert cj["status"]["lastScheduleTime"] == format_time(datetime.fromtimestamp(minute * 60, UTC))
        await _eventually(lambda: len(jobs()) == 1, "the Job in the cache")
        # Forbid: the first Job is still running (no job controller here), so the next run is skipped
        await tick(1)
        await asyncio.sleep(0.5)  # a Job created now would be in the cache by then
        assert [j["metadata"]["name"] for j in jobs()] == first
        # Replace: the running Job is deleted and the new run takes its place
        await client.patch(BY_KEY["cronjobs.batch"], "tick", {"spec": {"concurrencyPolicy": "Replace"}}, namespace=ns)
        await _eventually(lambda: (ctl.cronjobs.cache.get(ns, "tick") or {})["spec"]["concurrencyPolicy"] == "Replace",
                          "the policy change")
        await tick(1)
        second = await _eventually(lambda: active() != first and active(), "the replacing run")
        assert len(second) == 1 and second != first
        await _eventually(lambda: [j["metadata"]["name"] for j in jobs()] == second, "the replaced Job to go")
        # Allow: runs side by side
        await client.patch(BY_KEY["cronjobs.batch"], "tick", {"spec": {"concurrencyPolicy": "Allow"}}, namespace=ns)
        await _eventually(lambda: (ctl.cronjobs.cache.get(ns, "tick") or {})["spec"]["concurrencyPolicy"] == "Allow",
                          "the policy change")
        await tick(1)
        both = await _eventually(lambda: len(active()) == 2 and active(), "two active Jobs")
        assert both[0] == second[0]
        # suspend: no new runs
        await client.patch(BY_KEY["cronjobs.batch"], "tick", {"spec": {"suspend": True}}, namespace=ns)
        await _eventually(lambda: (ctl.cronjobs.cache.get(ns, "tick") or {})["spec"]["suspend"] is True, "suspend")
        await tick(1)
        assert len(jobs()) == 2
    finally:
        await ctl.factory.shutdown()


# ---------------------------------------------------------------------------
# end to end: a missed run starts at once, and its Job completes
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cronjobs")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("cronjob", "job", "gc"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        c.spawn("node", "node", "--name", "cron-1", "--pod-cidr", "10.88.1.0/24", "--no-leader-elect")
        yield c
    finally:
        c.stop()


@pytest.mark.slow
def test_a_missed_run_starts_and_completes(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=15) as http:
        ns = f"cron-{os.getpid()}"
        assert http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": ns}}).status_code == 201
        r = http.post(CJ.format(ns=ns), json=_body("every", "* * * * *", successfulJobsHistoryLimit=2))
        assert r.status_code == 201, r.text
        cj = r.json()
        # as if the controller had last started a run two minutes ago: the latest missed run is due now
        before = datetime.now(UTC) - timedelta(minutes=2)
        r = http.put(CJ.format(ns=ns) + "/every/status", json={**cj, "status": {"lastScheduleTime": format_time(before)}})
        assert r.status_code == 200, r.text

        def done() -> Obj | None:
            got: Obj = http.get(CJ.format(ns=ns) + "/every").json()
            status = got.get("status", {})
            return got if status.get("lastSuccessfulTime") and not status.get("active") else None

        deadline = time.monotonic() + 40
        cj = None
        while time.monotonic() < deadline and cj is None:
            cj = done()
            time.sleep(0.2)
        assert cj is not None, cluster.logs()
        jobs = http.get(JOBS.format(ns=ns)).json()["items"]
        assert len(jobs) == 1
        job = jobs[0]
        scheduled = datetime.fromisoformat(cj["status"]["lastScheduleTime"].replace("Z", "+00:00"))
        assert scheduled > before and scheduled.second == 0
        assert job["metadata"]["name"] == f"every-{int(scheduled.timestamp()) // 60}"
        assert job["metadata"]["ownerReferences"][0]["uid"] == cj["metadata"]["uid"]
        assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in job["metadata"]["annotations"]
        assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
        assert cj["status"]["lastSuccessfulTime"] == job["status"]["completionTime"]
        events = http.get(f"/api/v1/namespaces/{ns}/events",
                          params={"fieldSelector": "involvedObject.name=every"}).json()["items"]
        reasons = {e["reason"] for e in events}
        assert {"SuccessfulCreate", "SawCompletedJob"} <= reasons
