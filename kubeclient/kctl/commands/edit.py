"""``kctl edit``: open objects in $KUBE_EDITOR/$EDITOR and patch what was changed.

Follows kubectl's cmd/util/editor (editoptions.go, editor.go): the objects
(one, or a v1 List of several) are written as YAML (or JSON with ``-o
json``) under kubectl's comment header to ``/tmp/kctl-edit-*.yaml``; the
editor is the first of KUBE_EDITOR, EDITOR, else ``vi`` (a value with
spaces is split, or run through $SHELL -c when it quotes); then

- content equal to the original once comments are stripped: ``Edit
  cancelled, no changes made.`` (exit 0);
- a file that does not parse or lacks apiVersion/kind: ``error: services
  "x" is invalid`` and the editor opens again with the reason in the header;
- otherwise each object changed gets a two-way strategic merge patch (a
  JSON merge patch for types without strategic metadata) sent with
  fieldManager ``kubectl-edit``; an Invalid answer reopens the editor with
  the server's causes, NotFound and other errors end with kubectl's hints;
- reopening without any change after an error gives up: ``A copy of your
  changes has been stored to "..."`` and ``error: Edit cancelled, no valid
  changes were saved.``

Invariant: nothing is written to the server unless the edited text parsed
and differs from what was shown; identity fields (apiVersion, kind, name)
may not change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

import click
import yaml

from apimachinery.errors import StatusError
from apimachinery.patch import PatchError, two_way_merge_patch
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kctl.commands.apply import json_merge_three_way
from kubeclient.kctl.commands.scale import resolve_named
from kubeclient.kctl.encoding import go_json, go_yaml
from kubeclient.kctl.failures import KctlError, Problems, fail
from kubeclient.kctl.manifests import _Loader, parse_text  # go-yaml's reading of timestamps
from kubeclient.kctl.options import STR, connection_options, echo, echo_err, run
from kubeclient.kctl.session import Session, kind_string, plural_string

HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
          "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
          "# reopened with the relevant failures.\n#\n")
IDENTITY_CHANGED = "At least one of apiVersion, kind and name was changed"


@dataclass
class Reason:
    head: str
    other: list[str] = field(default_factory=list)


def header_text(reasons: list[Reason]) -> str:
    """editHeader.writeTo: the fixed lines, then each reason and its details as comments."""
    out = [HEADER]
    for r in reasons:
        out.append(f"# {_hash_breaks(r.head)}{':' if r.other else ''}\n")
        out.extend(f"# * {_hash_breaks(o)}\n" for o in r.other)
        out.append("#\n")
    return "".join(out)


def _hash_breaks(s: str) -> str:
    return "".join("\n# " if ch == "\n" and i + 1 < len(s) and s[i + 1] != "#" else ch for i, ch in enumerate(s))


def manual_strip(text: str) -> str:
    """cmdutil.ManualStrip: drop comment lines (``#!`` kept)."""
    lines = text.split("\n")
    kept = [ln for ln in lines if not (ln.strip().startswith("#") and not ln.strip().startswith("#!"))]
    return "\n".join(kept)


def strip_comments(text: str) -> str:
    """cmdutil.StripComments: the document as JSON (so layout does not count), else the comment-free text."""
    try:
        return json.dumps(yaml.load(text, Loader=_Loader), sort_keys=True)
    except yaml.YAMLError:
        return manual_strip(text)


def has_lines(text: str) -> bool:
    return any(ln.strip() and not ln.strip().startswith("#") for ln in text.splitlines())


def editor_argv(path: str) -> list[str]:
    """NewDefaultEditor(KUBE_EDITOR, EDITOR) and Editor.args: how kubectl runs the editor on ``path``."""
    editor = ""
    for env in ("KUBE_EDITOR", "EDITOR"):
        editor = os.environ.get(env, "")
        if editor:
            break
    editor = editor or "vi"
    if " " not in editor:
        return [editor, path]
    if not any(c in editor for c in "\"'\\"):
        return [*editor.split(" "), path]
    shell = os.environ.get("SHELL") or "/bin/bash"
    return [shell, "-c", f"{editor} {json.dumps(path)}"]


def launch(text: str, *, ext: str) -> tuple[str, str]:
    """LaunchTempFile: write ``text`` to a new temp file, run the editor on it, return (edited text, path)."""
    fd, path = tempfile.mkstemp(prefix=f"{os.path.basename(sys.argv[0]) or 'kctl'}-edit-", suffix=ext)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    argv = editor_argv(path)
    try:
        code = subprocess.run(argv, check=False).returncode
    except FileNotFoundError as e:
        if os.sep in argv[0]:
            raise fail(f'there was a problem with the editor "{" ".join(argv[:-1])}"') from e
        raise fail(f'unable to launch the editor "{" ".join(argv[:-1])}"') from e
    except OSError as e:
        raise fail(f'there was a problem with the editor "{" ".join(argv[:-1])}"') from e
    if code != 0:
        raise fail(f'there was a problem with the editor "{" ".join(argv[:-1])}"')
    with open(path) as f:
        return f.read(), path


def preserved(err: KctlError, path: str) -> KctlError:
    """preservedFile: say where the user's text is kept, then fail with ``err``."""
    if path and os.path.exists(path):
        echo_err(f'A copy of your changes has been stored to "{path}"\n')
    return err


def render(objs: list[dict[str, Any]], fmt: str) -> str:
    doc: dict[str, Any]
    cleaned = []
    for o in objs:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k != "managedFields"}
        cleaned.append({**o, "metadata": meta})
    if len(cleaned) == 1:
        doc = cleaned[0]
    else:
        doc = {"apiVersion": "v1", "items": cleaned, "kind": "List", "metadata": {}}
    return go_json(doc) + "\n" if fmt == "json" else go_yaml(doc)


def edit_patch(rt: ResourceType, original: dict[str, Any], edited: dict[str, Any]) -> tuple[Any, str]:
    """CreateTwoWayMergePatch (or CreateMergePatch without strategic metadata) with the identity preconditions."""
    for key in ("apiVersion", "kind"):
        if original.get(key) != edited.get(key):
            raise fail(IDENTITY_CHANGED)
    if (original.get("metadata") or {}).get("name") != (edited.get("metadata") or {}).get("name"):
        raise fail(IDENTITY_CHANGED)
    try:
        return two_way_merge_patch(original, edited, schema=rt.key), "strategic"
    except PatchError as e:
        raise fail(str(e)) from e
    except ValueError:
        return json_merge_three_way(original, edited, original), "merge"


@dataclass
class Results:
    reasons: list[Reason] = field(default_factory=list)
    retryable: int = 0
    notfound: int = 0
    invalid: int = 0

    def add_error(self, err: StatusError, rt: ResourceType, name: str) -> str:
        """editResults.addError: record the failure and return kubectl's one line for it."""
        what = f'{plural_string(rt)} "{name}"'
        if err.reason == "Invalid":
            self.invalid += 1
            causes = list((err.details or {}).get("causes") or [])
            self.reasons.append(Reason(f"{what} was not valid",
                                       [f"{c.get('field') or ''}: {c.get('message') or ''}" for c in causes]))
            return f"error: {what} is invalid"
        if err.reason == "NotFound":
            self.notfound += 1
            return f"error: {what} could not be found on the server"
        self.retryable += 1
        return f"error: {what} could not be patched: {err.message}"


async def edit_loop(s: Session, found: list[tuple[ResourceType, dict[str, Any]]], *, fmt: str,
                    output: str | None) -> None:
    ext = ".json" if fmt == "json" else ".yaml"
    by_uid = {str((o.get("metadata") or {}).get("uid")): (rt, o) for rt, o in found}
    original = render([o for _, o in found], fmt)
    results = Results()
    edited = ""
    path = ""
    contains_error = False
    while True:
        buf = header_text(results.reasons) if fmt != "json" else ""
        buf += manual_strip(edited) if contains_error else original
        previous = edited
        try:
            edited, new_path = launch(buf, ext=ext)
        except KctlError as e:
            raise preserved(e, path) from None
        if contains_error and strip_comments(previous) == strip_comments(edited):
            raise preserved(fail("Edit cancelled, no valid changes were saved."), new_path)
        if path:
            os.remove(path)
        path = new_path
        first_rt, first = found[0]
        try:
            objs = parse_text(manual_strip(edited), source="edited-file")
            if not objs:
                raise fail("invalid object to validate")
        except KctlError as e:
            results = Results()
            contains_error = True
            echo_err(results.add_error(_validation_failure(e.text), first_rt, str(first["metadata"]["name"])) + "\n")
            continue
        if strip_comments(original) == strip_comments(edited):
            os.remove(path)
            echo_err("Edit cancelled, no changes made.\n")
            return
        if not has_lines(edited):
            os.remove(path)
            echo_err("Edit cancelled, saved file was empty.\n")
            return
        results = Results()
        contains_error = False
        for obj in objs:
            uid = str((obj.get("metadata") or {}).get("uid"))
            if uid not in by_uid:
                raise preserved(fail(f"no original object found for {go_json(obj, indent=None)}"), path)
            rt, live = by_uid[uid]
            meta = live["metadata"]
            shown = json.loads(render([live], "json"))
            if shown == obj:
                echo(_result(rt, live, "skipped", output))
                continue
            try:
                patch, patch_type = edit_patch(rt, shown, obj)
            except KctlError as e:
                raise preserved(e, path) from None
            try:
                patched = await s.api.patch(rt, str(meta["name"]), patch, namespace=meta.get("namespace"),
                                            patch_type="strategic" if patch_type == "strategic" else "merge",
                                            field_manager="kubectl-edit")
            except StatusError as e:
                echo_err(results.add_error(e, rt, str(meta["name"])) + "\n")
                continue
            echo(_result(rt, patched, "edited", output))
        if results.retryable:
            echo_err(f"You can run `{os.path.basename(sys.argv[0]) or 'kctl'} replace -f {path}` to try this "
                     "update again.\n")
            raise KctlError("")
        if results.notfound:
            echo_err(f'The edits you made on deleted resources have been saved to "{path}"\n')
            raise KctlError("")
        if not results.invalid:
            os.remove(path)
            return
        contains_error = bool(results.reasons)


def _validation_failure(detail: str) -> StatusError:
    """The Invalid error kubectl builds when the edited file fails validation (it names the first object)."""
    return errors.from_status({
        "code": 422, "reason": "Invalid", "message": "The edited file failed validation",
        "details": {"causes": [{"field": "<nil>", "message": f'Invalid value: "The edited file failed validation": '
                                                       f"{detail}"}]},
    })


def _result(rt: ResourceType, obj: dict[str, Any], op: str, output: str | None) -> str:
    if output in ("json", "yaml"):
        return render([obj], output)
    return f"{kind_string(rt)}/{(obj.get('metadata') or {}).get('name')} {op}\n"


@click.command("edit")
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", "filenames", type=STR, multiple=True,
              help="Filename, directory, or URL to files to use to edit the resource.")
@click.option("-o", "--output", type=STR, default=None, help="Output format: json or yaml (the editing format).")
@connection_options
def edit_cmd(args: tuple[str, ...], filenames: tuple[str, ...], output: str | None) -> None:
    """Edit a resource from the default editor ($KUBE_EDITOR, $EDITOR, else vi)."""
    if output not in (None, "", "json", "yaml"):
        raise fail(f'unable to match a printer suitable for the output format "{output}", allowed formats are: '
                   "json,yaml")
    fmt = output or "yaml"

    async def body(s: Session) -> None:
        problems = Problems()
        found = await resolve_named(s, args, filenames, verb="edit", problems=problems)
        problems.raise_if_any()
        if not found:
            raise fail("edit cancelled, no objects found")
        await edit_loop(s, found, fmt=fmt, output=output)

    run(body)

