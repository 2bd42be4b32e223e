"""controllers.endpoints.controller without a server: event -> Service keys, and write-only-on-difference."""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest

from apimachinery.labels import LABEL_MANAGED_BY, LABEL_SERVICE_NAME
from apimachinery.resources import ResourceType
from controllers.endpoints.controller import EndpointsController
from controllers.endpoints.pods import MANAGED_BY
from controllers.runtime.controller import RequeueAfter
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]


class FakeClient:
    """Just the verbs the controller uses; objects get names and resourceVersions as the API would give."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.rv = 100
        self.objects: dict[tuple[str, str, str], Obj] = {}

    def _stamp(self, obj: Obj) -> Obj:
        self.rv += 1
        out = copy.deepcopy(obj)
        meta = out.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}x{self.rv}"
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{meta['name']}")
        return out

    async def create(self, rt: ResourceType, obj: Obj, **_: Any) -> Obj:
        out = self._stamp(obj)
        key = (rt.plural, out["metadata"]["namespace"], out["metadata"]["name"])
        if key in self.objects:
            raise errors.AlreadyExists(409, "AlreadyExists", "exists")
        self.objects[key] = out
        self.calls.append(("create", rt.plural, out["metadata"]["name"]))
        return out

    async def update(self, rt: ResourceType, obj: Obj, **_: Any) -> Obj:
        out = self._stamp(obj)
        self.objects[(rt.plural, out["metadata"]["namespace"], out["metadata"]["name"])] = out
        self.calls.append(("update", rt.plural, out["metadata"]["name"]))
        return out

    async def delete(self, rt: ResourceType, name: str, *, namespace: str | None = None, **_: Any) -> Obj:
        self.calls.append(("delete", rt.plural, name))
        return self.objects.pop((rt.plural, namespace or "", name), {})


def svc(name: str = "web", selector: dict[str, str] | None = None, ns: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": "1",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"selector": {"app": "web"} if selector is None else selector, "clusterIP": "10.96.0.9",
                     "ipFamilies": ["IPv4"], "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def pod(name: str, ip: str, *, labels: dict[str, str] | None = None, ready: bool = True, rv: str = "5",
        ns: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": rv,
                         "labels": {"app": "web"} if labels is None else labels},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def ctl(fake: FakeClient) -> EndpointsController:
    c = EndpointsController(cast(Client, fake), batch_period=0)
    c.nodes.cache.put(copy.deepcopy(NODE))
    return c


def sync_caches(ctl: EndpointsController, fake: FakeClient) -> None:
    """What the informers would deliver: the API's current Endpoints and slices."""
    for cache, plural in ((ctl.endpoints.cache, "endpoints"), (ctl.slices.cache, "endpointslices")):
        for key in cache.keys():
            cache.remove(key)
        for (p, _ns, _name), obj in fake.objects.items():
            if p == plural:
                cache.put(obj)


def queued(ctl: EndpointsController) -> set[str]:
    out = set()
    while len(ctl.queue):
        key = ctl.queue._queue.popleft()
        ctl.queue._dirty.discard(key)
        out.add(key)
    return out


async def test_writes_only_on_difference(ctl: EndpointsController, fake: FakeClient) -> None:
    ctl.services.cache.put(svc())
    ctl.pods.cache.put(pod("a", "10.85.0.2"))
    await ctl.reconcile("default/web")
    assert sorted(c[:2] for c in fake.calls) == [("create", "endpoints"), ("create", "endpointslices")]
    sync_caches(ctl, fake)
    fake.calls.clear()
    await ctl.reconcile("default/web")
    assert fake.calls == []  # converged: nothing to write
    ctl.pods.cache.put(pod("a", "10.85.0.2", rv="6"))  # a change the endpoints do not depend on
    await ctl.reconcile("default/web")
    assert fake.calls == []
    ctl.pods.cache.put(pod("a", "10.85.0.2", ready=False, rv="7"))
    await ctl.reconcile("default/web")
    assert sorted(c[:2] for c in fake.calls) == [("update", "endpoints"), ("update", "endpointslices")]


async def test_stale_cache_postpones_the_sync(ctl: EndpointsController, fake: FakeClient) -> None:
    ctl.services.cache.put(svc())
    ctl.pods.cache.put(pod("a", "10.85.0.2"))
    await ctl.reconcile("default/web")
    fake.calls.clear()
    with pytest.raises(RequeueAfter):
        await ctl.reconcile("default/web")  # the caches have not seen our creates yet
    assert fake.calls == []
    sync_caches(ctl, fake)
    await ctl.reconcile("default/web")
    assert fake.calls == []


async def test_deleted_service_is_cleaned_up(ctl: EndpointsController, fake: FakeClient) -> None:
    ctl.services.cache.put(svc())
    ctl.pods.cache.put(pod("a", "10.85.0.2"))
    await ctl.reconcile("default/web")
    sync_caches(ctl, fake)
    ctl.services.cache.remove("default/web")
    fake.calls.clear()
    await ctl.reconcile("default/web")
    assert sorted(c[:2] for c in fake.calls) == [("delete", "endpoints"), ("delete", "endpointslices")]
    assert fake.objects == {}


async def test_selector_removed_keeps_endpoints_drops_our_slices(ctl: EndpointsController, fake: FakeClient) -> None:
    ctl.services.cache.put(svc())
    ctl.pods.cache.put(pod("a", "10.85.0.2"))
    await ctl.reconcile("default/web")
    sync_caches(ctl, fake)
    ctl.services.cache.put(svc(selector={}))
    fake.calls.clear()
    await ctl.reconcile("default/web")
    assert [c[:2] for c in fake.calls] == [("delete", "endpointslices")]


def test_pod_events_map_to_matching_services_only(ctl: EndpointsController) -> None:
    ctl.services.cache.put(svc("web"))
    ctl.services.cache.put(svc("web-canary", {"app": "web", "track": "canary"}))
    ctl.services.cache.put(svc("db", {"app": "db"}))
    ctl.services.cache.put(svc("other-ns", ns="other"))
    ctl.services.cache.put(svc("manual", {}))
    assert ctl.services_for("default", {"app": "web"}) == {"default/web"}
    assert ctl.services_for("default", {"app": "web", "track": "canary"}) == {"default/web", "default/web-canary"}
    assert ctl.services_for("default", {"tier": "x"}) == set()

    ctl._pod_added(pod("a", "10.85.0.2", labels={"app": "web", "track": "canary"}))
    assert queued(ctl) == {"default/web", "default/web-canary"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", rv="6"), set()),
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", ready=False, rv="6"), {"default/web"}),
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", labels={"app": "db"}, rv="6"), {"default/web", "default/db"}),
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", labels={"app": "web", "x": "y"}, rv="6"), set()),
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", labels={"app": "web", "track": "canary"}, rv="6"),
         {"default/web-canary"}),
        (pod("a", "10.85.0.2"), pod("a", "10.85.0.2", labels={"app": "web", "track": "canary"}, ready=False,
                                    rv="6"), {"default/web", "default/web-canary"}),
    ],
    ids=["nothing-relevant", "readiness", "moved", "label-no-membership-change", "joins-one-more",
         "labels-and-readiness"],
)
def test_pod_update_enqueues(ctl: EndpointsController, old: Obj, new: Obj, expected: set[str]) -> None:
    ctl.services.cache.put(svc("web"))
    ctl.services.cache.put(svc("web-canary", {"app": "web", "track": "canary"}))
    ctl.services.cache.put(svc("db", {"app": "db"}))
    ctl._pod_updated(old, new)
    assert queued(ctl) == expected


def test_start_keys_find_leftovers(ctl: EndpointsController) -> None:
    ctl.services.cache.put(svc("web"))
    ctl.endpoints.cache.put({"metadata": {"name": "gone", "namespace": "default"}})
    ctl.endpoints.cache.put({"metadata": {"name": "lock", "namespace": "kube-system",
                                          "annotations": {"control-plane.alpha.kubernetes.io/leader": "{}"}}})
    ctl.slices.cache.put({"metadata": {"name": "gone2-abc", "namespace": "ns",
                                       "labels": {LABEL_SERVICE_NAME: "gone2",
                                                  LABEL_MANAGED_BY: MANAGED_BY}}})
    assert ctl.start_keys() == ["default/gone", "default/web", "ns/gone2"]


def test_candidate_pods_read_one_index_bucket(ctl: EndpointsController) -> None:
    service = svc("web-canary", {"app": "web", "track": "canary"})
    for i in range(5):
        ctl.pods.cache.put(pod(f"w{i}", f"10.85.0.{i + 2}"))
    ctl.pods.cache.put(pod("c", "10.85.0.9", labels={"app": "web", "track": "canary"}))
    ctl.pods.cache.put(pod("o", "10.85.0.10", labels={"app": "web", "track": "canary"}, ns="other"))
    assert [p["metadata"]["name"] for p in ctl.candidate_pods(service)] == ["c"]
