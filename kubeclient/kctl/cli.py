"""kctl's entry point: the click group, its global flags, and kubectl's error/exit-code handling.

Why: ``main`` is the console script (``kctl = kubeclient.kctl.cli:main``);
it runs the click group without click's own error printing so that every
failure is printed once, in kubectl's words, with kubectl's exit code 1
(click would use 2 for usage errors).
"""

from __future__ import annotations

import sys

import click

from apimachinery.errors import StatusError
from kubeclient import errors
from kubeclient.kctl.commands.apply import apply_cmd, create_cmd
from kubeclient.kctl.commands.delete import delete_cmd
from kubeclient.kctl.commands.describe import describe_cmd
from kubeclient.kctl.commands.discovery import api_resources_cmd, version_cmd
from kubeclient.kctl.commands.edit import edit_cmd
from kubeclient.kctl.commands.env import env_cmd
from kubeclient.kctl.commands.expose import expose_cmd
from kubeclient.kctl.commands.get import get_cmd
from kubeclient.kctl.commands.labels import annotate_cmd, label_cmd
from kubeclient.kctl.commands.logs import logs_cmd
from kubeclient.kctl.commands.patch import patch_cmd
from kubeclient.kctl.commands.rollout import rollout_cmd
from kubeclient.kctl.commands.scale import scale_cmd
from kubeclient.kctl.commands.wait import wait_cmd
from kubeclient.kctl.commands.why import why_cmd
from kubeclient.kctl.failures import DEFAULT_EXIT_CODE, KctlError, message_for
from kubeclient.kctl.options import connection_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@connection_options
def cli() -> None:
    """kctl controls a kubelite (or any Kubernetes) API server, the way kubectl does."""


for _cmd in (get_cmd, describe_cmd, apply_cmd, create_cmd, delete_cmd, label_cmd, annotate_cmd, wait_cmd,
             expose_cmd, env_cmd, api_resources_cmd, version_cmd, scale_cmd,
             rollout_cmd, logs_cmd, patch_cmd, edit_cmd, why_cmd):
    cli.add_command(_cmd)


def _fatal(message: str, code: int = DEFAULT_EXIT_CODE) -> None:
    if message:
        sys.stderr.write(message if message.endswith("\n") else message + "\n")
        sys.stderr.flush()
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run kctl; exits with 0 on success and 1 on any error, like kubectl."""
    try:
        rv = cli.main(args=argv, prog_name="kctl", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.NoSuchOption as e:
        cmd = e.ctx.command_path if e.ctx else "kctl"
        name = e.option_name
        what = f"unknown flag: {name}" if name.startswith("--") else f"unknown shorthand flag: '{name[1:2]}' in {name}"
        _fatal(f"error: {what}\nSee '{cmd} --help' for usage.")
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "kctl"
        _fatal(f"error: {e.format_message()}\nSee '{cmd} --help' for usage.")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (click.Abort, KeyboardInterrupt):
        sys.exit(130)
    except KctlError as e:
        _fatal(e.message, e.code)
    except (StatusError, errors.ClientError) as e:
        _fatal(message_for(e))
    except BrokenPipeError:
        sys.exit(DEFAULT_EXIT_CODE)
    if isinstance(rv, int) and rv:
        sys.exit(rv)


if __name__ == "__main__":  # pragma: no cover
    main()
