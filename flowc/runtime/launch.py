"""``flowc run`` and ``flowc task``: from a flow file and command-line words to an executed run
or task. Bad input raises :class:`LaunchError` (exit 2) before anything is written."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from flowc.datastore import Datastore, DatastoreError, layout
from flowc.diagnostics import Diagnostic
from flowc.ir import FlowIR


class LaunchError(Exception):
    """Bad input stopped the command from starting (exit 2)."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()):
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


@dataclass
class RunOptions:
    flow_name: str | None = None
    max_workers: int | None = None
    datastore: str | None = None
    tags: tuple[str, ...] = ()
    run_id_file: str | None = None
    with_specs: tuple[str, ...] = ()


def checked_flow(path: str, flow_name: str | None) -> tuple[FlowIR, tuple[Diagnostic, ...]]:
    """The flow's IR and its warnings; lint or analyzer errors refuse to run it."""
    from flowc.check import check_file

    _analyse_in_a_child(path, flow_name)
    checked = check_file(path, flow_name)
    stopping = [d for d in checked.analyzer_diagnostics if d.is_error]
    if stopping:
        raise LaunchError(f"{path}: cannot run this file", stopping)
    ir = checked.chosen_flow()
    if ir is None:
        raise LaunchError(
            f"{path} holds several flows ({', '.join(checked.candidates)}); pick one with "
            "--flow NAME"
        )
    found = checked.diagnostics_for(ir.name)
    errors = [d for d in found if d.is_error]
    if errors:
        n = len(errors)
        raise LaunchError(
            f"{path}: {ir.name} has {n} error{'s' if n > 1 else ''}; fix {'them' if n > 1 else 'it'}"
            " and run again (flowc validate shows the same)",
            found,
        )
    return ir, tuple(d for d in found if not d.is_error)


def _analyse_in_a_child(path: str, flow_name: str | None) -> None:
    """On a cache miss, analyse in a forked child that fills the cache, so that libcst never
    loads into this process: the executor forks a child per task, and a lean parent forks
    faster (about 1 ms a task less). Where that cannot work, the caller analyses in-process."""
    from flowc.cache import cache_dir
    from flowc.check import check_file, is_cached

    if not hasattr(os, "fork") or "libcst" in sys.modules or cache_dir() is None:
        return
    if is_cached(path, flow_name):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only fills the cache
        code = 0
        try:
            check_file(path, flow_name)
        except BaseException:  # noqa: BLE001 - the parent analyses again and reports it
            code = 1
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def _load(path: str, ir: FlowIR):
    from flowc.runtime.loader import FlowImportError, load_flow

    try:
        return load_flow(path, ir.name)
    except FlowImportError as e:
        raise LaunchError(str(e)) from None


def _datastore(url: str | None, check: bool = True) -> Datastore:
    """The datastore; ``check`` probes that it is writable (once per run: its start)."""
    try:
        ds = Datastore(url)
        if check:
            ds.check_writable()
    except DatastoreError as e:
        raise LaunchError(str(e)) from None
    except (ImportError, ValueError) as e:  # an fsspec protocol that is not installed
        raise LaunchError(f"datastore {url}: {e}") from None
    return ds


def _params(
    cls: type, args: Sequence[str], flow: str, params_json: str | None = None
) -> tuple[dict, dict]:
    from flowc.runtime.params import ParamError, from_json, parse_args, resolve, specs_of

    specs = specs_of(cls)
    from flowc.authoring import current

    try:
        project = _project(cls, flow)
    except Exception:  # noqa: BLE001 - a name computed from configs: known after them
        project = None
    for key, value in (project or {}).items():
        setattr(current, key, value)  # a callable default may read current.project_name
    try:
        given = from_json(specs, params_json) if params_json is not None else {}
        given.update(parse_args(specs, args, flow))
        values = resolve(specs, given, flow, _user())
    except ParamError as e:
        raise LaunchError(str(e)) from None
    return values, {s.attr: s.name for s in specs}


def _user() -> str:
    from flowc.runtime.runs import user_name

    return user_name()


def _with(specs: Sequence[str]) -> list:
    from flowc.runtime.decorators import WithSpecError, parse_with

    try:
        return parse_with(specs)
    except WithSpecError as e:
        raise LaunchError(str(e)) from None


def run_help(path: str, opts: RunOptions, prog: str) -> str:
    from flowc.runtime.params import help_text, specs_of

    ir, _ = checked_flow(path, opts.flow_name)
    loaded = _load(path, ir)
    doc = (ir.doc or "").strip().splitlines()
    return (
        f"Usage: {prog} [OPTIONS] [FLOW PARAMETERS]\n\n"
        f"  Run {ir.name}{': ' + doc[0] if doc else ''}\n\n"
        "Flow parameters:\n"
        f"{help_text(specs_of(loaded.cls))}\n"
        "Options:\n"
        "  --max-workers N      tasks run at once (default: the number of cores, at least 2)\n"
        "  --datastore URL      where runs are stored (default: $FLOWC_DATASTORE or .flowc)\n"
        "  --tag TAG            tag the run (repeatable)\n"
        "  --with DECORATOR     add a decorator to every step, e.g. --with retry:times=2\n"
        "  --run-id-file PATH   write the run id to PATH when the run starts\n"
        "  --flow NAME          the flow class, when the file holds several\n"
    )


def run_flow(path: str, args: Sequence[str], opts: RunOptions) -> int:
    """Run a whole flow locally. Returns 0 when it succeeded, 1 when it failed, 128 + the signal
    when it was stopped by one (130 after Ctrl-C, 143 after SIGTERM)."""
    from flowc.runtime.runs import start_run

    ir, loaded, with_specs = _prepare_run(path, opts)
    values, names = _params(loaded.cls, args, ir.name)
    ds = _datastore(opts.datastore)
    from flowc.datastore import ArtifactError

    try:
        run = start_run(
            ds,
            ir,
            path,
            values,
            names,
            opts.tags,
            with_specs,
            project=_project(loaded.cls, ir, values),
        )
    except ArtifactError as e:
        raise LaunchError(f"a parameter value cannot be stored: {e}") from None
    return _execute(ir, loaded, ds, run, opts)


def resume_flow(
    path: str, step: str | None, origin_run_id: str | None, args: Sequence[str], opts: RunOptions
) -> int:
    """Resume a run: clone what finished before the failed step (or ``step``), run the rest."""
    from flowc.runtime.resume import ResumeError, choose_origin, plan_resume
    from flowc.runtime.runs import RunInfo, load_ir, start_run, user_name

    ir, loaded, with_specs = _prepare_run(path, opts)
    if args:
        raise LaunchError(
            f"resume takes the parameters of the run it resumes, so {' '.join(args)!r} cannot "
            "change them; start a new run with flowc run to use other values"
        )
    ds = _datastore(opts.datastore)
    try:
        if origin_run_id is not None:
            from flowc.datastore.layout import check_run_id

            check_run_id(origin_run_id)
        origin_id = choose_origin(ds, ir.name, origin_run_id, user_name())
        origin = RunInfo.load(ds, ir.name, origin_id)
        assert origin is not None
        plan = plan_resume(ds, ir, origin, load_ir(ds, ir.name, origin_id), step)
    except ResumeError as e:
        raise LaunchError(str(e)) from None
    except (ValueError, KeyError, TypeError) as e:
        where = f"{_display(ds.url)}/{layout.run_dir(ir.name, origin_run_id or '?')}"
        raise LaunchError(
            f"cannot resume: the origin run's records are damaged ({e}): {where}"
        ) from None
    run = start_run(
        ds,
        ir,
        path,
        {},
        {},
        opts.tags,
        with_specs or origin.with_specs,
        origin=origin,
        project=_project(loaded.cls, ir, origin.params),
    )
    from_what = f"step {step}" if step else "where it failed"
    print(f"Resuming {ir.name}/{origin.run_id} from {from_what} as {ir.name}/{run.run_id}")
    code = _execute(ir, loaded, ds, run, opts, plan)
    return code


def _project(cls: type, flow: FlowIR | str, configs: dict | None = None) -> dict | None:
    from flowc.runtime.project import project_info, project_name_of
    from flowc.runtime.runs import user_name

    name = flow if isinstance(flow, str) else flow.name
    return project_info(project_name_of(cls, configs), name, user_name())


def _prepare_run(path: str, opts: RunOptions):  # noqa: ANN202
    ir, warnings = checked_flow(path, opts.flow_name)
    for d in warnings:
        print(d.format(), file=sys.stderr)
    if opts.max_workers is not None and opts.max_workers < 1:
        raise LaunchError(f"--max-workers must be at least 1 (got {opts.max_workers})")
    loaded = _load(path, ir)  # first: it loads the extension packages --with may name
    return ir, loaded, _with(opts.with_specs)


def _execute(ir: FlowIR, loaded, ds: Datastore, run, opts: RunOptions, plan=None) -> int:  # noqa: ANN001
    from flowc.runtime.console import Console
    from flowc.runtime.executor import Executor, default_workers
    from flowc.runtime.task import TaskContext
    from flowc.runtime.walk import Graph

    if opts.run_id_file:
        with open(opts.run_id_file, "w") as f:
            f.write(run.run_id)
    workers = opts.max_workers or default_workers()
    console = Console(ir.name, run.run_id)
    where = _display(ds.url)
    console.message(
        f"Running {ir.name}/{run.run_id} ({len(ir.steps)} steps, up to {workers} tasks at once; "
        f"datastore {where})"
    )
    from flowc.runtime.runs import record_executor

    record_executor(ds, run)
    ctx = TaskContext(loaded, Graph(ir), ds, run)
    outcome = Executor(ctx, workers, console, plan).run()
    run_path = f"{where}/{layout.run_dir(ir.name, run.run_id)}"
    tasks = f"{outcome.tasks} task{'s' if outcome.tasks != 1 else ''}"
    retried = f", {outcome.retried} retried" if outcome.retried else ""
    if plan is not None:
        tasks += f", {plan.cloned} cloned from {ir.name}/{plan.origin.run_id}"
    if outcome.ok:
        console.message(
            f"Run {ir.name}/{run.run_id} succeeded in {outcome.duration:.2f} s ({tasks}"
            f"{retried}). Artifacts and logs: {run_path}"
        )
        return 0
    if outcome.interrupted:
        import signal

        name = signal.Signals(outcome.signal).name
        how = "interrupted" if outcome.signal == signal.SIGINT else f"stopped by {name}"
        console.message(f"Run {ir.name}/{run.run_id} {how}; marked failed ({run_path})")
        return 128 + outcome.signal
    f = outcome.failure
    assert f is not None
    log = f"{run_path}/{f.step}/{f.task_id}/{f.attempt}.stderr"
    key = layout.attempt_key(ir.name, run.run_id, f.step, f.task_id, f.attempt, "stderr")
    if not _quietly(lambda: ds.storage.is_file(key)):
        log = "none stored (the task died before it could write one; its output is above)"
    console.message(
        f"Run {ir.name}/{run.run_id} failed in {outcome.duration:.2f} s: task {f.step}/"
        f"{f.task_id} failed: {f.error}. Its log: {log}"
    )
    return 1


def _quietly(check) -> bool:  # noqa: ANN001
    """A best-effort check at the end of a run: a datastore failing now says nothing more."""
    try:
        return bool(check())
    except OSError:
        return True


def run_task(
    path: str,
    step: str,
    run_id: str,
    index: str | None,
    attempt: int,
    args: Sequence[str],
    opts: RunOptions,
    result_file: str | None = None,
    params_json: str | None = None,
) -> int:
    """One task through the contract, as an orchestrator calls it. The start task creates the
    run record from the flow parameters given to it (as options, or as a JSON object with
    ``params_json``); every other task only needs ids. A retried start task finds the record
    its first attempt wrote and keeps it."""
    from flowc.runtime.runs import RunInfo, load_ir, start_run
    from flowc.runtime.task import TaskContext, execute_task
    from flowc.runtime.walk import Graph

    ir, _ = checked_flow(path, opts.flow_name)
    if ir.step(step) is None:
        names = ", ".join(s.name for s in ir.steps)
        raise LaunchError(f"{ir.name} has no step {step!r} (steps: {names})")
    if attempt < 0:
        raise LaunchError(f"--attempt must be 0 or more (got {attempt})")
    from flowc.datastore.layout import check_run_id, parse_index
    from flowc.graph import index_depth

    try:
        check_run_id(run_id)
    except ValueError as e:
        raise LaunchError(f"--run-id: {e}") from None
    try:
        idx = parse_index(index, index_depth(ir.step(step)))
    except ValueError as e:
        message = str(e)
        depth = ir.step(step).foreach_depth
        if index_depth(ir.step(step)) > depth:  # a recursive switch: the index ends in a visit
            like = ".".join(["0"] * (depth + 1))
            message = (
                f"step {step!r} loops (a recursive switch): pass --index like {like}, its "
                f"{'foreach index path then its ' if depth else ''}visit number from 0"
            )
        raise LaunchError(f"--index: {message}") from None
    ds = _datastore(opts.datastore, check=step == "start")  # later tasks: their first write
    loaded = _load(path, ir)
    run = RunInfo.load(ds, ir.name, run_id)
    if run is None:
        if step != "start":
            raise LaunchError(
                f"run {ir.name}/{run_id} is not in the datastore {_display(ds.url)}; its start "
                "task creates it (flowc task FLOW start --run-id ID [parameters])"
            )
        values, names = _params(loaded.cls, args, ir.name, params_json)
        run = start_run(ds, ir, path, values, names, opts.tags, _with(opts.with_specs), run_id)
    elif (args or params_json) and step != "start":
        raise LaunchError(
            f"run {ir.name}/{run_id} already exists; parameters are read from its record, so "
            "pass only ids to later tasks"
        )
    run_ir = load_ir(ds, ir.name, run_id) or ir
    ctx = TaskContext(loaded, Graph(run_ir), ds, run)
    _check_index(ctx, step, idx)
    result = execute_task(ctx, step, idx, attempt)
    doc = result.to_dict()
    if result_file:
        with open(result_file, "w") as f:
            json.dump(doc, f)
    # On a line of its own whatever the step printed last (output without a final newline,
    # a child process still writing): orchestrators read the last line.
    sys.stdout.write("\n" + json.dumps({"flowc_result": doc}) + "\n")
    sys.stdout.flush()
    return 0 if result.ok else 1


def _check_index(ctx, step: str, index) -> None:  # noqa: ANN001
    """An index past the end of its foreach is bad input, not a failed task."""
    from flowc.runtime.state import NoSuchTask, StepError
    from flowc.runtime.task import find_parent

    if ctx.graph.is_join(step) or not ctx.graph.preds.get(step):
        return
    try:
        find_parent(ctx, step, index)
    except NoSuchTask as e:
        raise LaunchError(f"--index: {e}") from None
    except StepError:
        pass  # e.g. the parent has not finished: the task itself reports that


def _display(url: str) -> str:
    if "://" in url:
        return url
    full = os.path.abspath(url)
    rel = os.path.relpath(full)
    return rel if not rel.startswith("..") else full
