"""``kctl label`` and ``kctl annotate``: add, overwrite (``--overwrite``) or remove (``key-``) metadata keys.

Follows kubectl's label.go/annotate.go: arguments before the first
``k=v``/``k-`` name the objects; each object is read, changed, and sent as a
JSON merge patch (``{"metadata":{"labels":{"k":null}}}`` removes); an
existing different value without ``--overwrite`` is an error; a missing key
to remove prints ``label "k" not found.``; the result line is
``service/x labeled|unlabeled|not labeled`` (kubectl's updateDataChangeMsg)
or ``service/x annotated``.
"""

from __future__ import annotations

import copy
from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.resources import ResourceType
from apimachinery.selectors import label_key_errors, label_value_errors
from kubeclient.kctl.encoding import go_json
from kubeclient.kctl.failures import Problems, fail
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session, kind_string
from kubeclient.kctl.targets import parse_targets


def split_pairs(args: tuple[str, ...], *, what: str) -> tuple[list[str], dict[str, str], list[str]]:
    """GetResourcesAndPairs + parse: (resource args, keys to set, keys to remove)."""
    resources: list[str] = []
    pairs: list[str] = []
    for a in args:
        is_pair = "=" in a or a.endswith("-")
        if is_pair:
            pairs.append(a)
        elif pairs:
            raise fail(f"all resources must be specified before {what} changes: {a}")
        else:
            resources.append(a)
    if not pairs:
        raise fail(f"at least one {what} update is required")
    new: dict[str, str] = {}
    remove: list[str] = []
    for p in pairs:
        if "=" in p:
            k, _, v = p.partition("=")
            problems = label_key_errors(k) if what == "label" else []
            if what == "label" and not problems:
                problems = label_value_errors(v)
            if problems or not k:
                raise fail(f"invalid {what} spec: {p}" + (f": {'; '.join(problems)}" if problems else ""))
            if k in new:
                raise fail(f"can not both modify and remove {what} in the same command" if k in remove else
                           f"invalid {what} spec: {p}, key already set")
            new[k] = v
        else:
            k = p[:-1]
            if what == "label" and label_key_errors(k):
                raise fail(f"invalid label spec: {p}")
            remove.append(k)
    for k in remove:
        if k in new:
            raise fail(f"can not both modify and remove {what}s in the same command")
    return resources, new, remove


def changed(current: dict[str, str], new: dict[str, str], remove: list[str], *, overwrite: bool,
            what: str) -> tuple[dict[str, str], list[str]]:
    """The updated map and the keys asked to be removed that were not there."""
    if not overwrite:
        for k, v in new.items():
            if k in current and current[k] != v:
                raise fail(f"'{k}' already has a value ({current[k]}), and --overwrite is false")
    missing = [k for k in remove if k not in current]
    out = dict(current)
    out.update(new)
    for k in remove:
        out.pop(k, None)
    return out, missing


def merge_patch(field_name: str, old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    """jsonpatch.CreateMergePatch restricted to one metadata map."""
    diff: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    diff.update({k: None for k in old if k not in new})
    return {"metadata": {field_name: diff}} if diff else {}


def change_message(old_obj: dict[str, Any], new_obj: dict[str, Any], *, overwrite: bool) -> str:
    """updateDataChangeMsg: compares the objects' JSON before and after."""
    before, after = go_json(old_obj, indent=None), go_json(new_obj, indent=None)
    if before == after:
        return "not labeled"
    if not overwrite and len(after) < len(before):
        return "unlabeled"
    return "labeled"


def _command(what: str) -> Any:
    field_name = "labels" if what == "label" else "annotations"

    @click.command(what, help=f"Update the {field_name} on a resource.")
    @click.argument("args", nargs=-1)
    @click.option("--overwrite", is_flag=True, help=f"Allow {what}s to be overwritten.")
    @click.option("-l", "--selector", type=STR, default=None, help="Selector (label query) to filter on.")
    @click.option("--field-selector", type=STR, default=None, help="Selector (field query) to filter on.")
    @click.option("--all", "all_", is_flag=True, help="Select all resources of the specified types.")
    @click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces (with --all or -l).")
    @click.option("-o", "--output", type=STR, default=None, help="name")
    @connection_options
    def cmd(args: tuple[str, ...], overwrite: bool, selector: str | None, field_selector: str | None, all_: bool,
            all_namespaces: bool, output: str | None) -> None:
        resources, new, remove = split_pairs(args, what=what)

        async def body(s: Session) -> None:
            await s.discover()
            targets = parse_targets(s, resources, verb=what)
            todo: list[tuple[ResourceType, dict[str, Any]]] = []
            errs = Problems()
            for tgt in targets.groups:
                if tgt.names is not None:
                    for n in tgt.names:
                        try:
                            todo.append((tgt.rt, await s.api.get(tgt.rt, n, namespace=s.ns_for(tgt.rt))))
                        except StatusError as e:
                            errs.add(e)
                    continue
                if not (selector or field_selector or all_):
                    raise fail("resource(s) were provided, but no name was specified")
                lst = await s.list_all(tgt.rt, namespace=s.ns_for(tgt.rt, all_namespaces=all_namespaces),
                                       label_selector=selector, field_selector=field_selector)
                todo.extend((tgt.rt, o) for o in lst["items"])
            for rt, obj in todo:
                meta = obj.get("metadata") or {}
                current = dict(meta.get(field_name) or {})
                updated, missing = changed(current, new, remove, overwrite=overwrite, what=what)
                if what == "label":
                    echo("".join(f'label "{k}" not found.\n' for k in missing))
                new_obj = copy.deepcopy(obj)
                new_obj.setdefault("metadata", {})[field_name] = updated
                patch = merge_patch(field_name, current, updated)
                try:
                    await s.api.patch(rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                                      patch_type="merge", field_manager=f"kubectl-{what}")
                except StatusError as e:
                    errs.add(e)
                    continue
                name = f"{kind_string(rt)}/{meta.get('name')}"
                if output == "name":
                    echo(name + "\n")
                elif what == "label":
                    echo(f"{name} {change_message(obj, new_obj, overwrite=overwrite)}\n")
                else:
                    echo(f"{name} annotated\n")
            errs.raise_if_any()

        run(body)

    return cmd


label_cmd = _command("label")
annotate_cmd = _command("annotate")
