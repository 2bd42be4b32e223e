"""Client: URLs, verbs, typed errors, watch streams and discovery, against a fake REST server."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubefake import FakeApiServer, fake_apiserver, svc

from apimachinery.resources import BY_KEY
from kubeclient import errors
from kubeclient.client import Client, parse_aggregated_discovery

SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]
CONTRACT = Path(__file__).parent / "data" / "kubectl-contract"


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with fake_apiserver() as srv:
        yield srv


@pytest.fixture
async def client(fake: FakeApiServer) -> AsyncIterator[Client]:
    async with Client(fake.url) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        ({"code": 404, "reason": "NotFound", "message": 'services "x" not found'}, errors.NotFound),
        ({"code": 409, "reason": "AlreadyExists", "message": "m"}, errors.AlreadyExists),
        ({"code": 409, "reason": "Conflict", "message": "m"}, errors.Conflict),
        ({"code": 409, "message": "no reason"}, errors.Conflict),
        ({"code": 422, "reason": "Invalid", "message": "m"}, errors.Invalid),
        ({"code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}, errors.Gone),
        ({"code": 410, "reason": "Gone", "message": "m"}, errors.Gone),
        ({"code": 403, "reason": "Forbidden", "message": "m"}, errors.Forbidden),
        ({"code": 401, "reason": "Unauthorized", "message": "m"}, errors.Unauthorized),
        ({"code": 400, "reason": "BadRequest", "message": "m"}, errors.BadRequest),
        ({"code": 500, "reason": "InternalError", "message": "m"}, errors.ServerError),
        ({"code": 504, "reason": "Timeout", "message": "m"}, errors.ServerError),
        ({"code": 503, "reason": "ServiceUnavailable", "message": "m"}, errors.ServerError),
        ({"code": 429, "reason": "TooManyRequests", "message": "m"}, errors.TooManyRequests),
        ({"code": 415, "reason": "UnsupportedMediaType", "message": "m"}, errors.ApiError),
    ],
)
def test_from_status_picks_the_class(status: dict[str, Any], cls: type[errors.ApiError]) -> None:
    err = errors.from_status({"kind": "Status", "apiVersion": "v1", "status": "Failure", **status})
    assert type(err) is cls
    assert err.code == status["code"]
    assert err.status["message"] == status["message"]


@pytest.mark.parametrize(
    ("err", "retryable"),
    [
        (errors.Conflict(409, "Conflict", ""), True),
        (errors.ServerError(500, "InternalError", ""), True),
        (errors.TooManyRequests(429, "TooManyRequests", ""), True),
        (errors.ConnectionFailed("x"), True),
        (errors.NotFound(404, "NotFound", ""), False),
        (errors.AlreadyExists(409, "AlreadyExists", ""), False),
        (errors.Invalid(422, "Invalid", ""), False),
        (ValueError("x"), False),
    ],
)
def test_is_retryable(err: BaseException, retryable: bool) -> None:
    assert errors.is_retryable(err) is retryable


def test_non_status_body_gets_a_generic_message() -> None:
    err = errors.from_response(404, None, text="404 page not found")
    assert isinstance(err, errors.NotFound)
    assert err.reason == "NotFound"
    assert "the server could not find the requested resource" in err.message
    assert isinstance(errors.from_response(502, None, text="bad gateway"), errors.ServerError)


@pytest.mark.parametrize(
    ("rt_key", "kwargs", "path"),
    [
        ("services", {"namespace": "ns1", "name": "web"}, "/api/v1/namespaces/ns1/services/web"),
        ("services", {"namespace": "ns1", "name": "web", "subresource": "status"},
         "/api/v1/namespaces/ns1/services/web/status"),
        ("services", {}, "/api/v1/services"),
        ("namespaces", {"name": "kube-system"}, "/api/v1/namespaces/kube-system"),
        ("namespaces", {"namespace": "ignored", "name": "x"}, "/api/v1/namespaces/x"),
        ("ipaddresses.networking.k8s.io", {"name": "10.96.0.1"}, "/apis/networking.k8s.io/v1/ipaddresses/10.96.0.1"),
        ("leases.coordination.k8s.io", {"namespace": "kube-system"},
         "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"),
    ],
)
def test_paths(rt_key: str, kwargs: dict[str, str], path: str) -> None:
    c = Client("http://127.0.0.1:1")
    assert c.path(BY_KEY[rt_key], **kwargs) == path


async def test_crud_round_trip_and_typed_errors(client: Client, fake: FakeApiServer) -> None:
    created = await client.create(SERVICES, svc("web", "ns1"))
    assert created["metadata"]["namespace"] == "ns1"
    assert fake.requests[-1][:2] == ("POST", "/api/v1/namespaces/ns1/services")
    with pytest.raises(errors.AlreadyExists, match='services "web" already exists'):
        await client.create(SERVICES, svc("web", "ns1"))
    got = await client.get(SERVICES, "web", namespace="ns1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    got["spec"]["clusterIP"] = "10.96.0.20"
    updated = await client.update(SERVICES, got)
    assert updated["spec"]["clusterIP"] == "10.96.0.20"
    with pytest.raises(errors.Conflict, match="the object has been modified"):
        await client.update(SERVICES, got)  # stale resourceVersion

    patched = await client.patch(SERVICES, "web", {"metadata": {"labels": {"a": "b"}}}, namespace="ns1")
    assert patched["metadata"]["labels"] == {"a": "b"}
    st = await client.update_status(SERVICES, {**patched, "status": {"loadBalancer": {}}})
    assert st["status"] == {"loadBalancer": {}}
    assert fake.requests[-1][:2] == ("PUT", "/api/v1/namespaces/ns1/services/web/status")

    await client.delete(SERVICES, "web", namespace="ns1", propagation_policy="Background")
    with pytest.raises(errors.NotFound, match='services "web" not found') as ei:
        await client.get(SERVICES, "web", namespace="ns1")
    assert ei.value.status["reason"] == "NotFound"


async def test_list_pages_and_params(client: Client, fake: FakeApiServer) -> None:
    for i in range(5):
        fake.put_object(SERVICES, svc(f"s{i}", "ns1" if i % 2 else "ns2"))
    page = await client.list(SERVICES, limit=2)
    assert [o["metadata"]["name"] for o in page["items"]] == ["s1", "s3"]  # sorted by (ns, name)
    assert page["metadata"]["continue"]
    rest = await client.list(SERVICES, limit=10, continue_=page["metadata"]["continue"])
    assert len(rest["items"]) == 3 and "continue" not in rest["metadata"]
    one = await client.list(SERVICES, namespace="ns2", field_selector="metadata.name=s2")
    assert [o["metadata"]["name"] for o in one["items"]] == ["s2"]
    assert fake.requests[-1] == ("GET", "/api/v1/namespaces/ns2/services", {"fieldSelector": "metadata.name=s2"})


async def test_patch_content_types_and_delete_options() -> None:
    import httpx

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"kind": "Service", "metadata": {"name": "x"}})

    async with Client("http://127.0.0.1:1", token="tok", transport=httpx.MockTransport(handler)) as c:
        for ptype, ctype in [("merge", "application/merge-patch+json"),
                             ("strategic", "application/strategic-merge-patch+json"),
                             ("json", "application/json-patch+json"),
                             ("apply", "application/apply-patch+yaml")]:
            await c.patch(SERVICES, "x", {}, patch_type=ptype, field_manager="m", force=True)  # type: ignore[arg-type]
            assert seen[-1].headers["content-type"] == ctype
            assert seen[-1].url.params["fieldManager"] == "m" and seen[-1].url.params["force"] == "true"
        await c.delete(SERVICES, "x", namespace="n", grace_period_seconds=0,
                       preconditions={"resourceVersion": "7"})
        assert json.loads(seen[-1].content) == {
            "kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
            "preconditions": {"resourceVersion": "7"}}
        assert seen[-1].headers["authorization"] == "Bearer tok"


async def test_watch_streams_events_and_raises_gone(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    rv = fake.rv
    fake.put_object(SERVICES, svc("b"))
    fake.delete_object(SERVICES, "default", "a")
    events = []
    async for etype, obj in client.watch(SERVICES, resource_version=str(rv), timeout_seconds=1):
        events.append((etype, obj["metadata"].get("name")))
    assert [e for e in events if e[0] != "BOOKMARK"] == [("ADDED", "b"), ("DELETED", "a")]
    assert ("GET", "/api/v1/services") == fake.requests[-1][:2]
    assert fake.requests[-1][2]["allowWatchBookmarks"] == "true"

    fake.compact()
    with pytest.raises(errors.Gone, match="too old resource version"):
        async for _ in client.watch(SERVICES, resource_version=str(rv)):
            pass


async def test_broken_watch_stream_raises_connection_failed(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    with pytest.raises(errors.ConnectionFailed):
        async for etype, _ in client.watch(SERVICES):
            assert etype == "ADDED"
            fake.break_watches()


async def test_unreachable_server_is_connection_failed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with Client(f"http://127.0.0.1:{port}") as c:
        with pytest.raises(errors.ConnectionFailed, match=f"127.0.0.1:{port} was refused"):
            await c.get(SERVICES, "x")


def test_parse_aggregated_discovery_from_recorded_documents() -> None:
    types = []
    for name in ("agg_api.json", "agg_apis.json"):
        types += parse_aggregated_discovery(json.loads((CONTRACT / name).read_text()))
    by_plural = {t.plural: t for t in types}
    assert by_plural["services"].short_names == ("svc",)
    assert by_plural["services"].categories == ("all",)
    assert by_plural["services"].namespaced and by_plural["services"].group == ""
    assert not by_plural["namespaces"].namespaced
    assert by_plural["endpointslices"].group == "discovery.k8s.io"
    assert by_plural["endpointslices"].kind == "EndpointSlice"


async def test_discover_falls_back_to_legacy_documents() -> None:
    import httpx

    docs = {
        "/api": json.loads((CONTRACT / "legacy_api.json").read_text()),
        "/api/v1": json.loads((CONTRACT / "legacy_api_v1.json").read_text()),
        "/apis": json.loads((CONTRACT / "legacy_apis.json").read_text()),
        "/apis/discovery.k8s.io/v1": json.loads((CONTRACT / "legacy_apis_discovery_v1.json").read_text()),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        doc = docs.get(request.url.path)
        return httpx.Response(200 if doc else 404, json=doc or {})

    async with Client("http://127.0.0.1:1", transport=httpx.MockTransport(handler)) as c:
        types = await c.discover()
    by_plural = {t.plural: t for t in types}
    assert by_plural["services"].short_names == ("svc",)
    assert "endpointslices" in by_plural
