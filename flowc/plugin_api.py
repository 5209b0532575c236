"""Metaflow's plugin decorator classes (``metaflow.decorators.StepDecorator`` and
``FlowDecorator``), so the step and flow decorators that ``metaflow_extensions`` packages ship
run under flowc unchanged.

flowc calls the task-side hooks, in the task's own process, with Metaflow's argument order:
``step_init``, ``task_pre_step``, ``task_decorate``, ``task_post_step``, ``task_exception``,
``task_finished`` for a step decorator; ``flow_init`` for a flow decorator, with its ``options``
read from ``METAFLOW_<OPTION>`` (Metaflow's environment name for a top-level CLI option) or the
option's default. Arguments that name Metaflow's internal services (datastore, metadata
provider, environment) are None: flowc has no such objects. The runtime-side hooks
(``runtime_init``, ``runtime_step_cli``, ...) configure Metaflow's own scheduler and are not
called.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

STEP_PLUGINS = "__flowc_step_plugins__"
FLOW_PLUGINS = "__flowc_flow_plugins__"


class BadDecoratorAttribute(TypeError):
    """A plugin decorator was given an attribute it does not declare in ``defaults``."""


class Decorator:
    """Common to step and flow decorators: a ``name`` and ``attributes`` filled from
    ``defaults`` and what the decorator was called with."""

    name = "NONAME"
    defaults: dict[str, Any] = {}

    def __init__(
        self,
        attributes: dict[str, Any] | None = None,
        statically_defined: bool = False,
        inserted_by: Any = None,
    ):
        self.attributes = dict(self.defaults)
        self.statically_defined = statically_defined
        self.inserted_by = inserted_by
        for key, value in (attributes or {}).items():
            if key not in self.defaults:
                known = ", ".join(sorted(self.defaults)) or "none"
                raise BadDecoratorAttribute(
                    f"@{self.name} has no attribute {key!r} (it takes: {known})"
                )
            self.attributes[key] = value

    def __str__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.attributes.items() if v is not None)
        return f"{self.name}:{args}" if args else self.name


class StepDecorator(Decorator):
    """Override the ``task_*`` hooks; every default does nothing. The arguments are
    Metaflow's, in its order."""

    def step_init(
        self, flow: Any, graph: Any, step_name: str, decorators: Any, environment: Any,
        flow_datastore: Any, logger: Any,
    ) -> None:  # fmt: skip
        return None

    def task_pre_step(
        self, step_name: str, task_datastore: Any, metadata: Any, run_id: str, task_id: str,
        flow: Any, graph: Any, retry_count: int, max_user_code_retries: int, ubf_context: Any,
        inputs: Any,
    ) -> None:  # fmt: skip
        return None

    def task_decorate(
        self, step_func: Callable[[], Any], flow: Any, graph: Any, retry_count: int,
        max_user_code_retries: int, ubf_context: Any,
    ) -> Callable[[], Any]:  # fmt: skip
        return step_func

    def task_post_step(
        self, step_name: str, flow: Any, graph: Any, retry_count: int, max_user_code_retries: int
    ) -> None:
        return None

    def task_exception(
        self, exception: BaseException, step_name: str, flow: Any, graph: Any, retry_count: int,
        max_user_code_retries: int,
    ) -> Any:  # fmt: skip
        """Return True to handle (swallow) the step's exception."""
        return None

    def task_finished(
        self, step_name: str, flow: Any, graph: Any, is_task_ok: bool, retry_count: int,
        max_user_code_retries: int,
    ) -> None:  # fmt: skip
        return None


class FlowDecorator(Decorator):
    """Override ``flow_init``; ``options`` declares the top-level options it reads."""

    options: dict[str, dict[str, Any]] = {}

    def flow_init(
        self, flow: Any, graph: Any, environment: Any, flow_datastore: Any, metadata: Any,
        logger: Any, echo: Any, options: dict[str, Any],
    ) -> None:  # fmt: skip
        return None

    def get_top_level_options(self) -> list[Any]:
        return []


# --------------------------------------------------------------- the decorator functions ---


def step_decorator_function(cls: type[StepDecorator]) -> Callable[..., Any]:
    """``@name`` / ``@name(attr=v)`` on a step, as Metaflow exposes a plugin's decorator."""
    return _decorator_function(cls, STEP_PLUGINS, "step")


def flow_decorator_function(cls: type[FlowDecorator]) -> Callable[..., Any]:
    """``@name`` / ``@name(attr=v)`` on a flow class."""
    return _decorator_function(cls, FLOW_PLUGINS, "flow")


def _decorator_function(cls: type[Decorator], kind: str, target: str) -> Callable[..., Any]:
    def attach(obj: Any, attributes: dict[str, Any]) -> Any:
        instances = (
            list(obj.__dict__.get(kind, []))
            if isinstance(obj, type)
            else list(getattr(obj, kind, []))
        )
        instances.append(cls(attributes=attributes, statically_defined=True))
        setattr(obj, kind, instances)
        return obj

    def decorator(obj: Any = None, **attributes: Any) -> Any:
        if obj is not None and callable(obj) and not attributes:
            return attach(obj, {})
        cls(attributes=attributes)  # a wrong attribute fails here, at the decorator's line
        return functools.partial(attach, attributes=attributes)

    decorator.__name__ = decorator.__qualname__ = cls.name
    decorator.__doc__ = cls.__doc__ or f"The @{cls.name} {target} decorator of an extension."
    return decorator


# ----------------------------------------------------------------------------- the hooks ---


def step_plugins(func: Any, with_specs: Any = ()) -> list[StepDecorator]:
    """The step's plugin decorators, then those ``--with`` adds that it does not carry."""
    from flowc.extensions import STEP_PLUGIN_CLASSES

    plugins = list(getattr(func, STEP_PLUGINS, []))
    have = {d.name for d in plugins}
    for name, kwargs in with_specs:
        if name in STEP_PLUGIN_CLASSES and name not in have:
            plugins.append(STEP_PLUGIN_CLASSES[name](attributes=dict(kwargs)))
            have.add(name)
    return plugins


def run_with_step_plugins(
    plugins: list[StepDecorator],
    call: Callable[[], None],
    *,
    flow: Any,
    graph: Any,
    step_name: str,
    run_id: str,
    task_id: str,
    inputs: Any,
    retry_count: int,
    max_retries: int,
) -> bool:
    """Run ``call`` (the step with its user decorators) inside the plugins' task hooks, in the
    order Metaflow's task runs them. True when a ``task_exception`` hook claimed (handled) the
    step's exception."""
    for d in plugins:
        d.step_init(flow, graph, step_name, plugins, None, None, _log)
    ok = claimed = False
    try:
        for d in plugins:
            d.task_pre_step(
                step_name,
                None,
                None,
                run_id,
                task_id,
                flow,
                graph,
                retry_count,
                max_retries,
                None,
                inputs,
            )
        for d in plugins:
            call = d.task_decorate(call, flow, graph, retry_count, max_retries, None)
        call()
        for d in plugins:
            d.task_post_step(step_name, flow, graph, retry_count, max_retries)
        ok = True
    except Exception as e:  # noqa: BLE001 - offered to every plugin, re-raised unless claimed
        handled = False
        for d in plugins:
            handled = (
                bool(d.task_exception(e, step_name, flow, graph, retry_count, max_retries))
                or handled
            )
        if not handled:
            raise
        ok = claimed = True
    finally:
        for d in plugins:
            d.task_finished(step_name, flow, graph, ok, retry_count, max_retries)
    return claimed


def init_flow_plugins(cls: type, flow: Any, graph: Any) -> None:
    """Each flow decorator's ``flow_init``, once per task, before the step runs."""
    for d in getattr(cls, FLOW_PLUGINS, []):
        d.flow_init(flow, graph, None, None, None, _log, _log, flow_option_values(d))


def flow_option_values(deco: FlowDecorator) -> dict[str, Any]:
    """The decorator's options: ``METAFLOW_<NAME>`` from the environment, else the default."""
    values = {}
    for name, spec in deco.options.items():
        env = "METAFLOW_" + name.upper().replace("-", "_")
        values[name.replace("-", "_")] = os.environ.get(env, spec.get("default"))
    return values


def has_flow_plugins(cls: type) -> bool:
    return bool(getattr(cls, FLOW_PLUGINS, None))


def _log(msg: Any = "", **_kwargs: Any) -> None:
    print(msg, file=sys.stderr)
