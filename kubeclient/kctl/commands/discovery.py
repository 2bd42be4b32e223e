"""``kctl api-resources`` and ``kctl version``: what the server serves, and which server it is.

api-resources follows kubectl's apiresources.go: every resource of every
group from discovery, sorted by group then name, printed through the same
tabwriter as ``get`` (``-o wide`` adds VERBS and CATEGORIES, ``-o name``
prints ``plural.group`` lines).
"""

from __future__ import annotations

from importlib import metadata

import click

from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session
from kubeclient.kctl.tabwriter import kubectl_writer


@click.command("api-resources")
@click.option("-o", "--output", type=STR, default=None, help="wide|name")
@click.option("--namespaced", type=click.BOOL, default=None, help="true: only namespaced; false: only cluster.")
@click.option("--api-group", type=STR, default=None, help="Limit to resources in the specified API group.")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@connection_options
def api_resources_cmd(output: str | None, namespaced: bool | None, api_group: str | None, no_headers: bool) -> None:
    """Print the supported API resources on the server."""
    if output not in (None, "", "wide", "name"):
        raise fail(f"--output {output} is not available")

    async def body(s: Session) -> None:
        rts = [rt for rt in await s.discover()
               if (namespaced is None or rt.namespaced == namespaced)
               and (api_group is None or rt.group == api_group)]
        rts.sort(key=lambda rt: (rt.group, rt.plural))
        if output == "name":
            echo("".join((f"{rt.plural}.{rt.group}" if rt.group else rt.plural) + "\n" for rt in rts))
            return
        w = kubectl_writer()
        header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if output == "wide":
            header += ["VERBS", "CATEGORIES"]
        if not no_headers:
            w.write("\t".join(header) + "\n")
        for rt in rts:
            cells = [rt.plural, ",".join(rt.short_names), rt.api_version, "true" if rt.namespaced else "false",
                     rt.kind]
            if output == "wide":
                cells += ["[" + " ".join(rt.verbs) + "]", ",".join(rt.categories)]
            w.write("\t".join(cells) + "\n")
        echo(w.flush())

    run(body)


def client_version() -> str:
    try:
        return "v" + metadata.version("kubelite")
    except metadata.PackageNotFoundError:
        return "v0.0.0"


@click.command("version")
@click.option("--client", is_flag=True, help="Only print the client version.")
@click.option("-o", "--output", type=STR, default=None, help="yaml|json")
@connection_options
def version_cmd(client: bool, output: str | None) -> None:
    """Print the client and server version information.

    As kubectl: the client line comes first, so it is printed even when the server cannot be reached
    (then the connection error follows on stderr and the exit code is 1).
    """

    async def body(s: Session) -> None:
        if output in ("json", "yaml"):
            from kubeclient.kctl.encoding import go_json, go_yaml

            server = None if client else await s.api.version()
            doc: dict[str, object] = {"clientVersion": {"gitVersion": client_version(), "major": "0",
                                                        "minor": "1"}}
            if server is not None:
                doc["serverVersion"] = server
            echo(go_json(doc, indent=2) + "\n" if output == "json" else go_yaml(doc))
            return
        echo(f"Client Version: {client_version()} (kctl)\n")
        if not client:
            server_version = await s.api.version()
            echo(f"Server Version: {server_version.get('gitVersion', '')}\n")

    run(body)
