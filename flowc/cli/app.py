"""The ``flowc`` command group; each verb module registers its commands on it."""

from __future__ import annotations

import click

from flowc.cli.common import CONTEXT


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
