"""User-defined step decorators and mutators, with Metaflow's names and shapes:
``UserStepDecorator`` / ``user_step_decorator`` wrap a step's code (code before and after it,
even replacing it), ``StepMutator`` / ``FlowMutator`` change a step's or a flow's decorators and
parameters before the run starts.

They act at run time: the task contract applies mutators when it loads the flow and runs the
user decorators around the step. The analyzer sees them as unknown decorators (it never runs user
code), so what a mutator adds is not in ``flowc show`` or compiled files' static settings.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

# -------------------------------------------------------------------------- step wrapping ---


def _attach(func: Any, kind: str, obj: Any) -> Any:
    """Record ``obj`` (a decorator or mutator instance) on a step function, outermost first."""
    target = func
    existing = list(getattr(target, kind, []))
    existing.insert(0, obj)
    setattr(target, kind, existing)
    return target


class _Decorating:
    """Usable bare (``@deco``) or called (``@deco(k=v)``) on a step function; ``init`` gets the
    arguments, as Metaflow's user decorators and mutators do."""

    _kind = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        if len(args) == 1 and not kwargs and _is_target(args[0]):
            self._configure((), {})  # bare @deco: the target keeps its own name
            self._target = args[0]
            return _attach(args[0], cls._kind, self)
        return self

    def __init__(self, *args: Any, **kwargs: Any):
        self._configure(args, kwargs)
        self._target = None

    def _configure(self, args: tuple, kwargs: dict) -> None:
        self._args, self._kwargs = args, kwargs
        self.init(*args, **kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take the decorator's arguments."""

    def __call__(self, target: Any) -> Any:
        if not _is_target(target):
            raise TypeError(f"@{type(self).__name__} decorates a step function or a flow class")
        self._target = target
        return _attach(target, self._kind, self)


def _is_target(obj: Any) -> bool:
    return inspect.isfunction(obj) or inspect.isclass(obj)


class UserStepDecorator(_Decorating):
    """Code that runs around a step: override ``pre_step(step_name, flow, inputs)`` and
    ``post_step(step_name, flow, exception)``. ``pre_step`` may return a callable to run instead
    of the step; ``post_step`` may return True to swallow ``exception``."""

    _kind = "__flowc_user_decorators__"

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        return None

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        return None


class _GeneratorDecorator(UserStepDecorator):
    """What ``@user_step_decorator`` makes from a generator function."""

    _gen_func: Callable[..., Iterator[Any]]

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        attributes = dict(self._kwargs)
        sig = inspect.signature(self._gen_func)
        kw: dict[str, Any] = {}
        if "inputs" in sig.parameters:
            kw["inputs"] = inputs
        if "attributes" in sig.parameters:
            kw["attributes"] = attributes
        self._gen = self._gen_func(step_name, flow, **kw)
        try:
            replacement = next(self._gen)
        except StopIteration:
            self._gen = None
            return _skip
        return replacement if callable(replacement) else None

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        gen, self._gen = getattr(self, "_gen", None), None
        if gen is None:
            return None
        try:
            if exception is not None:
                gen.throw(exception)
            else:
                next(gen)
        except StopIteration:
            return True  # the generator finished: it handled (or saw) the step's end
        except BaseException as e:  # noqa: BLE001 - re-raised by the caller
            if e is exception:
                return False
            raise
        return True


def _skip(*_args: Any, **_kwargs: Any) -> None:
    """A generator that never yields skips the step."""


def user_step_decorator(func: Callable[..., Iterator[Any]]) -> type[UserStepDecorator]:
    """Turn ``def deco(step_name, flow, inputs=None, attributes=None): ...; yield; ...`` into
    a step decorator: code before ``yield`` runs before the step, code after it runs after."""
    cls = type(func.__name__, (_GeneratorDecorator,), {"_gen_func": staticmethod(func)})
    cls.__doc__ = func.__doc__
    cls.__module__ = func.__module__
    return cls


def run_wrapped(func: Callable[..., Any], obj: Any, inputs: Any, step_name: str) -> None:
    """Run a step through its user decorators, outermost first (as they were written)."""
    decos = list(getattr(func, UserStepDecorator._kind, []))
    call = (lambda: func(obj, inputs)) if inputs is not None else (lambda: func(obj))
    if not decos:
        call()
        return
    entered: list[UserStepDecorator] = []
    error: BaseException | None = None
    try:
        for d in decos:
            replacement = d.pre_step(step_name, obj, inputs)
            entered.append(d)
            if callable(replacement):
                call = _replacement(replacement, obj, inputs)
        call()
    except Exception as e:  # noqa: BLE001 - offered to post_step, re-raised unless swallowed
        error = e
    for d in reversed(entered):
        try:
            if d.post_step(step_name, obj, error) and error is not None:
                error = None
        except Exception as e:  # noqa: BLE001 - a post_step may raise its own
            error = e
    if error is not None:
        raise error


def _replacement(fn: Callable[..., Any], obj: Any, inputs: Any) -> Callable[[], Any]:
    n = len(inspect.signature(fn).parameters)
    if n >= 2:
        return functools.partial(fn, obj, inputs)
    return functools.partial(fn, obj) if n == 1 else fn


# ------------------------------------------------------------------------------ mutators ---


class StepMutator(_Decorating):
    """Changes a step before the run starts: override ``mutate(mutable_step)``."""

    _kind = "__flowc_step_mutators__"

    def pre_mutate(self, mutable_step: MutableStep) -> None:
        """Called before ``mutate``."""

    def mutate(self, mutable_step: MutableStep) -> None:
        """Override: add or remove decorators through ``mutable_step``."""


class FlowMutator(_Decorating):
    """Changes a flow before the run starts: override ``mutate(mutable_flow)`` (and
    ``pre_mutate``, called first)."""

    _kind = "__flowc_flow_mutators__"

    def pre_mutate(self, mutable_flow: MutableFlow) -> None:
        """Called before ``mutate``."""

    def mutate(self, mutable_flow: MutableFlow) -> None:
        """Override: add or remove step decorators and parameters through ``mutable_flow``."""


class MutableStep:
    """One step as a mutator sees it: its name and its decorators, which it may change."""

    def __init__(self, name: str, func: Any):
        self.name = name
        self._func = func

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, tuple, dict]]:
        for name, kw in getattr(self._func, "__flowc_decorators__", []):
            yield name, name, (), dict(kw)

    @property
    def decorators(self) -> list[tuple[str, dict]]:
        return [(n, dict(kw)) for n, kw in getattr(self._func, "__flowc_decorators__", [])]

    def add_decorator(
        self,
        deco_type: Any,
        deco_args: tuple | None = None,
        deco_kwargs: dict | None = None,
        duplicates: int = 0,
        **kwargs: Any,
    ) -> None:
        """Add ``deco_type`` (a flowc decorator, its name, or a user decorator) to the step."""
        deco_kwargs = dict(deco_kwargs or kwargs)
        if isinstance(deco_type, type) and issubclass(deco_type, UserStepDecorator):
            deco_type(*(deco_args or ()), **deco_kwargs)(self._func)
            return
        if isinstance(deco_type, UserStepDecorator):
            _attach(self._func, UserStepDecorator._kind, deco_type)
            return
        name = deco_type if isinstance(deco_type, str) else getattr(deco_type, "__name__", "")
        name, _, inline = name.partition(":")
        if inline:
            from flowc.runtime.decorators import parse_with

            deco_kwargs = {**parse_with([f"{name}:{inline}"])[0][1], **deco_kwargs}
        specs = list(getattr(self._func, "__flowc_decorators__", []))
        if duplicates == 0 and any(n == name for n, _ in specs):
            return  # Metaflow's default: a decorator already there is kept as it is
        specs = [(n, kw) for n, kw in specs if not (duplicates == 2 and n == name)]
        specs.append((name, deco_kwargs))
        self._func.__flowc_decorators__ = specs

    def remove_decorator(self, deco_name: Any, deco_args: Any = None, deco_kwargs: Any = None) -> bool:
        name = deco_name if isinstance(deco_name, str) else getattr(deco_name, "__name__", "")
        specs = list(getattr(self._func, "__flowc_decorators__", []))
        kept = [(n, kw) for n, kw in specs if n != name]
        self._func.__flowc_decorators__ = kept
        users = getattr(self._func, UserStepDecorator._kind, [])
        kept_users = [d for d in users if type(d).__name__ != name]
        setattr(self._func, UserStepDecorator._kind, kept_users)
        return len(kept) != len(specs) or len(kept_users) != len(users)


class MutableFlow:
    """The flow as a mutator sees it: its steps, parameters and configs."""

    def __init__(self, cls: type):
        self._cls = cls

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        for name in step_names(self._cls):
            yield name, MutableStep(name, getattr(self._cls, name))

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        from flowc.authoring import Config, Parameter

        for klass in reversed(self._cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Parameter) and not isinstance(value, Config):
                    yield name, value

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        from flowc.authoring import Config

        for klass in reversed(self._cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Config):
                    yield name, value

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        if hasattr(self._cls, name) and not overwrite:
            raise ValueError(f"flow {self._cls.__name__} already has {name!r}")
        setattr(self._cls, name, value)

    def remove_parameter(self, name: str) -> bool:
        if name in vars(self._cls):
            delattr(self._cls, name)
            return True
        return False

    def add_decorator(self, deco_type: Any, deco_args: Any = None, deco_kwargs: Any = None, **kw: Any) -> None:
        name = deco_type if isinstance(deco_type, str) else getattr(deco_type, "__name__", "")
        specs = list(getattr(self._cls, "__flowc_decorators__", []))
        specs.append((name, dict(deco_kwargs or kw)))
        self._cls.__flowc_decorators__ = specs


def step_names(cls: type) -> list[str]:
    """The flow's ``@step`` methods, in definition order (base classes first)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if getattr(value, "is_step", False) and name not in names:
                names.append(name)
    return names


def apply_mutators(cls: type) -> None:
    """Run the flow's and its steps' mutators once, before any step of the run executes."""
    if cls.__dict__.get("__flowc_mutated__"):
        return
    cls.__flowc_mutated__ = True
    flow = MutableFlow(cls)
    flow_mutators = list(getattr(cls, FlowMutator._kind, []))
    for m in flow_mutators:
        m.pre_mutate(flow)
    for m in flow_mutators:
        m.mutate(flow)
    for name, mstep in flow.steps:
        for m in getattr(getattr(cls, name), StepMutator._kind, []):
            m.pre_mutate(mstep)
            m.mutate(mstep)
