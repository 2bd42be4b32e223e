"""Malformed PATCH bodies are refused in kube-apiserver's words, over HTTP and through kubectl.

Why: scripts (and Kubernetes' own test/cmd suite: ``kubectl patch pod valid-pod -p
'{"metadata":{"labels":"invalid"}}'`` must mention ``cannot restore map from string``) match these
messages. What kube-apiserver answers (k8s.io/apiserver endpoints/handlers/patch.go):

- a body that is not JSON: 400 with encoding/json's message, bare on the strategic path, prefixed
  ``error decoding patch:`` on the merge path (fieldValidation Warn, the default);
- a strategic merge patch that is not an object: 400 ``json: cannot unmarshal array into Go value of
  type map[string]interface {}``; a merge patch ``null``: 400 ``Invalid JSON Patch``;
- a patch whose result does not fit the Go type: 422 NewInvalid(GroupKind{}, "", [Invalid("patch", ...)]),
  the value being the patch (``%+v``) and the error the unstructured converter's on the strategic path,
  the patched JSON and encoding/json's error on the merge path.
"""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import ApiServerProcess

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def _pod(api: httpx.Client, ns: str) -> dict[str, Any]:
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "valid-pod", "labels": {"name": "valid-pod"}},
        "spec": {"containers": [{"name": "kubernetes-serve-hostname", "image": "registry.k8s.io/serve_hostname"}]}})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _patch(api: httpx.Client, ns: str, body: bytes, ctype: str, query: str = "") -> httpx.Response:
    return api.patch(f"/api/v1/namespaces/{ns}/pods/valid-pod{query}", content=body, headers={"Content-Type": ctype})


@pytest.mark.parametrize(("ctype", "body", "message"), [
    (SMP, b"{bad", "invalid character 'b' looking for beginning of object key string"),
    (SMP, b'{"metadata":', "unexpected end of JSON input"),
    (SMP, b'{"metadata":{}} x', "invalid character 'x' after top-level value"),
    (SMP, b"[1,2]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (SMP, b'"x"', "json: cannot unmarshal string into Go value of type map[string]interface {}"),
    (MERGE, b"{bad", "error decoding patch: invalid character 'b' looking for beginning of object key string"),
    (MERGE, b'{"a" 1}', "error decoding patch: invalid character '1' after object key"),
    (MERGE, b"[1,2]", "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (MERGE, b"null", "Invalid JSON Patch"),
])
def test_bad_patch_bodies_are_400(api: httpx.Client, ns: str, ctype: str, body: bytes, message: str) -> None:
    _pod(api, ns)
    r = _patch(api, ns, body, ctype)
    assert r.status_code == 400, r.text
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": message, "reason": "BadRequest", "code": 400}


def test_merge_patch_with_field_validation_ignore_is_evanphx_words(api: httpx.Client, ns: str) -> None:
    _pod(api, ns)
    r = _patch(api, ns, b"{bad", MERGE, "?fieldValidation=Ignore")
    assert (r.status_code, r.json()["message"]) == (400, "Invalid JSON Patch")


def _invalid(value: str, error: str) -> dict[str, Any]:
    cause = f'Invalid value: "{value}": {error}'
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f' "" is invalid: patch: {cause}', "reason": "Invalid",
            "details": {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]},
            "code": 422}


@pytest.mark.parametrize(("patch", "value", "error"), [
    (b'{"metadata":{"labels":"invalid"}}', "map[metadata:map[labels:invalid]]", "cannot restore map from string"),
    (b'{"metadata":{"labels":["a"]}}', "map[metadata:map[labels:[a]]]", "cannot restore map from slice"),
    (b'{"metadata":{"labels":{"a":1}}}', "map[metadata:map[labels:map[a:1]]]", "cannot convert int64 to string"),
    (b'{"metadata":{"labels":{"a":true}}}', "map[metadata:map[labels:map[a:true]]]", "unrecognized type: string"),
    (b'{"spec":{"containers":"x"}}', "map[spec:map[containers:x]]", "cannot restore slice from string"),
    (b'{"metadata":"x"}', "map[metadata:x]", "cannot restore struct from: string"),
])
def test_strategic_patch_that_does_not_fit_is_422(api: httpx.Client, ns: str, patch: bytes, value: str,
                                                  error: str) -> None:
    _pod(api, ns)
    r = _patch(api, ns, patch, SMP)
    assert r.status_code == 422, r.text
    assert r.json() == _invalid(value, error)
    assert api.get(f"/api/v1/namespaces/{ns}/pods/valid-pod").json()["metadata"]["labels"] == {"name": "valid-pod"}


def test_merge_patch_that_does_not_fit_is_422_with_the_patched_json(api: httpx.Client, ns: str) -> None:
    _pod(api, ns)
    r = _patch(api, ns, b'{"metadata":{"labels":"invalid"}}', MERGE)
    assert r.status_code == 422, r.text
    status = r.json()
    error = ("json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type "
             "map[string]string")
    assert status["message"].startswith(' "" is invalid: patch: Invalid value: "{')
    assert status["message"].endswith(f'}}": {error}')
    [cause] = status["details"]["causes"]
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "patch")
    # The value is the patched object as evanphx/json-patch writes it: the maps it merged sorted.
    assert '\\"metadata\\":{\\"creationTimestamp\\":' in cause["message"]
    assert '\\"labels\\":\\"invalid\\",\\"managedFields\\":' in cause["message"]


def test_kubectl_patch_with_a_string_for_labels(apiserver: ApiServerProcess, api: httpx.Client, ns: str) -> None:
    """Kubernetes' test/cmd/core.sh: ``Patch fails with type restore error and exit code 1``."""
    _pod(api, ns)
    p = subprocess.run([needs.kubectl(), f"--server={apiserver.url}", "-n", ns, "patch", "pod", "valid-pod",
                        "-p", '{"metadata":{"labels":"invalid"}}'],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 1
    assert p.stderr == ('The request is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": '
                        "cannot restore map from string\n")
    p = subprocess.run([needs.kubectl(), f"--server={apiserver.url}", "-n", ns, "patch", "pod", "valid-pod",
                        "--type", "merge", "-p", '{"metadata":{"labels":"invalid"}}'],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('The request is invalid: patch: Invalid value: "{')
    assert p.stderr.endswith("json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of "
                             "type map[string]string\n")
