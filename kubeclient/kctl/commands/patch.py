"""``kctl patch``: send a strategic-merge, JSON-merge or JSON patch (``-p`` or ``--patch-file``).

Follows kubectl's patch.go: the patch text is YAML or JSON (YAML is turned
into JSON; text that looks like JSON but does not parse is sent as it is,
for the server to reject), objects come from ``TYPE NAME``, ``TYPE/NAME``
or ``-f``, each is read first and then patched (``--subresource`` patches
``status`` or ``scale`` instead), and the line says ``patched`` or, when the
server returned the very object that was read, ``patched (no change)``.
Errors are collected per object in visiting order, as kubectl's
ContinueOnError visitor reports them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from apimachinery.errors import StatusError
from kubeclient.kctl.commands.apply import check_dry_run
from kubeclient.kctl.commands.scale import resolve_named
from kubeclient.kctl.failures import KctlError, Problems, fail
from kubeclient.kctl.manifests import yaml_error_text
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.printing import Output
from kubeclient.kctl.session import Session

CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


def patch_bytes(text: str) -> bytes:
    """yaml.ToJSON of ``-p``: JSON kept as is, YAML converted; kubectl's error for YAML that does not parse."""
    stripped = text.strip()
    try:
        json.loads(stripped)
        return stripped.encode()
    except ValueError:
        pass
    try:
        value = yaml.safe_load(text if text.endswith("\n") else text + "\n")  # go-yaml counts the last line
    except yaml.YAMLError as e:
        if stripped.startswith(("{", "[")):
            return stripped.encode()  # JSON-like text goes to the server, which words the problem
        raise fail(f'unable to parse "{text}": {yaml_error_text(e)}') from e
    return json.dumps(value, separators=(",", ":")).encode()


def ref_of(obj: dict[str, Any]) -> str:
    """``kind.group/name`` of what the server returned (``scale.autoscaling/web`` for --subresource=scale)."""
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    kind = str(obj.get("kind") or "").lower()
    return f"{kind}.{group}/{(obj.get('metadata') or {}).get('name')}" if group else \
        f"{kind}/{(obj.get('metadata') or {}).get('name')}"


@click.command("patch")
@click.argument("args", nargs=-1)
@click.option("-p", "--patch", "patch_text", type=STR, default=None, help="The patch to be applied (JSON or YAML).")
@click.option("--patch-file", type=STR, default=None, help="A file containing a patch to be applied.")
@click.option("--type", "patch_type", type=STR, default="strategic",
              help="The type of patch being provided; one of [json merge strategic].")
@click.option("-f", "--filename", "filenames", type=STR, multiple=True,
              help="Filename, directory, or URL to files identifying the resource to update.")
@click.option("--subresource", type=STR, default="", help="If specified, patch will operate on the subresource.")
@click.option("--dry-run", type=STR, default=None, help='Must be "none", "server", or "client".')
@click.option("-o", "--output", type=STR, default=None, help="name|json|yaml")
@connection_options
def patch_cmd(args: tuple[str, ...], patch_text: str | None, patch_file: str | None, patch_type: str,
              filenames: tuple[str, ...], subresource: str, dry_run: str | None, output: str | None) -> None:
    """Update fields of a resource using strategic merge patch, a JSON merge patch, or a JSON patch."""
    if patch_type not in CONTENT_TYPES:
        raise fail(f'--type must be one of [json merge strategic], not "{patch_type}"')
    if patch_text is None and patch_file is None:
        raise fail("must specify --patch or --patch-file containing the contents of the patch")
    if patch_text is not None and patch_file is not None:
        raise fail("cannot specify --patch and --patch-file together")
    if patch_file is not None:
        try:
            patch_text = Path(patch_file).read_text()
        except OSError as e:
            raise fail(f"unable to read patch file: open {patch_file}: {(e.strerror or str(e)).lower()}") from e
    assert patch_text is not None
    body_bytes = patch_bytes(patch_text)
    dr = check_dry_run(dry_run)
    out = Output.parse(output)

    async def body(s: Session) -> None:
        problems = Problems()
        found = await resolve_named(s, args, filenames, verb="patch", problems=problems)
        for rt, obj in found:
            meta = obj["metadata"]
            if dr == "client":
                echo(out.render_objects([obj], single=True) if out.fmt and out.fmt != "name" else
                     f"{ref_of(obj)}" + ("\n" if out.fmt == "name" else " patched\n"))
                continue
            params = {"dryRun": "All"} if dr == "server" else {}
            if rt.namespaced is False:
                ns = None
            else:
                ns = meta.get("namespace")
            path = s.api.path(rt, namespace=ns, name=str(meta["name"]), subresource=subresource or None)
            try:
                current = obj
                if subresource:
                    current = await s.api.get_json(path)
                resp = await s.api.request("PATCH", path, content=body_bytes, content_type=CONTENT_TYPES[patch_type],
                                           params={**params, "fieldManager": "kubectl-patch"})
                patched = json.loads(resp.content)
            except (StatusError, KctlError) as e:
                problems.add(e)
                continue
            if out.fmt and out.fmt != "name":
                echo(out.render_objects([patched], single=True))
            elif out.fmt == "name":
                echo(ref_of(patched) + "\n")
            else:
                echo(f"{ref_of(patched)} patched{' (no change)' if patched == current else ''}\n")
        problems.raise_if_any()

    run(body)
