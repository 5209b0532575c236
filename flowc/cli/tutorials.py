"""``tutorials list|info|pull``: the tutorials shipped with flowc."""

from __future__ import annotations

import os

import click

from flowc.cli.app import cli
from flowc.cli.common import (
    EXIT_OK,
    CommandError,
)


@cli.group(invoke_without_command=True)
@click.pass_context
def tutorials(ctx: click.Context) -> None:
    """flowc's tutorials: list them, read one, copy them here.

    \b
    flowc tutorials list              the tutorials, numbered
    flowc tutorials info N            one tutorial's README (commands and expected output)
    flowc tutorials pull [--force]    copy them all into ./flowc-tutorials
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _tutorial_errors(call):  # noqa: ANN001, ANN202
    from flowc.tutorials import TutorialError

    try:
        return call()
    except TutorialError as e:
        raise CommandError(str(e)) from None


@tutorials.command("list")
def tutorials_list() -> int:
    """List the tutorials."""
    from flowc.tutorials import tutorials as found

    for t in found():
        click.echo(f"{t.name:<22} {t.title.split(' ', 1)[-1]}")
    click.echo("\nflowc tutorials info N shows one; flowc tutorials pull copies them here.")
    return EXIT_OK


@tutorials.command("info")
@click.argument("which", metavar="N|NAME")
def tutorials_info(which: str) -> int:
    """Print a tutorial's README: what it teaches, the commands, the expected output."""
    from flowc.tutorials import find, readme

    click.echo(readme(_tutorial_errors(lambda: find(which))), nl=False)
    return EXIT_OK


@tutorials.command("pull")
@click.argument("which", metavar="[N|NAME]", required=False)
@click.option("--dir", "dest", default="flowc-tutorials", show_default=True, metavar="DIR")
@click.option("--force", is_flag=True, help="Overwrite tutorials already in DIR.")
def tutorials_pull(which: str | None, dest: str, force: bool) -> int:
    """Copy the tutorials (or one) into ./flowc-tutorials, to run and edit."""
    from flowc.tutorials import find, pull

    chosen = _tutorial_errors(lambda: find(which)) if which else None
    try:
        written = _tutorial_errors(lambda: pull(dest, force, chosen))
    except OSError as e:
        raise CommandError(f"cannot write into {dest}: {e.strerror or e}") from None
    for path in written:
        click.echo(f"wrote {path}")
    first = written[0] if written else dest
    click.echo(f"\nStart with: cd {first} && flowc tutorials info {os.path.basename(first)}")
    return EXIT_OK
