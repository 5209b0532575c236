"""One ``@step`` method -> ``ir.Step``: decorators, arguments, docstring, every
``self.next(...)`` as written, the transition it makes, and the artifacts it reads and writes."""

from __future__ import annotations

import dataclasses

import libcst as cst

from flowc.analyzer.imports import Names, is_flow_package
from flowc.analyzer.source import Parsed
from flowc.analyzer.values import value_of
from flowc.ir import (
    Access,
    Argument,
    Case,
    Decorator,
    Merge,
    NextCall,
    NodeKind,
    Step,
    Target,
    Transition,
    TransitionKind,
    Value,
)


def decorators_of(
    node: cst.FunctionDef | cst.ClassDef, src: Parsed, names: Names
) -> list[Decorator]:
    out = []
    for d in node.decorators:
        expr = d.decorator
        args: tuple[Argument, ...] = ()
        if isinstance(expr, cst.Call):
            args = arguments(expr.args, src)
            expr = expr.func
        resolved = names.resolve(expr)
        if resolved is not None:
            name, known = resolved[1], is_flow_package(resolved[0])
        else:
            name = src.code(expr)
            known = isinstance(expr, cst.Name) and any(is_flow_package(m) for m in names.star)
        out.append(Decorator(name, known, args, src.span(d)))
    return out


def arguments(args, src: Parsed) -> tuple[Argument, ...]:  # noqa: ANN001
    out = []
    for a in args:
        if a.star:
            out.append(Argument(None, Value(a.star + src.code(a.value))))
            continue
        out.append(
            Argument(a.keyword.value if a.keyword else None, value_of(a.value, src.code(a.value)))
        )
    return tuple(out)


def is_step(node: cst.FunctionDef, names: Names) -> bool:
    for d in node.decorators:
        expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
        if names.is_flow_api(expr, "step"):
            return True
    return False


def build_step(node: cst.FunctionDef, src: Parsed, names: Names, owner: str) -> Step:
    params = node.params
    all_params = [*params.posonly_params, *params.params]
    self_name = all_params[0].name.value if all_params else "self"
    args = [p.name.value for p in all_params[1:]]
    if isinstance(params.star_arg, cst.Param):
        args.append("*" + params.star_arg.name.value)
    args += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        args.append("**" + params.star_kwarg.name.value)

    body = _Body(self_name, src)
    walk(node.body, body)
    tail = _tail_call(node)
    calls = tuple(
        NextCall(src.span(c), c is tail, *_next_args(c, self_name, src)) for c in body.next_calls
    )
    tail_call = next((c for c in calls if c.is_tail), None)
    transition = derive_transition(tail_call) if tail_call else None
    decorators = [d for d in decorators_of(node, src, names) if not (d.known and d.name == "step")]
    name = node.name.value
    return Step(
        name=name,
        kind=_kind(name, args, transition),
        span=src.span(node),
        file=src.path,
        defined_in=owner,
        doc=node.get_docstring(clean=True),
        decorators=tuple(decorators),
        args=tuple(args),
        next_calls=calls,
        transition=transition,
        assigns=tuple(sorted(body.assigns, key=_at)),
        reads=tuple(sorted(body.reads, key=_at)),
        merges=tuple(body.merges),
    )


def _at(a: Access) -> tuple[int, int]:
    return a.span.line, a.span.col


def _kind(name: str, args: list[str], t: Transition | None) -> NodeKind:
    if name == "end":
        return NodeKind.END
    if args:
        return NodeKind.JOIN
    if t is not None:
        if t.kind is TransitionKind.SPLIT:
            return NodeKind.SPLIT
        if t.kind in (TransitionKind.FOREACH, TransitionKind.PARALLEL):
            return NodeKind.FOREACH
        if t.kind is TransitionKind.SWITCH:
            return NodeKind.SWITCH
    return NodeKind.START if name == "start" else NodeKind.LINEAR


def _tail_call(node: cst.FunctionDef) -> cst.Call | None:
    body = node.body
    stmts = body.body if isinstance(body, cst.IndentedBlock) else [body]
    if not stmts:
        return None
    last = stmts[-1]
    smalls = getattr(last, "body", None)
    if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) and smalls:
        expr = smalls[-1]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call):
            return expr.value
    return None


def _self_attr(node: cst.CSTNode, self_name: str) -> str | None:
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == self_name
    ):
        return node.attr.value
    return None


def _target(node: cst.BaseExpression, self_name: str, src: Parsed) -> Target:
    return Target(_self_attr(node, self_name), src.code(node), src.span(node))


def _next_args(call: cst.Call, self_name: str, src: Parsed):  # noqa: ANN202
    targets: list[Target] = []
    cases: list[Case] | None = None
    keywords: list[Argument] = []
    for a in call.args:
        if a.keyword is not None:
            keywords.append(Argument(a.keyword.value, value_of(a.value, src.code(a.value))))
        elif a.star:
            targets.append(Target(None, a.star + src.code(a.value), src.span(a)))
        elif isinstance(a.value, cst.Dict) and cases is None and not targets:
            cases = []
            for el in a.value.elements:
                if isinstance(el, cst.DictElement):
                    cases.append(
                        Case(value_of(el.key, src.code(el.key)), _target(el.value, self_name, src))
                    )
                else:
                    cases.append(
                        Case(
                            value_of(el.value, "**" + src.code(el.value)),
                            Target(None, "**" + src.code(el.value), src.span(el)),
                        )
                    )
        else:
            targets.append(_target(a.value, self_name, src))
    return tuple(targets), (tuple(cases) if cases is not None else None), tuple(keywords)


def derive_transition(call: NextCall) -> Transition | None:
    """The transition a well-formed tail ``self.next`` makes; None when it is malformed (lint
    says how)."""
    kw = {a.name: a.value for a in call.keywords}
    steps = [t.step for t in call.targets]
    if any(s is None for s in steps):
        return None
    distinct = tuple(dict.fromkeys(steps))  # type: ignore[arg-type]
    if call.cases is not None:
        if call.targets or set(kw) != {"condition"}:
            return None
        condition = kw["condition"]
        if not (condition.literal and isinstance(condition.value, str)):
            return None
        pairs = []
        for c in call.cases:
            if not (c.key.literal and isinstance(c.key.value, str)) or c.target.step is None:
                return None
            pairs.append((c.key.value, c.target.step))
        if not pairs or len({k for k, _ in pairs}) != len(pairs):
            return None
        targets = tuple(dict.fromkeys(s for _, s in pairs))
        return Transition(
            TransitionKind.SWITCH, targets, call.span, condition=condition.value, cases=tuple(pairs)
        )
    if not steps or len(distinct) != len(steps):
        return None
    if not kw:
        kind = TransitionKind.LINEAR if len(steps) == 1 else TransitionKind.SPLIT
        return Transition(kind, distinct, call.span)
    if len(steps) != 1 or len(kw) != 1:
        return None
    if "foreach" in kw:
        v = kw["foreach"]
        if v.literal and isinstance(v.value, str) and v.value:
            return Transition(TransitionKind.FOREACH, distinct, call.span, foreach=v.value)
        return None
    if "num_parallel" in kw:
        return Transition(
            TransitionKind.PARALLEL, distinct, call.span, num_parallel=kw["num_parallel"]
        )
    return None


_FIELDS: dict[type, tuple[str, ...]] = {}


def walk(node: cst.CSTNode, visitor: object) -> None:
    """Pre-order walk calling ``visitor.visit_<Type>(node)`` where defined.

    libcst's own ``visit`` rebuilds every node it passes (it is built for transformers),
    which costs more than the rest of the analysis on large flows; this walk only reads."""
    stack = [node]
    while stack:
        n = stack.pop()
        tp = type(n)
        hook = getattr(visitor, "visit_" + tp.__name__, None)
        if hook is not None:
            hook(n)
        names = _FIELDS.get(tp)
        if names is None:
            names = _FIELDS[tp] = tuple(f.name for f in dataclasses.fields(tp))
        children: list[cst.CSTNode] = []
        for name in names:
            v = getattr(n, name)
            if isinstance(v, cst.CSTNode):
                children.append(v)
            elif isinstance(v, (list, tuple)):
                children.extend(x for x in v if isinstance(x, cst.CSTNode))
        stack.extend(reversed(children))


class _Body:
    """Collects ``self.next`` calls, ``merge_artifacts`` calls and ``self.X`` loads/stores in
    one walk of a step body (nested functions, lambdas and comprehensions included)."""

    def __init__(self, self_name: str, src: Parsed):
        self.self_name = self_name
        self.src = src
        self.next_calls: list[cst.Call] = []
        self.merges: list[Merge] = []
        self.assigns: list[Access] = []
        self.reads: list[Access] = []
        self._skip: set[int] = set()  # ids of self.X nodes that are not artifact reads
        self._stores: set[int] = set()

    # stores -----------------------------------------------------------------------------
    def _store(self, target: cst.CSTNode) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._store(el.value)
        elif isinstance(target, cst.StarredElement):
            self._store(target.value)
        else:
            name = _self_attr(target, self.self_name)
            if name is not None:
                self._stores.add(id(target))
                self.assigns.append(Access(name, self.src.span(target)))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        name = _self_attr(node.target, self.self_name)
        if name is not None:
            span = self.src.span(node.target)
            self._stores.add(id(node.target))
            self.reads.append(Access(name, span))
            self.assigns.append(Access(name, span))

    def visit_For(self, node: cst.For) -> None:
        self._store(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._store(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._store(node.name)

    # calls ------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        method = _self_attr(node.func, self.self_name)
        if method == "next":
            self.next_calls.append(node)
            self._skip.add(id(node.func))
            for a in node.args:
                values = [a.value]
                if isinstance(a.value, cst.Dict):
                    values = [el.value for el in a.value.elements]
                for v in values:
                    if _self_attr(v, self.self_name) is not None:
                        self._skip.add(id(v))
        elif method == "merge_artifacts":
            self._skip.add(id(node.func))
            kw = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
            include = kw.get("include")
            exclude = kw.get("exclude")
            self.merges.append(
                Merge(
                    self.src.span(node),
                    value_of(include, self.src.code(include)) if include is not None else None,
                    value_of(exclude, self.src.code(exclude)) if exclude is not None else None,
                )
            )

    # loads ------------------------------------------------------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = _self_attr(node, self.self_name)
        if name is None or id(node) in self._skip or id(node) in self._stores:
            return
        self.reads.append(Access(name, self.src.span(node)))


__all__ = ["arguments", "build_step", "decorators_of", "derive_transition", "is_step", "walk"]
