"""Running flows from Python, with Metaflow's ``Runner`` shape::

    from flowc import Runner

    with Runner("flow.py").run(alpha=0.1) as running:
        print(running.status, running.run.data.model)

``run()`` waits for the run to end, ``async_run()`` returns once it has started; both give an
:class:`ExecutingRun`. ``resume()`` resumes the flow's latest run (or ``origin_run_id``). Each
run is ``flowc run`` in a child process (as Metaflow's Runner starts its CLI), so the flow's
tasks never share the caller's interpreter state. ``NBRunner`` does the same for a flow class
defined in a notebook cell.

Keyword arguments: ``max_workers``, ``tags``/``tag``, ``run_id_file``, ``with_``/``decospecs``,
``datastore`` (a folder or URL; Metaflow's ``"local"`` means flowc's default) and ``flow``
map to ``flowc run`` options; Metaflow options that have no flowc counterpart
(``metadata``, ``environment``, ``event_logger``, ``quiet``, ``pylint``, ``max_num_splits``...)
are accepted and ignored; every other keyword is a flow parameter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from typing import Any

# Metaflow top-level and run options that mean nothing to flowc (accepted, ignored)
_IGNORED = frozenset(
    {
        "metadata",
        "environment",
        "event_logger",
        "monitor",
        "quiet",
        "no_pylint",
        "pylint",
        "max_num_splits",
        "max_log_size",
        "profile",
        "package_suffixes",
        "with_param",
    }
)


class RunnerError(Exception):
    """The run could not be started or its id never appeared."""


class CommandManager:
    """The child process of one ``flowc run``/``resume``: its command, process and log files
    (as Metaflow's ``command_obj``)."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: str | None, show_output: bool):
        self.command = command
        self._dir = tempfile.mkdtemp(prefix="flowc-runner-")
        # the logs live until cleanup(), or until this object is collected or Python exits
        self._remove = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.log_files = {
            "stdout": os.path.join(self._dir, "stdout.log"),
            "stderr": os.path.join(self._dir, "stderr.log"),
        }
        self._out = open(self.log_files["stdout"], "wb")  # noqa: SIM115 - closed in wait()
        self._err = open(self.log_files["stderr"], "wb")  # noqa: SIM115
        self.show_output = show_output
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self._out, stderr=self._err, start_new_session=True
        )

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close()
        return code

    def _close(self) -> None:
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def cleanup(self) -> None:
        """Stop the process if it still runs and remove its log files."""
        self.kill()
        self._remove()

    def read(self, stream: str) -> str:
        with open(self.log_files[stream], encoding="utf-8", errors="replace") as f:
            return f.read()


class ExecutingRun:
    """A run started by a :class:`Runner`: ``run`` (the client ``Run``), ``status``
    (``running``, ``successful``, ``failed``), ``returncode``, ``stdout``, ``stderr``."""

    def __init__(self, runner: Runner, command_obj: CommandManager, run_id: str, flow: str):
        self.runner = runner
        self.command_obj = command_obj
        self.run_id = run_id
        self._flow = flow

    @property
    def run(self) -> Any:
        from flowc.client import Run
        from flowc.datastore import Datastore

        return Run(f"{self._flow}/{self.run_id}", Datastore(self.runner._datastore_url()),
                   _check_namespace=False)

    @property
    def returncode(self) -> int | None:
        return self.command_obj.process.poll()

    @property
    def status(self) -> str:
        code = self.returncode
        if code is None:
            return "running"
        return "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        return self.command_obj.read("stdout")

    @property
    def stderr(self) -> str:
        return self.command_obj.read("stderr")

    def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:
        self.command_obj.wait(timeout)
        if self.command_obj.show_output and self.returncode is not None:
            sys.stdout.write(self.stdout)
            sys.stderr.write(self.stderr)
        return self

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.command_obj.cleanup()

    def __repr__(self) -> str:
        return f"<ExecutingRun {self._flow}/{self.run_id} {self.status}>"


class Runner:
    """Runs ``flow_file`` with ``flowc run``: ``Runner("flow.py").run(alpha=0.1)``."""

    def __init__(
        self,
        flow_file: str,
        show_output: bool = True,
        profile: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ):
        self.flow_file = flow_file
        self.show_output = show_output
        self.env = dict(os.environ if env is None else {**os.environ, **env})
        self.cwd = cwd
        self.file_read_timeout = file_read_timeout
        self.top_level = {k: v for k, v in kwargs.items() if k not in _IGNORED}
        self._runs: list[ExecutingRun] = []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Stop runs still going and remove their log files."""
        for r in self._runs:
            r.command_obj.cleanup()

    # --- verbs -------------------------------------------------------------------------------

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow and wait for it to end."""
        return self.async_run(**kwargs).wait()

    def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start the flow and return once its run id is known."""
        return self._start("run", None, kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume the flow's latest run (``origin_run_id=`` another, ``step_to_rerun=`` a
        step) and wait for it to end."""
        return self.async_resume(**kwargs).wait()

    def async_resume(self, **kwargs: Any) -> ExecutingRun:
        step = kwargs.pop("step_to_rerun", None)
        return self._start("resume", step, kwargs)

    # --- command line ------------------------------------------------------------------------

    def _datastore_url(self) -> str:
        from flowc.datastore import resolve_url

        url = self.top_level.get("datastore")
        if not url or url == "local":
            url = self.env.get("FLOWC_DATASTORE")
        path = resolve_url(url)
        if "://" not in path and not os.path.isabs(path):
            path = os.path.join(self.cwd or os.getcwd(), path)
        return path

    def _start(self, verb: str, step: str | None, kwargs: dict[str, Any]) -> ExecutingRun:
        user_file = kwargs.pop("run_id_file", None)
        folder = tempfile.mkdtemp(prefix="flowc-runner-id-")
        id_file = os.path.join(folder, "run-id")
        argv = [sys.executable, "-m", "flowc", verb, self.flow_file]
        if step:
            argv.append(step)
        argv += ["--run-id-file", id_file, "--datastore", self._datastore_url()]
        argv += _options({**self.top_level, **kwargs})
        cmd = CommandManager(argv, self.env, self.cwd, self.show_output)
        try:
            run_id = self._wait_for_id(id_file, cmd)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if user_file:
            target = user_file if os.path.isabs(user_file) else os.path.join(self.cwd or os.getcwd(), user_file)
            with open(target, "w") as f:
                f.write(run_id)
        flow = _flow_name(self.flow_file, self.cwd, self.top_level.get("flow"))
        running = ExecutingRun(self, cmd, run_id, flow)
        self._runs.append(running)
        return running

    def _wait_for_id(self, id_file: str, cmd: CommandManager) -> str:
        deadline = time.monotonic() + self.file_read_timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if os.path.exists(id_file):
                with open(id_file) as f:
                    text = f.read().strip()
                if text:
                    return text
            if cmd.process.poll() is not None and not os.path.exists(id_file):
                cmd.wait()
                raise RunnerError(
                    f"{' '.join(cmd.command[3:5])} ended (exit {cmd.process.returncode}) "
                    f"before its run started: {cmd.read('stderr').strip()[-500:]}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        cmd.kill()
        raise RunnerError(f"no run id after {self.file_read_timeout} s")


def _options(kwargs: dict[str, Any]) -> list[str]:
    """Keyword arguments as ``flowc run`` options and flow parameters."""
    out: list[str] = []
    for key, value in kwargs.items():
        if key in _IGNORED or value is None:
            continue
        if key in ("tags", "tag"):
            for t in [value] if isinstance(value, str) else value:
                out += ["--tag", str(t)]
        elif key in ("with_", "decospecs", "with"):
            for w in [value] if isinstance(value, str) else value:
                out += ["--with", str(w)]
        elif key in ("max_workers", "flow", "origin_run_id"):
            out += [f"--{key.replace('_', '-')}", str(value)]
        elif key == "datastore":
            continue  # given once, resolved
        else:
            out += _param(key, value)
    return out


def _param(name: str, value: Any) -> list[str]:
    import json

    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value)
    else:
        text = str(value)
    return [f"--{name}", text]


def _flow_name(flow_file: str, cwd: str | None, chosen: str | None) -> str:
    if chosen:
        return chosen
    from flowc.analyzer import analyze_file

    path = flow_file if os.path.isabs(flow_file) else os.path.join(cwd or os.getcwd(), flow_file)
    analysis = analyze_file(path)
    if analysis.main_flow:
        return analysis.main_flow
    if len(analysis.candidates) == 1:
        return analysis.candidates[0]
    raise RunnerError(f"{flow_file}: pass flow= to name one of {', '.join(analysis.candidates)}")


class NBRunner:
    """``Runner`` for a flow class defined in a notebook: its cell's source is written to a
    file first. ``NBRunner(MyFlow).nbrun(alpha=0.1)`` returns the finished ``Run``."""

    def __init__(self, flow: type, show_output: bool = True, base_dir: str | None = None, **kwargs: Any):
        self.flow = flow
        folder = tempfile.mkdtemp(prefix="flowc-nb-", dir=base_dir)
        self._remove = weakref.finalize(self, shutil.rmtree, folder, True)
        self.flow_file = os.path.join(folder, f"{flow.__name__}.py")
        with open(self.flow_file, "w") as f:
            f.write(_source_of(flow))
        kwargs.setdefault("flow", flow.__name__)
        kwargs.setdefault("cwd", os.getcwd())
        self.runner = Runner(self.flow_file, show_output=show_output, **kwargs)

    def nbrun(self, **kwargs: Any) -> Any:
        return self.runner.run(**kwargs).run

    def nbresume(self, **kwargs: Any) -> Any:
        return self.runner.resume(**kwargs).run

    def run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.run(**kwargs)

    def async_run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.async_run(**kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.resume(**kwargs)

    def cleanup(self) -> None:
        self.runner.cleanup()
        self._remove()


def _source_of(flow: type) -> str:
    """The whole source the flow class was defined in: its module's file, or the notebook
    cell (IPython keeps each cell as a pseudo-file)."""
    import inspect
    import linecache

    module = sys.modules.get(flow.__module__)
    path = getattr(module, "__file__", None)
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    try:
        filename = inspect.getsourcefile(flow) or inspect.getfile(flow)
    except (TypeError, OSError):
        filename = None
    lines = linecache.getlines(filename) if filename else []
    if not lines:
        raise RunnerError(f"cannot find the source of {flow.__name__} (define it in a file or a cell)")
    return "".join(lines)
