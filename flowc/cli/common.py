"""What every verb shares: exit codes, the one-line error, option stacks, and the checks of
a flow file or datastore argument that turn bad input into a message instead of a traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flowc.check import Checked

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Analyzer rules meaning "there is nothing here to check": bad input, not a finding.
NOT_A_FLOW = {"not-python", "no-flow", "unknown-flow"}
PY_SUFFIXES = {".py", ".pyw", ""}


class CommandError(click.ClickException):
    """A problem with the user's input, reported as one line without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"flowc: error: {self.format_message()}", err=True)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def one_flow(checked: Checked, path: str, flow_name: str | None, inspecting: bool = False):
    """The flow ``show`` is about, or a usage error that says how to pick one. A flow file
    with errors (a syntax error) is a finding for ``show``, like ``validate`` (exit 1), and
    bad input for verbs that only need the flow's name (exit 2)."""
    stopping = [d for d in checked.analyzer_diagnostics if d.is_error]
    if stopping:
        print_diagnostics(stopping, err=True)
        found = inspecting and not any(d.rule in NOT_A_FLOW for d in stopping)
        raise click.exceptions.Exit(EXIT_FAILED if found else EXIT_USAGE)
    ir = checked.chosen_flow()
    if ir is not None:
        return ir
    names = ", ".join(checked.candidates)
    raise CommandError(f"{path} holds several flows ({names}); pick one with --flow NAME")


PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def run_options(f):  # noqa: ANN001, ANN202 - a decorator stack shared by run and task
    f = click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")(f)
    f = click.option("--datastore", metavar="URL", help="Folder or fsspec URL of the datastore.")(f)
    f = click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the run.")(f)
    f = click.option(
        "--with",
        "with_specs",
        multiple=True,
        metavar="DECORATOR",
        help="Add a decorator to every step (retry:times=2).",
    )(f)
    return f


def launch_errors(call):  # noqa: ANN001, ANN202
    """Turn a LaunchError into its diagnostics plus one line, exit 2."""
    from flowc.runtime.launch import LaunchError

    try:
        return call()
    except LaunchError as e:
        print_diagnostics(e.diagnostics, err=True)
        raise CommandError(str(e)) from None


DATASTORE_OPTION = click.option(
    "--datastore", metavar="URL", help="Folder or fsspec URL (default: $FLOWC_DATASTORE or .flowc)."
)


def client_errors(call):  # noqa: ANN001, ANN202
    """Client errors are bad input: one line, exit 2."""
    from flowc.client import ClientError

    try:
        return call()
    except ClientError as e:
        raise CommandError(str(e)) from None


def open_datastore(url: str | None):  # noqa: ANN202
    from flowc.datastore import Datastore, DatastoreError, resolve_url

    url = resolve_url(url)
    if "://" not in url and not os.path.isdir(url):
        raise CommandError(
            f"no datastore at {url}: runs are stored where flowc run ran (.flowc there); pass "
            "--datastore PATH or set FLOWC_DATASTORE"
        )
    try:
        return Datastore(url)
    except (DatastoreError, ImportError, ValueError) as e:
        raise CommandError(f"datastore {url}: {e}") from None


def flow_name_of(flow: str) -> str:
    """A flow name, or the flow a .py file defines."""
    if not flow.endswith(".py"):
        return flow
    from flowc.check import check_file

    path = flow_file_arg(flow)
    ir = one_flow(check_file(path, None), path, None)
    return ir.name


def unpacked(package_id: str, datastore: str | None) -> str:
    from flowc.backends.package import PackageError, unpack
    from flowc.datastore import Datastore

    try:
        return unpack(Datastore(datastore), package_id)
    except PackageError as e:
        raise CommandError(str(e)) from None


def flow_file_arg(path: str, allow_dir: bool = False) -> str:
    p = Path(path)
    if not p.exists():
        where = "" if p.is_absolute() else f" (relative to {os.getcwd()})"
        raise CommandError(f"{path}: no such file{where}; check the path")
    if p.is_dir():
        raise CommandError(
            f"{path} is a folder; pass one flow file (flowc validate also takes folders)"
        )
    if p.suffix.lower() not in PY_SUFFIXES:
        raise CommandError(f"{path} is not a Python file; pass the .py file that defines the flow")
    if not os.access(p, os.R_OK):
        raise CommandError(f"{path}: cannot read this file (permission denied)")
    return path


def print_diagnostics(diags, err: bool = False) -> None:  # noqa: ANN001
    for d in diags:
        click.echo(d.format(), err=err)
