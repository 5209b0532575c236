"""Flow, Run, Step, Task and DataArtifact: Metaflow's client objects over flowc's datastore.

Objects are addressed by pathspec (``LRFlow/1764500000000000/train/0``) and read lazily:
listing a flow's runs reads the run index (:mod:`flowc.datastore.index`), not the runs;
opening a run reads its record; an artifact's value is loaded only through ``.data``. Runs
made by ``flowc run``, ``flowc resume`` or an orchestrator backend look the same here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from flowc.client.scope import NamespaceMismatch, NotFound, datastore, get_namespace
from flowc.client.records import (
    check_run,
    check_status,
    check_tags,
    check_task,
    read_record,
    when,
)
from flowc.datastore import Datastore, layout


def _split(pathspec: str, parts: int, kind: str, example: str) -> list[str]:
    if not isinstance(pathspec, str):
        raise NotFound(f"{kind} takes a pathspec string like {example!r}, not {pathspec!r}")
    items = pathspec.strip("/").split("/")
    if len(items) != parts or not all(items):
        raise NotFound(f"{pathspec!r} is not a {kind} pathspec; use {example!r}")
    return items


class _Object:
    _kind = "object"

    def __init__(self, pathspec: str, ds: Datastore | None = None):
        self.pathspec = pathspec
        self._ds = ds or datastore()

    @property
    def id(self) -> str:
        return self.pathspec.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.pathspec == self.pathspec  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))

    def __reduce__(self) -> Any:
        """Pickled as its pathspec and datastore URL (a step may store ``current.task``); it
        opens again in any namespace, as Metaflow's pickled client objects do."""
        return (_reopen, (type(self).__name__, self.pathspec, self._ds.url))


def _reopen(kind: str, pathspec: str, url: str) -> _Object:
    ds = Datastore(url)
    if kind == "Run":
        return Run(pathspec, ds, _check_namespace=False)
    cls = {"Flow": Flow, "Step": Step, "Task": Task, "DataArtifact": DataArtifact}[kind]
    return cls(pathspec, ds)


# --- Flow -----------------------------------------------------------------------------------------


class Flow(_Object):
    """A flow: every run of it in the current namespace, newest first."""

    def __init__(self, pathspec: str, _ds: Datastore | None = None):
        (name,) = _split(pathspec, 1, "Flow", "LRFlow")
        super().__init__(name, _ds)
        if not self._ds.storage.exists(f"runs/{name}/.index") and not self._ds.storage.listdir(
            f"runs/{name}"
        ):
            known = self._ds.storage.listdir("runs")
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else (f" (flows there: {', '.join(known)})" if known else " (it holds no runs)")
            )
            raise NotFound(f"flow {name!r} has never run in the datastore {self._ds.url}{hint}")

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying every tag given, newest first."""
        from flowc.datastore.index import read_index

        ns = get_namespace()
        wanted = set(tags) | ({ns} if ns else set())
        for entry in read_index(self._ds, self.id, _warn):
            have = set(entry.tags) | {f"user:{entry.user}"}
            if wanted <= have:
                yield Run._from_index(self.id, entry, self._ds)

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}", _ds=self._ds)

    @property
    def latest_run(self) -> Run | None:
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)

    @property
    def parent(self) -> None:
        return None

    @property
    def tags(self) -> frozenset[str]:
        """A flow has no tags of its own (its runs have)."""
        return frozenset()

    @property
    def path_components(self) -> list[str]:
        return [self.id]


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


# --- Run ------------------------------------------------------------------------------------------


class Run(_Object):
    """One run of a flow."""

    def __init__(self, pathspec: str, _ds: Datastore | None = None, _check_namespace: bool = True):
        flow, run_id = _split(pathspec, 2, "Run", "LRFlow/1764500000000000")
        super().__init__(f"{flow}/{run_id}", _ds)
        self.flow_name, self._entry = flow, None
        self._base = layout.run_dir(flow, run_id)
        record = read_record(self._ds, f"{self._base}/run.json", check_run)
        if record is None:
            raise NotFound(_missing_run(self._ds, flow, run_id))
        self._record = record
        ns = get_namespace()
        if _check_namespace and ns and ns not in self.tags:
            raise NamespaceMismatch(
                f"run {self.pathspec} is not in the namespace {ns!r} (it is user:"
                f"{self.user}'s); call namespace(None) to see every run, or "
                f"namespace('user:{self.user}')"
            )

    @classmethod
    def _from_index(cls, flow: str, entry: Any, ds: Datastore) -> Run:
        run = cls.__new__(cls)
        _Object.__init__(run, f"{flow}/{entry.run_id}", ds)
        run.flow_name, run._entry = flow, entry
        run._base = layout.run_dir(flow, entry.run_id)
        run._record = None
        return run

    # --- records ------------------------------------------------------------------------------

    @property
    def record(self) -> dict:
        if self._record is None:
            rec = read_record(self._ds, f"{self._base}/run.json", check_run)
            if rec is None:
                raise NotFound(f"run {self.pathspec} was listed but its record is gone")
            self._record = rec
        return self._record

    def _status(self) -> dict | None:
        return read_record(self._ds, f"{self._base}/status.json", check_status)

    @property
    def user(self) -> str | None:
        return self._entry.user if self._entry is not None else self.record.get("user")

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags (as this object last changed them, when it did: steps running
        at once may change the same tags, as in Metaflow each sees its own changes)."""
        mine = self.__dict__.get("_mutated_tags")
        if mine is not None:
            return mine
        return self._stored_tags()

    def _stored_tags(self) -> frozenset[str]:
        doc = read_record(self._ds, f"{self._base}/tags.json", check_tags)
        return frozenset(doc["tags"] if doc is not None else self.record.get("tags", ()))

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset({f"user:{self.user}", *self.record.get("system_tags", ())})

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    def add_tag(self, tag: str) -> None:
        self.add_tags(tag if isinstance(tag, (list, tuple)) else [tag])

    def add_tags(self, tags: list[str] | tuple[str, ...]) -> None:
        """Add user tags; a tag that is already a system tag is left alone."""
        self._change_tags(set(_check_tags(tags)) - self.system_tags, set())

    def remove_tag(self, tag: str) -> None:
        self.remove_tags(tag if isinstance(tag, (list, tuple)) else [tag])

    def remove_tags(self, tags: list[str] | tuple[str, ...]) -> None:
        self._check_not_system(tags)
        self._change_tags(set(), set(_check_tags(tags)))

    def replace_tag(self, old: str, new: str) -> None:
        self.replace_tags(
            old if isinstance(old, (list, tuple)) else [old],
            new if isinstance(new, (list, tuple)) else [new],
        )

    def replace_tags(self, remove: list[str] | tuple[str, ...], add: list[str] | tuple[str, ...]) -> None:
        """Remove ``remove``, then add ``add``, in one change."""
        if not remove and not add:
            raise ValueError("replace_tags needs at least one tag to remove or to add")
        self._check_not_system(remove)
        self._change_tags(set(_check_tags(add)) - self.system_tags, set(_check_tags(remove)))

    def _change_tags(self, add: set[str], remove: set[str]) -> None:
        """Apply a change to the tags as they are now: steps running at once may each change
        them (a local datastore serialises the changes with a lock file)."""
        from flowc.datastore.storage import LocalStorage

        storage = self._ds.storage
        if not isinstance(storage, LocalStorage):
            self._set_tags((self._stored_tags() - remove) | add)
            return
        import fcntl
        import os

        path = os.path.join(storage.root, self._base, ".tags.lock")
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._set_tags((self._stored_tags() - remove) | add)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _check_not_system(self, tags: list[str] | tuple[str, ...]) -> None:
        system = set(tags if not isinstance(tags, str) else [tags]) & self.system_tags
        if system:
            raise ValueError(
                f"{', '.join(sorted(system))} {'is a system tag' if len(system) == 1 else 'are system tags'}"
                f" of run {self.pathspec}; only user tags can be removed"
            )

    def _set_tags(self, tags: set[str] | frozenset[str]) -> None:
        from flowc.datastore.index import record_tags

        ordered = sorted(tags)
        self._mutated_tags = frozenset(ordered)
        self._ds.write_json(f"{self._base}/tags.json", {"tags": ordered})
        record_tags(self._ds, self.flow_name, self.id, ordered)
        if self._entry is not None:
            self._entry.tags = ordered

    @property
    def created_at(self) -> datetime | None:
        return when(self.record["created_at"])

    @property
    def finished_at(self) -> datetime | None:
        status = self._status()
        return when(status["finished_at"]) if status else None

    @property
    def finished(self) -> bool:
        return self._status() is not None

    @property
    def successful(self) -> bool:
        status = self._status()
        return status is not None and status["status"] == "succeeded"

    @property
    def status(self) -> str:
        """``running``, ``succeeded`` or ``failed``."""
        status = self._status()
        return status["status"] if status else "running"

    @property
    def origin_run_id(self) -> str | None:
        return self.record.get("origin_run_id")

    @property
    def origin_pathspec(self) -> str | None:
        origin = self.origin_run_id
        return f"{self.flow_name}/{origin}" if origin else None

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameter values by attribute name."""
        return {attr: self._ds.get(ref["sha"]) for attr, ref in self.record["parameters"].items()}

    # --- steps --------------------------------------------------------------------------------

    def _step_names(self) -> list[str]:
        present = set(self._ds.storage.listdir(self._base))
        ir = read_record(self._ds, f"{self._base}/ir.json")
        order = [s["name"] for s in ir.get("steps", ())] if ir else sorted(present)
        return [name for name in order if name in present]

    def steps(self, *tags: str) -> Iterator[Step]:
        """Steps that ran, in the flow's order (none unless the run has every tag given)."""
        if tags and not set(tags) <= self.tags:
            return
        for name in self._step_names():
            yield Step(f"{self.pathspec}/{name}", self._ds)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        return Step(f"{self.pathspec}/{step}", self._ds)

    def __contains__(self, step: str) -> bool:
        return step in self._step_names()

    @property
    def parent(self) -> Flow:
        return Flow(self.flow_name, self._ds)

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    def _graph(self) -> dict[str, list[str]]:
        """Each step's successors, from the graph the run used."""
        ir = read_record(self._ds, f"{self._base}/ir.json") or {}
        out: dict[str, list[str]] = {}
        for s in ir.get("steps", ()):
            tr = s.get("transition") or {}
            targets = list(tr.get("targets") or ())
            for case in tr.get("cases") or ():
                if case[1] not in targets:
                    targets.append(case[1])
            out[s["name"]] = targets
        return out

    @property
    def end_task(self) -> Task | None:
        if not self._ds.storage.exists(layout.task_record_key(self.flow_name, self.id, "end", "0")):
            return None
        return Task(f"{self.pathspec}/end/0", self._ds)

    @property
    def data(self) -> _Data | None:
        """The end step's artifacts (None until the end step has finished)."""
        end = self.end_task
        return end.data if end is not None else None


def _is_running(pathspec: str, depth: int = 0) -> bool:
    """Whether ``pathspec`` is the task running in this process (or, with depth 1, its step)."""
    from flowc.authoring import current

    if not current.is_running_flow or not current.pathspec:
        return False
    return current.pathspec.rsplit("/", depth)[0] == pathspec if depth else current.pathspec == pathspec


def _check_tags(tags: list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 255:
            raise ValueError(f"a tag is a non-empty string of up to 255 characters, not {tag!r}")
    return list(tags)


def _missing_run(ds: Datastore, flow: str, run_id: str) -> str:
    if not ds.storage.listdir(f"runs/{flow}"):
        return f"flow {flow!r} has never run in the datastore {ds.url}"
    for other in ds.storage.listdir("runs"):
        if other != flow and ds.storage.exists(f"runs/{other}/{run_id}/run.json"):
            return f"run {run_id} is a run of {other}, not of {flow}: use '{other}/{run_id}'"
    return f"{flow} has no run {run_id!r} in the datastore {ds.url}"


# --- Step -----------------------------------------------------------------------------------------


class Step(_Object):
    """One step of a run: one task, or one per foreach item."""

    def __init__(self, pathspec: str, _ds: Datastore | None = None):
        flow, run_id, step = _split(pathspec, 3, "Step", "LRFlow/1764500000000000/train")
        super().__init__(f"{flow}/{run_id}/{step}", _ds)
        self.flow_name, self.run_id = flow, run_id
        self._base = layout.step_dir(flow, run_id, step)
        if not self._task_ids() and not _is_running(self.pathspec, depth=1):
            if read_record(self._ds, f"{layout.run_dir(flow, run_id)}/run.json") is None:
                raise NotFound(_missing_run(self._ds, flow, run_id))
            raise NotFound(f"run {flow}/{run_id} has no task of step {step!r}")

    def _task_ids(self) -> list[str]:
        ids = self._ds.storage.listdir(self._base)
        return sorted(ids, key=lambda t: tuple(int(p) if p.isdigit() else -1 for p in t.split(".")))

    @property
    def tags(self) -> frozenset[str]:
        return self.parent.tags

    def tasks(self, *tags: str) -> Iterator[Task]:
        """Every task of the step, finished or failed, in index order (none unless the run
        has every tag given)."""
        if tags and not set(tags) <= self.tags:
            return
        for tid in self._task_ids():
            yield Task(f"{self.pathspec}/{tid}", self._ds)

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", self._ds)

    @property
    def task(self) -> Task:
        """The step's task (the first one, for a foreach body)."""
        return next(self.tasks())

    def control_tasks(self) -> Iterator[Task]:
        """The tasks that lead a ``@parallel`` step's gang (node 0), as Metaflow lists them."""
        return (t for t in self.tasks() if t._record.get("parallel_node_index") == 0)

    @property
    def parent(self) -> Run:
        return Run(f"{self.flow_name}/{self.run_id}", self._ds, _check_namespace=False)

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps that run after this one (that ran in this run)."""
        run = self.parent
        present = set(run._step_names())
        for name in run._graph().get(self.id, ()):
            if name in present:
                yield Step(f"{run.pathspec}/{name}", self._ds)

    @property
    def parent_steps(self) -> Iterator[Step]:
        run = self.parent
        present = set(run._step_names())
        for name, targets in run._graph().items():
            if self.id in targets and name in present:
                yield Step(f"{run.pathspec}/{name}", self._ds)

    @property
    def origin_pathspec(self) -> str | None:
        """For a step of a resumed run: the same step of the run it resumed."""
        origin = self.parent.origin_run_id
        return f"{self.flow_name}/{origin}/{self.id}" if origin else None

    @property
    def created_at(self) -> datetime | None:
        times = [t.created_at for t in self.tasks() if t.created_at is not None]
        return min(times) if times else None

    @property
    def finished_at(self) -> datetime | None:
        times = [t.finished_at for t in self.tasks() if t.finished_at is not None]
        return max(times) if times else None


# --- Task -----------------------------------------------------------------------------------------


class Task(_Object):
    """One task: its artifacts, its logs, and how it ended."""

    def __init__(
        self, pathspec: str, _ds: Datastore | None = None, _namespace_check: bool = False
    ):
        parts = _split(pathspec, 4, "Task", "LRFlow/1764500000000000/train/0")
        super().__init__("/".join(parts), _ds)
        self.flow_name, self.run_id, self.step_name, _ = parts
        self._dir = layout.task_dir(*parts)
        self._record = read_record(self._ds, f"{self._dir}/task.json", check_task)
        if self._record is None:
            attempts = self._attempts()
            if not attempts and _is_running(self.pathspec):
                self._record = {"status": "running"}  # Task(current.pathspec) in its own step
                return
            if not attempts:
                Step(f"{self.flow_name}/{self.run_id}/{self.step_name}", self._ds)
                raise NotFound(f"task {self.pathspec} does not exist")
            self._record = attempts[-1]

    @classmethod
    def _running(cls, pathspec: str, ds: Datastore | None) -> Task:
        """The task running now (``current.task``): it has no record yet."""
        return cls._from_record(pathspec, ds, {"status": "running"})

    @classmethod
    def _from_record(cls, pathspec: str, ds: Datastore | None, record: dict) -> Task:
        """A task whose record is not stored yet (a card renders it as the task ends)."""
        task = cls.__new__(cls)
        parts = pathspec.split("/")
        _Object.__init__(task, pathspec, ds)
        task.flow_name, task.run_id, task.step_name, _ = parts
        task._dir = layout.task_dir(*parts)
        task._record = record
        return task

    def _attempts(self) -> list[dict]:
        names = self._ds.storage.listdir(self._dir)
        found = []
        for name in names:
            head, _, tail = name.partition(".")
            if tail == "attempt.json" and head.isdigit():
                rec = read_record(self._ds, f"{self._dir}/{name}", check_task)
                if rec is not None:
                    found.append((int(head), rec))
        return [rec for _, rec in sorted(found, key=lambda p: p[0])]

    @property
    def successful(self) -> bool:
        return self._record.get("status") == "ok"

    @property
    def finished(self) -> bool:
        return True  # a task is listed once an attempt of it has ended

    @property
    def current_attempt(self) -> int:
        return int(self._record.get("attempt", 0))

    @property
    def origin_pathspec(self) -> str | None:
        """For a task that resume cloned: the task it was cloned from."""
        return self._record.get("origin_pathspec")

    @property
    def index(self) -> int | None:
        """The task's item in its innermost foreach, or None outside any."""
        index = self._record.get("index") or []
        return index[-1] if index else None

    @property
    def created_at(self) -> datetime | None:
        return when(self._record.get("started_at"))

    @property
    def finished_at(self) -> datetime | None:
        return when(self._record.get("finished_at"))

    @property
    def exception(self) -> TaskException | None:
        """Why a task failed (``.type``, ``.exception``, ``.stacktrace``; ``str()`` is one
        line); None when it succeeded, also when ``@catch`` handled the error."""
        if self.successful or not self._record.get("error"):
            return None
        return TaskException(self._record)

    @property
    def parent(self) -> Step:
        return Step(f"{self.flow_name}/{self.run_id}/{self.step_name}", self._ds)

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        for p in self._record.get("parents") or ():
            yield f"{self.flow_name}/{self.run_id}/{p}"

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks this one continued from (several for a join)."""
        for p in self.parent_task_pathspecs:
            yield Task(p, self._ds)

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        for t in self.child_tasks:
            yield t.pathspec

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that continued from this one."""
        me = f"{self.step_name}/{self.id}"
        for step in self.parent.child_steps:
            for task in step:
                if me in (task._record.get("parents") or ()):
                    yield task

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The task's metadata as Metaflow names it (attempt, origin-run-id, ...)."""
        rec = self._record
        out = {
            "attempt": str(self.current_attempt),
            "attempt-done": str(self.current_attempt),
            "attempt_ok": str(self.successful),
            "python_version": rec.get("python_version", ""),
        }
        if rec.get("host"):
            out["hostname"] = str(rec["host"])
        if rec.get("parallel_node_index") == 0:
            out["internal_task_type"] = "control"
        run = Run(f"{self.flow_name}/{self.run_id}", self._ds, _check_namespace=False)
        if run.origin_run_id:
            out["origin-run-id"] = run.origin_run_id
        if self.origin_pathspec:
            out["origin-task-id"] = self.origin_pathspec.rsplit("/", 1)[-1]
        return out

    @property
    def metadata(self) -> list[Metadata]:
        """Every metadata entry: one ``attempt`` per attempt made, then the task's fields."""
        out = []
        attempts = self._attempts()
        if self.successful:
            attempts.append(self._record)
        for rec in attempts:
            n = str(rec.get("attempt", 0))
            out.append(Metadata("attempt", n, when(rec.get("started_at")), "attempt", self))
        for name, value in self.metadata_dict.items():
            if name != "attempt":
                out.append(Metadata(name, value, self.created_at, name, self))
        return out

    def loglines(self, stream: str, as_unicode: bool = True) -> Iterator[tuple[datetime | None, str]]:
        """``(timestamp, line)`` for each line the task printed on ``stream``."""
        at = self.finished_at
        text = self._log(stream)
        for line in text.splitlines():
            yield at, line if as_unicode else line.encode("utf-8")

    @property
    def tags(self) -> frozenset[str]:
        return Run(f"{self.flow_name}/{self.run_id}", self._ds, _check_namespace=False).tags

    # --- artifacts ----------------------------------------------------------------------------

    def _refs(self) -> dict[str, dict]:
        return self._record.get("artifacts") or {} if self.successful else {}

    @property
    def data(self) -> _Data:
        return _Data(self)

    @property
    def artifacts(self) -> _Artifacts:
        return _Artifacts(self)

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._refs():
            raise KeyError(self._no_artifact(name))
        return DataArtifact._of(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._refs()

    def __iter__(self) -> Iterator[DataArtifact]:
        return (DataArtifact._of(self, name) for name in sorted(self._refs()))

    def _no_artifact(self, name: str) -> str:
        if not self.successful:
            return f"task {self.pathspec} failed, so it stored no artifact {name!r}"
        names = sorted(self._refs())
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (it has: {', '.join(names)})"
        return f"task {self.pathspec} has no artifact {name!r}{hint}"

    # --- logs ---------------------------------------------------------------------------------

    @property
    def stdout(self) -> str:
        return self._log("stdout")

    @property
    def stderr(self) -> str:
        return self._log("stderr")

    def _log(self, stream: str) -> str:
        task = self
        for _ in range(100):  # a clone of a clone of ...: the logs are where it ran
            origin = task.origin_pathspec
            if not origin:
                break
            task = Task(origin, self._ds)
        key = f"{task._dir}/{task.current_attempt}.{stream}"
        data = self._ds.read_bytes(key)
        return data.decode("utf-8", "replace") if data else ""


class Metadata(NamedTuple):
    name: str
    value: str
    created_at: datetime | None
    type: str
    task: Any


class TaskException:
    """A failed task's error: ``.type`` (qualified class name), ``.exception`` (its message),
    ``.stacktrace``; ``str()`` gives ``type: message``."""

    def __init__(self, record: dict):
        exc = record.get("exception") or {}
        error = record.get("error") or ""
        self.type = exc.get("type") or error.partition(":")[0]
        self.exception = exc.get("message", error.partition(": ")[2])
        self.stacktrace = exc.get("stacktrace", "")

    def __str__(self) -> str:
        return f"{self.type}: {self.exception}" if self.exception else self.type

    def __repr__(self) -> str:
        return f"<TaskException {self}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        return isinstance(other, TaskException) and (
            (self.type, self.exception, self.stacktrace)
            == (other.type, other.exception, other.stacktrace)
        )

    __hash__ = None  # type: ignore[assignment]


class _TaskView:
    """Attribute access to a task's artifacts; ``_value`` says what a name gives."""

    def __init__(self, task: Task):
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._task:
            raise AttributeError(self._task._no_artifact(name))
        return self._value(self._task[name])

    def _value(self, artifact: DataArtifact) -> Any:
        raise NotImplementedError

    def __contains__(self, name: str) -> bool:
        return name in self._task

    def __len__(self) -> int:
        return len(self._task._refs())

    def __dir__(self) -> list[str]:
        return sorted(self._task._refs())

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._task._refs()))
        return f"<{type(self).__name__.strip('_').lower()} of {self._task.pathspec}: {names}>"


class _Data(_TaskView):
    """``task.data.NAME``: an artifact's value; iterating gives the names."""

    def _value(self, artifact: DataArtifact) -> Any:
        return artifact.data

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._task._refs()))


class _Artifacts(_TaskView):
    """``task.artifacts.NAME``: the DataArtifact (type, size, sha; value on ``.data``)."""

    def _value(self, artifact: DataArtifact) -> DataArtifact:
        return artifact

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._task)


# --- DataArtifact ---------------------------------------------------------------------------------


class DataArtifact(_Object):
    """One stored value of one task. ``.data`` loads it; the rest reads only the record."""

    def __init__(self, pathspec: str, _ds: Datastore | None = None):
        parts = _split(pathspec, 5, "DataArtifact", "LRFlow/1764500000000000/train/0/model")
        task = Task("/".join(parts[:4]), _ds)
        if parts[4] not in task:
            raise NotFound(task._no_artifact(parts[4]))
        self._init(task, parts[4])

    @classmethod
    def _of(cls, task: Task, name: str) -> DataArtifact:
        art = cls.__new__(cls)
        art._init(task, name)
        return art

    def _init(self, task: Task, name: str) -> None:
        _Object.__init__(self, f"{task.pathspec}/{name}", task._ds)
        self._task = task
        self._ref = task._refs()[name]

    @property
    def data(self) -> Any:
        return self._ds.get(self._ref["sha"])

    @property
    def sha(self) -> str:
        return self._ref["sha"]

    @property
    def size(self) -> int | None:
        return self._ref.get("size")

    @property
    def type(self) -> str | None:
        return self._ref.get("type")

    @property
    def tags(self) -> frozenset[str]:
        return self._task.tags

    @property
    def short_repr(self) -> str | None:
        return self._ref.get("repr")

    @property
    def created_at(self) -> datetime | None:
        return self._task.finished_at

    finished_at = created_at
