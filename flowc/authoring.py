"""The authoring API a flow file imports: ``FlowSpec``, ``step``, ``Parameter`` and the step and
flow decorators, with Metaflow's names and signatures.

Importing it does nothing but define these names. Decorators only record what they were given
on the function or class; the analyzer reads the same facts from source without importing the
flow, and the runtime (``flowc.runtime``) acts on them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

# ---------------------------------------------------------------------------------- flows ---


class FlowSpec:
    """Base class of every flow. ``MyFlow()`` at the bottom of a flow file hands the command
    line (``python flow.py run|show|...``) to flowc's CLI for that file and class.

    While a step runs, the task contract attaches its state to the object: inherited artifacts
    load on first read, Parameters are read-only, and ``self.next`` is recorded.
    """

    def __init__(self, use_cli: bool = True):
        loader = sys.modules.get("flowc.runtime.loader")
        if loader is not None and loader.importing:
            return  # a flow file without a __main__ guard, being imported to run
        if use_cli:
            from flowc.cli import flow_main

            module = sys.modules.get(type(self).__module__)
            path = getattr(module, "__file__", None) or sys.argv[0]
            flow_main(path, type(self).__name__)

    @property
    def name(self) -> str:
        return type(self).__name__

    def __iter__(self) -> Any:
        """The flow's steps (functions with ``.name``), in definition order, as Metaflow's."""
        from flowc.extend import step_names

        return iter([getattr(type(self), n) for n in step_names(type(self))])

    @property
    def _graph(self) -> Any:
        """Metaflow's ``FlowGraph`` view of this flow (``self._graph["a"].type``)."""
        from flowc.flowgraph import graph_of

        return graph_of(type(self))

    @property
    def _current_step(self) -> str | None:
        """The step running now (Metaflow's private name for ``current.step_name``)."""
        return current.step_name

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("_flowc_task")
        if state is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return state.load(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__.get("_flowc_task")
        if state is not None:
            state.check_set(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        state = self.__dict__.get("_flowc_task")
        if state is None:
            object.__delattr__(self, name)
        else:
            state.delete(self, name)

    def _state(self, what: str) -> Any:
        state = self.__dict__.get("_flowc_task")
        if state is None:
            raise RuntimeError(
                f"{what} only works while a step runs (flowc run FLOW_FILE, or python "
                "FLOW_FILE run)"
            )
        return state

    def next(
        self,
        *targets: Any,
        foreach: str | None = None,
        condition: str | None = None,
        num_parallel: int | None = None,
    ) -> None:
        """Name the step(s) that run after this one; call it once, at the end of a step."""
        self._state("self.next()").record_next(targets, foreach, condition, num_parallel)

    def merge_artifacts(
        self, inputs: Any, exclude: list[str] | None = None, include: list[str] | None = None
    ) -> None:
        """In a join, take every artifact the inputs agree on (or only ``include``)."""
        from flowc.runtime.state import merge_artifacts

        merge_artifacts(self._state("merge_artifacts"), self, inputs, include, exclude)

    @property
    def input(self) -> Any:
        """This foreach item (``None`` outside a foreach)."""
        state = self._state("self.input")
        return state.input_at(self, len(state.frames) - 1) if state.frames else None

    @property
    def index(self) -> int | None:
        """This foreach item's position (``None`` outside a foreach)."""
        state = self._state("self.index")
        return state.frames[-1]["index"] if state.frames else None

    @property
    def _foreach_stack(self) -> list[Any]:
        """Metaflow's private frames (``.step``, ``.var``, ``.num_splits``, ``.index``,
        ``.value``), outermost first; code written against Metaflow reads them."""
        from types import SimpleNamespace

        state = self._state("self._foreach_stack")
        return [
            SimpleNamespace(
                step=f.get("step"),
                var=f.get("var"),
                num_splits=f["num_splits"],
                index=f["index"],
                value=state.input_at(self, i),
            )
            for i, f in enumerate(state.frames)
        ]

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, number of items, item)`` for every enclosing foreach, outermost first."""
        state = self._state("self.foreach_stack()")
        return [
            (f["index"], f["num_splits"], state.input_at(self, i))
            for i, f in enumerate(state.frames)
        ]


def step(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method as a step of the flow."""
    func.is_step = True  # type: ignore[attr-defined]
    func.name = func.__name__  # type: ignore[attr-defined]
    func.__flowc_decorators__ = list(getattr(func, "__flowc_decorators__", []))  # type: ignore[attr-defined]
    return func


def _recording_decorator(name: str, target: str) -> Callable[..., Any]:
    """A decorator usable bare (``@retry``) or called (``@retry(times=3)``) that records its
    name and keyword arguments on the decorated function or class."""

    def apply(obj: Any, kwargs: dict[str, Any]) -> Any:
        specs = list(getattr(obj, "__flowc_decorators__", []))
        specs.append((name, dict(kwargs)))
        obj.__flowc_decorators__ = specs
        return obj

    def decorator(obj: Any = None, **kwargs: Any) -> Any:
        if obj is not None and callable(obj) and not kwargs:
            return apply(obj, {})
        return functools.partial(apply, kwargs=kwargs)

    decorator.__name__ = name
    decorator.__qualname__ = name
    decorator.__doc__ = f"The ``@{name}`` {target} decorator (recorded; enforced by the runtime)."
    return decorator


card = _recording_decorator("card", "step")
retry = _recording_decorator("retry", "step")
catch = _recording_decorator("catch", "step")
timeout = _recording_decorator("timeout", "step")
resources = _recording_decorator("resources", "step")
environment = _recording_decorator("environment", "step")
# Metaflow's pod settings (image, cpu, memory, node_selector, secrets...): locally only recorded;
# the Kubernetes targets map them (flowc.backends.k8s)
kubernetes = _recording_decorator("kubernetes", "step")
schedule = _recording_decorator("schedule", "flow")
project = _recording_decorator("project", "flow")
parallel = _recording_decorator("parallel", "step")
secrets = _recording_decorator("secrets", "step")

# ----------------------------------------------------------------------------- parameters ---


class JSONType:
    """Marks a Parameter whose value is parsed as JSON."""


class Parameter:
    """A run-time parameter, read in every step as a read-only artifact (``self.<attr>``)."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,  # noqa: A002 - Metaflow's keyword
        help: str | None = None,  # noqa: A002
        required: bool = False,
        **kwargs: Any,
    ):
        self.name = name
        self.default = default
        self.type = type
        self.help = help
        self.required = required
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, default={self.default!r})"


class IncludeFile(Parameter):
    """A parameter whose value is the content of a local file, stored with the run."""

    def __init__(self, name: str, is_text: bool = True, encoding: str = "utf-8", **kwargs: Any):
        super().__init__(name, **kwargs)
        self.is_text = is_text
        self.encoding = encoding


class Config(Parameter):
    """A configuration read when the run starts: from a file (``default`` is its path; JSON, or
    whatever ``parser`` reads), or a value (``default_value``: a dict, or a function of the
    context). In the class body, ``cfg.key`` and ``**cfg`` stand for values computed then
    (see :mod:`flowc.configs`); in a step, ``self.cfg`` is the read-only value."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        default_value: Any = None,
        parser: Any = None,
        **kwargs: Any,
    ):
        super().__init__(name, default=default, **kwargs)
        self.default_value = default_value
        self.parser = parser
        if default is None and default_value is not None:
            self.default = default_value  # read as a value, not a path

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key in ("is_step", "dtype", "shape"):
            raise AttributeError(key)
        from flowc.configs import Deferred

        return getattr(Deferred(self.name), key)

    def __getitem__(self, key: Any) -> Any:
        from flowc.configs import UNPACK, Deferred

        if isinstance(key, str) and key.startswith(UNPACK):
            return Deferred(self.name, unpack=True)
        return Deferred(self.name)[key]

    def keys(self) -> list[str]:
        """``**cfg`` in a decorator call: one marker key, replaced by the value's items when the
        run starts."""
        from flowc.configs import UNPACK

        return [UNPACK + self.name]


# -------------------------------------------------------------------------------- current ---


class _Current:
    """What a running task knows about itself. Outside a task every field is empty."""

    is_running_flow = False
    flow_name: str | None = None
    run_id: str | None = None
    step_name: str | None = None
    task_id: str | None = None
    retry_count = 0
    origin_run_id: str | None = None
    _tempdir: str | None = None
    _make_tempdir: Any = None  # set by the task contract; the folder is made on first use
    parameter_names: tuple[str, ...] = ()
    pathspec: str | None = None
    username: str | None = None
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    # @project (None without one)
    project_name: str | None = None
    branch_name: str | None = None
    project_flow_name: str | None = None
    is_production: bool | None = None
    parallel: Any = None  # in a @parallel step: num_nodes, node_index, control_task_id
    _datastore: Any = None  # the running task's datastore, for current.task / current.run

    @property
    def task(self) -> Any:
        """This task as a client ``Task`` (picklable: store it as an artifact)."""
        if not self.is_running_flow:
            return None
        from flowc.client.objects import Task

        return Task._running(self.pathspec, self._datastore)

    @property
    def run(self) -> Any:
        """This run as a client ``Run``."""
        if not self.is_running_flow:
            return None
        from flowc.client.objects import Run

        return Run(f"{self.flow_name}/{self.run_id}", self._datastore, _check_namespace=False)

    def _update_env(self, values: dict[str, Any]) -> None:
        """New ``current`` fields for this task (what Metaflow's flow decorators call)."""
        for key, value in values.items():
            setattr(self, key, value)

    @property
    def tempdir(self) -> str | None:
        """A private temporary folder for this task, removed when the task ends."""
        if self._tempdir is None and self._make_tempdir is not None:
            self._tempdir = self._make_tempdir()
        return self._tempdir

    def __repr__(self) -> str:
        return (
            "<flowc.current: not in a running task>"
            if not self.is_running_flow
            else (f"<flowc.current {self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}>")
        )


current = _Current()
