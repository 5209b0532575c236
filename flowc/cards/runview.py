"""What the card server shows, read straight from the datastore's records: the runs list, each
step's status (also while the run is live) and one task's attempts, artifacts, logs and cards.

Only reads. Every function takes ids the caller has already validated (the server checks each
URL segment first); keys are built with :mod:`flowc.datastore.layout`, never from raw URL text.
A running task has no ``task.json`` or attempt record yet, so a live step's state is inferred
from its parents: a step whose parents are done (or were skipped: a switch took another branch)
and that one of them leads to (after a switch, the branch taken) is running; a foreach body is
running until it has as many finished tasks as its split made.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flowc import graph
from flowc.cards.store import list_cards
from flowc.datastore import Datastore, layout
from flowc.ir import FlowIR, NodeKind, TransitionKind

TASK_ID_RE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}){0,31}$")
LOG_TAIL = 64 * 1024  # bytes of each log a task page shows
DONE = ("succeeded", "cloned")


@dataclass
class TaskState:
    task_id: str
    state: str  # succeeded | cloned | failed | running
    record: dict | None = None  # task.json, or the last failed attempt's record


@dataclass
class StepState:
    name: str
    state: str  # succeeded | cloned | failed | running | pending
    tasks: list[TaskState] = field(default_factory=list)
    expected: int | None = None  # how many tasks it will have, once known (a foreach's width)

    @property
    def total(self) -> int:
        """Tasks to show as the step's total: those that exist, or more once known."""
        return max(len(self.tasks), self.expected or 0)


def _json(ds: Datastore, key: str) -> Any:
    try:
        return json.loads(ds.read_bytes(key) or b"null")
    except ValueError:
        return None  # a damaged record reads as missing; the page still renders


def task_sort_key(task_id: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in task_id.split("."))


def run_status(ds: Datastore, flow: str, run_id: str) -> dict | None:
    """``status.json`` (succeeded / failed, finished_at), or None while the run is live."""
    doc = _json(ds, f"{layout.run_dir(flow, run_id)}/status.json")
    return doc if isinstance(doc, dict) else None


def run_exists(ds: Datastore, flow: str, run_id: str) -> bool:
    return ds.storage.exists(f"{layout.run_dir(flow, run_id)}/run.json")


def run_record(ds: Datastore, flow: str, run_id: str) -> dict:
    """``run.json``, with the tags as they are now (``flowc tag`` writes ``tags.json``)."""
    doc = _json(ds, f"{layout.run_dir(flow, run_id)}/run.json")
    doc = doc if isinstance(doc, dict) else {}
    tags = _json(ds, f"{layout.run_dir(flow, run_id)}/tags.json")
    if isinstance(tags, dict) and isinstance(tags.get("tags"), list):
        doc["tags"] = tags["tags"]
    return doc


def _attempt_numbers(names: list[str]) -> list[int]:
    return sorted(
        int(head)
        for head, _, tail in (n.partition(".") for n in names)
        if tail == "attempt.json" and head.isdigit()
    )


def task_state(ds: Datastore, flow: str, run_id: str, step: str, task_id: str) -> TaskState:
    """From the task's folder: ``task.json`` is a commit; failed attempts alone mean failed,
    unless a later attempt has started writing (a retry in progress); else it is running."""
    base = layout.task_dir(flow, run_id, step, task_id)
    names = ds.storage.listdir(base)
    if "task.json" in names:
        rec = _json(ds, f"{base}/task.json")
        rec = rec if isinstance(rec, dict) else {}
        return TaskState(task_id, "cloned" if rec.get("origin_pathspec") else "succeeded", rec)
    failed = _attempt_numbers(names)
    if failed:
        rec = _json(ds, f"{base}/{failed[-1]}.attempt.json")
        later = any(n.split(".", 1)[0] == str(failed[-1] + 1) for n in names)
        return TaskState(task_id, "running" if later else "failed", rec)
    return TaskState(task_id, "running")


def step_states(ds: Datastore, flow: str, run_id: str, ir: FlowIR, live: bool) -> list[StepState]:
    """Each step of the run in graph order, with its tasks' states."""
    steps = ir.step_map()
    preds = graph.predecessors(ir.steps)
    out: dict[str, StepState] = {}
    skipped: set[str] = set()  # steps this run will not reach: a switch took another branch
    for name in graph.order(ir):
        ids = sorted(ds.storage.listdir(layout.step_dir(flow, run_id, name)), key=task_sort_key)
        tasks = [task_state(ds, flow, run_id, name, t) for t in ids if TASK_ID_RE.match(t)]
        states = {t.state for t in tasks}
        expected = _expected_tasks(name, preds, steps, out)
        if "failed" in states:
            state = "failed"
        elif "running" in states:
            state = "running" if live else "failed"  # a run that ended left it unfinished
        elif tasks:
            if live and expected is not None and len(tasks) < expected:
                state = "running"
            else:
                state = "cloned" if states == {"cloned"} else "succeeded"
        else:
            parents = preds.get(name, ())
            settled = all(p in skipped or (p in out and out[p].state in DONE) for p in parents)
            routed = not parents or any(_routes(p, name, steps, out) for p in parents)
            if settled and not routed:
                skipped.add(name)
            state = "running" if live and settled and routed else "pending"
        out[name] = StepState(name, state, tasks, expected)
    return list(out.values())


def _expected_tasks(name: str, preds: dict, steps: dict, seen: dict[str, StepState]) -> int | None:
    """A foreach body expects as many tasks as its split's tasks made items, known once every
    task of the split has finished; a step that follows a body step in a line expects as many
    as that step. None when not known (yet)."""
    parents = preds.get(name, ())
    for p in parents:
        tr = steps[p].transition
        if tr is not None and tr.kind is TransitionKind.FOREACH and p in seen:
            split = seen[p]
            if split.state not in DONE or len(split.tasks) < (split.expected or 0):
                return None
            recs = [t.record or {} for t in split.tasks]
            return sum(int(r.get("foreach_num_splits") or 0) for r in recs)
    if len(parents) == 1 and parents[0] in seen:
        tr = steps[parents[0]].transition
        if (
            tr is not None
            and tr.kind is TransitionKind.LINEAR
            and steps[name].kind is not NodeKind.JOIN
        ):
            return seen[parents[0]].expected
    return None


def _routes(parent: str, name: str, steps: dict, seen: dict[str, StepState]) -> bool:
    """Whether ``parent`` finished and sends the run on to ``name`` (a switch: its branch)."""
    if parent not in seen or seen[parent].state not in DONE:
        return False
    tr = steps[parent].transition
    if tr is not None and tr.kind is TransitionKind.SWITCH:
        return any((t.record or {}).get("branch") == name for t in seen[parent].tasks)
    return True


def run_rows(ds: Datastore, flow: str) -> list[dict]:
    """Every run of the flow, everyone's, newest first (from the run index: fast for 1000s)."""
    from flowc.client.terminal import run_row
    from flowc.datastore.index import read_index
    from flowc.runtime.runs import run_died

    rows = [run_row(e) for e in read_index(ds, flow, lambda message: None)]
    for row in rows:  # as flowc runs shows them: a run whose executor is gone never ends
        if row["status"] == "running" and run_died(ds, flow, row["run_id"]):
            row["status"] = "died"
    return rows


def attempts(ds: Datastore, flow: str, run_id: str, step: str, task_id: str) -> list[dict]:
    """Every ended attempt of a task, oldest first: the failed ones, then the commit."""
    base = layout.task_dir(flow, run_id, step, task_id)
    names = ds.storage.listdir(base)
    out = []
    for n in _attempt_numbers(names):
        rec = _json(ds, f"{base}/{n}.attempt.json")
        if isinstance(rec, dict):
            out.append({**rec, "attempt": n})
    if "task.json" in names:
        rec = _json(ds, f"{base}/task.json")
        if isinstance(rec, dict):
            out.append(rec)
    return out


def log_tail(ds: Datastore, flow: str, run_id: str, step: str, task_id: str, attempt: int) -> dict:
    """The end of an attempt's stdout and stderr (where the task ran, for a cloned one)."""
    base = layout.task_dir(flow, run_id, step, task_id)
    out = {}
    for stream in ("stdout", "stderr"):
        data = ds.read_bytes(f"{base}/{int(attempt)}.{stream}") or b""
        cut = len(data) > LOG_TAIL
        text = data[-LOG_TAIL:].decode("utf-8", "replace")
        out[stream] = ("[...]\n" if cut else "") + text
    return out


def task_artifacts(ds: Datastore, flow: str, run_id: str, step: str, task_id: str) -> list[dict]:
    """Name, type, size and short repr of each artifact (no value is loaded)."""
    from flowc.client import ClientError
    from flowc.client.objects import Task
    from flowc.client.terminal import dump_doc

    try:
        doc = dump_doc(Task(f"{flow}/{run_id}/{step}/{task_id}", ds))
    except ClientError:
        return []  # running: nothing stored yet
    return doc[0]["artifacts"] if doc else []


def task_cards(ds: Datastore, flow: str, run_id: str, step: str, task_id: str) -> list[dict]:
    return list_cards(ds, flow, run_id, step, task_id)
