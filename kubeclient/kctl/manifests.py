"""Reading ``-f FILE|DIR|-``: multi-document YAML, JSON streams and Lists, as kubectl's builder does.

Why: ``kctl apply -f`` must accept exactly the files ``kubectl apply -f``
accepts and reject the same ones with the same words: documents split on
``---`` lines (Go's YAMLReader), a stream starting with ``{`` read as JSON,
``kind: *List`` flattened into its items, directories read for .json/.yaml/
.yml files in lexical order, and parse errors worded like go-yaml's
(``yaml: line 3: did not find expected node content``).

Invariant: every returned object has apiVersion, kind and metadata.name-or-
generateName checked later by the server, and remembers the file it came
from (``source``) for kubectl's ``error when creating "f"`` lines.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from apimachinery.patch import json_type
from kubeclient.kctl.failures import KctlError, fail

EXTENSIONS = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Manifest:
    obj: dict[str, Any]
    source: str


class _Loader(yaml.SafeLoader):
    """YAML 1.1 like go-yaml, but timestamps stay strings (as sigs.k8s.io/yaml leaves them)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# PyYAML (a port of libyaml's Python twin) words problems differently from libyaml,
# whose text go-yaml passes through; map the common ones back.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("mapping values are not allowed here", "mapping values are not allowed in this context"),
    ("that cannot start any token", "found character that cannot start any token"),
    ("could not find expected ':'", "could not find expected ':'"),
    ("found unexpected end of stream", "found unexpected end of stream"),
    ("found unexpected document separator", "found unexpected document indicator"),
    ("expected alphabetic or numeric character", "did not find expected alphabetic or numeric character"),
    ("found unknown escape character", "found unknown escape character"),
    ("block sequence entries are not allowed here", "block sequence entries are not allowed in this context"),
    ("expected the node content", "did not find expected node content"),
    ("expected ',' or ']'", "did not find expected ',' or ']'"),
    ("expected ',' or '}'", "did not find expected ',' or '}'"),
    ("expected '<document start>'", "did not find expected <document start>"),
)


def yaml_error_text(err: yaml.YAMLError) -> str:
    """go-yaml's ``yaml: line N: problem`` for a PyYAML error."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return f"yaml: {err}"
    problem = err.problem or "unknown problem parsing YAML content"
    if "expected <block end>" in problem:
        problem = "did not find expected '-' indicator" if "sequence" in (err.context or "") or (
            "collection" in (err.context or "")) else "did not find expected key"
    else:
        for needle, text in _PROBLEMS:
            if needle in problem:
                problem = text
                break
    line = 0
    if err.problem_mark is not None and err.problem_mark.line != 0:
        line = err.problem_mark.line + (1 if isinstance(err, yaml.scanner.ScannerError) else 0)
    elif err.context_mark is not None and err.context_mark.line != 0:
        line = err.context_mark.line
    where = f"line {line}: " if line else ""
    return f"yaml: {where}{problem}"


_SEPARATOR = re.compile(r"^---")


def split_documents(text: str) -> list[str]:
    """Go's YAMLReader: a line starting with ``---`` (then nothing or a comment) ends a document."""
    docs: list[str] = []
    cur: list[str] = []
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line):
            rest = line[3:].strip()
            if not rest or rest.startswith("#"):
                docs.append("".join(cur))
                cur = []
                continue
        cur.append(line)
    docs.append("".join(cur))
    return docs


def _json_stream(text: str) -> list[Any]:
    dec = json.JSONDecoder()
    out: list[Any] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        value, i = dec.raw_decode(text, i)
        out.append(value)


def parse_text(text: str, *, source: str) -> list[dict[str, Any]]:
    """Every object in one file's text (Lists flattened), or kubectl's parse error."""
    values: list[Any] = []
    if text.lstrip().startswith("{"):
        try:
            values = _json_stream(text)
        except json.JSONDecodeError as e:
            raise fail(f"error parsing {source}: {e.msg}") from e
    else:
        for doc in split_documents(text):
            if not doc.strip():
                continue
            try:
                value = yaml.load(doc, Loader=_Loader)
            except yaml.YAMLError as e:
                raise fail(f"error parsing {source}: error converting YAML to JSON: {yaml_error_text(e)}") from e
            if value is not None:
                values.append(value)
    out: list[dict[str, Any]] = []
    for v in values:
        if not isinstance(v, dict):
            raise fail(f"error parsing {source}: json: cannot unmarshal {json_type(v)} into Go value of type "
                       "map[string]interface {}")
        out.extend(_flatten(v, source=source))
    return out


def _flatten(obj: dict[str, Any], *, source: str) -> list[dict[str, Any]]:
    kind = str(obj.get("kind") or "")
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        out: list[dict[str, Any]] = []
        for item in obj["items"]:
            if isinstance(item, dict):
                out.extend(_flatten(item, source=source))
        return out
    _validate(obj, source=source)
    return [obj]


def _validate(obj: dict[str, Any], *, source: str) -> None:
    """kubectl's schema check before anything is sent: apiVersion and kind must be set."""
    missing = [f"{f} not set" for f in ("apiVersion", "kind") if not obj.get(f)]
    if missing:
        text = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
        raise fail(f'error validating "{source}": error validating data: {text}; if you choose to ignore '
                   "these errors, turn validation off with --validate=false")


def _files(path: str, *, recursive: bool) -> list[str]:
    """The file names kubectl reads for one -f argument (a file as given; a directory walked lexically)."""
    p = Path(path)
    if not p.exists():
        raise fail(f'the path "{path}" does not exist')
    if p.is_file():
        return [path]
    found: list[str] = []
    for root, dirs, files in os.walk(p):
        dirs.sort()
        found.extend(os.path.normpath(os.path.join(root, f)) for f in sorted(files) if f.endswith(EXTENSIONS))
        if not recursive:
            break
    return found


def read_manifests(paths: Iterable[str], *, recursive: bool = False, verb: str = "apply",
                   errors: list[KctlError] | None = None) -> list[Manifest]:
    """The objects of every ``-f`` argument in command-line order (``-`` is standard input).

    With ``errors`` given, a file that fails to read or parse is recorded there and the others are still
    read (kubectl's ContinueOnError builder); otherwise the first failure is raised.
    """
    out: list[Manifest] = []
    for path in paths:
        try:
            if path == "-":
                out.extend(Manifest(o, "STDIN") for o in parse_text(sys.stdin.read(), source="STDIN"))
                continue
            files = _files(path, recursive=recursive)
        except KctlError as e:
            if errors is None:
                raise
            errors.append(e)
            continue
        for f in files:
            try:
                try:
                    text = Path(f).read_text()
                except OSError as e:
                    raise fail(f"error reading {f}: {e.strerror or e}") from e
                out.extend(Manifest(o, f) for o in parse_text(text, source=f))
            except KctlError as e:
                if errors is None:
                    raise
                errors.append(e)
    if not out and not errors:
        raise fail(f"no objects passed to {verb}")
    return out
