"""``kctl wait --for=condition=C[=V]|delete|jsonpath={expr}[=value]`` with ``--timeout``.

Follows kubectl's wait.go: each object is watched (a list with
``fieldSelector=metadata.name=<n>``, then a watch from the list's
resourceVersion) until the condition holds; success prints
``pod/x condition met``; the deadline prints ``error: timed out waiting for
the condition on pods/x`` and exits 1; a missing object is NotFound unless
waiting for its deletion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import click

from apimachinery.errors import StatusError, not_found
from apimachinery.resources import ResourceType
from kubeclient.kctl import jsonpath
from kubeclient.kctl.failures import Problems, fail
from kubeclient.kctl.options import STR, connection_options, echo, parse_duration, run
from kubeclient.kctl.session import Session, kind_string
from kubeclient.kctl.targets import parse_targets

Check = Callable[[dict[str, Any] | None], bool]


def condition_check(spec: str) -> tuple[Check, bool]:
    """A predicate over the live object (None = deleted), and whether it waits for deletion."""
    if spec == "delete":
        return (lambda obj: obj is None), True
    if spec.startswith("condition="):
        body = spec[len("condition="):]
        ctype, sep, wanted = body.partition("=")
        want = wanted if sep else "true"
        if not ctype:
            raise fail(f"unrecognized condition: {spec!r}")

        def has_condition(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                return False
            for c in (obj.get("status") or {}).get("conditions") or []:
                if str(c.get("type", "")).lower() == ctype.lower():
                    gen = (obj.get("metadata") or {}).get("generation")
                    observed = c.get("observedGeneration")
                    if observed is not None and gen is not None and observed < gen:
                        return False
                    return str(c.get("status", "")).lower() == want.lower()
            return False

        return has_condition, False
    if spec.startswith("jsonpath="):
        body = spec[len("jsonpath="):]
        expr: str = body
        value: str | None = None
        if "}=" in body:
            i = body.rindex("}=")
            expr, value = body[:i + 1], body[i + 2:]
        if not expr.startswith("{"):
            expr = "{" + expr + "}"
        try:
            jsonpath.parse(expr)
        except jsonpath.JSONPathError as e:
            raise fail(f"unrecognized condition: {spec!r}: {e}") from e

        def matches(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                return False
            results = [v for vals in jsonpath.find(expr, obj) for v in vals]
            if value is None:
                return bool(results)
            return len(results) == 1 and jsonpath.text_of(results[0]) == value

        return matches, False
    raise fail(f"unrecognized condition: {spec!r}")


@click.command("wait")
@click.argument("args", nargs=-1)
@click.option("--for", "for_", type=STR, required=True, help="condition=NAME[=value], delete or jsonpath={...}=v.")
@click.option("--timeout", type=STR, default="30s", help="How long to wait (e.g. 30s, 1m; negative: a week).")
@click.option("-l", "--selector", type=STR, default=None, help="Selector (label query) to filter on.")
@click.option("--field-selector", type=STR, default=None, help="Selector (field query) to filter on.")
@click.option("--all", "all_", is_flag=True, help="Select all resources of the specified types.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")
@connection_options
def wait_cmd(args: tuple[str, ...], for_: str, timeout: str, selector: str | None, field_selector: str | None,
             all_: bool, all_namespaces: bool) -> None:
    """Wait for a specific condition on one or many resources."""
    check, for_delete = condition_check(for_)
    seconds = parse_duration(timeout)
    if seconds < 0:
        seconds = 7 * 24 * 3600.0

    async def body(s: Session) -> None:
        await s.discover()
        targets = parse_targets(s, args, verb="wait")
        objs: list[tuple[ResourceType, str, str | None]] = []
        errs = Problems()
        for tgt in targets.groups:
            if tgt.names is not None:
                objs.extend((tgt.rt, n, s.ns_for(tgt.rt)) for n in tgt.names)
                continue
            if not (selector or field_selector or all_):
                raise fail("resource(s) were provided, but no name was specified")
            lst = await s.list_all(tgt.rt, namespace=s.ns_for(tgt.rt, all_namespaces=all_namespaces),
                                   label_selector=selector, field_selector=field_selector)
            for o in lst["items"]:
                meta = o.get("metadata") or {}
                objs.append((tgt.rt, str(meta.get("name")), meta.get("namespace")))
        if not objs and not for_delete:
            raise fail("no matching resources found")
        deadline = time.monotonic() + seconds
        for rt, name, ns in objs:
            try:
                ok = await _wait_one(s, rt, name, ns, check, for_delete=for_delete, deadline=deadline)
            except StatusError as e:
                errs.add(e)
                continue
            if ok:
                echo(f"{kind_string(rt)}/{name} condition met\n")
            elif ok is None:
                continue
            else:
                errs.add(fail(f"timed out waiting for the condition on {rt.plural}/{name}"))
        errs.raise_if_any()

    run(body)


async def _wait_one(s: Session, rt: ResourceType, name: str, ns: str | None, check: Check, *,
                    for_delete: bool, deadline: float) -> bool | None:
    """Watch one object until ``check`` holds (True) or the deadline passes (False).

    None: waiting for the deletion of an object that did not exist to begin with (kubectl says nothing).
    """
    fsel = f"metadata.name={name}"
    first = True
    while True:
        lst = await s.api.list(rt, namespace=ns, field_selector=fsel)
        items = lst.get("items") or []
        obj = items[0] if items else None
        if obj is None and first:
            if for_delete:
                return None
            raise not_found(rt.plural, name, rt.group)
        first = False
        if check(obj):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        rv = str((lst.get("metadata") or {}).get("resourceVersion") or "")
        try:
            async with asyncio.timeout(remaining):
                async for etype, ev_obj in s.api.watch(rt, namespace=ns, resource_version=rv, field_selector=fsel,
                                                       timeout_seconds=max(1, int(remaining) + 1)):
                    if etype == "BOOKMARK":
                        continue
                    if check(None if etype == "DELETED" else ev_obj):
                        return True
        except TimeoutError:
            return False
        except StatusError as e:
            if e.code != 410:
                raise
