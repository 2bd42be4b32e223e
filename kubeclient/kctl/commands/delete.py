"""``kctl delete``: by file, by TYPE NAME..., by selector or ``--all``; waits until the objects are gone.

Follows kubectl's delete.go: one DELETE per object with
``propagationPolicy: Background``, the line ``service "x" deleted`` per
object, then (``--wait``, the default) a GET until each returns 404; NotFound
is an error unless ``--ignore-not-found``; ``No resources found`` when a
selector matched nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kctl.commands.apply import check_dry_run, prepare
from kubeclient.kctl.failures import Problems, fail
from kubeclient.kctl.manifests import read_manifests
from kubeclient.kctl.options import STR, connection_options, echo, parse_duration, run
from kubeclient.kctl.session import Session, kind_string
from kubeclient.kctl.targets import parse_targets


@click.command("delete")
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", "filenames", type=STR, multiple=True, help="Files with the resources to delete.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory used in -f recursively.")
@click.option("-l", "--selector", type=STR, default=None, help="Selector (label query) to filter on.")
@click.option("--field-selector", type=STR, default=None, help="Selector (field query) to filter on.")
@click.option("--all", "all_", is_flag=True, help="Delete all resources, in the namespace of the specified types.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Delete the requested objects across all namespaces.")
@click.option("--ignore-not-found", is_flag=True, help="Treat \"resource not found\" as a successful delete.")
@click.option("--wait/--no-wait", "wait", default=True, help="Wait for resources to be gone before returning.")
@click.option("--timeout", type=STR, default="0s", help="How long to wait for the deletion (0: a week).")
@click.option("--grace-period", type=int, default=-1, help="Seconds given to the resource to terminate.")
@click.option("--now", is_flag=True, help="Signal resources for immediate shutdown (grace period 1).")
@click.option("--force", is_flag=True, help="Immediate deletion (with --grace-period=0).")
@click.option("--dry-run", type=STR, default=None, help='Must be "none", "server", or "client".')
@click.option("-o", "--output", type=STR, default=None, help="name")
@connection_options
def delete_cmd(args: tuple[str, ...], filenames: tuple[str, ...], recursive: bool, selector: str | None,
               field_selector: str | None, all_: bool, all_namespaces: bool, ignore_not_found: bool, wait: bool,
               timeout: str, grace_period: int, now: bool, force: bool, dry_run: str | None,
               output: str | None) -> None:
    """Delete resources by file names, stdin, resources and names, or by resources and label selector."""
    dr = check_dry_run(dry_run)
    grace = 1 if now else grace_period
    if force and grace < 0:
        grace = 0
    deadline_s = parse_duration(timeout) or 7 * 24 * 3600.0
    manifests = read_manifests(filenames, recursive=recursive, verb="delete") if filenames else []
    if filenames and args:
        raise fail("You cannot specify both a resource and a filename")
    if not filenames and not args:
        raise fail("You must provide one or more resources by argument or filename.\nExample resource "
                   "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> "
                   "<name>'\n   '<resource>'")

    async def body(s: Session) -> None:
        await s.discover()
        todo: list[tuple[ResourceType, str, str | None]] = []
        errs = Problems()
        if manifests:
            for m in manifests:
                rt, obj = prepare(s, m)
                todo.append((rt, str(obj["metadata"].get("name") or ""), obj["metadata"].get("namespace")))
        else:
            targets = parse_targets(s, args, verb="delete")
            for tgt in targets.groups:
                if tgt.names is not None:
                    todo.extend((tgt.rt, n, s.ns_for(tgt.rt)) for n in tgt.names)
                    continue
                if not (selector or field_selector or all_):
                    raise fail("resource(s) were provided, but no name was specified")
                lst = await s.list_all(tgt.rt, namespace=s.ns_for(tgt.rt, all_namespaces=all_namespaces),
                                       label_selector=selector, field_selector=field_selector)
                for o in lst["items"]:
                    meta = o.get("metadata") or {}
                    todo.append((tgt.rt, str(meta.get("name")), meta.get("namespace")))
            if not todo and not any(t.names for t in targets.groups):
                echo("No resources found\n")
                return
        deleted: list[tuple[ResourceType, str, str | None, str]] = []
        for rt, name, ns in todo:
            try:
                uid = await _delete(s, rt, name, ns, grace=grace, dry_run=dr)
            except errors.NotFound as e:
                if not ignore_not_found:
                    errs.add(e)
                continue
            except StatusError as e:
                errs.add(e)
                continue
            deleted.append((rt, name, ns, uid))
            echo(_line(rt, name, output=output, grace=grace, dry_run=dr))
        if wait and dr == "none" and deleted:
            await _wait_gone(s, deleted, deadline=time.monotonic() + deadline_s, errs=errs)
        errs.raise_if_any()

    run(body)


def _line(rt: ResourceType, name: str, *, output: str | None, grace: int, dry_run: str) -> str:
    if output == "name":
        return f"{kind_string(rt)}/{name}\n"
    op = "force deleted" if grace == 0 else "deleted"
    op += {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
    return f'{kind_string(rt)} "{name}" {op}\n'


async def _delete(s: Session, rt: ResourceType, name: str, ns: str | None, *, grace: int, dry_run: str) -> str:
    """One DELETE; returns the uid of what was deleted ("" when the server did not say)."""
    if dry_run == "client":
        got = await s.api.get(rt, name, namespace=ns)
        return str((got.get("metadata") or {}).get("uid") or "")
    opts: dict[str, Any] = {"propagationPolicy": "Background"}
    if grace >= 0:
        opts["gracePeriodSeconds"] = grace
    params = {"dryRun": "All"} if dry_run == "server" else None
    resp = await s.api.request("DELETE", s.api.path(rt, namespace=ns, name=name), body=opts, params=params)
    try:
        meta = (resp.json() or {}).get("metadata") or {}
    except ValueError:
        meta = {}
    return str(meta.get("uid") or "")


async def _wait_gone(s: Session, items: list[tuple[ResourceType, str, str | None, str]], *,
                     deadline: float, errs: Problems) -> None:
    for rt, name, ns, uid in items:
        delay = 0.05
        while True:
            try:
                obj = await s.api.get(rt, name, namespace=ns)
            except errors.NotFound:
                break
            if uid and (obj.get("metadata") or {}).get("uid") != uid:
                break  # a new object with the same name: ours is gone
            if time.monotonic() > deadline:
                errs.add(fail(f"timed out waiting for the condition on {rt.plural}/{name}"))
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
