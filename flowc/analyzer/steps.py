"""One ``@step`` method -> ``ir.Step``: decorators, arguments, docstring, every ``self.next(...)``
as written, the transition the tail one makes, the ``merge_artifacts`` calls, and every
``self.X`` the body reads or assigns. One read-only walk of the method's own body."""

from __future__ import annotations

import inspect

import libcst as cst

from flowc.analyzer.decorators import decorator, is_step_decorator
from flowc.analyzer.imports import Names
from flowc.analyzer.source import SourceFile
from flowc.analyzer.transitions import derive, kind_of
from flowc.analyzer.tree import statements, walk
from flowc.analyzer.values import string_of, value_of
from flowc.ir import Access, Argument, Case, Merge, NextCall, Step, Target


def build_step(func: cst.FunctionDef, src: SourceFile, names: Names, owner: str) -> Step:
    """The step ``func`` of class ``owner`` in file ``src`` (before the graph pass)."""
    self_name, args = _parameters(func.params)
    body = _Body(self_name, src)
    walk(func.body, body.hooks)
    tail = tail_call(func)
    calls = tuple(_next_call(c, c is tail, self_name, src) for c in body.next_calls)
    tail_next = next((c for c in calls if c.is_tail), None)
    transition = derive(tail_next) if tail_next is not None else None
    name = func.name.value
    return Step(
        name=name,
        kind=kind_of(name, args, transition),
        span=src.span(func),
        file=src.path,
        defined_in=owner,
        doc=docstring(func.body),
        decorators=tuple(
            decorator(d, src, names) for d in func.decorators if not is_step_decorator(d, names)
        ),
        args=args,
        next_calls=calls,
        transition=transition,
        assigns=_in_source_order(body.assigns),
        reads=_in_source_order(body.reads),
        merges=tuple(body.merges),
    )


def _in_source_order(accesses: list[Access]) -> tuple[Access, ...]:
    """The walk is pre-order, which is source order except where libcst keeps fields in another
    order (``a if b else c`` holds ``b`` first)."""
    return tuple(sorted(accesses, key=lambda a: (a.span.line, a.span.col)))


def docstring(block: cst.BaseSuite) -> str | None:
    """The body's docstring, cleaned like ``inspect.cleandoc`` (as ``__doc__`` shows it)."""
    stmts = statements(block)
    if not stmts:
        return None
    first = stmts[0]
    if isinstance(first, cst.SimpleStatementLine):
        first = first.body[0] if first.body else None
    if not isinstance(first, cst.Expr):
        return None
    if not isinstance(first.value, (cst.SimpleString, cst.ConcatenatedString)):
        return None  # an f-string is not a docstring
    text = string_of(first.value)
    return inspect.cleandoc(text) if text is not None else None


def _parameters(params: cst.Parameters) -> tuple[str, tuple[str, ...]]:
    """The name the method calls its instance (normally ``self``) and its other parameters."""
    positional = [*params.posonly_params, *params.params]
    self_name = positional[0].name.value if positional else "self"
    args = [p.name.value for p in positional[1:]]
    if isinstance(params.star_arg, cst.Param):
        args.append("*" + params.star_arg.name.value)
    args += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        args.append("**" + params.star_kwarg.name.value)
    return self_name, tuple(args)


def tail_call(func: cst.FunctionDef) -> cst.Call | None:
    """The call that is the method's last statement (``self.next(...)`` in a well-formed step)."""
    stmts = statements(func.body)
    if not stmts:
        return None
    last = stmts[-1]
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1] if last.body else None
    if isinstance(last, cst.Expr) and isinstance(last.value, cst.Call):
        return last.value
    return None


def _self_attr(node: cst.CSTNode, self_name: str) -> str | None:
    """``X`` for ``self.X``."""
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == self_name
    ):
        return node.attr.value
    return None


def _target(node: cst.BaseExpression, self_name: str, src: SourceFile) -> Target:
    return Target(_self_attr(node, self_name), src.code(node), src.span(node))


def _next_call(call: cst.Call, is_tail: bool, self_name: str, src: SourceFile) -> NextCall:
    """``self.next(...)`` as written: positional targets, or the cases of a single dict
    argument, and every keyword."""
    positional = [a for a in call.args if a.keyword is None]
    keywords = tuple(
        Argument(a.keyword.value, value_of(a.value, src.code(a.value)))
        for a in call.args
        if a.keyword is not None
    )
    cases: tuple[Case, ...] | None = None
    targets: list[Target] = []
    if (
        len(positional) == 1
        and not positional[0].star
        and isinstance(positional[0].value, cst.Dict)
    ):
        cases = tuple(_case(el, self_name, src) for el in positional[0].value.elements)
    else:
        for a in positional:
            if a.star:
                targets.append(Target(None, a.star + src.code(a.value), src.span(a)))
            else:
                targets.append(_target(a.value, self_name, src))
    return NextCall(src.span(call), is_tail, tuple(targets), cases, keywords)


def _case(el: cst.BaseDictElement, self_name: str, src: SourceFile) -> Case:
    if isinstance(el, cst.DictElement):
        return Case(value_of(el.key, src.code(el.key)), _target(el.value, self_name, src))
    spread = "**" + src.code(el.value)  # {**other}: neither a key nor a step
    return Case(value_of(el.value, spread), Target(None, spread, src.span(el)))


class _Body:
    """Collects, in one pre-order (source-order) walk of a step body including nested
    functions, lambdas and comprehensions: ``self.next`` calls, ``merge_artifacts`` calls, and
    ``self.X`` stores and loads.

    A store is ``self.X`` as an assignment target (plain, annotated, augmented, inside tuple or
    list or starred targets, a ``for`` or comprehension target, ``with ... as``). Every other
    ``self.X`` is a load, including ``self.x[0] = 1`` and ``self.x.y = 1`` (they read ``x``),
    except the ``self.next`` / ``self.merge_artifacts`` callees and the step references passed
    to ``self.next``. ``self.x += 1`` is both."""

    def __init__(self, self_name: str, src: SourceFile) -> None:
        self.self_name = self_name
        self.src = src
        self.next_calls: list[cst.Call] = []
        self.merges: list[Merge] = []
        self.assigns: list[Access] = []
        self.reads: list[Access] = []
        self._not_reads: set[int] = set()  # ids of self.X nodes already accounted for
        self.hooks = {
            cst.AssignTarget: lambda n: self._store(n.target),
            cst.AnnAssign: lambda n: self._store(n.target),
            cst.AugAssign: self._augmented,
            cst.For: lambda n: self._store(n.target),
            cst.CompFor: lambda n: self._store(n.target),
            cst.WithItem: self._with_item,
            cst.Call: self._call,
            cst.Attribute: self._load,
        }

    def _store(self, target: cst.CSTNode) -> None:
        stack = [target]
        while stack:
            t = stack.pop()
            if isinstance(t, (cst.Tuple, cst.List)):
                stack.extend(reversed([el.value for el in t.elements]))
            elif isinstance(t, cst.StarredElement):
                stack.append(t.value)
            else:
                name = _self_attr(t, self.self_name)
                if name is not None:
                    self._not_reads.add(id(t))
                    self.assigns.append(Access(name, self.src.span(t)))

    def _augmented(self, node: cst.AugAssign) -> None:
        name = _self_attr(node.target, self.self_name)
        if name is not None:
            span = self.src.span(node.target)
            self._not_reads.add(id(node.target))
            self.reads.append(Access(name, span))
            self.assigns.append(Access(name, span))

    def _with_item(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._store(node.asname.name)

    def _call(self, node: cst.Call) -> None:
        method = _self_attr(node.func, self.self_name)
        if method == "next":
            self.next_calls.append(node)
            self._not_reads.add(id(node.func))
            for a in node.args:
                if a.keyword is not None:
                    continue  # num_parallel=self.n reads n
                values = [a.value]
                if isinstance(a.value, cst.Dict):
                    values = [
                        el.value for el in a.value.elements if isinstance(el, cst.DictElement)
                    ]
                for v in values:
                    if _self_attr(v, self.self_name) is not None:
                        self._not_reads.add(id(v))
        elif method == "merge_artifacts":
            self._not_reads.add(id(node.func))
            self.merges.append(self._merge(node))

    def _merge(self, node: cst.Call) -> Merge:
        """``merge_artifacts(inputs, exclude=None, include=None)``, positionally or by name."""
        given: dict[str, cst.BaseExpression] = {}
        positional = [a for a in node.args if a.keyword is None and not a.star]
        for slot, a in zip(("inputs", "exclude", "include"), positional, strict=False):
            given[slot] = a.value
        for a in node.args:
            if a.keyword is not None:
                given[a.keyword.value] = a.value
        include, exclude = given.get("include"), given.get("exclude")
        return Merge(
            self.src.span(node),
            include=value_of(include, self.src.code(include)) if include is not None else None,
            exclude=value_of(exclude, self.src.code(exclude)) if exclude is not None else None,
        )

    def _load(self, node: cst.Attribute) -> None:
        if id(node) in self._not_reads:
            return
        name = _self_attr(node, self.self_name)
        if name is not None:
            self.reads.append(Access(name, self.src.span(node)))
