"""Secrets at rest: owner-only files, kube-apiserver's EncryptionConfiguration, key rotation.

Through a real API server: the raw SQLite file holds no Secret value, a new
key listed first still reads what the old one wrote (and a rewrite moves it
to the new key), a bad config stops the server with one line naming the file
and the problem. The providers' formats and the config checks are table tests
on apiserver/storage/encryption.py.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from apiserver.storage.database import Database, make_engine
from apiserver.storage.encryption import (
    EncryptionConfigError,
    Transformer,
    TransformError,
    generate_config,
    load_config,
    parse_config,
)
from apiserver.storage.records import Op
from tests.conftest import ApiServerProcess, start_apiserver

SECRETS = "/api/v1/namespaces/default/secrets"
VALUE = "tr0ub4dor-and-3-very-secret-words"


def _key(n: int = 32, fill: bytes = b"k") -> str:
    return base64.b64encode(fill * n).decode()


def _config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": list(resources), "providers": list(providers)}]}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _raw_store(data_dir: Path) -> bytes:
    """Every byte SQLite has on disk: the database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("kubelite.db*")))


def _post_secret(srv: ApiServerProcess, name: str, value: str) -> None:
    r = httpx.post(srv.url + SECRETS, json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                                            "stringData": {"password": value}}, timeout=10)
    assert r.status_code == 201, r.text


def _read_secret(srv: ApiServerProcess, name: str) -> str:
    r = httpx.get(f"{srv.url}{SECRETS}/{name}", timeout=10)
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["data"]["password"]).decode()


# --- through a real server ---------------------------------------------------------------------------


def test_data_dir_and_database_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_apiserver(data)
    try:
        _post_secret(srv, "perm", "x")
        files = sorted(data.glob("kubelite.db*"))
        assert {p.name for p in files} >= {"kubelite.db", "kubelite.db-wal", "kubelite.db-shm"}
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    finally:
        srv.stop()


@pytest.mark.parametrize("provider", ["aesgcm", "aescbc", "secretbox"])
def test_secret_values_are_not_in_the_database_file(tmp_path: Path, provider: str) -> None:
    config = _write(tmp_path / "enc.yaml", _config({provider: {"keys": [{"name": "k1", "secret": _key()}]}},
                                                   {"identity": {}}))
    data = tmp_path / "data"
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(config)])
    try:
        _post_secret(srv, "db", VALUE)
        r = httpx.post(srv.url + "/api/v1/namespaces/default/configmaps", timeout=10,
                       json={"metadata": {"name": "plain"}, "data": {"note": "configmaps-are-not-encrypted"}})
        assert r.status_code == 201
        assert _read_secret(srv, "db") == VALUE
        raw = _raw_store(data)
        assert VALUE.encode() not in raw and base64.b64encode(VALUE.encode()) not in raw
        assert f"k8s:enc:{provider}:v1:k1:".encode() in raw
        assert b"configmaps-are-not-encrypted" in raw  # only the listed resources are encrypted
    finally:
        srv.stop()
    # a restart reads them back from the file (the watch cache is filled from storage)
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(config)])
    try:
        assert _read_secret(srv, "db") == VALUE
    finally:
        srv.stop()


def test_key_rotation(tmp_path: Path) -> None:
    """A new key listed first encrypts new writes; what the old key wrote still reads, and moves on a rewrite."""
    old = {"name": "old", "secret": _key(fill=b"o")}
    new = {"name": "new", "secret": _key(fill=b"n")}
    data = tmp_path / "data"
    # 1. no encryption yet
    srv = start_apiserver(data)
    try:
        _post_secret(srv, "plain", "was-plain")
    finally:
        srv.stop()
    # 2. encryption on: the old key writes, identity still reads what was stored in the clear
    first = _write(tmp_path / "first.yaml", _config({"aesgcm": {"keys": [old]}}, {"identity": {}}))
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(first)])
    try:
        assert _read_secret(srv, "plain") == "was-plain"
        _post_secret(srv, "a", "written-with-old")
    finally:
        srv.stop()
    # 3. rotation: the new key first, the old one still listed
    second = _write(tmp_path / "second.yaml", _config({"aesgcm": {"keys": [new, old]}}, {"identity": {}}))
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(second)])
    try:
        assert _read_secret(srv, "a") == "written-with-old"
        assert _read_secret(srv, "plain") == "was-plain"
        _post_secret(srv, "b", "written-with-new")
        # kube's rotation step: rewrite every Secret, unchanged (kubectl get -o json | kubectl replace -f -)
        for name in ("a", "plain"):
            live = httpx.get(f"{srv.url}{SECRETS}/{name}", timeout=10).json()
            r = httpx.put(f"{srv.url}{SECRETS}/{name}", json=live, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]
        httpx.post(srv.url + "/api/v1/namespaces/default/configmaps", timeout=10,
                   json={"metadata": {"name": "bump"}})
    finally:
        srv.stop()
    # 4. the old key dropped: everything still reads, since every Secret was rewritten with the new one
    third = _write(tmp_path / "third.yaml", _config({"aesgcm": {"keys": [new]}}))
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(third)])
    try:
        assert [_read_secret(srv, n) for n in ("a", "b", "plain")] == ["written-with-old", "written-with-new",
                                                                     "was-plain"]
        # the change history the old key wrote counts as compacted: a watch from before it gets 410 Gone
        r = httpx.get(srv.url + SECRETS, params={"watch": "1", "resourceVersion": "1", "timeoutSeconds": "1"},
                      timeout=10)
        assert '"code":410' in r.text, r.text
    finally:
        srv.stop()
    assert b"k8s:enc:aesgcm:v1:new:" in _raw_store(data)


def test_a_missing_key_is_a_clear_startup_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = _write(tmp_path / "enc.yaml", _config({"secretbox": {"keys": [{"name": "k1", "secret": _key()}]}}))
    srv = start_apiserver(data, extra=["--encryption-provider-config", str(config)])
    try:
        _post_secret(srv, "s", "x")
    finally:
        srv.stop()
    db = Database(make_engine(f"sqlite:///{data / 'kubelite.db'}"))
    try:
        with pytest.raises(TransformError, match="secrets default/s is stored encrypted"):
            db.snapshot()
    finally:
        db.dispose()


@pytest.mark.parametrize(("doc", "problem"), [
    ("resources: [", "not valid YAML"),
    ({"apiVersion": "v1", "kind": "EncryptionConfig", "resources": []},
     'expected apiVersion "apiserver.config.k8s.io/v1" and kind "EncryptionConfiguration", '
     'got apiVersion "v1" and kind "EncryptionConfig"'),
    (_config({"aesgcm": {"keys": [{"name": "k1", "secret": _key(5)}]}}),
     'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": secret is not of the expected '
     "length, got 5, expected one of [16 24 32]"),
])
def test_a_bad_config_stops_the_server_naming_file_and_problem(tmp_path: Path, doc: Any, problem: str) -> None:
    config = tmp_path / "enc.yaml"
    config.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", "apiserver", "--port", "0", "--data-dir",
                        str(tmp_path / "data"), "--encryption-provider-config", str(config)],
                       capture_output=True, text=True, timeout=60, check=False, env=os.environ.copy())
    assert r.returncode == 1
    assert r.stderr.startswith(f"Error: encryption provider config {config}: {problem}"), r.stderr
    assert "Traceback" not in r.stderr and _key(5) not in r.stderr


# --- the providers and the config, as tables --------------------------------------------------------


@pytest.mark.parametrize(("doc", "problem"), [
    ("just text", "not an EncryptionConfiguration object"),
    ({**_config(), "resources": []}, "resources: Required value: at least one resources entry is required"),
    (_config({"identity": {}}, resources=()), "resources[0].resources: Required value: at least one resource is required"),
    (_config({"identity": {}}, resources=("Secrets",)),
     'resources[0].resources[0]: Invalid value: "Secrets": resource name should not contain capital letters'),
    (_config({"identity": {}}, resources=("secrets", "secrets")),
     'resources[0].resources[1]: Duplicate value: "secrets": the same resource cannot be specified multiple times'),
    (_config(), "resources[0].providers: Required value: at least one provider is required"),
    (_config({"aesgcm": {"keys": []}}), "resources[0].providers[0].aesgcm.keys: Required value"),
    (_config({"aesgcm": {"keys": [{"secret": _key()}]}}), "resources[0].providers[0].aesgcm.keys[0].name: Required"),
    (_config({"aescbc": {"keys": [{"name": "a", "secret": "not base64!"}]}}),
     'resources[0].providers[0].aescbc.keys[0].secret: Invalid value: "REDACTED": secrets must be base64 encoded'),
    (_config({"secretbox": {"keys": [{"name": "a", "secret": _key(16)}]}}),
     'resources[0].providers[0].secretbox.keys[0].secret: Invalid value: "REDACTED": secret is not of the '
     "expected length, got 16, expected one of [32]"),
    (_config({"aesgcm": {"keys": [{"name": "a", "secret": _key()}]}, "identity": {}}),
     "resources[0].providers[0]: Invalid value: exactly one provider must be specified in a single element"),
    (_config({"kms": {"name": "x"}}), "resources[0].providers[0].kms: Unsupported value"),
    (_config({"rot13": {}}), 'resources[0].providers[0]: Unsupported value: "rot13"'),
])
def test_config_errors(tmp_path: Path, doc: Any, problem: str) -> None:
    path = tmp_path / "enc.yaml"
    with pytest.raises(EncryptionConfigError) as e:
        parse_config(path, doc)
    assert str(e.value).startswith(f"encryption provider config {path}: {problem}"), str(e.value)


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(EncryptionConfigError, match=r"enc\.yaml: cannot read it: No such file or directory"):
        load_config(tmp_path / "enc.yaml")


def _transformer(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> Transformer:
    return parse_config(Path("enc.yaml"), _config(*providers, resources=resources))


@pytest.mark.parametrize("provider", ["aesgcm", "aescbc", "secretbox"])
def test_round_trip_and_prefix(provider: str) -> None:
    t = _transformer({provider: {"keys": [{"name": "k1", "secret": _key()}]}})
    body = b'{"data":{"k":"c2VjcmV0"}}'
    stored = t.to_storage("secrets", "ns", "s", body)
    assert stored.startswith(f"k8s:enc:{provider}:v1:k1:".encode()) and b"c2VjcmV0" not in stored
    assert stored != t.to_storage("secrets", "ns", "s", body)  # a fresh nonce every time
    assert t.from_storage("secrets", "ns", "s", stored) == body
    # another key of the same name does not read it
    other = _transformer({provider: {"keys": [{"name": "k1", "secret": _key(fill=b"x")}]}})
    with pytest.raises(TransformError, match=f"cannot read secrets ns/s from storage: k8s:enc:{provider}:v1:k1:"):
        other.from_storage("secrets", "ns", "s", stored)


def test_aesgcm_binds_the_ciphertext_to_its_object() -> None:
    """A ciphertext copied into another object's row does not decrypt (the storage key is authenticated)."""
    t = _transformer({"aesgcm": {"keys": [{"name": "k1", "secret": _key(16)}]}})
    stored = t.to_storage("secrets", "ns", "a", b"{}")
    with pytest.raises(TransformError):
        t.from_storage("secrets", "ns", "b", stored)


@pytest.mark.parametrize(("pattern", "resource", "encrypted"), [
    ("secrets", "secrets", True),
    ("secrets", "configmaps", False),
    ("*.", "configmaps", True),
    ("*.", "deployments.apps", False),
    ("*.apps", "deployments.apps", True),
    ("*.apps", "secrets", False),
    ("*.*", "leases.coordination.k8s.io", True),
])
def test_resource_patterns(pattern: str, resource: str, encrypted: bool) -> None:
    t = _transformer({"aesgcm": {"keys": [{"name": "k", "secret": _key()}]}}, resources=(pattern,))
    assert t.encrypts(resource) is encrypted
    stored = t.to_storage(resource, "", "x", b"{}")
    assert stored.startswith(b"k8s:enc:") is encrypted
    assert t.from_storage(resource, "", "x", stored) == b"{}"


def test_identity_first_decrypts_but_writes_plain_and_marks_stale() -> None:
    """Turning encryption off: identity first, the old key still listed; reads with the old key are stale."""
    key = {"aesgcm": {"keys": [{"name": "k", "secret": _key()}]}}
    stored = _transformer(key).to_storage("secrets", "ns", "s", b"{}")
    off = _transformer({"identity": {}}, key)
    assert off.from_storage("secrets", "ns", "s", stored) == b"{}"
    assert off.is_stale("secrets", "ns", "s")
    assert off.to_storage("secrets", "ns", "s", b"{}") == b"{}"
    assert not off.is_stale("secrets", "ns", "s")
    with pytest.raises(TransformError, match="no matching prefix found"):
        _transformer(key).from_storage("secrets", "ns", "s", b"k8s:enc:aescbc:v1:gone:xxxx")


def test_store_writes_encrypted_rows_and_hands_up_json(tmp_path: Path) -> None:
    """The storage seam: the rows hold ciphertext, the changes the store publishes hold the JSON."""
    t = _transformer({"aesgcm": {"keys": [{"name": "k", "secret": _key()}]}})
    db = Database(make_engine(f"sqlite:///{tmp_path / 'k.db'}"), transformer=t)
    try:
        from apiserver.storage import schema

        schema.metadata.create_all(db.engine)
        db.ensure_revision_row()
        [changes] = db.write([[Op("ADDED", "secrets", "ns", "s", {"data": {"k": "dmFsdWU="}})]])
        assert not isinstance(changes, Exception)
        assert b"dmFsdWU=" in changes[0].body
        with db.engine.connect() as conn:
            rows = [r.body for r in conn.execute(schema.objects.select())]
            rows += [r.body for r in conn.execute(schema.changes.select())]
        assert len(rows) == 2 and all(r.startswith(b"k8s:enc:aesgcm:v1:k:") for r in rows)
        snap = db.snapshot()
        assert b"dmFsdWU=" in snap.objects[0][3] and b"dmFsdWU=" in snap.changes[0][5]
        assert b"dmFsdWU=" in db.changes_since(0)[0][5]
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_failed_statement_never_carries_its_parameters(tmp_path: Path, backend: str) -> None:
    """SQL errors are logged and may become a 500's text: the bodies they were writing stay out."""
    from sqlalchemy import text

    if backend == "postgres":
        from tests.conftest import fresh_pg_database

        url = fresh_pg_database()
    else:
        url = f"sqlite:///{tmp_path / 'k.db'}"
    engine = make_engine(url)
    try:
        with pytest.raises(Exception) as e, engine.begin() as conn:
            conn.execute(text("INSERT INTO no_such_table (body) VALUES (:b)"), {"b": VALUE})
        assert "no_such_table" in str(e.value) and VALUE not in str(e.value)
    finally:
        engine.dispose()


def test_generated_config_is_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "encryption-config.yaml"
    assert generate_config(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.read_bytes()
    assert generate_config(path) is False and path.read_bytes() == before
    t = load_config(path)
    assert t.to_storage("secrets", "ns", "s", b"{}").startswith(b"k8s:enc:secretbox:v1:key1:")
    assert t.from_storage("secrets", "ns", "s", b"{}") == b"{}"  # identity second: older plain data reads
