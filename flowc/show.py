"""Human views of a flow's IR: the ``show`` summary (as Metaflow prints it, plus parameters and
decorators) and graph pictures in Mermaid and Graphviz DOT. Pure: IR in, text out."""

from __future__ import annotations

import json
import textwrap

from flowc import graph
from flowc.ir import Decorator, FlowIR, NodeKind, Parameter, Step, TransitionKind, Value


def summary(ir: FlowIR) -> str:
    out: list[str] = [ir.name, "=" * len(ir.name)]
    if ir.doc:
        out += ["", ir.doc]
    for deco in ir.decorators:
        out.append(f"@{_decorator(deco)}")
    if ir.parameters:
        out += ["", "Parameters"]
        rows = [_parameter_row(p) for p in ir.parameters]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        for opt, default, help_ in rows:
            line = f"    {opt.ljust(widths[0])}  {default.ljust(widths[1])}  {help_}"
            out.append(line.rstrip())
    steps = ir.step_map()
    for name in graph.order(ir):
        out += [""] + _step_lines(steps[name])
    return "\n".join(out) + "\n"


def _parameter_row(p: Parameter) -> tuple[str, str, str]:
    kind = {"include_file": " (file)", "config": " (config)"}.get(p.kind.value, "")
    opt = f"--{p.name} {(p.type or 'value').upper()}{kind}"
    if p.required:
        default = "required"
    elif p.default is not None:
        default = f"default {_value(p.default, p.type)}"
    else:
        default = ""
    return opt, default, p.help or ""


def _value(v: Value, type_: str | None = None) -> str:
    if v.literal and type_ == "json" and isinstance(v.value, str):
        return v.value  # a JSONType default is JSON text already: shown as written
    return json.dumps(v.value) if v.literal else v.source


def _decorator(d: Decorator) -> str:
    if not d.args:
        return d.name
    args = ", ".join(f"{a.name}={a.value.source}" if a.name else a.value.source for a in d.args)
    return f"{d.name}({args})"


def _step_lines(s: Step) -> list[str]:
    lines = [f"Step {s.name}" + (f"  ({s.kind.value})" if s.kind not in _PLAIN else "")]
    for deco in s.decorators:
        lines.append(f"    @{_decorator(deco)}")
    if s.doc:
        lines += textwrap.indent(s.doc, "    ").splitlines()
    arrow = _arrow(s)
    if arrow:
        lines.append(f"    => {arrow}")
    return lines


_PLAIN = (NodeKind.START, NodeKind.LINEAR, NodeKind.END)


def _arrow(s: Step) -> str:
    t = s.transition
    if t is None:
        return ""
    targets = ", ".join(t.targets)
    if t.kind is TransitionKind.FOREACH:
        return f"{targets}  (foreach over {t.foreach!r}, joined at {s.matching_join or '?'})"
    if t.kind is TransitionKind.PARALLEL:
        return f"{targets}  (num_parallel={_value(t.num_parallel) if t.num_parallel else '?'})"
    if t.kind is TransitionKind.SWITCH:
        cases = ", ".join(f"{step} if {t.condition} == {key!r}" for key, step in t.cases)
        return f"{cases}  (switch)"
    if t.kind is TransitionKind.SPLIT:
        return f"{targets}  (split, joined at {s.matching_join or '?'})"
    return targets


# --- pictures ---------------------------------------------------------------------------------


def _edges(ir: FlowIR) -> list[tuple[str, str, str]]:
    """(from, to, label) in graph order; the label says why the edge exists when it is not a
    plain transition."""
    steps = ir.step_map()
    edges = []
    for name in graph.order(ir):
        t = steps[name].transition
        if t is None:
            continue
        if t.kind is TransitionKind.SWITCH:
            for key, target in t.cases:
                edges.append((name, target, f"{t.condition} == {key}"))
            continue
        label = ""
        if t.kind is TransitionKind.FOREACH:
            label = f"foreach {t.foreach}"
        elif t.kind is TransitionKind.PARALLEL:
            label = "num_parallel"
        for target in t.targets:
            edges.append((name, target, label))
    return edges


def mermaid(ir: FlowIR) -> str:
    shapes = {
        NodeKind.START: ("([", "])"),
        NodeKind.END: ("([", "])"),
        NodeKind.JOIN: ("{{", "}}"),
        NodeKind.SWITCH: ("{", "}"),
        NodeKind.FOREACH: ("[/", "/]"),
    }
    steps = ir.step_map()
    ids = {name: f"n{i}" for i, name in enumerate(graph.order(ir))}
    lines = ["flowchart TD"]
    for name, nid in ids.items():
        left, right = shapes.get(steps[name].kind, ("[", "]"))
        lines.append(f'    {nid}{left}"{_mermaid_text(name)}"{right}')
    for a, b, label in _edges(ir):
        if b not in ids:
            continue
        mid = f'|"{_mermaid_text(label)}"|' if label else ""
        lines.append(f"    {ids[a]} -->{mid} {ids[b]}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def dot(ir: FlowIR) -> str:
    steps = ir.step_map()
    lines = [
        f"digraph {_dot_id(ir.name)} {{",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded", fontname="Helvetica"];',
    ]
    for name in graph.order(ir):
        kind = steps[name].kind.value
        label = _dot_text(name if kind == name else f"{name}\n{kind}")  # start, end: once
        lines.append(f"    {_dot_id(name)} [label={label}];")
    for a, b, label in _edges(ir):
        if b not in steps:
            continue
        attrs = f" [label={_dot_text(label)}]" if label else ""
        lines.append(f"    {_dot_id(a)} -> {_dot_id(b)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _dot_id(name: str) -> str:
    return _dot_text(name)
