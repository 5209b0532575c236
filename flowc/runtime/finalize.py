"""The run finaliser: what an orchestrator runs once every task of a run is done, whatever
happened to them (Airflow ``trigger_rule=all_done``, Argo ``onExit``, KFP ``ExitHandler``).

A local run's executor records how the run ended; an orchestrated run has no executor, so this
reads the datastore instead: the run succeeded when its end task committed, and otherwise failed,
naming the first task whose last attempt failed. The status goes through :func:`finish_run`, the
same path as a local run; a later finaliser (the run cleared and re-run) records the new status.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.datastore import Datastore, layout
from flowc.ir import NodeKind


class FinalizeError(Exception):
    """The run cannot be finalised (not in this datastore); the message is one line."""


@dataclass(frozen=True)
class Outcome:
    status: str  # "succeeded" or "failed"
    failed_task: str | None = None  # step/task_id
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def judge(ds: Datastore, flow: str, run_id: str) -> Outcome:
    """How the run ended, from what its tasks committed and the attempts that failed."""
    from flowc.runtime.runs import load_ir

    if ds.run_record(flow, run_id) is None:
        raise FinalizeError(
            f"run {flow}/{run_id} is not in the datastore {ds.url}: its start task never "
            "created it (see the start task's log in the orchestrator)"
        )
    ir = load_ir(ds, flow, run_id)
    if ir is None:
        raise FinalizeError(f"run {flow}/{run_id} has no ir.json in {ds.url}")
    end = next(s.name for s in ir.steps if s.kind is NodeKind.END)
    if ds.task_record(flow, run_id, end, layout.task_id(())) is not None:
        return Outcome("succeeded")
    failures = []  # (finished_at, step/task, error) of tasks whose last attempt failed
    for step in ir.steps:
        base = layout.step_dir(flow, run_id, step.name)
        for tid in ds.storage.listdir(base):
            if ds.task_record(flow, run_id, step.name, tid) is not None:
                continue
            last = _last_attempt(ds, f"{base}/{tid}")
            if last is not None and last.get("status") == "failed":
                failures.append((last.get("finished_at") or 0.0, f"{step.name}/{tid}", last))
    if failures:
        _, task, last = min(failures, key=lambda f: f[0])
        return Outcome("failed", task, last.get("error") or "failed")
    done = {s.name for s in ir.steps if ds.tasks(flow, run_id, s.name)}
    missing = [s.name for s in ir.steps if s.name not in done]
    return Outcome(
        "failed",
        None,
        "the orchestrator ended the run before these steps finished: "
        + ", ".join(missing)
        + " (a task killed from outside records no failure; see the orchestrator's task logs)",
    )


def _last_attempt(ds: Datastore, task_dir: str) -> dict | None:
    attempts = []
    for name in ds.storage.listdir(task_dir):
        head, _, tail = name.partition(".")
        if tail == "attempt.json" and head.isdigit():
            attempts.append(int(head))
    if not attempts:
        return None
    return ds.read_json(f"{task_dir}/{max(attempts)}.attempt.json")


def finalize(ds: Datastore, flow: str, run_id: str) -> Outcome:
    """Judge the run and record its status, unless the same status is already recorded."""
    from flowc.runtime.runs import finish_run

    outcome = judge(ds, flow, run_id)
    current = ds.read_json(f"{layout.run_dir(flow, run_id)}/status.json") or {}
    detail = {"failed_task": outcome.failed_task, "error": outcome.error}
    detail = {k: v for k, v in detail.items() if v is not None}
    same = current.get("status") == outcome.status and all(
        current.get(k) == v for k, v in detail.items()
    )
    if not same:
        run = type("Run", (), {"flow": flow, "run_id": run_id})()
        finish_run(ds, run, outcome.status, **detail)  # type: ignore[arg-type]
    return outcome


def finalize_command(flow: str, run_id: str, datastore: str | None) -> int:
    """``flowc finalize``: record the run's status; exit 0 when it succeeded, 1 when it failed
    (so the orchestrator shows the run failed too), 2 when it cannot be finalised."""
    import sys

    from flowc.datastore.layout import check_run_id
    from flowc.runtime.launch import LaunchError, _datastore

    try:
        check_run_id(run_id)
    except ValueError as e:
        raise LaunchError(f"--run-id: {e}") from None
    ds = _datastore(datastore)
    try:
        outcome = finalize(ds, flow, run_id)
    except FinalizeError as e:
        raise LaunchError(str(e)) from None
    if outcome.ok:
        print(f"Run {flow}/{run_id} succeeded")
        return 0
    where = f"task {outcome.failed_task} failed: " if outcome.failed_task else ""
    print(f"Run {flow}/{run_id} failed: {where}{outcome.error}", file=sys.stderr)
    return 1
