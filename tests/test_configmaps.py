"""ConfigMaps, the kind added as one declaration (apimachinery/kinds/configmap.py): what a user sees.

kubectl create/get/patch against a live server, and the HTTP answers of
kube-apiserver's ValidateConfigMap / ValidateConfigMapUpdate (key format,
data/binaryData overlap, the 1 MiB limit, ``immutable``), byte for byte.
"""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.allocator_procs import start_controller
from tests.conftest import ApiServerProcess, run_kubectl

CM = "/api/v1/namespaces/{ns}/configmaps"
KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
           "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
IMMUTABLE = "field is immutable when `immutable` is set"


def _cm(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def _invalid(r: httpx.Response) -> tuple[int, str, list[dict[str, str]]]:
    body = r.json()
    return r.status_code, body["message"], body.get("details", {}).get("causes", [])


# --- through HTTP -----------------------------------------------------------------------------------


def test_create_get_list_delete(api: httpx.Client, ns: str) -> None:
    r = api.post(CM.format(ns=ns), json=_cm("app", data={"a.conf": "x=1"}, binaryData={"logo": "aGk="}))
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["data"], created["binaryData"]) == ({"a.conf": "x=1"}, {"logo": "aGk="})
    got = api.get(CM.format(ns=ns) + "/app").json()
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    names = [i["metadata"]["name"] for i in api.get(CM.format(ns=ns)).json()["items"]]
    assert names == ["app"]
    # ConfigMap's store does not return the deleted object: DELETE answers a success Status
    d = api.delete(CM.format(ns=ns) + "/app")
    assert d.status_code == 200 and d.json()["kind"] == "Status" and d.json()["details"]["kind"] == "configmaps"
    assert api.get(CM.format(ns=ns) + "/app").status_code == 404


def test_invalid_keys_and_overlap(api: httpx.Client, ns: str) -> None:
    r = api.post(CM.format(ns=ns), json=_cm("bad", data={"a b": "1", "..x": "2"}, binaryData={"a b": "aGk="}))
    code, message, causes = _invalid(r)
    assert code == 422
    assert message == (
        f'ConfigMap "bad" is invalid: [data[a b]: Invalid value: "a b": {KEY_MSG}, '
        'data[a b]: Invalid value: "a b": duplicate of key present in binaryData, '
        "data[..x]: Invalid value: \"..x\": must not start with '..', "
        f'binaryData[a b]: Invalid value: "a b": {KEY_MSG}]'
    )
    assert [c["field"] for c in causes] == ["data[a b]", "data[a b]", "data[..x]", "binaryData[a b]"]


@pytest.mark.parametrize("key", [".", ".."])
def test_dot_keys(api: httpx.Client, ns: str, key: str) -> None:
    code, message, _ = _invalid(api.post(CM.format(ns=ns), json=_cm("dots", data={key: "1"})))
    assert (code, message) == (422, f'ConfigMap "dots" is invalid: data[{key}]: Invalid value: "{key}": '
                                    f"must not be '{key}'")


def test_total_size_limit(api: httpx.Client, ns: str) -> None:
    """data and binaryData (decoded) count together; exactly 1 MiB is allowed."""
    half = 512 * 1024
    ok = _cm("full", data={"a": "x" * half}, binaryData={"b": base64.b64encode(b"\0" * half).decode()})
    assert api.post(CM.format(ns=ns), json=ok).status_code == 201
    big = _cm("big", data={"a": "x" * half}, binaryData={"b": base64.b64encode(b"\0" * (half + 1)).decode()})
    code, message, causes = _invalid(api.post(CM.format(ns=ns), json=big))
    assert (code, message) == (422, 'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes')
    assert causes == [{"reason": "FieldValueTooLong", "message": "Too long: must have at most 1048576 bytes",
                       "field": "[]"}]


def test_binary_data_must_be_base64(api: httpx.Client, ns: str) -> None:
    r = api.post(CM.format(ns=ns), json=_cm("b64", binaryData={"k": "aGk=x"}))
    assert r.status_code == 400
    assert r.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 4')


def test_immutable(api: httpx.Client, ns: str) -> None:
    url = CM.format(ns=ns)
    assert api.post(url, json=_cm("frozen", data={"a": "1"}, immutable=True)).status_code == 201
    live = api.get(url + "/frozen").json()

    changed = {**live, "data": {"a": "2"}}
    code, message, _ = _invalid(api.put(url + "/frozen", json=changed))
    assert (code, message) == (422, f'ConfigMap "frozen" is invalid: data: Forbidden: {IMMUTABLE}')

    thawed = {**live, "immutable": False, "binaryData": {"b": "aGk="}}
    code, message, _ = _invalid(api.put(url + "/frozen", json=thawed))
    assert (code, message) == (422, f'ConfigMap "frozen" is invalid: [immutable: Forbidden: {IMMUTABLE}, '
                                     f"binaryData: Forbidden: {IMMUTABLE}]")

    # metadata stays writable
    labelled = {**live, "metadata": {**live["metadata"], "labels": {"tier": "web"}}}
    r = api.put(url + "/frozen", json=labelled)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"tier": "web"}

    # a mutable one may become immutable and change its data in the same write
    assert api.post(url, json=_cm("soft", data={"a": "1"})).status_code == 201
    soft = api.get(url + "/soft").json()
    r = api.put(url + "/soft", json={**soft, "immutable": True, "data": {"a": "2"}})
    assert r.status_code == 200 and r.json()["data"] == {"a": "2"}


def test_table_columns(api: httpx.Client, ns: str) -> None:
    api.post(CM.format(ns=ns), json=_cm("t", data={"a": "1", "b": "2"}, binaryData={"c": "aGk="}))
    r = api.get(CM.format(ns=ns), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    [row] = table["rows"]
    assert row["cells"][:2] == ["t", 3]


def test_strategic_merge_patch_merges_data(api: httpx.Client, ns: str) -> None:
    api.post(CM.format(ns=ns), json=_cm("p", data={"a": "1"}))
    r = api.patch(CM.format(ns=ns) + "/p", content='{"data":{"b":"2"}}',
                  headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"a": "1", "b": "2"}


# --- through kubectl --------------------------------------------------------------------------------


def test_kubectl_create_configmap_and_get_cm(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    (tmp_path / "app.properties").write_text("color=blue\n")
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "configmap", "x", "--from-literal=a=b",
                 "--from-file=app.properties")
    assert (r.returncode, r.stdout) == (0, "configmap/x created\n"), r.stderr

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "cm")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "DATA", "AGE"]
    assert re.fullmatch(r"x\s+2\s+\d+s", row), row

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "configmap", "x", "-o", "jsonpath={.data}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"a":"b","app.properties":"color=blue\\n"}'

    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=", "--no-headers")
    assert ["configmaps", "cm", "v1", "true", "ConfigMap"] in [line.split() for line in r.stdout.splitlines()]

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "patch", "cm", "x", "-p", '{"data":{"c":"d"},"immutable":true}')
    assert (r.returncode, r.stdout) == (0, "configmap/x patched\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "patch", "cm", "x", "-p", '{"data":{"c":"e"}}')
    assert r.returncode == 1
    assert r.stderr == f'The ConfigMap "x" is invalid: data: Forbidden: {IMMUTABLE}\n'


def test_namespace_deletion_removes_its_configmaps(api: httpx.Client, apiserver: ApiServerProcess,
                                                    tmp_path: Path) -> None:
    """The namespace controller walks every served namespaced kind (discovery), the new one included."""
    controller = start_controller("namespace", apiserver.url, tmp_path, "--no-leader-elect")
    try:
        _delete_namespace_with_a_configmap(api)
    finally:
        controller.stop()


def _delete_namespace_with_a_configmap(api: httpx.Client) -> None:
    name = f"cm-ns-{os.getpid()}"
    assert api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name}}).status_code == 201
    assert api.post(CM.format(ns=name), json=_cm("doomed", data={"a": "1"})).status_code == 201
    assert api.delete(f"/api/v1/namespaces/{name}").status_code == 200
    deadline = time.monotonic() + 20
    while api.get(f"/api/v1/namespaces/{name}").status_code != 404:
        assert time.monotonic() < deadline, "namespace not removed"
        time.sleep(0.1)
    assert api.get(CM.format(ns=name) + "/doomed").status_code == 404
