"""``flowc trigger FLOW --target airflow``: start a run of a deployed flow over Airflow's REST
API, with the flow's parameters typed and checked exactly as ``flowc run`` checks them, and with
``--wait`` follow it with ``flowc run``'s progress display until it ends (exit 0 or 1)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flowc.airflow_api import DEFAULT_URL, TERMINAL, AirflowAPI, AirflowAPIError
from flowc.runtime.launch import LaunchError, RunOptions

TARGETS = ("airflow",)
POLL_S = 1.0


@dataclass
class TriggerOptions:
    target: str
    url: str | None = None
    username: str | None = None
    password: str | None = None
    dag_id: str | None = None
    wait: bool = False
    run_id_file: str | None = None
    timeout: float | None = None  # --wait gives up after this many seconds


def run_conf(cls: type, args: Sequence[str], flow: str) -> dict:
    """The DAG run's ``conf``: the parameters given on the command line, by name, converted
    and checked as ``flowc run`` does (unknown names, bad values and missing required ones
    refused). A file parameter goes as its path: the start task reads it on the worker."""
    from flowc.runtime.params import ParamError, convert, parse_args, resolve, specs_of

    specs = specs_of(cls)
    try:
        given = parse_args(specs, args, flow)
        resolve([s for s in specs if s.kind == "parameter"], given)
        conf = {}
        for s in specs:
            if s.attr not in given:
                continue
            raw = given[s.attr]
            plain = s.kind == "parameter" and s.type != "json"
            conf[s.name] = convert(s, raw) if plain else raw
    except ParamError as e:
        raise LaunchError(str(e)) from None
    return conf


def trigger_flow(path: str, args: Sequence[str], run: RunOptions, opts: TriggerOptions) -> int:
    from flowc.runtime.launch import _load, checked_flow

    if opts.target not in TARGETS:
        raise LaunchError(f"--target {opts.target}: flowc trigger supports {', '.join(TARGETS)}")
    ir, _ = checked_flow(path, run.flow_name)
    conf = run_conf(_load(path, ir).cls, args, ir.name)
    dag_id = opts.dag_id or ir.name
    url = opts.url or os.environ.get("AIRFLOW_URL") or DEFAULT_URL
    api = AirflowAPI(
        url,
        opts.username or os.environ.get("AIRFLOW_USERNAME"),
        opts.password or os.environ.get("AIRFLOW_PASSWORD"),
    )
    try:
        try:
            dag = api.dag(dag_id)
        except AirflowAPIError as e:
            if e.status == 404:
                raise LaunchError(
                    f"Airflow at {url} has no DAG {dag_id!r}: compile the flow into its DAGs "
                    "folder (flowc compile FLOW --target airflow -o DAGS_FOLDER) and wait for "
                    "the dag-processor to parse it"
                ) from None
            raise
        if dag.get("is_paused"):  # a paused DAG's runs never start
            api.unpause(dag_id)
            print(f"Unpaused the DAG {dag_id}", file=sys.stderr)
        run_id = api.trigger(dag_id, conf)
    except AirflowAPIError as e:
        raise LaunchError(str(e)) from None
    if opts.run_id_file:
        with open(opts.run_id_file, "w") as f:
            f.write(run_id)
    print(f"Triggered {ir.name}/{run_id} on Airflow at {url} (DAG {dag_id})", flush=True)
    if not opts.wait:
        return 0
    return follow(api, ir.name, dag_id, run_id, opts.timeout)


def follow(api: AirflowAPI, flow: str, dag_id: str, run_id: str, timeout: float | None) -> int:
    """Show the DAG run's tasks as ``flowc run`` shows its own, until the run ends."""
    from flowc.backends.deployment import FINALIZE_NODE
    from flowc.runtime.console import Console

    console = Console(flow, run_id)
    seen: dict[tuple[str, int], str] = {}
    started = time.monotonic()
    state = "queued"
    try:
        while True:
            try:
                state = api.dag_run(dag_id, run_id)["state"]
                tis = api.task_instances(dag_id, run_id)
            except AirflowAPIError as e:
                console.clear()
                print(f"flowc: {e}", file=sys.stderr)
                return 1
            for ti in sorted(tis, key=lambda t: (t.get("start_date") or "", t["task_id"])):
                _show(console, run_id, ti, seen)
            if state in TERMINAL:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                console.message(f"Run {flow}/{run_id} still {state} after {timeout:g} s")
                return 1
            time.sleep(POLL_S)
    finally:
        console.clear()
    took = time.monotonic() - started
    if state == "success":
        console.message(f"Run {flow}/{run_id} succeeded in {took:.2f} s (Airflow DAG {dag_id})")
        return 0
    failed = sorted({k[0] for k, v in seen.items() if v == "failed" and k[0] != FINALIZE_NODE})
    what = f": task {', '.join(failed)} failed" if failed else ""
    console.message(
        f"Run {flow}/{run_id} failed in {took:.2f} s{what}. Its logs: flowc logs "
        f"{flow}/{run_id}/STEP/TASK, or Airflow's task logs"
    )
    return 1


def _show(console, run_id: str, ti: dict, seen: dict) -> None:  # noqa: ANN001
    """One task instance's news since the last poll, as the console's task events."""
    from flowc.backends.deployment import FINALIZE_NODE
    from flowc.backends.graphplan import BRANCH_SUFFIX, INDICES_SUFFIX

    step = ti["task_id"]
    if step.endswith((INDICES_SUFFIX, BRANCH_SUFFIX)) or step == FINALIZE_NODE:
        return  # Airflow's helpers, not flow steps
    index = ti.get("map_index")
    key = (step, -1 if index is None else int(index))
    state = ti.get("state") or "none"
    before = seen.get(key)
    if state == before:
        return
    seen[key] = state
    prefix = f"[{run_id}/{step}/{max(key[1], 0)}]"
    if state == "running":
        console.started(step)
    elif state in ("success", "failed", "up_for_retry"):
        if before != "running":
            console.started(step)
        note = " (Airflow retries it)" if state == "up_for_retry" else ""
        console.finished(step, prefix, state == "success", _duration(ti), note)


def _duration(ti: dict) -> float:
    d = ti.get("duration")
    return float(d) if isinstance(d, (int, float)) else 0.0
