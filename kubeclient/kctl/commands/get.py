"""``kctl get``: the server's Tables, or the objects as name/json/yaml/jsonpath, optionally watched.

Follows k8s.io/kubectl/pkg/cmd/get/get.go: one tabwriter for the whole
command, flushed (and its remembered widths reset) between resource types
with a blank line between non-empty groups; ``No resources found in X
namespace.`` on stderr when nothing printed; errors (NotFound names) printed
after the output, exit code 1.
"""

from __future__ import annotations

from typing import Any

import click

from apimachinery.errors import not_found
from kubeclient import errors
from kubeclient.kctl.failures import Problems, fail
from kubeclient.kctl.options import STR, connection_options, echo, echo_err, run
from kubeclient.kctl.printing import Output, TableOptions, TablePrinter, with_type
from kubeclient.kctl.session import TABLE_ACCEPT, Session, kind_string
from kubeclient.kctl.tabwriter import kubectl_writer
from kubeclient.kctl.targets import Target, Targets, parse_targets


@click.command("get")
@click.argument("args", nargs=-1)
@click.option("-A", "--all-namespaces", is_flag=True, help="List the requested object(s) across all namespaces.")
@click.option("-l", "--selector", type=STR, default=None, help="Selector (label query) to filter on.")
@click.option("--field-selector", type=STR, default=None, help="Selector (field query) to filter on.")
@click.option("-o", "--output", type=STR, default=None, help="wide|name|json|yaml|jsonpath=TEMPLATE")
@click.option("-w", "--watch", is_flag=True, help="After listing/getting the requested object, watch for changes.")
@click.option("--watch-only", is_flag=True, help="Watch for changes without listing/getting first.")
@click.option("--show-labels", is_flag=True, help="Show all labels as the last column.")
@click.option("-L", "--label-columns", type=STR, multiple=True, help="Labels to show as columns.")
@click.option("--show-kind", is_flag=True, help="List the resource type for the requested object(s).")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("--ignore-not-found", is_flag=True, help="Treat \"resource not found\" as a successful retrieval.")
@click.option("--show-managed-fields", is_flag=True, help="Keep managedFields in JSON or YAML output.")
@connection_options
def get_cmd(args: tuple[str, ...], all_namespaces: bool, selector: str | None, field_selector: str | None,
            output: str | None, watch: bool, watch_only: bool, show_labels: bool, label_columns: tuple[str, ...],
            show_kind: bool, no_headers: bool, ignore_not_found: bool, show_managed_fields: bool) -> None:
    """Display one or many resources."""
    out = Output.parse(output)
    out.show_managed_fields = show_managed_fields
    labels = [c for col in label_columns for c in col.split(",") if c]

    async def body(s: Session) -> None:
        await s.discover()
        targets = parse_targets(s, args)
        if (selector or field_selector) and any(t.names for t in targets.groups):
            raise fail("name cannot be provided when a selector is specified")
        base = TableOptions(wide=out.fmt == "wide", show_labels=show_labels, label_columns=labels,
                            no_headers=no_headers)
        if watch or watch_only:
            await _watch(s, targets, out=out, base=base, all_namespaces=all_namespaces, selector=selector,
                         field_selector=field_selector, watch_only=watch_only, show_kind=show_kind)
            return
        if out.human:
            errs = await _print_tables(s, targets, base=base, all_namespaces=all_namespaces, selector=selector,
                                       field_selector=field_selector, show_kind=show_kind,
                                       ignore_not_found=ignore_not_found)
        else:
            errs = await _print_objects(s, targets, out=out, all_namespaces=all_namespaces, selector=selector,
                                        field_selector=field_selector, ignore_not_found=ignore_not_found)
        errs.raise_if_any()

    run(body)


def _table_options(base: TableOptions, tgt: Target, *, all_namespaces: bool, with_kind: bool) -> TableOptions:
    return TableOptions(wide=base.wide, show_labels=base.show_labels, label_columns=base.label_columns,
                        no_headers=base.no_headers, with_namespace=all_namespaces and tgt.rt.namespaced,
                        kind_prefix=kind_string(tgt.rt) if with_kind else None)


async def _print_tables(s: Session, targets: Targets, *, base: TableOptions, all_namespaces: bool,
                        selector: str | None, field_selector: str | None, show_kind: bool,
                        ignore_not_found: bool) -> Problems:
    writer = kubectl_writer()
    errs = Problems()
    written = False
    for tgt in targets.groups:
        printer = TablePrinter(_table_options(base, tgt, all_namespaces=all_namespaces,
                                              with_kind=targets.multiple_types or show_kind))
        writer.set_remembered_widths(None)
        ns = s.ns_for(tgt.rt, all_namespaces=all_namespaces)
        if tgt.names is not None:
            for name in tgt.names:
                try:
                    printer.print_table(await s.table(tgt.rt, namespace=s.ns_for(tgt.rt), name=name), writer)
                except errors.NotFound as e:
                    if not ignore_not_found:
                        errs.add(e)
        else:
            printer.print_table(await s.table(tgt.rt, namespace=ns, label_selector=selector,
                                              field_selector=field_selector), writer)
        text = writer.flush()
        if text:
            if written and not base.no_headers:
                echo("\n")
            echo(text)
            written = True
    if not written and not errs and not ignore_not_found:
        namespaced = not all_namespaces and all(t.rt.namespaced for t in targets.groups)
        echo_err(f"No resources found in {s.namespace} namespace.\n" if namespaced else "No resources found\n")
    return errs


async def _objects(s: Session, tgt: Target, *, all_namespaces: bool, selector: str | None,
                   field_selector: str | None, ignore_not_found: bool, errs: Problems) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    if tgt.names is not None:
        for name in tgt.names:
            try:
                objs.append(await s.api.get(tgt.rt, name, namespace=s.ns_for(tgt.rt)))
            except errors.NotFound as e:
                if not ignore_not_found:
                    errs.add(e)
        return objs
    lst = await s.list_all(tgt.rt, namespace=s.ns_for(tgt.rt, all_namespaces=all_namespaces),
                           label_selector=selector, field_selector=field_selector)
    return [with_type(o, api_version=tgt.rt.api_version, kind=tgt.rt.kind) for o in lst["items"]]


async def _print_objects(s: Session, targets: Targets, *, out: Output, all_namespaces: bool,
                         selector: str | None, field_selector: str | None, ignore_not_found: bool) -> Problems:
    errs = Problems()
    collected: list[tuple[Target, dict[str, Any]]] = []
    for tgt in targets.groups:
        for o in await _objects(s, tgt, all_namespaces=all_namespaces, selector=selector,
                                field_selector=field_selector, ignore_not_found=ignore_not_found, errs=errs):
            collected.append((tgt, o))
    if out.fmt == "name":
        echo("".join(f"{kind_string(t.rt)}/{(o.get('metadata') or {}).get('name')}\n" for t, o in collected))
    elif collected or not targets.single_item:
        echo(out.render_objects([o for _, o in collected], single=targets.single_item))
    return errs


async def _watch(s: Session, targets: Targets, *, out: Output, base: TableOptions, all_namespaces: bool,
                 selector: str | None, field_selector: str | None, watch_only: bool, show_kind: bool) -> None:
    count = sum(len(t.names) if t.names is not None else 1 for t in targets.groups)
    if len(targets.groups) != 1 or count != 1:
        raise fail("watch is only supported on individual resources and resource collections, but "
                   f"{count} resources were found")
    tgt = targets.groups[0]
    ns = s.ns_for(tgt.rt, all_namespaces=all_namespaces)
    fsel = field_selector
    if tgt.names:
        name = tgt.names[0]
        ns = s.ns_for(tgt.rt)
        fsel = ",".join(p for p in (f"metadata.name={name}", field_selector) if p)
    writer = kubectl_writer()
    printer = TablePrinter(_table_options(base, tgt, all_namespaces=all_namespaces, with_kind=show_kind))
    if out.human:
        table = await s.table(tgt.rt, namespace=ns, label_selector=selector, field_selector=fsel)
        rows = table.get("rows") or []
        rv = str((table.get("metadata") or {}).get("resourceVersion") or "")
        accept = TABLE_ACCEPT
    else:
        lst = await s.list_all(tgt.rt, namespace=ns, label_selector=selector, field_selector=fsel)
        rows = lst["items"]
        rv = str((lst.get("metadata") or {}).get("resourceVersion") or "")
        accept = "application/json"
    if tgt.names and not rows:
        raise not_found(tgt.rt.plural, tgt.names[0], tgt.rt.group)
    printed = 0
    if not watch_only:
        if out.human:
            printer.print_table(table, writer)
            echo(writer.flush())
        else:
            for o in rows:
                echo(_watch_object(out, with_type(o, api_version=tgt.rt.api_version, kind=tgt.rt.kind), printed))
                printed += 1
    params = {"watch": "true", "resourceVersion": rv}
    if selector:
        params["labelSelector"] = selector
    if fsel:
        params["fieldSelector"] = fsel
    path = s.api.path(tgt.rt, namespace=ns)
    async for etype, obj in s.api.stream(path, params=params, accept=accept):
        if etype == "BOOKMARK":
            continue
        if out.human:
            printer.print_table(obj, writer)
            echo(writer.flush())
        else:
            echo(_watch_object(out, obj, printed))
            printed += 1


def _watch_object(out: Output, obj: dict[str, Any], printed: int) -> str:
    if out.fmt == "name":
        return f"{obj.get('kind', '').lower()}/{(obj.get('metadata') or {}).get('name')}\n"
    text = out.render_objects([obj], single=True)
    if out.fmt == "yaml" and printed:
        return "---\n" + text
    return text
