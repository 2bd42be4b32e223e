"""Lease-based leader election: one leader, release on stop, stop-at-once on failed renewal."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubefake import FakeApiServer, fake_apiserver

from apimachinery.resources import BY_KEY
from controllers.runtime.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from kubeclient.client import Client

LEASES = BY_KEY["leases.coordination.k8s.io"]
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 1.0, 0.6, 0.2


def fast(identity: str) -> LeaderElectionConfig:
    return LeaderElectionConfig("demo", identity=identity, lease_duration=LEASE_DURATION,
                                renew_deadline=RENEW_DEADLINE, retry_period=RETRY_PERIOD)


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with fake_apiserver() as srv:
        yield srv


@pytest.fixture
async def client(fake: FakeApiServer) -> AsyncIterator[Client]:
    async with Client(fake.url) as c:
        yield c


def lease(fake: FakeApiServer) -> dict[str, Any]:
    return fake.objects[(LEASES.key, "kube-system", "demo")]


class Candidate:
    def __init__(self, client: Client, name: str) -> None:
        self.elector = LeaderElector(client, fast(name))
        self.leading = False
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.stopped_called = False
        self.task: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        self.leading = True
        self.started_at = asyncio.get_running_loop().time()
        try:
            await asyncio.sleep(3600)
        finally:
            self.leading = False
            self.stopped_at = asyncio.get_running_loop().time()

    def on_stopped(self) -> None:
        self.stopped_called = True

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run(self.lead, self.on_stopped))


async def until(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def cancel(c: Candidate) -> None:
    assert c.task is not None
    c.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await c.task


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "ok"),
    [
        (15.0, 10.0, 2.0, True),  # client-go's defaults
        (10.0, 10.0, 2.0, False),  # lease must outlast the renew deadline
        (15.0, 2.0, 2.0, False),  # renew deadline must exceed retry * 1.2
        (0.5, 0.3, 0.1, False),  # lease under a second
        (LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD, True),
    ],
)
def test_config_validation(lease: float, renew: float, retry: float, ok: bool) -> None:
    if ok:
        cfg = LeaderElectionConfig("x", lease_duration=lease, renew_deadline=renew, retry_period=retry)
        assert cfg.namespace == "kube-system"
    else:
        with pytest.raises(ValueError):
            LeaderElectionConfig("x", lease_duration=lease, renew_deadline=renew, retry_period=retry)


def test_default_identity_is_host_pid_random() -> None:
    a, b = default_identity(), default_identity()
    assert a != b
    host, pid, rnd = a.rsplit("_", 2)
    assert pid.isdigit() and len(rnd) == 8 and host


async def test_exactly_one_leads_and_release_hands_over(client: Client, fake: FakeApiServer) -> None:
    a, b = Candidate(client, "a"), Candidate(client, "b")
    a.start()
    await until(lambda: a.leading)
    b.start()
    await asyncio.sleep(0.5)
    assert a.leading and not b.leading
    spec = lease(fake)["spec"]
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 0
    assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
    first_renew = spec["renewTime"]
    await until(lambda: lease(fake)["spec"]["renewTime"] != first_renew)  # a keeps renewing
    assert lease(fake)["spec"]["acquireTime"] == spec["acquireTime"]

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await cancel(a)  # clean stop: the lease is released
    assert a.stopped_called and not a.leading
    await until(lambda: b.leading, timeout=2)
    assert loop.time() - t0 < LEASE_DURATION  # did not wait out the lease
    spec = lease(fake)["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    await cancel(b)


async def test_leader_that_cannot_renew_stops_before_the_other_takes_over(
    client: Client, fake: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Client(fake.url) as a_client:
        a, b = Candidate(a_client, "a"), Candidate(client, "b")
        a.start()
        await until(lambda: a.leading)
        b.start()
        await asyncio.sleep(0.3)

        async def hang(*args: Any, **kwargs: Any) -> dict[str, Any]:
            await asyncio.sleep(3600)
            raise AssertionError

        monkeypatch.setattr(a_client, "get", hang)  # a's API server is unreachable from now on
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert a.task is not None
        await asyncio.wait_for(a.task, 3)  # run() returns: leadership over
        assert not a.leading and a.stopped_called
        assert a.stopped_at is not None and a.stopped_at - t0 <= RETRY_PERIOD * 1.5 + RENEW_DEADLINE
        await until(lambda: b.leading, timeout=4)
        assert b.started_at is not None and b.started_at > a.stopped_at  # never two leaders
        assert lease(fake)["spec"]["holderIdentity"] == "b"
        assert lease(fake)["spec"]["leaseTransitions"] == 1
        await cancel(b)


async def test_unrenewed_foreign_lease_is_taken_after_its_duration(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(LEASES, {"metadata": {"name": "demo", "namespace": "kube-system"},
                             "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 1,
                                      "leaseTransitions": 4, "acquireTime": "2020-01-01T00:00:00.000000Z",
                                      "renewTime": "2020-01-01T00:00:00.000000Z"}})
    e = LeaderElector(client, fast("me"))
    # The renewTime is years old, but only our own observation clock counts.
    assert await e.try_acquire_or_renew() is False
    await asyncio.sleep(0.5)
    assert await e.try_acquire_or_renew() is False
    await asyncio.sleep(0.6)
    assert await e.try_acquire_or_renew() is True
    spec = lease(fake)["spec"]
    assert spec["holderIdentity"] == "me" and spec["leaseTransitions"] == 5
    assert spec["acquireTime"] != "2020-01-01T00:00:00.000000Z"


async def test_racing_updates_lose_on_conflict(client: Client, fake: FakeApiServer) -> None:
    e1 = LeaderElector(client, fast("one"))
    e2 = LeaderElector(client, fast("two"))
    results = await asyncio.gather(e1.try_acquire_or_renew(), e2.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    winner = "one" if results[0] else "two"
    assert lease(fake)["spec"]["holderIdentity"] == winner


async def test_release_after_an_unobserved_renewal_still_hands_over(client: Client, fake: FakeApiServer) -> None:
    """A cancel can land after a renewal reached the server but before its answer was seen."""
    e = LeaderElector(client, fast("me"))
    assert await e.try_acquire_or_renew() is True
    behind = dict(lease(fake))
    fake.put_object(LEASES, {**behind, "spec": {**behind["spec"], "renewTime": "2030-01-01T00:00:00.000000Z"}})
    await e.release()
    spec = lease(fake)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1


async def test_release_never_clears_a_lease_someone_else_took(client: Client, fake: FakeApiServer) -> None:
    e = LeaderElector(client, fast("me"))
    assert await e.try_acquire_or_renew() is True
    taken = dict(lease(fake))
    fake.put_object(LEASES, {**taken, "spec": {**taken["spec"], "holderIdentity": "other"}})
    await e.release()
    assert lease(fake)["spec"]["holderIdentity"] == "other"
