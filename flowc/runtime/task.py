"""The task contract: run one task of one run, anywhere.

``flowc task FLOW_FILE STEP --run-id R [--index I] [--attempt N]`` and the local executor's
workers both call :func:`execute_task`. It finds the task's inputs from the graph and the
deterministic task ids, runs the step with its artifacts loaded lazily, and stores what the
step produced: artifact blobs, then the attempt's logs and record, then ``task.json`` last, the
commit marker. A task that dies before that leaves no result for anyone to read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from flowc.authoring import current
from flowc.datastore import ArtifactError, Datastore, layout
from flowc.datastore.layout import Index, task_id
from flowc.datastore.serialize import unchanged
from flowc.datastore.storage import StorageError
from flowc.graph import is_foreach
from flowc.ir import NodeKind, TransitionKind
from flowc.runtime.capture import Capture
from flowc.runtime.cards import TaskCards
from flowc.runtime.decorators import CaughtException, StepPolicy, exception_type, policy_for
from flowc.runtime.loader import LoadedFlow, find_function
from flowc.extend import run_wrapped
from flowc.flowgraph import FlowGraph
from flowc.plugin_api import (
    has_flow_plugins,
    init_flow_plugins,
    run_with_step_plugins,
    step_plugins,
)
from flowc.runtime.constants import flow_constants
from flowc.runtime.parallel import parallel_info
from flowc.runtime.project import project_info, project_name_of
from flowc.runtime.runs import RunInfo, finish_run
from flowc.runtime.state import Inputs, NoSuchTask, StepError, TaskState
from flowc.runtime.walk import LAST_VISIT, Graph

_FLOWC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None))
_UNSET = object()


class StepTimeout(Exception):
    """Raised inside a step when its ``@timeout`` expires."""

    metaflow_type = "metaflow.plugins.timeout_decorator.TimeoutException"


@dataclass
class TaskContext:
    """What every task of one run shares; built once per process (and inherited by forked
    workers)."""

    flow: LoadedFlow
    graph: Graph
    ds: Datastore
    run: RunInfo


@dataclass
class TaskResult:
    status: str  # "ok" or "failed"
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    foreach_num_splits: int | None = None
    branch: str | None = None
    next_steps: list[str] = field(default_factory=list)
    caught: bool = False
    error: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def execute_task(
    ctx: TaskContext, step_name: str, index: Index, attempt: int = 0, capture: bool = True
) -> TaskResult:
    started = time.time()
    run = ctx.run
    tid = task_id(index)
    result = TaskResult("failed", run.flow, run.run_id, step_name, tid, attempt)
    record: dict[str, Any] = {}
    policy = StepPolicy()
    cards: TaskCards | None = None
    cap = Capture() if capture else None
    try:
        if cap is not None:
            cap.__enter__()
        try:
            func = find_function(ctx.flow.cls, step_name)
            policy = policy_for(func, run.with_specs, run.params)
            cards = TaskCards(ctx, step_name, index, attempt, policy.cards, started)
            record = _run_step(ctx, step_name, index, attempt, func, policy, result, cards)
            result.status = "ok"
        except BaseException as e:  # noqa: BLE001 - every failure becomes a failed attempt
            if isinstance(e, KeyboardInterrupt):
                raise
            if not getattr(e, "_flowc_reported", False):
                _print_failure(e, step_name)
            result.error = _one_line(e)
            record["exception"] = _exception_doc(e)
        if cards is not None and cards.specs:
            record["cards"] = cards.finish(result, record.get("artifacts", {}))
    finally:
        if cap is not None:
            cap.stop()
        if current._tempdir is not None:
            shutil.rmtree(current._tempdir, ignore_errors=True)
        _reset_current()
    result.duration = time.time() - started
    try:
        _commit(ctx.ds, result, record, cap, started, policy)
    except StorageError as e:  # the store failed under us: a failed task, never task.json
        if result.ok:  # (a failure of the step itself is already reported)
            sys.stderr.write(f"step {step_name!r} failed: {e}\n")
            result.status, result.error = "failed", str(e)
        return result
    if result.ok and ctx.graph.steps[step_name].kind is NodeKind.END:
        # the run is done, wherever it ran: orchestrators have no executor to say so
        finish_run(ctx.ds, run, "succeeded")
    return result


def _run_step(
    ctx: TaskContext,
    step_name: str,
    index: Index,
    attempt: int,
    func: Any,
    policy: StepPolicy,
    result: TaskResult,
    cards: TaskCards,
) -> dict[str, Any]:
    step = ctx.graph.steps[step_name]
    obj, inputs, parents = _prepare(ctx, step_name, index)
    state: TaskState = obj.__dict__["_flowc_task"]
    _set_current(ctx, step_name, index, attempt)
    current.card = cards.current
    os.environ.update(policy.env)
    try:
        if policy.catch and attempt > policy.retries:
            raise FailureHandledByCatch(_earlier_error(ctx, step_name, index, attempt))
        with _alarm(policy.timeout, step_name):
            claimed = _run_code(ctx, func, obj, inputs, step_name, attempt, policy)
        if claimed and state.next_call is None:
            outcome = _handled_outcome(step, "a decorator's task_exception")
        else:
            outcome = _outcome(obj, state)
    except Exception as e:
        last = attempt >= policy.retries or isinstance(e, FailureHandledByCatch)
        if not (policy.catch and last):
            raise
        _print_failure(e, step_name)
        print(
            f"@catch: step {step_name!r} failed on its last attempt; continuing"
            + (f" with self.{policy.catch_var} holding the exception" if policy.catch_var else ""),
            file=sys.stderr,
        )
        # Keep what the step assigned before it raised (as Metaflow does); its self.next, if
        # it got that far, is dropped with the rest of the failed code's effect on the graph.
        state.next_call = None
        try:
            outcome = _handled_outcome(step, "@catch")
        except StepError as e2:
            raise e2 from e
        if policy.catch_var:
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            setattr(obj, policy.catch_var, CaughtException(e, tb))
        result.caught = True
    else:
        if policy.catch_var and policy.catch_var not in obj.__dict__:
            setattr(obj, policy.catch_var, None)
    artifacts = _persist(ctx, obj, state)
    result.foreach_num_splits = outcome.get("foreach_num_splits")
    result.branch = outcome.get("branch")
    tr = step.transition
    if tr is not None:
        result.next_steps = [result.branch] if result.branch else list(tr.targets)
    if current.parallel is not None and current.parallel.control_task_id is not None:
        outcome["parallel_node_index"] = current.parallel.node_index
    return {
        "index": list(index),
        "artifacts": artifacts,
        "frames": state.frames,
        "parents": parents,
        **outcome,
    }


def _run_code(
    ctx: TaskContext,
    func: Any,
    obj: Any,
    inputs: Any,
    step_name: str,
    attempt: int,
    policy: StepPolicy,
) -> bool:
    """The step's code with its user decorators, inside the hooks of extension plugins; True
    when a plugin's ``task_exception`` claimed the step's exception."""
    cls = ctx.flow.cls
    plugins = step_plugins(func, ctx.run.with_specs)
    if not plugins and not has_flow_plugins(cls):
        run_wrapped(func, obj, inputs, step_name)
        return False
    graph = FlowGraph(ctx.graph.ir)
    init_flow_plugins(cls, obj, graph)
    return run_with_step_plugins(
        plugins,
        lambda: run_wrapped(func, obj, inputs, step_name),
        flow=obj,
        graph=graph,
        step_name=step_name,
        run_id=ctx.run.run_id,
        task_id=current.task_id,
        inputs=inputs,
        retry_count=attempt,
        max_retries=policy.retries,
    )


def _handled_outcome(step: Any, by: str) -> dict[str, Any]:
    """The step raised before ``self.next()`` and ``by`` (``@catch``, or an extension's
    ``task_exception``) handled it: carry on to the static successors; a foreach, switch or
    gang needs values the failed code never made."""
    tr = step.transition
    if tr is not None and tr.kind not in (TransitionKind.LINEAR, TransitionKind.SPLIT):
        raise StepError(
            f"{by} cannot carry step {step.name!r} on: its {tr.kind.value} depends on "
            "values the failed code was to compute"
        )
    return {}


def _prepare(ctx: TaskContext, step_name: str, index: Index) -> tuple[Any, Any, list[str]]:
    """A fresh flow object for the task, wired to its inputs (and, for a join, ``inputs``)."""
    g, ds, run = ctx.graph, ctx.ds, ctx.run
    step = g.steps[step_name]
    cls = ctx.flow.cls
    consts = flow_constants(cls)
    params = frozenset(run.params) | frozenset(consts)
    inputs = None
    parents: list[str] = []
    refs: dict[str, dict] = {}
    frames: list[dict] = []
    if step.kind is NodeKind.JOIN:
        split = g.split_of[step_name]
        n = None
        if is_foreach(split):
            rec = _committed(ds, run, split.name, index)
            if rec is None:
                raise StepError(f"join {step_name!r}: its split {split.name!r} has no record")
            n = rec["foreach_num_splits"]
        found = []
        slots = g.join_input_candidates(step_name, index, n)
        ds.prefetch_task_records(
            run.flow, run.run_id, [(s, task_id(i)) for o in slots for s, i in o]
        )
        if split.transition.kind is TransitionKind.PARALLEL and _control_caught(ctx, slots[0]):
            slots, n = slots[:1], 1  # as Metaflow: a caught control task stands for its gang
        for slot in slots:
            hit = next(((s, i, r) for s, i in slot if (r := _committed(ds, run, s, i))), None)
            if hit is None:
                if n is not None:  # every foreach item must be there
                    s, i = slot[0]
                    raise StepError(
                        f"join {step_name!r} is missing its input {s}/{task_id(i)} (that task "
                        "has not finished)"
                    )
                continue
            found.append(hit)
        expected = g.expected_arrivals(step_name, n)
        if len(found) != expected:
            raise StepError(
                f"join {step_name!r} found {len(found)} finished inputs, expected {expected}"
            )
        views = []
        for s, _i, rec in found:
            view = cls.__new__(cls)
            view.__dict__["_flowc_task"] = TaskState(
                ds, g.steps[s], rec["artifacts"], params, rec["frames"], read_only=True
            )
            view.__dict__.update(consts)
            view.__dict__.update(run.params)
            views.append(view)
            parents.append(f"{s}/{rec['task_id']}")
        inputs = Inputs(views, [s for s, _, _ in found])
        first = found[0][2]["frames"] if found else []
        frames = list(first[:-1] if n is not None else first)
    else:
        cands = g.parent_candidates(step_name, index)
        if cands:
            parent, rec = find_parent(ctx, step_name, index)
            parents.append(f"{parent}/{rec['task_id']}")
            refs = {k: v for k, v in rec["artifacts"].items() if k not in params}
            frames = list(rec["frames"])
            if is_foreach(g.steps[parent]):
                frames.append(
                    {
                        "step": parent,
                        "var": rec.get("foreach_var"),
                        "num_splits": rec["foreach_num_splits"],
                        "index": g.foreach_index(step_name, index)[-1],
                    }
                )
    obj = cls.__new__(cls)
    pathspec = f"{run.flow}/{run.run_id}/{step_name}/{task_id(index)}"
    obj.__dict__["_flowc_task"] = TaskState(ds, step, refs, params, frames, pathspec=pathspec)
    obj.__dict__.update(consts)
    obj.__dict__.update(run.params)
    return obj, inputs, parents


def _control_caught(ctx: TaskContext, slot: list[tuple[str, Index]]) -> bool:
    """Whether a @parallel gang's control task (the join's first slot) ended caught by @catch."""
    for s, i in slot:
        rec = _committed(ctx.ds, ctx.run, s, i)
        if rec is not None:
            return bool(rec.get("caught"))
    return False


def find_parent(ctx: TaskContext, step_name: str, index: Index) -> tuple[str, dict]:
    """The finished task a non-join task continues from. A branch a switch did not take has
    no parent (so it never runs, and the step where the branches meet reads the taken one);
    an index past the end of its foreach has none either."""
    g, ds, run = ctx.graph, ctx.ds, ctx.run
    found = []
    base = g.foreach_index(step_name, index)
    for s, i in g.parent_candidates(step_name, index):
        if i and i[-1] == LAST_VISIT:
            i = last_visit(ds, run, s, i[:-1])
        rec = _committed(ds, run, s, i)
        if rec is None:
            continue
        tr = g.steps[s].transition
        if tr is not None and tr.kind is TransitionKind.SWITCH and rec.get("branch") != step_name:
            if len(g.preds.get(step_name, ())) == 1:
                raise StepError(
                    f"step {step_name!r} does not run in this run: switch {s!r} took "
                    f"{rec.get('branch')!r}"
                )
            continue
        if is_foreach(g.steps[s]) and base[-1] >= rec["foreach_num_splits"]:
            n = rec["foreach_num_splits"]
            raise NoSuchTask(
                f"{step_name}/{task_id(index)} does not exist: the foreach of {s!r} has {n} "
                f"item{'s' if n != 1 else ''} (indices 0 to {n - 1})"
            )
        found.append((s, rec))
    if not found:
        names = ", ".join(
            f"{s}/{task_id(i[:-1]) + '.<last visit>' if i and i[-1] == LAST_VISIT else task_id(i)}"
            for s, i in g.parent_candidates(step_name, index)
        )
        raise StepError(f"step {step_name!r} has no finished parent task ({names})")
    return found[0]


def last_visit(ds: Datastore, run: RunInfo, step: str, base: Index) -> Index:
    """The index path of the last finished visit of recursive switch ``step`` at foreach
    index path ``base``. Visits finish in order 0, 1, 2...: probing doubling visit numbers
    and then bisecting finds it in about 2 log2(n) reads, on any storage."""

    def done(k: int) -> bool:
        return _committed(ds, run, step, (*base, k)) is not None

    if not done(0):
        return (*base, 0)
    lo, hi = 0, 1
    while done(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # done(lo), not done(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if done(mid) else (lo, mid)
    return (*base, lo)


def _committed(ds: Datastore, run: RunInfo, step: str, index: Index) -> dict | None:
    return ds.task_record(run.flow, run.run_id, step, task_id(index))


def _outcome(obj: Any, state: TaskState) -> dict[str, Any]:
    step = state.step
    call = state.next_call
    if step.kind is NodeKind.END or step.transition is None:
        if call is not None:
            raise StepError(f"step {step.name!r} has no successor but called self.next()")
        return {}
    if call is None and step.decorator("parallel") is not None and current.parallel.node_index:
        return {}  # as in Metaflow, a @parallel worker (not node 0) need not call self.next()
    if call is None:
        raise StepError(
            f"step {step.name!r} finished without calling self.next(); end it with "
            "self.next(...) naming the step(s) that follow"
        )
    tr = step.transition
    if tr.kind is TransitionKind.FOREACH:
        items = getattr(obj, tr.foreach)
        try:
            n = len(items)
        except TypeError:
            try:
                n = sum(1 for _ in items)
            except TypeError:
                raise StepError(
                    f"step {step.name!r}: foreach={tr.foreach!r} names a {type(items).__name__}"
                    ", which is not a sequence or an iterable"
                ) from None
        if n == 0:
            raise StepError(
                f"step {step.name!r}: foreach over self.{tr.foreach} has no items; a foreach "
                "needs at least one"
            )
        return {"foreach_num_splits": n, "foreach_var": tr.foreach}
    if tr.kind is TransitionKind.PARALLEL:
        n = call["num_parallel"]
        if not isinstance(n, int) or n < 1:
            raise StepError(f"step {step.name!r}: num_parallel must be a positive int, got {n!r}")
        return {"foreach_num_splits": n, "foreach_var": None}
    if tr.kind is TransitionKind.SWITCH:
        value = getattr(obj, tr.condition)
        cases = call["cases"] or {}
        branch = cases.get(value) if _hashable(value) else None
        if branch is None:
            branch = cases.get(str(value))
        if branch is None:
            raise StepError(
                f"step {step.name!r}: condition self.{tr.condition} is {value!r}, which is none "
                f"of the cases ({', '.join(map(repr, cases))})"
            )
        return {"branch": branch}
    return {}


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _persist(ctx: TaskContext, obj: Any, state: TaskState) -> dict[str, dict]:
    """Every artifact the task holds: inherited ones it never read, or read without changing
    them, keep their reference; values it set or changed are stored, once per content."""
    params = state.params
    out: dict[str, dict] = {}
    values = obj.__dict__
    for name, ref in state.refs.items():
        if name not in values:
            out[name] = ref
    for name, value in values.items():
        if name == "_flowc_task" or name.startswith("__") or name in params:
            continue
        if name in state.loaded and (
            (isinstance(value, _IMMUTABLE) and value is state.read_values.get(name, _UNSET))
            or unchanged(value, state.loaded[name])
        ):
            out[name] = state.refs[name]  # read but not changed: no hashing, no writing
            continue
        out[name] = ctx.ds.put(name, value)
    for name, value in flow_constants(ctx.flow.cls).items():
        if name not in ctx.run.param_refs:
            out[name] = ctx.ds.put(name, value)
    for attr, ref in ctx.run.param_refs.items():
        out[attr] = ref
    return out


@contextmanager
def _alarm(seconds: float | None, step: str, message: str | None = None):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    text = message or f"step {step!r} timed out after {seconds:g} s (@timeout)"

    def fire(signum: int, frame: Any) -> None:
        raise StepTimeout(text)

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _set_current(ctx: TaskContext, step: str, index: Index, attempt: int) -> None:
    run = ctx.run
    current.is_running_flow = True
    current.flow_name = run.flow
    current.run_id = run.run_id
    current.step_name = step
    current.task_id = task_id(index)
    current.retry_count = attempt
    current.origin_run_id = run.record.get("origin_run_id")
    current._make_tempdir = lambda: tempfile.mkdtemp(prefix=f"flowc-{step}-")
    current.parameter_names = tuple(run.params)
    current.pathspec = f"{run.flow}/{run.run_id}/{step}/{task_id(index)}"
    current.username = run.record.get("user")
    current.tags = set(run.record.get("tags", ()))
    current.namespace = f"user:{current.username}"
    current._datastore = ctx.ds
    project = run.record.get("project") or project_info(
        project_name_of(ctx.flow.cls, run.params), run.flow, current.username or ""
    )
    for key, value in (project or {}).items():
        setattr(current, key, value)
    current.parallel = parallel_info(ctx, step, index)


def _reset_current() -> None:
    for name in list(vars(current)):
        delattr(current, name)


def _print_failure(e: BaseException, step: str) -> None:
    """The traceback as the user needs it: their frames, not flowc's."""
    te = traceback.TracebackException.from_exception(e)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not f.filename.startswith(_FLOWC_DIR)]
    )
    text = "".join(te.format())
    if isinstance(e, (StepError, ArtifactError, StepTimeout, StorageError)) and not te.stack:
        text = f"{type(e).__name__}: {e}\n"
    sys.stderr.write(f"step {step!r} failed:\n{text}")
    sys.stderr.flush()
    try:
        e._flowc_reported = True  # type: ignore[attr-defined]
    except AttributeError:
        pass


class FailureHandledByCatch(Exception):
    """What ``@catch`` records when the task's process died on its last attempt (no Python
    exception reached it): the attempt after it runs no user code and stores this."""

    metaflow_type = "metaflow.plugins.catch_decorator.FailureHandledByCatch"


def _earlier_error(ctx: TaskContext, step: str, index: Index, attempt: int) -> str:
    run = ctx.run
    key = layout.attempt_key(run.flow, run.run_id, step, task_id(index), attempt - 1, "attempt.json")
    doc = ctx.ds.read_json(key)
    why = doc.get("error") if isinstance(doc, dict) else None
    return f"Task execution kept failing over {attempt} attempts: {why or 'the process died'}"


def _exception_doc(e: BaseException) -> dict[str, str]:
    """What the client's ``Task.exception`` shows: qualified type, message, traceback."""
    kind = exception_type(e)
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return {"type": kind, "message": str(e), "stacktrace": tb}


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text}" if not isinstance(e, (StepError, StorageError)) else text


def _commit(
    ds: Datastore,
    result: TaskResult,
    record: dict[str, Any],
    cap: Capture | None,
    started: float,
    policy: StepPolicy,
) -> None:
    flow, run_id, step, tid, n = (
        result.flow,
        result.run_id,
        result.step,
        result.task_id,
        result.attempt,
    )
    logs = {}
    if cap is not None:
        for stream, data in (("stdout", cap.out), ("stderr", cap.err)):
            logs[stream] = len(data)
            if data:
                ds.write_bytes(layout.attempt_key(flow, run_id, step, tid, n, stream), bytes(data))
    attempt_doc = {
        "flow": flow,
        "run_id": run_id,
        "step": step,
        "task_id": tid,
        "attempt": n,
        "status": result.status,
        "error": result.error,
        "caught": result.caught,
        "started_at": started,
        "finished_at": started + result.duration,
        "logs": logs,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "decorators": list(policy.decorators),
        "resources": policy.resources,
    }
    if "cards" in record:
        attempt_doc["cards"] = record["cards"]
    if "exception" in record:
        attempt_doc["exception"] = record.pop("exception")
    if result.ok:  # the commit marker is this attempt's record
        ds.write_json(layout.task_record_key(flow, run_id, step, tid), {**attempt_doc, **record})
    else:
        ds.write_json(layout.attempt_key(flow, run_id, step, tid, n, "attempt.json"), attempt_doc)
