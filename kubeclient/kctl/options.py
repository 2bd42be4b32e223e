"""Flags shared by kctl's commands, and the glue that runs a command's coroutine.

Why: kubectl's global flags (``-n``, ``-s``, ``--kubeconfig``, ``--context``)
work before or after the verb; click only knows options per command, so each
command and the group carry the same options, whose values collect in the
click context's shared ``meta`` (the last one given wins). pflag also
accepts ``-n=shield``; click would keep the ``=``, so values are stripped of
one leading ``=``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from kubeclient.kctl.failures import KctlError
from kubeclient.kctl.session import ConnectionFlags, Session

F = TypeVar("F", bound=Callable[..., Any])
FLAGS_KEY = "kctl.flags"


def text(value: Any) -> str:
    """A string flag as pflag reads it: ``-o=wide`` means ``wide``."""
    s = str(value)
    return s[1:] if s.startswith("=") else s


STR = text


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta.setdefault(FLAGS_KEY, {})[name] = value
        return value

    return callback


def connection_options(f: F) -> F:
    """--kubeconfig, --context, -s/--server, -n/--namespace, --token, --request-timeout."""
    opts = [
        click.option("--kubeconfig", type=STR, callback=_store("kubeconfig"), expose_value=False,
                     help="Path to the kubeconfig file to use for CLI requests."),
        click.option("--context", type=STR, callback=_store("context"), expose_value=False,
                     help="The name of the kubeconfig context to use."),
        click.option("-s", "--server", type=STR, callback=_store("server"), expose_value=False,
                     help="The address and port of the Kubernetes API server."),
        click.option("-n", "--namespace", type=STR, callback=_store("namespace"), expose_value=False,
                     help="If present, the namespace scope for this CLI request."),
        click.option("--token", type=STR, callback=_store("token"), expose_value=False,
                     help="Bearer token for authentication to the API server."),
        click.option("--request-timeout", type=STR, callback=_store("request_timeout"), expose_value=False,
                     help="How long to wait for a single server request (e.g. 30s)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def parse_duration(text: str, *, flag: str = "--timeout") -> float:
    """Go's time.ParseDuration for the units kubectl users type (``30s``, ``1m30s``, ``500ms``, ``0``)."""
    import re

    s = text.strip()
    if s in ("0", ""):
        return 0.0
    sign = -1.0 if s.startswith("-") else 1.0
    body = s.lstrip("+-")
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise click.BadParameter(f'time: invalid duration "{text}"', param_hint=flag)
    return sign * sum(float(n) * units[u] for n, u in parts)


def session_flags(ctx: click.Context) -> ConnectionFlags:
    raw = dict(ctx.meta.get(FLAGS_KEY) or {})
    timeout = raw.get("request_timeout")
    return ConnectionFlags(
        kubeconfig=raw.get("kubeconfig"),
        context=raw.get("context"),
        server=raw.get("server"),
        namespace=raw.get("namespace"),
        token=raw.get("token"),
        request_timeout=parse_duration(timeout, flag="--request-timeout") if timeout else None,
    )


def run(body: Callable[[Session], Awaitable[None]]) -> None:
    """Run one command's coroutine with a Session built from the collected flags."""
    flags = session_flags(click.get_current_context())

    async def go() -> None:
        session = Session(flags)
        try:
            session.connect()
            await body(session)
        finally:
            await session.close()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        raise KctlError("", code=130) from None  # Ctrl-C (ending a watch) is not an error to report


def echo(text: str) -> None:
    """Write to stdout exactly (no newline added) and flush, as kubectl does per line."""
    if text:
        click.echo(text, nl=False)


def echo_err(text: str) -> None:
    if text:
        click.echo(text, nl=False, err=True)
