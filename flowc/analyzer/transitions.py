"""From a ``self.next(...)`` as written to the transition it makes, and from that to the step's
node kind. Only a well-formed call makes a transition; anything else is left to lint, which
sees the raw call in ``Step.next_calls``."""

from __future__ import annotations

from flowc.ir import NextCall, NodeKind, Transition, TransitionKind


def derive(call: NextCall) -> Transition | None:
    """The transition of a well-formed tail call, else None:

    * linear ``self.next(self.a)`` and split ``self.next(self.a, self.b)`` (distinct targets);
    * foreach ``self.next(self.a, foreach="items")`` (a string literal);
    * parallel ``self.next(self.a, num_parallel=n)`` (any expression);
    * switch ``self.next({"x": self.a, "y": self.b}, condition="name")`` (string keys)."""
    kw = {a.name: a.value for a in call.keywords}
    if len(kw) != len(call.keywords):  # a repeated keyword does not even compile
        return None
    if call.cases is not None:
        return _switch(call, kw)
    steps = [t.step for t in call.targets]
    if not steps or any(s is None for s in steps) or len(set(steps)) != len(steps):
        return None
    targets = tuple(s for s in steps if s is not None)
    if not kw:
        kind = TransitionKind.LINEAR if len(targets) == 1 else TransitionKind.SPLIT
        return Transition(kind, targets, call.span)
    if len(targets) != 1 or len(kw) != 1:
        return None
    if "foreach" in kw:
        v = kw["foreach"]
        if v.literal and isinstance(v.value, str):
            return Transition(TransitionKind.FOREACH, targets, call.span, foreach=v.value)
    elif "num_parallel" in kw:
        return Transition(
            TransitionKind.PARALLEL, targets, call.span, num_parallel=kw["num_parallel"]
        )
    return None


def _switch(call: NextCall, kw: dict) -> Transition | None:
    condition = kw.get("condition")
    if call.targets or set(kw) != {"condition"} or not call.cases:
        return None
    if not (condition.literal and isinstance(condition.value, str)):
        return None
    pairs: list[tuple[str, str]] = []
    for case in call.cases:
        key, step = case.key, case.target.step
        if step is None or not (key.literal and isinstance(key.value, str)):
            return None
        pairs.append((key.value, step))
    if len({k for k, _ in pairs}) != len(pairs):  # a repeated key silently drops a case
        return None
    targets = tuple(dict.fromkeys(s for _, s in pairs))
    return Transition(
        TransitionKind.SWITCH, targets, call.span, condition=condition.value, cases=tuple(pairs)
    )


def kind_of(name: str, args: tuple[str, ...], transition: Transition | None) -> NodeKind:
    """Metaflow's node type: ``end``; a join (a second argument, ``inputs``); else what the
    transition makes (a split, foreach (also for ``num_parallel``) or switch), with ``start``
    and every step without a valid transition falling back to START or LINEAR."""
    if name == "end":
        return NodeKind.END
    if args:
        return NodeKind.JOIN
    if transition is not None:
        kind = transition.kind
        if kind is TransitionKind.SPLIT:
            return NodeKind.SPLIT
        if kind in (TransitionKind.FOREACH, TransitionKind.PARALLEL):
            return NodeKind.FOREACH
        if kind is TransitionKind.SWITCH:
            return NodeKind.SWITCH
    return NodeKind.START if name == "start" else NodeKind.LINEAR
