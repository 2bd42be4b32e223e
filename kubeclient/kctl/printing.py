"""kubectl's printers: server Tables through a tabwriter, ``-o name|json|yaml|jsonpath``.

Why: ``kubectl get`` prints the server's meta.k8s.io/v1 Table cells as they
come, only deciding which columns show (priority 0, or all with ``-o wide``)
and decorating rows (NAMESPACE first with ``-A``, ``kind/name`` when several
types were asked for, LABELS last with ``--show-labels``); this module is
cli-runtime's HumanReadablePrinter (tableprinter.go) plus the JSON, YAML,
name and JSONPath printers, over the same rules.

Invariant: a table with no rows prints nothing at all, not even its header;
headers print once per group of equal column definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeclient.kctl import jsonpath
from kubeclient.kctl.encoding import go_json, go_yaml
from kubeclient.kctl.failures import fail
from kubeclient.kctl.tabwriter import TabWriter


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted ``k=v`` joined by commas, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def cell_text(cell: Any) -> str:
    """One Table cell as printTable writes it (strings cut at the first line break, with ``...``)."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        for i, ch in enumerate(cell):
            if ch in "\f\n\r":
                return cell[:i] + "..."
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell == int(cell):
        return str(int(cell))
    if isinstance(cell, dict | list):
        return go_json(cell, indent=None)
    return str(cell)


@dataclass
class TableOptions:
    wide: bool = False
    with_namespace: bool = False
    show_labels: bool = False
    label_columns: Sequence[str] = ()
    kind_prefix: str | None = None  # "service" -> name cells become "service/<name>"
    no_headers: bool = False


@dataclass
class TablePrinter:
    """HumanReadablePrinter.PrintObj for Tables; one instance per resource group (as kubectl's)."""

    options: TableOptions
    _last_columns: list[dict[str, Any]] | None = None
    _printed_headers: bool = False

    def print_table(self, table: dict[str, Any], out: TabWriter) -> None:
        columns = list(table.get("columnDefinitions") or [])
        rows = [dict(r) for r in table.get("rows") or []]
        no_headers = self.options.no_headers
        if self._printed_headers and (not columns or columns == self._last_columns):
            no_headers = True
        if not columns:
            columns = list(self._last_columns or [])
        elif columns != self._last_columns:
            self._last_columns = columns
            self._printed_headers = False
        if rows:
            self._printed_headers = True
        columns, cells = self._decorate(columns, rows)
        if not no_headers:
            if not rows:
                return
            out.write("\t".join(str(c.get("name") or "").upper() for c in columns
                                if self.options.wide or not c.get("priority")) + "\n")
        for row_cells in cells:
            shown = [cell_text(cell) for cell, col in zip(row_cells, columns, strict=False)
                     if self.options.wide or not col.get("priority")]
            out.write("\t".join(shown) + "\n")

    def _decorate(self, columns: list[dict[str, Any]], rows: list[dict[str, Any]]
                  ) -> tuple[list[dict[str, Any]], list[list[Any]]]:
        """decorateTable: namespace, kind/name, label columns."""
        opts = self.options
        name_col = -1
        if opts.kind_prefix:
            for i, c in enumerate(columns):
                if c.get("format") == "name" and c.get("type") == "string":
                    name_col = i
                    break
        out_cols = list(columns)
        if opts.with_namespace:
            out_cols.insert(0, {"name": "Namespace", "type": "string"})
        for label in opts.label_columns:
            out_cols.append({"name": label.split("/")[-1].upper(), "type": "string"})
        if opts.show_labels:
            out_cols.append({"name": "Labels", "type": "string"})
        out_rows: list[list[Any]] = []
        for row in rows:
            cells = list(row.get("cells") or [])[:len(columns)]
            if name_col >= 0 and name_col < len(cells):
                cells[name_col] = f"{opts.kind_prefix}/{cell_text(cells[name_col])}"
            meta = ((row.get("object") or {}).get("metadata")) if isinstance(row.get("object"), dict) else None
            if meta is None:
                if opts.with_namespace:
                    cells.insert(0, None)
                cells.extend([None] * (len(out_cols) - len(cells)))
                out_rows.append(cells)
                continue
            if opts.with_namespace:
                cells.insert(0, meta.get("namespace") or "")
            labels = meta.get("labels") or {}
            for label in opts.label_columns:
                cells.append(labels.get(label, ""))
            if opts.show_labels:
                cells.append(format_labels(labels))
            out_rows.append(cells)
        return out_cols, out_rows


@dataclass
class Output:
    """What ``-o`` asked for: ``""``/``wide`` (tables), ``name``, ``json``, ``yaml`` or ``jsonpath=...``."""

    fmt: str = ""
    template: str = ""
    show_managed_fields: bool = False

    @classmethod
    def parse(cls, value: str | None) -> Output:
        v = (value or "").strip()
        if v in ("", "wide", "name", "json", "yaml"):
            return cls(v)
        for prefix in ("jsonpath=", "jsonpath-as-json=", "jsonpath-file="):
            if v.startswith(prefix):
                return cls(prefix[:-1], v[len(prefix):])
        raise fail(f'unable to match a printer suitable for the output format "{v}", allowed formats are: '
                   "json,jsonpath,jsonpath-as-json,jsonpath-file,name,wide,yaml")

    @property
    def human(self) -> bool:
        return self.fmt in ("", "wide")

    def render_objects(self, objs: list[dict[str, Any]], *, single: bool) -> str:
        """JSON/YAML/JSONPath of what kubectl prints: the object itself, or a v1 List of them."""
        cleaned = [self._clean(o) for o in objs]
        data: dict[str, Any]
        if single and len(cleaned) == 1:
            data = cleaned[0]
        else:
            data = {"apiVersion": "v1", "items": cleaned, "kind": "List", "metadata": {"resourceVersion": ""}}
        if self.fmt == "json":
            return go_json(data) + "\n"
        if self.fmt == "yaml":
            return go_yaml(data)
        if self.fmt == "jsonpath-file":
            with open(self.template) as f:
                return jsonpath.execute(f.read(), data)
        if self.fmt == "jsonpath-as-json":
            return go_json([v for vals in jsonpath.find(self.template, data) for v in vals]) + "\n"
        try:
            return jsonpath.execute(self.template, data)
        except jsonpath.JSONPathError as e:
            raise fail(f"error parsing jsonpath {self.template}, {e}") from e

    def _clean(self, obj: dict[str, Any]) -> dict[str, Any]:
        # kubectl omits managedFields from -o json/yaml only; JSONPath templates still see them
        if self.show_managed_fields or self.fmt not in ("json", "yaml") or "managedFields" not in (
                obj.get("metadata") or {}):
            return obj
        meta = dict(obj["metadata"])
        meta.pop("managedFields", None)
        return {**obj, "metadata": meta}


def with_type(obj: dict[str, Any], *, api_version: str, kind: str) -> dict[str, Any]:
    """List items come without apiVersion/kind; kubectl's unstructured decoding puts them back."""
    if obj.get("apiVersion") and obj.get("kind"):
        return obj
    return {"apiVersion": api_version, "kind": kind, **obj}
