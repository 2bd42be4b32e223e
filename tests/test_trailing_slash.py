"""Paths with a trailing slash answer as kube-apiserver answers them.

Why: kr8s (a popular Python client) asks for ``/version/`` and ``/api/`` first. kube-apiserver serves
/version, /api and /apis from go-restful routes, which ignore a trailing slash, so those answer 200 with
the same body. /healthz, /livez and /readyz are exact paths of its non-go-restful mux (only
``/healthz/<check>`` exists below them), so ``/healthz/`` is the last handler's 404 Status. Under
``/openapi/v3/`` the aggregator finds no group-version named "" and answers a bare 404.
"""

from __future__ import annotations

import httpx
import pytest

from apiserver.discovery import AGGREGATED_CONTENT_TYPE

NOT_FOUND = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could '
             b'not find the requested resource","reason":"NotFound","code":404}\n')


@pytest.mark.parametrize("path", ["/version", "/api", "/apis"])
@pytest.mark.parametrize("accept", ["application/json", AGGREGATED_CONTENT_TYPE])
def test_roots_answer_with_and_without_slash(api: httpx.Client, path: str, accept: str) -> None:
    plain = api.get(path, headers={"Accept": accept})
    slashed = api.get(path + "/", headers={"Accept": accept})
    assert plain.status_code == slashed.status_code == 200
    assert slashed.headers["content-type"] == plain.headers["content-type"]
    assert slashed.content == plain.content


def test_what_kr8s_asks_first(api: httpx.Client) -> None:
    version = api.get("/version/").json()
    assert (version["major"], version["minor"]) == ("1", "32")
    assert api.get("/api/").json() == {"kind": "APIVersions", "versions": ["v1"]}
    assert "apps" in {g["name"] for g in api.get("/apis/").json()["groups"]}


@pytest.mark.parametrize("path", ["/healthz/", "/livez/", "/readyz/"])
def test_health_paths_with_slash_are_not_found(api: httpx.Client, path: str) -> None:
    assert api.get(path.rstrip("/")).text == "ok"
    r = api.get(path)
    assert r.status_code == 404
    assert r.content == NOT_FOUND


def test_openapi_v3_with_slash_is_a_bare_404(api: httpx.Client) -> None:
    assert api.get("/openapi/v3").status_code == 200
    r = api.get("/openapi/v3/")
    assert (r.status_code, r.content) == (404, b"")
    assert api.get("/openapi/v3/apis/nope/v1").status_code == 404


def test_root_routes_are_get_only(api: httpx.Client) -> None:
    r = api.post("/api/", json={})
    assert r.status_code == 405
    assert r.json()["reason"] == "MethodNotAllowed"


def test_resource_paths_ignore_a_trailing_slash(api: httpx.Client, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/services/")
    assert r.status_code == 200
    assert r.json()["kind"] == "ServiceList"
