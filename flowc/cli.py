"""The ``flowc`` command line, and the same verbs as ``python flow.py VERB``.

Start-up stays light: this module imports click and nothing of flowc's heavy parts; each verb
imports what it needs when it runs (the analyzer and libcst only on a cache miss).

Exit codes: 0 success; 1 the command ran and failed, or ``validate`` found errors; 2 bad input
stopped the command from starting (usage, missing or non-Python file, no flow in it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flowc.check import Checked

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Analyzer rules meaning "there is nothing here to check": bad input, not a finding.
_NOT_A_FLOW = {"not-python", "no-flow", "unknown-flow"}
_PY_SUFFIXES = {".py", ".pyw", ""}
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"}


class CommandError(click.ClickException):
    """A problem with the user's input, reported as one line without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"flowc: error: {self.format_message()}", err=True)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.option("--debug", is_flag=True, help="Show Python tracebacks for unexpected errors.")
@click.version_option(package_name="flowc", prog_name="flowc")
def cli(debug: bool) -> None:
    """flowc: check, run and compile Metaflow-style flows.

    \b
    flowc run FLOW.py [--p v]     run it on this machine (parameters as options)
    flowc show FLOW.py            what the flow is: parameters, steps, transitions
    flowc validate FLOW.py|DIR    what is wrong with it, as file:line:col diagnostics
    flowc resume FLOW.py [STEP]   re-run a failed run from where it failed
    flowc runs FLOW               a flow's recent runs
    flowc logs | dump PATHSPEC    a task's output, or its artifacts
    flowc tag add|remove|list     a run's tags
    flowc card view|get|list      a step's cards (flowc card server FLOW: in a browser)
    flowc task FLOW.py STEP ...   run one task (what orchestrators call)
    flowc compile FLOW.py --target airflow   a DAG file for an orchestrator
    flowc trigger FLOW.py --target airflow   start a deployed flow's run (--wait follows it)
    flowc tutorials list|info|pull   learn flowc step by step
    """


# --- show ---------------------------------------------------------------------------------


@cli.command()
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option(
    "--flow", "flow_name", metavar="NAME", help="The flow class, when the file holds several."
)
@click.option("--json", "as_json", is_flag=True, help="Print the flow's IR as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="Summary text, or the graph as Mermaid or Graphviz DOT.",
)
def show(flow_file: str, flow_name: str | None, as_json: bool, fmt: str) -> int:
    """Show a flow's parameters and steps in graph order, without running it."""
    from flowc.check import check_file

    path = _flow_file(flow_file)
    checked = check_file(path, flow_name)
    ir = _one_flow(checked, path, flow_name, inspecting=True)
    if as_json:
        out = ir.to_json() + "\n"
    elif fmt == "mermaid":
        from flowc.show import mermaid

        out = mermaid(ir)
    elif fmt == "dot":
        from flowc.show import dot

        out = dot(ir)
    else:
        from flowc.show import summary

        out = summary(ir)
    click.echo(out, nl=False)
    findings = checked.diagnostics_for(ir.name)
    _print_diagnostics(findings, err=True)
    return EXIT_FAILED if any(d.is_error for d in findings) else EXIT_OK


def _one_flow(checked: Checked, path: str, flow_name: str | None, inspecting: bool = False):
    """The flow ``show`` is about, or a usage error that says how to pick one. A flow file
    with errors (a syntax error) is a finding for ``show``, like ``validate`` (exit 1), and
    bad input for verbs that only need the flow's name (exit 2)."""
    stopping = [d for d in checked.analyzer_diagnostics if d.is_error]
    if stopping:
        _print_diagnostics(stopping, err=True)
        found = inspecting and not any(d.rule in _NOT_A_FLOW for d in stopping)
        raise click.exceptions.Exit(EXIT_FAILED if found else EXIT_USAGE)
    ir = checked.chosen_flow()
    if ir is not None:
        return ir
    names = ", ".join(checked.candidates)
    raise CommandError(f"{path} holds several flows ({names}); pick one with --flow NAME")


# --- validate -------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, metavar="[FLOW_FILE_OR_DIR]...")
@click.option("--flow", "flow_name", metavar="NAME", help="Check only this flow class.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the diagnostics.")
def validate(paths: tuple[str, ...], flow_name: str | None, as_json: bool, quiet: bool) -> int:
    """Check flow files without running them.

    A folder checks every flow file in it; no path checks the current folder. Exit 0 when clean
    (warnings are printed), 1 when any error was found, 2 when an input is not a flow file at all.
    """
    from flowc.check import check_file

    paths = paths or (".",)
    files = _expand(paths)
    results = [(f, check_file(f, flow_name)) for f in files]
    if any(os.path.isdir(p) for p in paths):
        results = _drop_base_modules(results, explicit={p for p in paths if not os.path.isdir(p)})
    usage = False
    report = []
    n_err = n_warn = n_flows = 0
    for f, checked in results:
        diags = checked.diagnostics
        usage |= any(d.rule in _NOT_A_FLOW and d.is_error for d in diags)
        n_err += sum(1 for d in diags if d.is_error)
        n_warn += sum(1 for d in diags if not d.is_error)
        n_flows += len(checked.flow_names)
        report.append((f, checked, diags))
    if as_json:
        import json

        doc = [
            {
                "path": f,
                "flows": list(c.flow_names),
                "diagnostics": [d.to_dict() for d in diags],
            }
            for f, c, diags in report
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for f, checked, diags in report:
            _print_diagnostics(diags)
            if not quiet and not any(d.is_error for d in diags):
                names = ", ".join(checked.flow_names)
                click.echo(f"ok: {f} ({names})")
        if not quiet:
            click.echo(
                f"checked {_plural(n_flows, 'flow')} in {_plural(len(report), 'file')}: "
                f"{_plural(n_err, 'error')}, {_plural(n_warn, 'warning')}"
            )
    if usage:
        return EXIT_USAGE
    return EXIT_FAILED if n_err else EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Every file to check: explicit files as given, folders searched for flow files. All
    inputs are checked before any analysis starts, so a typo fails fast with exit 2."""
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = _flow_files_in(p)
            if not found:
                raise CommandError(
                    f"{p}: no flow files in this folder (looked for .py files that define a "
                    "FlowSpec subclass); pass a flow file or a folder that holds one"
                )
            files.extend(found)
        else:
            files.append(_flow_file(p, allow_dir=False))
    return list(dict.fromkeys(files))


def _flow_files_in(folder: str) -> list[str]:
    import re

    looks_like_flow = re.compile(
        rb"FlowSpec|@step\b|\bfrom\s+(flowc|metaflow)\b|\bimport\s+(flowc|metaflow)\b"
    )
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            full = os.path.join(root, name)
            try:
                with open(full, "rb") as f:
                    if looks_like_flow.search(f.read()):
                        found.append(full)
            except OSError:
                continue
    return found


def _drop_base_modules(results, explicit):  # noqa: ANN001
    """In a folder, skip files that hold no flow, and modules that only provide base classes
    to other flows there (they are checked as part of those flows)."""
    used_as_base = set()
    for f, checked in results:
        main = os.path.abspath(f)
        used_as_base |= {p for p, _ in checked.sources if p != main}
    kept = []
    for f, checked in results:
        if f not in explicit:
            rules = {d.rule for d in checked.analyzer_diagnostics}
            if "no-flow" in rules:
                continue
            if os.path.abspath(f) in used_as_base and checked.main_flow is None:
                continue
        kept.append((f, checked))
    return kept


# --- run and task ---------------------------------------------------------------------------

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _run_options(f):  # noqa: ANN001, ANN202 - a decorator stack shared by run and task
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


def _launch_errors(call):  # noqa: ANN001, ANN202
    """Turn a LaunchError into its diagnostics plus one line, exit 2."""
    from flowc.runtime.launch import LaunchError

    try:
        return call()
    except LaunchError as e:
        _print_diagnostics(e.diagnostics, err=True)
        raise CommandError(str(e)) from None


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("flow_file", metavar="FLOW_FILE", required=False)
@_run_options
@click.option("--max-workers", type=int, metavar="N", help="Tasks run at once.")
@click.option("--run-id-file", metavar="PATH", help="Write the run id here when it starts.")
@click.option("-h", "--help", "show_help", is_flag=True, help="Show the flow's parameters.")
@click.pass_context
def run(
    ctx: click.Context,
    flow_file: str | None,
    flow_name: str | None,
    datastore: str | None,
    tags: tuple[str, ...],
    with_specs: tuple[str, ...],
    max_workers: int | None,
    run_id_file: str | None,
    show_help: bool,
) -> int:
    """Run a flow on this machine: flowc run FLOW_FILE [--param value ...]."""
    from flowc.runtime.launch import RunOptions, run_flow, run_help

    root = ctx.find_root().info_name or "flowc"
    prog = f"{root} run" if root.startswith("python ") else f"{root} run {flow_file or 'FLOW_FILE'}"
    if flow_file is None:
        if show_help:
            click.echo(f"Usage: {prog} [OPTIONS] [FLOW PARAMETERS]\n\n  {run.help}")
            return EXIT_OK
        raise CommandError("missing FLOW_FILE: flowc run FLOW_FILE [--param value ...]")
    path = _flow_file(flow_file)
    opts = RunOptions(flow_name, max_workers, datastore, tags, run_id_file, with_specs)
    if show_help:
        click.echo(_launch_errors(lambda: run_help(path, opts, prog)), nl=False)
        return EXIT_OK
    return _launch_errors(lambda: run_flow(path, list(ctx.args), opts))


@cli.command(context_settings=_PASS_THROUGH)
@click.help_option("-h", "--help")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.argument("step", metavar="STEP")
@click.option("--run-id", required=True, metavar="ID", help="The run this task belongs to.")
@click.option("--index", metavar="I.J", help="The task's foreach index path (e.g. 2.0).")
@click.option("--attempt", type=int, default=0, show_default=True, help="Retry count.")
@click.option("--result-file", metavar="PATH", help="Also write the JSON result here.")
@click.option(
    "--params-json",
    metavar="JSON",
    help="Start task only: flow parameters as a JSON object keyed by name.",
)
@click.option(
    "--package",
    "package_id",
    metavar="ID",
    help="Run FLOW_FILE from this code package in the datastore (flowc compile --package).",
)
@_run_options
@click.pass_context
def task(
    ctx: click.Context,
    flow_file: str,
    step: str,
    run_id: str,
    index: str | None,
    attempt: int,
    result_file: str | None,
    params_json: str | None,
    package_id: str | None,
    flow_name: str | None,
    datastore: str | None,
    tags: tuple[str, ...],
    with_specs: tuple[str, ...],
) -> int:
    """Run one task through the task contract (what orchestrators call).

    Prints the result as JSON on the last line of stdout: status, foreach cardinality, switch
    branch. The start task creates the run from the flow parameters passed to it.
    """
    from flowc.runtime.launch import RunOptions, run_task

    if package_id:
        flow_file = os.path.join(_unpacked(package_id, datastore), flow_file)
    path = _flow_file(flow_file)
    opts = RunOptions(flow_name, None, datastore, tags, None, with_specs)
    return _launch_errors(
        lambda: run_task(
            path, step, run_id, index, attempt, list(ctx.args), opts, result_file, params_json
        )
    )


@cli.command(context_settings={**_PASS_THROUGH, "help_option_names": ["-h", "--help"]})
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option("--target", required=True, metavar="NAME", help="The orchestrator: airflow.")
@click.option("--url", metavar="URL", help="Airflow's api-server ($AIRFLOW_URL, else :8080).")
@click.option("--username", metavar="USER", help="Airflow user (default: $AIRFLOW_USERNAME).")
@click.option("--password", metavar="PW", help="Its password (better: $AIRFLOW_PASSWORD).")
@click.option("--dag-id", metavar="ID", help="The DAG id (default: the flow's name).")
@click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")
@click.option("--wait", is_flag=True, help="Follow the run until it ends; exit 0 or 1.")
@click.option("--run-id-file", metavar="PATH", help="Write the run id here.")
@click.pass_context
def trigger(
    ctx: click.Context,
    flow_file: str,
    target: str,
    url: str | None,
    username: str | None,
    password: str | None,
    dag_id: str | None,
    flow_name: str | None,
    wait: bool,
    run_id_file: str | None,
) -> int:
    """Start a run of a deployed flow: flowc trigger FLOW_FILE --target airflow [--p v] [--wait].

    Parameters are options, checked as flowc run checks them.
    """
    from flowc.runtime.launch import RunOptions
    from flowc.trigger import TriggerOptions, trigger_flow

    path = _flow_file(flow_file)
    opts = TriggerOptions(target, url, username, password, dag_id, wait, run_id_file)
    return _launch_errors(lambda: trigger_flow(path, list(ctx.args), RunOptions(flow_name), opts))


@cli.command()
@click.argument("flow", metavar="FLOW")
@click.option("--run-id", required=True, metavar="ID", help="The run to finalise.")
@click.option("--datastore", metavar="URL", help="Folder or fsspec URL of the datastore.")
def finalize(flow: str, run_id: str, datastore: str | None) -> int:
    """Record how an orchestrated run ended (what orchestrators call last, whatever failed).

    FLOW is the flow's name (or its file). Exit 0 when the run succeeded, 1 when it failed.
    """
    from flowc.runtime.finalize import finalize_command

    return _launch_errors(lambda: finalize_command(_flow_name(flow), run_id, datastore))


@cli.command(context_settings=_PASS_THROUGH)
@click.help_option("-h", "--help")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.argument("step", metavar="[STEP]", required=False)
@click.option("--origin-run-id", metavar="ID", help="The run to resume (default: your latest).")
@_run_options
@click.option("--max-workers", type=int, metavar="N", help="Tasks run at once.")
@click.option("--run-id-file", metavar="PATH", help="Write the new run id here when it starts.")
@click.pass_context
def resume(
    ctx: click.Context,
    flow_file: str,
    step: str | None,
    origin_run_id: str | None,
    flow_name: str | None,
    datastore: str | None,
    tags: tuple[str, ...],
    with_specs: tuple[str, ...],
    max_workers: int | None,
    run_id_file: str | None,
) -> int:
    """Resume a failed run: reuse what finished, run the failed step and what follows.

    \b
    flowc resume FLOW_FILE              from the step where your latest run failed
    flowc resume FLOW_FILE STEP         re-run from STEP, even if it had succeeded
    --origin-run-id ID                  resume that run instead of your latest
    Finished tasks before it are cloned by reference (no data copied); the parameters are the
    origin run's.
    """
    from flowc.runtime.launch import RunOptions, resume_flow

    path = _flow_file(flow_file)
    args = list(ctx.args)
    if step is not None and step.startswith("-"):  # an unknown option click took for STEP
        step, args = None, [step, *args]
    opts = RunOptions(flow_name, max_workers, datastore, tags, run_id_file, with_specs)
    return _launch_errors(lambda: resume_flow(path, step, origin_run_id, args, opts))


# --- run history ----------------------------------------------------------------------------

_DATASTORE = click.option(
    "--datastore", metavar="URL", help="Folder or fsspec URL (default: $FLOWC_DATASTORE or .flowc)."
)


def _client(call):  # noqa: ANN001, ANN202
    """Client errors are bad input: one line, exit 2."""
    from flowc.client import ClientError

    try:
        return call()
    except ClientError as e:
        raise CommandError(str(e)) from None


def _store(url: str | None):  # noqa: ANN202
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


def _flow_name(flow: str) -> str:
    """A flow name, or the flow a .py file defines."""
    if not flow.endswith(".py"):
        return flow
    from flowc.check import check_file

    path = _flow_file(flow)
    ir = _one_flow(check_file(path, None), path, None)
    return ir.name


@cli.command()
@click.argument("flow", metavar="FLOW")
@click.option("--all", "all_users", is_flag=True, help="Runs of every user, not only yours.")
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@_DATASTORE
def runs(flow: str, all_users: bool, limit: int, as_json: bool, datastore: str | None) -> int:
    """List a flow's recent runs: id, status, start, duration, tags (FLOW: name or file)."""
    import json

    from flowc.client.terminal import format_runs, runs_rows
    from flowc.runtime.runs import user_name

    ds = _store(datastore)
    name = _flow_name(flow)
    user = None if all_users else user_name()
    rows, hidden = _client(lambda: runs_rows(ds, name, user, max(0, limit)))
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
@_DATASTORE
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
    ds = _store(datastore)
    streams = ("stdout",) if only_out else ("stderr",) if only_err else ("stdout", "stderr")
    if only_out and only_err:
        streams = ("stdout", "stderr")
    chunks = _client(
        lambda: format_logs(open_pathspec(ds, pathspec), streams, attempt, all_attempts)
    )
    for stream, text in chunks:
        click.echo(text, nl=False, err=stream == "stderr" and len(streams) > 1)
    return EXIT_OK


@cli.command()
@click.argument("pathspec", metavar="PATHSPEC")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_DATASTORE
def dump(pathspec: str, as_json: bool, datastore: str | None) -> int:
    """Show the artifacts of a task, step or run: name, type, size, a short repr."""
    from flowc.client.terminal import dump_doc, format_dump, open_pathspec

    ds = _store(datastore)
    doc = _client(lambda: dump_doc(open_pathspec(ds, pathspec)))
    click.echo(format_dump(doc, as_json), nl=False)
    return EXIT_OK


@cli.command()
@click.argument("action", type=click.Choice(["add", "remove", "list"]))
@click.argument("pathspec", metavar="FLOW/RUN")
@click.argument("tags", nargs=-1, metavar="[TAG]...")
@_DATASTORE
def tag(action: str, pathspec: str, tags: tuple[str, ...], datastore: str | None) -> int:
    """Add, remove or list a run's tags: flowc tag add LRFlow/123 prod."""
    from flowc.client.terminal import change_tags

    if action != "list" and not tags:
        raise CommandError(f"flowc tag {action} {pathspec} needs at least one TAG")
    if action == "list" and tags:
        raise CommandError("flowc tag list takes only FLOW/RUN")
    ds = _store(datastore)
    run = _client(lambda: change_tags(ds, pathspec, action, tags))
    for t in sorted(run.tags):
        click.echo(t)
    return EXIT_OK


# --- cards ----------------------------------------------------------------------------------


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

    ds = _store(datastore)
    name = _flow_name(flow)
    return ds, _client(lambda: find(ds, name, target, run_id, card_id, user_name()))


_CARD_OPTIONS = (
    click.option("--run-id", metavar="ID", help="The run (default: your latest)."),
    click.option("--id", "card_id", metavar="ID", help="The card's id, when a step has several."),
    _DATASTORE,
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
            f.write(_client(lambda: html_of(ds, chosen)))
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
    html = _client(lambda: html_of(ds, found[0]))
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
@_DATASTORE
def card_server(flow: str, port: int, host: str, datastore: str | None) -> int:
    """Serve runs, graphs and cards to a browser.

    FLOW is a flow name or its .py file. A read-only web app over that flow's runs (their
    graphs, tasks, artifacts and cards), on http://127.0.0.1:8324/ by default; Ctrl-C stops it.
    """
    from flowc.cards.server import make_server

    ds = _store(datastore)
    name = _flow_name(flow)
    if not name.isidentifier():
        raise CommandError(f"{name!r} is not a flow name; pass a flow class name or its .py file")
    from flowc.client import Flow

    _client(lambda: Flow(name, ds))  # a flow that never ran here: the same error as flowc runs
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


def _unpacked(package_id: str, datastore: str | None) -> str:
    from flowc.backends.package import PackageError, unpack
    from flowc.datastore import Datastore

    try:
        return unpack(Datastore(datastore), package_id)
    except PackageError as e:
        raise CommandError(str(e)) from None


# --- tutorials ------------------------------------------------------------------------------


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


# --- compile --------------------------------------------------------------------------------


@cli.command(name="compile")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option(
    "--target", required=True, metavar="NAME", help="The orchestrator: airflow, argo or kfp."
)
@click.option(
    "-o",
    "--output",
    metavar="DIR_OR_FILE",
    default=".",
    show_default=True,
    help="A folder for the generated files, or the file name when there is one.",
)
@click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")
@click.option(
    "--operator",
    type=click.Choice(["bash", "kubernetes"]),
    default="bash",
    show_default=True,
    help="Airflow: run tasks on the worker (bash) or in pods (kubernetes).",
)
@click.option("--image", metavar="IMAGE", help="Container image (kubernetes, argo).")
@click.option("--namespace", metavar="NS", help="Kubernetes namespace (default: default).")
@click.option("--python", "python", metavar="PATH", help="Interpreter on the workers (python3).")
@click.option("--flow-path", metavar="PATH", help="The flow file as the workers see it.")
@click.option("--cwd", metavar="DIR", help="Working directory of the tasks (bash).")
@click.option("--datastore", metavar="URL", help="The datastore the tasks use.")
@click.option("--dag-id", metavar="ID", help="Airflow DAG id (default: the flow's name).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the DAG (repeatable).")
@click.option(
    "--package",
    is_flag=True,
    help="Store the flow's code in the datastore; tasks run it from there.",
)
@click.option(
    "--kind",
    type=click.Choice(["workflow-template", "workflow"]),
    default="workflow-template",
    show_default=True,
    help="Argo: the document's kind.",
)
@click.option(
    "--parallelism",
    type=click.IntRange(min=1),
    metavar="N",
    help="Argo: pods run at once; KFP: foreach tasks run at once.",
)
@click.option("--enable-caching", is_flag=True, help="KFP: let KFP cache tasks (off by default).")
@click.option("--schedule-spec", is_flag=True, help="KFP: print @schedule as recurring-run JSON.")
@click.option("--python-module", metavar="PATH", help="KFP: also write the pipeline module.")
@click.option("--service-account", metavar="NAME", help="Pods' Kubernetes service account.")
@click.option(
    "--ttl",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Keep a finished run's objects this long.",
)
@click.option(
    "--pod-gc",
    type=click.Choice(
        ["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"]
    ),
    help="Argo: when to delete the pods.",
)
@click.option(
    "--image-pull-secret",
    "image_pull_secrets",
    multiple=True,
    metavar="NAME",
    help="Secret to pull images with (repeatable).",
)
@click.option(
    "--node-selector",
    "node_selector",
    multiple=True,
    metavar="KEY=VALUE",
    help="Pods' node selector (repeatable).",
)
@click.option(
    "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label the pods (repeatable)."
)
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Annotate the pods (repeatable).",
)
def compile_(
    flow_file: str,
    target: str,
    output: str,
    flow_name: str | None,
    operator: str,
    image: str | None,
    namespace: str | None,
    python: str | None,
    flow_path: str | None,
    cwd: str | None,
    datastore: str | None,
    dag_id: str | None,
    tags: tuple[str, ...],
    package: bool,
    kind: str,
    parallelism: int | None,
    enable_caching: bool = False,
    schedule_spec: bool = False,
    python_module: str | None = None,
    service_account: str | None = None,
    ttl: int | None = None,
    pod_gc: str | None = None,
    image_pull_secrets: tuple[str, ...] = (),
    node_selector: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    annotations: tuple[str, ...] = (),
) -> int:
    """Compile a flow for an orchestrator: flowc compile FLOW_FILE --target airflow -o DIR.

    The same file always gives the same output. What the target cannot express is reported as
    file:line:col diagnostics (exit 2), like lint errors.
    """
    from flowc.backends import base
    from flowc.backends.k8s import cli_options
    from flowc.backends.report import compile_notes
    from flowc.runtime.launch import checked_flow

    path = _flow_file(flow_file)
    if target not in base.targets():
        known = ", ".join(base.targets())
        raise CommandError(f"unknown target {target!r} (targets: {known})")
    ir, warnings = _launch_errors(lambda: checked_flow(path, flow_name))
    _print_diagnostics(warnings, err=True)
    extra = {
        "operator": operator,
        "namespace": namespace,
        "python": python,
        "flow_path": flow_path,
        "cwd": cwd,
        "dag_id": dag_id,
        "tags": tags,
        "kind": kind,
        "parallelism": parallelism,
    }
    if target == "kfp":
        extra = {k: extra[k] for k in ("python", "flow_path")}
        extra.update(enable_caching=enable_caching, parallelism=parallelism)
        extra["python_module"] = bool(python_module)
    try:
        extra["kubernetes"] = cli_options(
            service_account, ttl, pod_gc, image_pull_secrets, node_selector, labels, annotations
        )
    except ValueError as e:
        raise CommandError(f"{e}; pass KEY=VALUE") from None
    options = base.EmitOptions(datastore=datastore, image=image, extra=extra)
    result = base.get_emitter(target).emit(ir, options)
    if package and not any(d.is_error for d in result.diagnostics):
        extra.update(_store_package(path, ir, datastore))
        options = base.EmitOptions(datastore=datastore, image=image, extra=extra)
        result = base.get_emitter(target).emit(ir, options)
    _print_diagnostics(result.diagnostics, err=True)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        from flowc.compile_errors import summary

        raise CommandError(summary(path, ir.name, target, errors))
    for note in compile_notes(ir, target, options):
        click.echo(note, err=True)
    files = dict(result.files)
    paths = {}
    if target == "kfp":
        from flowc.backends.graphplan import plan as graph_plan
        from flowc.backends.kfp import recurring_run_settings

        if python_module:
            module = next(n for n in files if n.endswith(".py"))
            paths[module] = python_module
        if schedule_spec:
            import json

            spec = recurring_run_settings(graph_plan(ir, "kfp").schedule, ir.name)
            if spec is None:
                click.echo(f"{ir.name} has no @schedule: no recurring run to set up", err=True)
            else:
                click.echo(json.dumps(spec, indent=2, sort_keys=True))
    paths.update(_output_paths(output, sorted(n for n in files if n not in paths)))
    for name, target_path in paths.items():
        from flowc.atomic import write_atomic

        os.makedirs(os.path.dirname(os.path.abspath(target_path)), exist_ok=True)
        write_atomic(target_path, [files[name].encode()])
        click.echo(f"wrote {target_path}", err=True)
    return EXIT_OK


@cli.command(name="image")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option("-o", "--output", metavar="FILE", help="Write the Dockerfile here (default: stdout).")
@click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")
@click.option("--datastore", metavar="URL", help="The datastore the pods use (s3:// adds s3).")
@click.option("--package", is_flag=True, help="Leave the code out: compile with --package.")
@click.option("--flowc-requirement", metavar="REQ", help="Install flowc from REQ instead.")
def image(
    flow_file: str,
    output: str | None,
    flow_name: str | None,
    datastore: str | None,
    package: bool,
    flowc_requirement: str | None,
) -> int:
    """Write a Dockerfile for a flow's pods: flowc image FLOW_FILE -o Dockerfile.

    A pinned Python, flowc with the extras the flow needs, the flow's requirements
    (requirements.txt beside it, @pypi_base/@pypi packages) and, unless --package, its code.
    """
    from flowc.backends.image import dockerfile
    from flowc.runtime.launch import checked_flow

    path = _flow_file(flow_file)
    ir, warnings = _launch_errors(lambda: checked_flow(path, flow_name))
    _print_diagnostics(warnings, err=True)
    recipe = dockerfile(
        ir, datastore or os.environ.get("FLOWC_DATASTORE"), package, flowc_requirement
    )
    _print_diagnostics(recipe.diagnostics, err=True)
    if any(d.is_error for d in recipe.diagnostics):
        raise CommandError(f"{path}: the flow's requirements cannot be written into an image")
    if output is None:
        click.echo(recipe.text, nl=False)
    else:
        from flowc.atomic import write_atomic

        write_atomic(output, [recipe.text.encode()])
        click.echo(f"wrote {output}", err=True)
    how = "--package" if package else f"--flow-path {recipe.flow_path}"
    click.echo(
        f"build it, push it, then: flowc compile {flow_file} --image REPO:TAG {how}", err=True
    )
    return EXIT_OK


def _store_package(path: str, ir, datastore: str | None) -> dict[str, str]:  # noqa: ANN001
    """Package the flow's sources into the datastore; the options that make tasks use it."""
    from flowc.backends.package import PackageError, build, store
    from flowc.datastore import Datastore, DatastoreError

    if not datastore:
        raise CommandError("--package needs --datastore URL: the tasks read the package there")
    try:
        package_id, blob, name = build(path, [p for p, _ in ir.sources])
        ds = Datastore(datastore)
        ds.check_writable()
        store(ds, package_id, blob)
    except (PackageError, DatastoreError) as e:
        raise CommandError(str(e)) from None
    click.echo(f"stored code package {package_id} in {datastore}", err=True)
    return {"package": package_id, "flow_path": name}


def _output_paths(output: str, names: list[str]) -> dict[str, str]:
    """One file into ``x.py`` (``x.yaml``) when -o names such a file; otherwise a folder."""
    if output.endswith((".py", ".yaml", ".yml")) and not os.path.isdir(output):
        if len(names) != 1:
            raise CommandError(f"-o {output}: this target writes {len(names)} files; pass a folder")
        return {names[0]: output}
    if os.path.exists(output) and not os.path.isdir(output):
        raise CommandError(f"-o {output}: not a folder; pass a folder or a file name")
    return {n: os.path.join(output, n) for n in names}


# --- shared helpers -------------------------------------------------------------------------


def _flow_file(path: str, allow_dir: bool = False) -> str:
    p = Path(path)
    if not p.exists():
        where = "" if p.is_absolute() else f" (relative to {os.getcwd()})"
        raise CommandError(f"{path}: no such file{where}; check the path")
    if p.is_dir():
        raise CommandError(
            f"{path} is a folder; pass one flow file (flowc validate also takes folders)"
        )
    if p.suffix.lower() not in _PY_SUFFIXES:
        raise CommandError(f"{path} is not a Python file; pass the .py file that defines the flow")
    if not os.access(p, os.R_OK):
        raise CommandError(f"{path}: cannot read this file (permission denied)")
    return path


def _print_diagnostics(diags, err: bool = False) -> None:  # noqa: ANN001
    for d in diags:
        click.echo(d.format(), err=err)


# --- entry points ---------------------------------------------------------------------------


def main(argv: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run the CLI; exit with its code. Unexpected errors print one line unless --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("FLOWC_DEBUG", "") not in ("", "0")
    # --debug is accepted anywhere on the line, not only before the verb
    args = (["--debug"] if "--debug" in args else []) + [a for a in args if a != "--debug"]
    try:
        code = cli.main(args=args, prog_name=prog_name or "flowc", standalone_mode=False)
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.UsageError as e:
        hint = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
        click.echo(f"flowc: error: {e.format_message()}{hint}", err=True)
        code = EXIT_USAGE
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.exceptions.Abort:
        click.echo("flowc: aborted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("flowc: interrupted", err=True)
        code = 130
    except Exception as e:  # noqa: BLE001 - the one place that turns bugs into a clean line
        if debug:
            raise
        from flowc.datastore.storage import StorageError

        if isinstance(e, StorageError):  # the datastore as configured: not a flowc bug
            click.echo(f"flowc: error: {e}", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(
            f"flowc: internal error: {type(e).__name__}: {e}. Re-run with --debug for the "
            "traceback, and please report it.",
            err=True,
        )
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else EXIT_OK)


FLOW_VERBS = ("run", "resume", "show", "validate", "task", "compile", "image", "card")


def flow_main(path: str, flow_name: str) -> None:
    """``python flow.py VERB ...``: the same verbs, with the flow file and class filled in."""
    prog = f"python {os.path.basename(path)}"
    args = sys.argv[1:]
    debug = ["--debug"] if "--debug" in args else []
    args = [a for a in args if a != "--debug"]
    if not args or args[0] in ("-h", "--help", "help"):
        click.echo(f"Usage: {prog} [--debug] COMMAND [OPTIONS]\n")
        click.echo(f"  Commands for the flow {flow_name} in {path}:\n")
        for verb in FLOW_VERBS:
            doc = (cli.commands[verb].help or "").strip().splitlines()[0]
            click.echo(f"    {verb:<10} {doc}")
        click.echo(f"\n  Run '{prog} COMMAND --help' for a command's options.")
        sys.exit(EXIT_OK)
    verb, rest = args[0], args[1:]
    if verb not in FLOW_VERBS:
        click.echo(
            f"flowc: error: unknown command {verb!r}; commands: {', '.join(FLOW_VERBS)}",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    if verb == "card":  # python flow.py card view STEP -> flowc card view FLOW_FILE STEP
        if not rest or rest[0].startswith("-"):
            main(debug + ["card", *rest], prog_name=prog)
        main(debug + ["card", rest[0], path, *rest[1:]], prog_name=prog)
    if "--flow" not in rest and not any(a.startswith("--flow=") for a in rest):
        rest += ["--flow", flow_name]
    main(debug + [verb, path, *rest], prog_name=prog)


if __name__ == "__main__":  # pragma: no cover
    main()
