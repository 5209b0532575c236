"""Step decorators as the runtime applies them: ``@retry``, ``@catch``, ``@timeout``,
``@environment``, ``@resources``, from the step function and from ``--with`` (which attaches a
decorator to every step that does not already carry it, as Metaflow's ``--with`` does)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

KNOWN = ("retry", "catch", "timeout", "environment", "resources", "card")


class WithSpecError(ValueError):
    pass


@dataclass(frozen=True)
class StepPolicy:
    retries: int = 0
    retry_delay: float = 0.0  # seconds between attempts
    catch_var: str | None = None
    catch: bool = False
    print_exception: bool = True
    timeout: float | None = None  # seconds
    env: dict[str, str] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    decorators: tuple[str, ...] = ()
    cards: tuple[dict[str, Any], ...] = ()  # the kwargs of each @card (or of --with card)

    @property
    def attempts(self) -> int:
        return self.retries + 1


class CaughtException:
    """What ``@catch(var=...)`` stores when a step fails for good: the exception's type, its
    message and the traceback, readable wherever the artifact is loaded."""

    def __init__(self, exc: BaseException, traceback: str):
        self.type = exception_type(exc)
        self.exception = str(exc)
        self.stacktrace = traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"<CaughtException {self}>"


def exception_type(exc: BaseException) -> str:
    """The qualified name of an exception's class, by the module flows import it from (flowc's
    errors are ``metaflow.exception``'s)."""
    alias = getattr(type(exc), "metaflow_type", None)  # the name Metaflow reports it by
    if alias:
        return alias
    module = type(exc).__module__
    module = "metaflow.exception" if module == "flowc.errors" else module
    return f"{module}.{type(exc).__qualname__}".removeprefix("builtins.")


def parse_with(specs: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``--with retry:times=2,minutes_between_retries=0`` -> ``("retry", {...})``."""
    from flowc.extensions import STEP_PLUGIN_CLASSES  # loaded with the flow, before this

    out = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        name = name.strip()
        if name not in KNOWN and name not in STEP_PLUGIN_CLASSES:
            names = ", ".join([*KNOWN, *sorted(STEP_PLUGIN_CLASSES)])
            raise WithSpecError(f"--with {spec}: unknown decorator {name!r}; use one of {names}")
        kwargs: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in _split_args(rest))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip().isidentifier():
                raise WithSpecError(
                    f"--with {spec}: {item!r} is not NAME=VALUE (e.g. --with retry:times=2)"
                )
            try:
                kwargs[key.strip()] = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                kwargs[key.strip()] = value.strip()
        if name in STEP_PLUGIN_CLASSES:
            try:
                STEP_PLUGIN_CLASSES[name](attributes=kwargs)
            except TypeError as e:
                raise WithSpecError(f"--with {spec}: {e}") from None
        out.append((name, kwargs))
    return out


def _split_args(text: str) -> list[str]:
    """Split on commas outside brackets and quotes (``environment:vars={'A':'1','B':'2'}``)."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def step_decorators(func: Callable[..., Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(getattr(func, "__flowc_decorators__", []))


def policy_for(
    func: Callable[..., Any],
    with_specs: Sequence[Sequence[Any]] = (),
    configs: dict[str, Any] | None = None,
) -> StepPolicy:
    """``configs``: the run's Config values, for decorator arguments computed from them
    (``@environment(vars={"x": cfg.x})``, ``@environment(**cfg)``)."""
    decos = {name: dict(kw) for name, kw in step_decorators(func)}
    if configs is not None:
        from flowc.configs import resolve

        decos = {name: resolve(kw, configs) for name, kw in decos.items()}
    for name, kw in with_specs:
        decos.setdefault(name, dict(kw))
    retries = delay = 0
    if "retry" in decos:
        kw = decos["retry"]
        retries = int(kw.get("times", 3))
        delay = float(kw.get("minutes_between_retries", 2)) * 60
    timeout = None
    if "timeout" in decos:
        kw = decos["timeout"]
        total = (
            float(kw.get("seconds", 0) or 0)
            + 60 * float(kw.get("minutes", 0) or 0)
            + 3600 * float(kw.get("hours", 0) or 0)
        )
        timeout = total if total > 0 else None
    env = {str(k): str(v) for k, v in (decos.get("environment", {}).get("vars") or {}).items()}
    if "secrets" in decos:
        from flowc.runtime.secrets import secret_env

        env.update(secret_env(decos["secrets"].get("sources")))
    catch = decos.get("catch")
    return StepPolicy(
        retries=max(0, retries),
        retry_delay=max(0.0, delay),
        catch=catch is not None,
        catch_var=(catch or {}).get("var"),
        print_exception=bool((catch or {}).get("print_exception", True)),
        timeout=timeout,
        env=env,
        resources=dict(decos.get("resources", {})),
        decorators=tuple(decos),
        cards=_cards(func, with_specs),
    )


def _cards(func: Callable[..., Any], with_specs: Sequence[Sequence[Any]]) -> tuple[dict, ...]:
    """Every ``@card`` of the step (a step may carry several); ``--with card`` adds one to a
    step that has none."""
    own = tuple(dict(kw) for name, kw in step_decorators(func) if name == "card")
    if own:
        return own
    return tuple(dict(kw) for name, kw in with_specs if name == "card")[:1]
