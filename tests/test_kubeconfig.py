"""kubeconfig loading (client-go's precedence and merge rules) and rendering."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeclient.kubeconfig import DEFAULT_SERVER, Config, ConfigError, load_config, render_kubeconfig

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def kc(current: str | None, clusters: dict[str, dict[str, Any]], users: dict[str, dict[str, Any]],
       contexts: dict[str, dict[str, Any]]) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": c} for n, c in contexts.items()],
    }
    if current is not None:
        doc["current-context"] = current
    return yaml.safe_dump(doc)


A = kc("a", {"ca": {"server": "https://a:6443", "certificate-authority": "ca.crt"}},
       {"ua": {"token": "tok-a"}},
       {"a": {"cluster": "ca", "user": "ua", "namespace": "team-a"},
        "b": {"cluster": "cb", "user": "ub"}})
B = kc("b", {"cb": {"server": "http://b:8080", "insecure-skip-tls-verify": True},
             "ca": {"server": "https://shadowed:1"}},
       {"ub": {"tokenFile": "tok.txt"}},
       {"b": {"cluster": "cb", "user": "ub"}})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    pa = tmp_path / "one" / "config"
    pb = tmp_path / "two" / "config"
    pa.write_text(A)
    pb.write_text(B)
    (tmp_path / "two" / "tok.txt").write_text("tok-b\n")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(B)
    (home / ".kube" / "tok.txt").write_text("tok-home")
    return {"a": str(pa), "b": str(pb), "home": str(home), "dir": str(tmp_path)}


@pytest.mark.parametrize(
    ("flags", "env", "want"),
    [
        # explicit --kubeconfig wins over KUBECONFIG and home
        ({"kubeconfig": "a"}, {"KUBECONFIG": "b"},
         {"server": "https://a:6443", "token": "tok-a", "ca_file": "one/ca.crt", "namespace": "team-a"}),
        # KUBECONFIG list: first file's current-context and first definition of a name win
        ({}, {"KUBECONFIG": "a:b"},
         {"server": "https://a:6443", "token": "tok-a", "ca_file": "one/ca.crt"}),
        ({}, {"KUBECONFIG": "b:a"},
         {"server": "http://b:8080", "token": "tok-b", "insecure": True, "ca_file": None}),
        # --context picks a context defined in one file whose cluster/user come from another
        ({"context": "b"}, {"KUBECONFIG": "a:b"},
         {"server": "http://b:8080", "token": "tok-b", "insecure": True, "namespace": "default"}),
        # home config when nothing else is set; its tokenFile is relative to it
        ({}, {}, {"server": "http://b:8080", "token": "tok-home"}),
        # --server overrides the cluster's server but keeps the user's credentials
        ({"server": "http://127.0.0.1:9999"}, {"KUBECONFIG": "a"},
         {"server": "http://127.0.0.1:9999", "token": "tok-a"}),
        # missing KUBECONFIG entries are skipped
        ({}, {"KUBECONFIG": "missing:a"}, {"server": "https://a:6443"}),
        # no file at all: the flag, or kubectl's local default
        ({"server": "http://127.0.0.1:1234"}, {"KUBECONFIG": "missing"}, {"server": "http://127.0.0.1:1234"}),
        ({}, {"KUBECONFIG": "missing"}, {"server": DEFAULT_SERVER, "token": None}),
    ],
)
def test_load_config_precedence(files: dict[str, str], flags: dict[str, str], env: dict[str, str],
                                want: dict[str, Any]) -> None:
    def resolve(v: str) -> str:
        return os.pathsep.join(files.get(p, os.path.join(files["dir"], p)) for p in v.split(":"))

    if "kubeconfig" in flags:
        flags = {**flags, "kubeconfig": files[flags["kubeconfig"]]}
    environ = {"HOME": files["home"], **{k: resolve(v) for k, v in env.items()}}
    cfg = load_config(environ=environ, **flags)
    for k, v in want.items():
        got = getattr(cfg, k)
        if k == "ca_file" and v is not None:
            assert got == os.path.join(files["dir"], v)
        else:
            assert got == v, k


@pytest.mark.parametrize(
    ("content", "flags", "message"),
    [
        (A, {"context": "nope"}, 'context "nope" does not exist'),
        (kc("x", {}, {}, {"x": {"cluster": "gone", "user": "u"}}), {}, 'no server found for cluster "gone"'),
        (kc(None, {}, {}, {}), {}, "no configuration has been provided"),
        ("clusters: [", {}, "unable to parse kubeconfig"),
        ("- a\n- b\n", {}, "not a mapping"),
        (kc("x", {"c": {"server": "https://c", "certificate-authority-data": "%%%"}}, {"u": {}},
            {"x": {"cluster": "c", "user": "u"}}), {}, "illegal base64"),
    ],
)
def test_load_config_errors(tmp_path: Path, content: str, flags: dict[str, str], message: str) -> None:
    p = tmp_path / "config"
    p.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(kubeconfig=str(p), environ={}, **flags)


def test_explicit_missing_kubeconfig_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(kubeconfig=str(tmp_path / "nope"), environ={})


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        ({}, Config(server="http://127.0.0.1:8080")),
        ({"token": "s3cret"}, Config(server="http://127.0.0.1:8080", token="s3cret")),
        ({"ca_data": PEM}, Config(server="http://127.0.0.1:8080", ca_data=PEM.encode())),
        ({"ca_data": PEM.encode(), "token": "t", "name": "other", "namespace": "ns1"},
         Config(server="http://127.0.0.1:8080", token="t", ca_data=PEM.encode(), namespace="ns1")),
    ],
)
def test_render_round_trips(tmp_path: Path, kwargs: dict[str, Any], want: Config) -> None:
    text = render_kubeconfig("http://127.0.0.1:8080", **kwargs)
    doc = yaml.safe_load(text)
    name = kwargs.get("name", "kubelite")
    assert doc["current-context"] == name
    assert doc["contexts"][0]["context"]["cluster"] == name
    if "ca_data" in kwargs:
        assert base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode() == PEM
    p = tmp_path / "kc"
    p.write_text(text)
    assert load_config(kubeconfig=str(p), environ={}) == want
