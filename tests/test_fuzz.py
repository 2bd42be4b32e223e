"""Fuzzing the API server with schemathesis against its own OpenAPI description: no 5xx, no crash.

The example count per operation is small in CI (``KUBELITE_FUZZ_EXAMPLES``, default 3); a longer run:
``KUBELITE_FUZZ_EXAMPLES=200 pytest -q tests/test_fuzz.py`` (docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.conftest import ApiServerProcess, running_apiserver  # noqa: E402

EXAMPLES = int(os.environ.get("KUBELITE_FUZZ_EXAMPLES", "3"))
_TRUE = {"1", "t", "true"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("fuzz")) as srv:
        yield srv


def merged_openapi(url: str) -> dict[str, Any]:
    """Every group-version document of /openapi/v3 in one OpenAPI 3 document."""
    with httpx.Client(base_url=url, timeout=30) as c:
        index = c.get("/openapi/v3")
        if index.status_code == 404:
            pytest.skip("the server does not serve /openapi/v3")
        merged: dict[str, Any] = {"openapi": "3.0.0", "info": {"title": "kubelite", "version": "v1"}, "paths": {},
                                  "components": {"schemas": {}}}
        for entry in index.json()["paths"].values():
            doc = c.get(entry["serverRelativeURL"]).json()
            merged["paths"].update(doc.get("paths") or {})
            merged["components"]["schemas"].update((doc.get("components") or {}).get("schemas") or {})
    return merged


@pytest.fixture(scope="module")
def openapi_schema(fuzz_server: ApiServerProcess) -> Any:
    # Only the fuzzing phase, EXAMPLES cases per operation: the coverage phase alone sends hundreds of
    # requests per operation (every boundary of every parameter), too many for CI.
    config = schemathesis.config.SchemathesisConfig.from_dict({
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False},
                   "fuzzing": {"enabled": True}, "examples": {"enabled": False}},
        "generation": {"max-examples": EXAMPLES},
    })
    return schemathesis.openapi.from_dict(merged_openapi(fuzz_server.url), config=config)


def check_operation(operation: Any, url: str) -> None:
    """EXAMPLES generated cases of one operation: no 5xx, and the server still healthy after each."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        query = case.query if isinstance(case.query, dict) else None
        if query is not None and str(query.get("watch", "")).lower() in _TRUE:
            query["timeoutSeconds"] = 1  # a watch streams until it times out
        response = case.call(base_url=url, timeout=30)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: " \
                                           f"{response.text[:500]}\n{case.as_curl_command()}"
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200

    run()


def test_no_server_errors(openapi_schema: Any, fuzz_server: ApiServerProcess) -> None:
    # Why not schemathesis' pytest plugin (from_fixture): it writes pytest's private Function._nodeid,
    # which pytest 9.2 no longer has. Hypothesis' @given per operation is its documented public API.
    operations = [result.ok() for result in openapi_schema.get_all_operations()]
    assert len(operations) > 50, "the merged OpenAPI document lost its operations"
    for operation in operations:
        check_operation(operation, fuzz_server.url)


def test_server_survived(fuzz_server: ApiServerProcess) -> None:
    assert fuzz_server.proc.poll() is None
    log = Path(fuzz_server.log).read_text()
    assert "Traceback" not in log, log[-3000:]
