"""``runs``, ``logs``, ``dump`` and ``tag``: reading run history back from the datastore."""

from __future__ import annotations

import click

from flowc.cli.app import cli
from flowc.cli.common import (
    DATASTORE_OPTION,
    EXIT_OK,
    CommandError,
    client_errors,
    flow_name_of,
    open_datastore,
)


@cli.command()
@click.argument("flow", metavar="FLOW")
@click.option("--all", "all_users", is_flag=True, help="Runs of every user, not only yours.")
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@DATASTORE_OPTION
def runs(flow: str, all_users: bool, limit: int, as_json: bool, datastore: str | None) -> int:
    """List a flow's recent runs: id, status, start, duration, tags (FLOW: name or file)."""
    import json

    from flowc.client.terminal import format_runs, runs_rows
    from flowc.runtime.runs import user_name

    ds = open_datastore(datastore)
    name = flow_name_of(flow)
    user = None if all_users else user_name()
    rows, hidden = client_errors(lambda: runs_rows(ds, name, user, max(0, limit)))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(format_runs(name, rows, hidden, user), nl=False)
    return EXIT_OK


@cli.command()
@click.argument("pathspec", metavar="PATHSPEC")
@click.option("--stdout", "only_out", is_flag=True, help="Only standard output.")
@click.option("--stderr", "only_err", is_flag=True, help="Only standard error.")
@click.option(
    "--attempt", type=click.IntRange(min=0), metavar="N", help="This attempt (0 is the first)."
)
@click.option("--all-attempts", is_flag=True, help="Every attempt, each under a header.")
@DATASTORE_OPTION
def logs(
    pathspec: str,
    only_out: bool,
    only_err: bool,
    attempt: int | None,
    all_attempts: bool,
    datastore: str | None,
) -> int:
    """Print what a task printed (FLOW/RUN/STEP/TASK), or every task of a step or run.

    By default the attempt that counted (the last); --attempt N or --all-attempts for retries.
    """
    from flowc.client.terminal import format_logs, open_pathspec

    if attempt is not None and all_attempts:
        raise CommandError("pass --attempt N or --all-attempts, not both")
    ds = open_datastore(datastore)
    streams = ("stdout",) if only_out else ("stderr",) if only_err else ("stdout", "stderr")
    if only_out and only_err:
        streams = ("stdout", "stderr")
    chunks = client_errors(
        lambda: format_logs(open_pathspec(ds, pathspec), streams, attempt, all_attempts)
    )
    for stream, text in chunks:
        click.echo(text, nl=False, err=stream == "stderr" and len(streams) > 1)
    return EXIT_OK


@cli.command()
@click.argument("pathspec", metavar="PATHSPEC")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@DATASTORE_OPTION
def dump(pathspec: str, as_json: bool, datastore: str | None) -> int:
    """Show the artifacts of a task, step or run: name, type, size, a short repr."""
    from flowc.client.terminal import dump_doc, format_dump, open_pathspec

    ds = open_datastore(datastore)
    doc = client_errors(lambda: dump_doc(open_pathspec(ds, pathspec)))
    click.echo(format_dump(doc, as_json), nl=False)
    return EXIT_OK


@cli.command()
@click.argument("action", type=click.Choice(["add", "remove", "list"]))
@click.argument("pathspec", metavar="FLOW/RUN")
@click.argument("tags", nargs=-1, metavar="[TAG]...")
@DATASTORE_OPTION
def tag(action: str, pathspec: str, tags: tuple[str, ...], datastore: str | None) -> int:
    """Add, remove or list a run's tags: flowc tag add LRFlow/123 prod."""
    from flowc.client.terminal import change_tags

    if action != "list" and not tags:
        raise CommandError(f"flowc tag {action} {pathspec} needs at least one TAG")
    if action == "list" and tags:
        raise CommandError("flowc tag list takes only FLOW/RUN")
    ds = open_datastore(datastore)
    run = client_errors(lambda: change_tags(ds, pathspec, action, tags))
    for t in sorted(run.tags):
        click.echo(t)
    return EXIT_OK
