"""Resume: a new run that reuses what an earlier run of the same flow finished.

Tasks of steps before the failed step (or before the step named on the command line) are
cloned: the new run gets a ``task.json`` holding the same artifact references, plus where it
came from, so no blob is read or written and cloning costs the same for 1 KB and 1 GB. The
chosen step and everything reachable from it run again, with the origin run's parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flowc.datastore import Datastore, layout
from flowc.datastore.layout import task_id
from flowc.ir import FlowIR
from flowc.runtime.runs import RunInfo
from flowc.runtime.task import TaskResult
from flowc.runtime.walk import TaskKey


class ResumeError(Exception):
    """The origin run cannot be resumed as asked; the message says why and what to do."""


@dataclass
class ClonePlan:
    origin: RunInfo
    rerun: frozenset[str]  # steps that run again; every other finished task is cloned
    cloned: int = 0
    # failed steps whose tasks that succeeded are cloned by index (a foreach whose items
    # failed only in part re-runs only those items; a recursive switch re-runs its failed visit
    # and those after it), as Metaflow's resume does
    partial: frozenset[str] = frozenset()

    def clone(self, ds: Datastore, run: RunInfo, key: TaskKey) -> TaskResult | None:
        """Clone the origin's finished task ``key`` into ``run``; None when it must run."""
        step, index = key
        if step in self.rerun and step not in self.partial:
            return None
        tid = task_id(index)
        rec = ds.task_record(self.origin.flow, self.origin.run_id, step, tid)
        if rec is None or rec.get("status") != "ok":
            return None
        origin_pathspec = f"{self.origin.flow}/{self.origin.run_id}/{step}/{tid}"
        doc = {**rec, "run_id": run.run_id, "origin_pathspec": origin_pathspec}
        doc["cloned_at"] = time.time()
        ds.write_json(layout.task_record_key(run.flow, run.run_id, step, tid), doc)
        self.cloned += 1
        return TaskResult(
            "ok",
            run.flow,
            run.run_id,
            step,
            tid,
            rec.get("attempt", 0),
            foreach_num_splits=rec.get("foreach_num_splits"),
            branch=rec.get("branch"),
            caught=bool(rec.get("caught")),
        )


def descendants(ir: FlowIR, start: str) -> set[str]:
    """``start`` and every step reachable from it."""
    steps = ir.step_map()
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tr = steps[name].transition
        if tr is not None:
            todo.extend(t for t in tr.targets if t)
    return seen


def failed_steps(ds: Datastore, origin: RunInfo, ir: FlowIR) -> list[str]:
    """Steps of the origin run with a task that failed (or was cancelled) and never finished."""
    out = []
    for step in ir.steps:
        base = layout.step_dir(origin.flow, origin.run_id, step.name)
        for tid in ds.storage.listdir(base):
            names = ds.storage.listdir(f"{base}/{tid}")
            if "task.json" not in names and any(n.endswith(".attempt.json") for n in names):
                out.append(step.name)
                break
    return out


def graph_difference(old: FlowIR, new: FlowIR) -> str | None:
    """How the graph changed between two versions of a flow, or None when it did not (code
    inside steps may change: that is what resume is for)."""

    def shape(ir: FlowIR) -> dict[str, tuple]:
        out = {}
        for s in ir.steps:
            tr = s.transition
            out[s.name] = (
                s.kind.value,
                None if tr is None else (tr.kind.value, tr.targets, tr.foreach, tr.condition),
            )
        return out

    a, b = shape(old), shape(new)
    if added := sorted(set(b) - set(a)):
        return f"step {added[0]!r} was added"
    if removed := sorted(set(a) - set(b)):
        return f"step {removed[0]!r} was removed"
    for name in a:
        if a[name] != b[name]:
            return f"the transitions of step {name!r} changed"
    return None


def plan_resume(
    ds: Datastore, ir: FlowIR, origin: RunInfo, origin_ir: FlowIR | None, step: str | None
) -> ClonePlan:
    """Which steps run again; raises :class:`ResumeError` when resuming makes no sense."""
    pathspec = f"{origin.flow}/{origin.run_id}"
    if origin_ir is not None and (diff := graph_difference(origin_ir, ir)):
        raise ResumeError(
            f"cannot resume {pathspec}: the flow's graph changed since that run ({diff}); "
            "resume needs the same steps and transitions. Start a new run with flowc run"
        )
    if step is not None:
        if ir.step(step) is None:
            names = ", ".join(s.name for s in ir.steps)
            raise ResumeError(f"{ir.name} has no step {step!r} (steps: {names})")
        return ClonePlan(origin, frozenset(descendants(ir, step)))
    status = ds.read_json(f"{layout.run_dir(origin.flow, origin.run_id)}/status.json")
    failed = failed_steps(ds, origin, ir)
    if not failed and status is None:
        from flowc.runtime.runs import run_died

        if run_died(ds, origin.flow, origin.run_id):
            # its executor was killed mid-run: every task that finished is cloned, the rest run
            return ClonePlan(origin, frozenset())
    if not failed:
        if isinstance(status, dict) and status.get("status") == "succeeded":
            raise ResumeError(
                f"run {pathspec} succeeded: there is nothing to resume. To re-run part of it, "
                f"name the step to re-run from: flowc resume FLOW STEP --origin-run-id "
                f"{origin.run_id}"
            )
        raise ResumeError(
            f"run {pathspec} has no failed task (it may still be running); name the step to "
            "re-run from: flowc resume FLOW STEP"
        )
    rerun: set[str] = set()
    below: set[str] = set()  # strictly after some failed step: its inputs change
    for name in failed:
        after = descendants(ir, name)
        rerun |= after
        below |= after - {name}
    return ClonePlan(origin, frozenset(rerun), partial=frozenset(set(failed) - below))


def choose_origin(ds: Datastore, flow: str, run_id: str | None, user: str) -> str:
    """The run to resume: the one named, else the latest of ``flow`` started by ``user``."""
    from flowc.datastore.index import read_index

    if run_id is not None:
        if ds.run_record(flow, run_id) is None:
            raise ResumeError(_missing_run(ds, flow, run_id))
        return run_id
    for entry in read_index(ds, flow):
        if entry.user == user:
            return entry.run_id
    raise ResumeError(
        f"{flow} has no run by {user} in the datastore {ds.url} to resume; run it first "
        "(flowc run), or pick a run with --origin-run-id"
    )


def _missing_run(ds: Datastore, flow: str, run_id: str) -> str:
    others = [
        f for f in ds.storage.listdir("runs") if ds.storage.exists(f"runs/{f}/{run_id}/run.json")
    ]
    if others:
        return f"run {run_id} is a run of {others[0]}, not of {flow}"
    return f"{flow} has no run {run_id!r} in the datastore {ds.url}"
