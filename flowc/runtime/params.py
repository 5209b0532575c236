"""Flow parameters on the command line: ``--max-iter 300`` or ``--max_iter=300`` for
``max_iter = Parameter("max-iter", ...)``.

The type comes from ``type=`` or else from the default; ``JSONType`` values are parsed as JSON;
a bool takes a value as in Metaflow (``--verbose true``, ``0``) or works bare as a flag;
``IncludeFile`` reads the named file. Every mistake is one :class:`ParamError` line naming the
parameter and what it expects.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flowc.authoring import Config, IncludeFile, JSONType, Parameter

TRUE = {"true", "t", "yes", "y", "1", "on"}
FALSE = {"false", "f", "no", "n", "0", "off"}


class ParamError(ValueError):
    """Bad parameter input; the message is one line."""


@dataclass(frozen=True)
class ParamSpec:
    attr: str
    name: str
    kind: str  # "parameter", "include_file" or "config"
    type: Any  # int, float, str, bool or "json"
    default: Any
    required: bool
    help: str | None
    is_text: bool = True
    encoding: str = "utf-8"
    parser: Any = None  # a Config's: text -> value (default: JSON)
    default_is_value: bool = False  # a Config's default_value (not a file path)
    separator: str | None = None  # Parameter(separator=","): the value is a list

    @property
    def option(self) -> str:
        return f"--{self.name}"

    @property
    def type_name(self) -> str:
        if self.kind == "include_file":
            return "a file path"
        if self.kind == "config":
            return "a JSON file path"
        return {int: "an integer", float: "a number", bool: "true or false", "json": "JSON"}.get(
            self.type, "text"
        )

    @property
    def metavar(self) -> str:
        if self.kind != "parameter":
            return "PATH"
        return {int: "INTEGER", float: "FLOAT", bool: "BOOLEAN", "json": "JSON"}.get(
            self.type, "TEXT"
        )


def specs_of(cls: type) -> list[ParamSpec]:
    """The Parameters a flow class declares (inherited ones first), as the runtime sees them."""
    found: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[attr] = value
    return [_spec(attr, p) for attr, p in found.items()]


def _spec(attr: str, p: Parameter) -> ParamSpec:
    if isinstance(p, IncludeFile):
        return ParamSpec(
            attr,
            p.name,
            "include_file",
            str,
            p.default,
            p.required,
            p.help,
            p.is_text,
            p.encoding,
        )
    if isinstance(p, Config):
        return ParamSpec(
            attr,
            p.name,
            "config",
            "json",
            p.default,
            p.required,
            p.help,
            parser=p.parser,
            default_is_value=p.default_value is not None and p.default is p.default_value,
        )
    t = p.type
    if t is JSONType or isinstance(t, JSONType):
        t = "json"
    elif t is None:
        d = p.default
        t = type(d) if isinstance(d, bool | int | float | str) else str
        if isinstance(d, (dict, list)):
            t = "json"
    sep = p.kwargs.get("separator")
    return ParamSpec(
        attr, p.name, "parameter", t, p.default, p.required, p.help,
        separator=sep if isinstance(sep, str) and sep else None,
    )


def _norm(name: str) -> str:
    return name.replace("_", "-").lower()


def parse_args(specs: Sequence[ParamSpec], args: Sequence[str], flow: str) -> dict[str, str]:
    """Raw values by attribute from ``--name value`` / ``--name=value`` / bare bool flags."""
    by_name = {_norm(s.name): s for s in specs}
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ParamError(
                f"unexpected argument {arg!r}; flow parameters are passed as --name value"
            )
        name, eq, value = arg[2:].partition("=")
        spec = by_name.get(_norm(name))
        if spec is None:
            raise ParamError(_unknown(name, specs, flow))
        if not eq:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if spec.type is bool and spec.kind == "parameter":
                if nxt is not None and nxt.lower() in TRUE | FALSE:
                    value, i = nxt, i + 1
                elif nxt is not None and not nxt.startswith("-"):
                    raise ParamError(
                        f"{spec.option} takes true or false (or nothing, as a flag), got {nxt!r}"
                    )
                else:
                    value = "true"
            else:
                if nxt is None or (nxt.startswith("--") and len(nxt) > 2):
                    raise ParamError(f"{spec.option} needs a value ({spec.type_name})")
                value, i = nxt, i + 1
        out[spec.attr] = value
        i += 1
    return out


def from_json(specs: Sequence[ParamSpec], text: str) -> dict[str, Any]:
    """Values by attribute from a JSON object keyed by parameter name, as an orchestrator passes
    them (Airflow's rendered ``params``). ``null`` means the default. Names the flow does not
    declare are ignored: an orchestrator's run configuration may carry keys of its own."""
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise ParamError(f"--params-json: not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ParamError(f"--params-json: expected a JSON object, got {type(doc).__name__}")
    by_name = {_norm(s.name): s for s in specs}
    return {
        spec.attr: value
        for key, value in doc.items()
        if value is not None and (spec := by_name.get(_norm(str(key)))) is not None
    }


def _unknown(name: str, specs: Sequence[ParamSpec], flow: str) -> str:
    known = [s.name for s in specs]
    close = difflib.get_close_matches(name.replace("_", "-"), known, n=1)
    hint = f"; did you mean --{close[0]}?" if close else ""
    listing = ", ".join(f"--{k}" for k in known) or "none"
    return f"--{name}: {flow} has no such parameter{hint} (parameters: {listing})"


def convert(spec: ParamSpec, raw: Any, from_default: bool = False) -> Any:
    """A raw command-line string (or a default) to the parameter's value; with a
    ``separator``, the list of values it separates."""
    if spec.separator is not None and isinstance(raw, str):
        return [_convert(spec, part, from_default) for part in raw.split(spec.separator)]
    return _convert(spec, raw, from_default)


def _convert(spec: ParamSpec, raw: Any, from_default: bool = False) -> Any:
    what = "default of " if from_default else ""
    if spec.kind == "include_file":
        return _read_file(spec, raw)
    if spec.kind == "config":
        from flowc.configs import to_value

        if isinstance(raw, (dict, list)):
            return to_value(raw)
        text = _read_file(spec, raw) if not _looks_like_json(raw) else raw
        if spec.parser is not None:
            try:
                return to_value(spec.parser(text))
            except Exception as e:  # noqa: BLE001 - the flow's own parser
                raise ParamError(f"{spec.option}: its parser failed on {raw!r} ({e})") from None
        return to_value(_json(spec, text, what))
    t = spec.type
    if t == "json":
        return _json(spec, raw, what) if isinstance(raw, str) else raw
    if t is bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise ParamError(f"{spec.option}: expected true or false, got {raw!r}")
    if t in (int, float):
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ParamError(f"{spec.option}: {what}expected {spec.type_name}, got {raw!r}")
        try:
            return t(raw) if not (t is int and isinstance(raw, float)) else _int(raw)
        except ValueError:
            raise ParamError(
                f"{spec.option}: {what}expected {spec.type_name}, got {raw!r}"
            ) from None
    if callable(t) and t is not str:
        try:
            return t(raw)
        except Exception as e:  # noqa: BLE001 - a user's type callable
            raise ParamError(f"{spec.option}: {raw!r} is not valid ({e})") from None
    return raw if isinstance(raw, str) else str(raw)


def _int(x: float) -> int:
    if not float(x).is_integer():
        raise ValueError
    return int(x)


def _looks_like_json(raw: Any) -> bool:
    return isinstance(raw, str) and raw.lstrip()[:1] in ("{", "[")


def _json(spec: ParamSpec, text: Any, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as e:
        raise ParamError(f"{spec.option}: {what}expected JSON, got {text!r} ({e})") from None


def _read_file(spec: ParamSpec, path: Any) -> Any:
    if not isinstance(path, str) or not path:
        raise ParamError(f"{spec.option}: expected a file path, got {path!r}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ParamError(f"{spec.option}: cannot read {path!r} ({e.strerror})") from None
    if spec.kind == "include_file" and not spec.is_text:
        return data
    try:
        return data.decode(spec.encoding)
    except UnicodeDecodeError as e:
        raise ParamError(f"{spec.option}: {path!r} is not {spec.encoding} text ({e})") from None


@dataclass(frozen=True)
class DefaultContext:
    """What a callable default receives (Metaflow's ``ParameterContext``)."""

    flow_name: str
    user_name: str
    parameter_name: str
    configs: Any = None
    logger: Any = print
    ds_type: str = "local"


def env_value(spec: ParamSpec) -> str | None:
    """A value from ``FLOWC_RUN_<NAME>`` or ``METAFLOW_RUN_<NAME>`` (name upper-cased, ``-`` as
    ``_``), which Metaflow also reads before the default."""
    key = spec.name.upper().replace("-", "_")
    return os.environ.get(f"FLOWC_RUN_{key}") or os.environ.get(f"METAFLOW_RUN_{key}")


def config_env(spec: ParamSpec) -> Any:
    """A Config's value from ``FLOWC_FLOW_CONFIG_VALUE`` / ``METAFLOW_FLOW_CONFIG_VALUE`` (JSON:
    name -> value) or its file from ``..._FLOW_CONFIG`` (JSON: name -> path), as Metaflow reads
    them."""
    for prefix in ("FLOWC", "METAFLOW"):
        for var, is_value in ((f"{prefix}_FLOW_CONFIG_VALUE", True), (f"{prefix}_FLOW_CONFIG", False)):
            text = os.environ.get(var)
            if not text:
                continue
            try:
                doc = json.loads(text)
            except ValueError:
                raise ParamError(f"{var}: not JSON; give a JSON object of config name -> "
                                 f"{'value' if is_value else 'file'}") from None
            if isinstance(doc, dict) and spec.name in doc:
                return doc[spec.name]
    return None


def _call_default(spec: ParamSpec, flow: str, user: str, configs: Any) -> Any:
    fn = spec.default
    try:
        takes = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        takes = 0
    if not takes:
        return fn()
    return fn(DefaultContext(flow, user, spec.name, configs))


def resolve(
    specs: Sequence[ParamSpec],
    given: dict[str, Any],
    flow: str = "",
    user: str = "",
    configs: Any = None,
) -> dict[str, Any]:
    """Every parameter's value by attribute: given ones converted, then ``METAFLOW_RUN_*``
    values, others from defaults (a callable default is called, with a context when it takes
    one)."""
    values: dict[str, Any] = {}
    missing = []
    # Configs first: parameter defaults may be computed from them
    specs = sorted(specs, key=lambda s: s.kind != "config")
    config_values: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "parameter" and configs is None:
            from flowc.configs import ConfigValue

            configs = ConfigValue(config_values)
        from_env = env_value(spec) if spec.kind != "config" else config_env(spec)
        if spec.kind == "config" and spec.attr not in given and from_env is None:
            if callable(spec.default):
                from_env = _call_default(spec, flow, user, configs)
            elif spec.default_is_value and spec.default is not None:
                from_env = spec.default
        if spec.attr in given:
            values[spec.attr] = convert(spec, given[spec.attr])
        elif from_env is not None:
            values[spec.attr] = convert(spec, from_env)
        elif spec.default is not None:
            if callable(spec.default):
                default = _call_default(spec, flow, user, configs)
            else:
                default = spec.default
            from flowc.configs import Deferred

            if isinstance(default, Deferred):
                default = default.resolve(config_values)
            values[spec.attr] = convert(spec, default, from_default=True)
        elif spec.required:
            missing.append(spec.option)
        else:
            values[spec.attr] = None
        if spec.kind == "config" and spec.attr in values:
            config_values[spec.name] = values[spec.attr]
            config_values.setdefault(spec.attr, values[spec.attr])
    if missing:
        raise ParamError(
            f"missing required parameter{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        )
    return values


def help_text(specs: Sequence[ParamSpec]) -> str:
    if not specs:
        return "  (this flow has no parameters)\n"
    rows = []
    for s in specs:
        left = f"  {s.option} {s.metavar}"
        bits = [s.help or ""]
        if s.required:
            bits.append("[required]")
        elif s.default is not None:
            bits.append(f"[default: {s.default!r}]" if not callable(s.default) else "")
        rows.append((left, " ".join(b for b in bits if b)))
    width = max(len(left) for left, _ in rows) + 2
    return "".join(f"{left:<{width}}{right}\n" for left, right in rows)
