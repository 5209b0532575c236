"""``card view|get|list|server``: a step's cards, as files or in a browser."""

from __future__ import annotations

import os
import sys

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


@cli.group(invoke_without_command=True)
@click.pass_context
def card(ctx: click.Context) -> None:
    """Cards: view, get, list, serve.

    \b
    flowc card view FLOW STEP         open the card of STEP in your latest run
    flowc card get FLOW STEP FILE     write it to FILE
    flowc card list FLOW              the cards of a run
    flowc card server FLOW            browse runs, graphs and cards on localhost:8324
    FLOW is the flow file or the flow's name; STEP may be RUN/STEP or RUN/STEP/TASK.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _card_target(
    flow: str, target: str | None, run_id: str | None, card_id: str | None, datastore: str | None
):  # noqa: ANN202
    from flowc.cards.commands import find
    from flowc.runtime.runs import user_name

    ds = open_datastore(datastore)
    name = flow_name_of(flow)
    return ds, client_errors(lambda: find(ds, name, target, run_id, card_id, user_name()))


_CARD_OPTIONS = (
    click.option("--run-id", metavar="ID", help="The run (default: your latest)."),
    click.option("--id", "card_id", metavar="ID", help="The card's id, when a step has several."),
    DATASTORE_OPTION,
)


def _card_options(f):  # noqa: ANN001, ANN202
    for option in reversed(_CARD_OPTIONS):
        f = option(f)
    return f


@card.command("view")
@click.argument("flow", metavar="FLOW")
@click.argument("step", metavar="STEP")
@_card_options
def card_view(
    flow: str, step: str, run_id: str | None, card_id: str | None, datastore: str | None
) -> int:
    """Open a step's card in the browser (or print where it is)."""
    from flowc.cards.commands import html_of, local_path, open_in_browser

    ds, found = _card_target(flow, step, run_id, card_id, datastore)
    chosen = found[0]
    path = local_path(ds, chosen)
    if path is None:  # a remote datastore: a local copy to open
        import tempfile

        fd, path = tempfile.mkstemp(prefix=f"flowc-card-{chosen.key}-", suffix=".html")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(client_errors(lambda: html_of(ds, chosen)))
    opened = open_in_browser(path)
    click.echo(f"{'Opened' if opened else 'Card'} {chosen.pathspec} ({chosen.key}): {path}")
    others = len(found) - 1
    if others:
        click.echo(f"({others} more card{'s' if others > 1 else ''} here: flowc card list)")
    return EXIT_OK


@card.command("get")
@click.argument("flow", metavar="FLOW")
@click.argument("step", metavar="STEP")
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, writable=True))
@_card_options
def card_get(
    flow: str,
    step: str,
    file: str,
    run_id: str | None,
    card_id: str | None,
    datastore: str | None,
) -> int:
    """Write a step's card (one self-contained HTML file) to FILE."""
    from flowc.cards.commands import html_of

    ds, found = _card_target(flow, step, run_id, card_id, datastore)
    html = client_errors(lambda: html_of(ds, found[0]))
    try:
        with open(file, "w", encoding="utf-8") as f:
            f.write(html)
    except OSError as e:
        raise CommandError(f"cannot write {file}: {e.strerror or e}") from None
    click.echo(f"Wrote the card {found[0].key} of {found[0].pathspec} to {file}")
    return EXIT_OK


@card.command("list")
@click.argument("flow", metavar="FLOW")
@click.argument("step", metavar="[STEP]", required=False)
@_card_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def card_list(
    flow: str,
    step: str | None,
    run_id: str | None,
    card_id: str | None,
    datastore: str | None,
    as_json: bool,
) -> int:
    """List the cards of a run (your latest by default), or of one step."""
    import json

    from flowc.cards.commands import location

    ds, found = _card_target(flow, step, run_id, card_id, datastore)
    rows = [
        {
            "task": c.pathspec,
            "key": c.key,
            "type": c.meta.get("type"),
            "id": c.meta.get("id"),
            "status": c.meta.get("status"),
            "error": c.meta.get("error"),
            "path": location(ds, c),
        }
        for c in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in rows:
        note = f"  (render error: {r['error']})" if r["error"] else ""
        click.echo(f"{r['task']}  {r['key']}  {r['type']}  {r['path'] or ''}{note}")
    return EXIT_OK


@card.command("server")
@click.argument("flow", metavar="FLOW")
@click.option("--port", type=click.IntRange(0, 65535), default=8324, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but localhost shows your runs to the network.",
)
@DATASTORE_OPTION
def card_server(flow: str, port: int, host: str, datastore: str | None) -> int:
    """Serve runs, graphs and cards to a browser.

    FLOW is a flow name or its .py file. A read-only web app over that flow's runs (their
    graphs, tasks, artifacts and cards), on http://127.0.0.1:8324/ by default; Ctrl-C stops it.
    """
    from flowc.cards.server import make_server

    ds = open_datastore(datastore)
    name = flow_name_of(flow)
    if not name.isidentifier():
        raise CommandError(f"{name!r} is not a flow name; pass a flow class name or its .py file")
    from flowc.client import Flow

    client_errors(
        lambda: Flow(name, ds)
    )  # a flow that never ran here: the same error as flowc runs
    try:
        server = make_server(ds, name, host, port)
    except OSError as e:
        raise CommandError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); pick another with --port"
        ) from None
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    click.echo(f"flowc: serving {name}'s runs from {ds.url} at http://{shown}:{bound_port}/")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"flowc: warning: listening on {host}: anyone who reaches it can read these runs",
            err=True,
        )
    click.echo("flowc: Ctrl-C stops the server", err=True)
    sys.stdout.flush()
    import signal

    def _stop(signum, frame):  # noqa: ANN001, ANN202 - SIGTERM stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("flowc: card server stopped", err=True)
    finally:
        server.server_close()
    return EXIT_OK
