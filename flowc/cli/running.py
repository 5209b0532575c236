"""``run``, ``resume``, ``task``, ``trigger`` and ``finalize``: verbs that run a flow or one of
its tasks, here or on an orchestrator."""

from __future__ import annotations

import os

import click

from flowc.cli.app import cli
from flowc.cli.common import (
    EXIT_OK,
    PASS_THROUGH,
    CommandError,
    flow_file_arg,
    flow_name_of,
    launch_errors,
    run_options,
    unpacked,
)


@cli.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("flow_file", metavar="FLOW_FILE", required=False)
@run_options
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
    path = flow_file_arg(flow_file)
    opts = RunOptions(flow_name, max_workers, datastore, tags, run_id_file, with_specs)
    if show_help:
        click.echo(launch_errors(lambda: run_help(path, opts, prog)), nl=False)
        return EXIT_OK
    return launch_errors(lambda: run_flow(path, list(ctx.args), opts))


@cli.command(context_settings=PASS_THROUGH)
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
@run_options
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
        flow_file = os.path.join(unpacked(package_id, datastore), flow_file)
    path = flow_file_arg(flow_file)
    opts = RunOptions(flow_name, None, datastore, tags, None, with_specs)
    return launch_errors(
        lambda: run_task(
            path, step, run_id, index, attempt, list(ctx.args), opts, result_file, params_json
        )
    )


@cli.command(context_settings={**PASS_THROUGH, "help_option_names": ["-h", "--help"]})
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

    path = flow_file_arg(flow_file)
    opts = TriggerOptions(target, url, username, password, dag_id, wait, run_id_file)
    return launch_errors(lambda: trigger_flow(path, list(ctx.args), RunOptions(flow_name), opts))


@cli.command()
@click.argument("flow", metavar="FLOW")
@click.option("--run-id", required=True, metavar="ID", help="The run to finalise.")
@click.option("--datastore", metavar="URL", help="Folder or fsspec URL of the datastore.")
def finalize(flow: str, run_id: str, datastore: str | None) -> int:
    """Record how an orchestrated run ended (what orchestrators call last, whatever failed).

    FLOW is the flow's name (or its file). Exit 0 when the run succeeded, 1 when it failed.
    """
    from flowc.runtime.finalize import finalize_command

    return launch_errors(lambda: finalize_command(flow_name_of(flow), run_id, datastore))


@cli.command(context_settings=PASS_THROUGH)
@click.help_option("-h", "--help")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.argument("step", metavar="[STEP]", required=False)
@click.option("--origin-run-id", metavar="ID", help="The run to resume (default: your latest).")
@run_options
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

    path = flow_file_arg(flow_file)
    args = list(ctx.args)
    if step is not None and step.startswith("-"):  # an unknown option click took for STEP
        step, args = None, [step, *args]
    opts = RunOptions(flow_name, max_workers, datastore, tags, run_id_file, with_specs)
    return launch_errors(lambda: resume_flow(path, step, origin_run_id, args, opts))
