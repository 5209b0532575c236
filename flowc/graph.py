"""Graph algorithms over the IR's steps: in-edges, split nesting, matching joins, foreach depth,
graph order, reachability and cycles.

Pure functions that never raise on a malformed graph (unknown targets, cycles, unbalanced
splits): they compute what they can, and :func:`nesting` reports what did not fit so that lint
can turn it into located diagnostics. One walk serves both the analyzer's annotations and lint.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowc.ir import FlowIR, NodeKind, Step, TransitionKind

OPENING = (
    TransitionKind.SPLIT,
    TransitionKind.FOREACH,
    TransitionKind.PARALLEL,
    TransitionKind.SWITCH,
)


def opens_split(step: Step) -> bool:
    """Whether the step's transition opens a split that a join (or, for a switch, a merge
    point) must close."""
    return step.transition is not None and step.transition.kind in OPENING


def is_foreach(step: Step) -> bool:
    return step.transition is not None and step.transition.kind in (
        TransitionKind.FOREACH,
        TransitionKind.PARALLEL,
    )


def is_switch(step: Step) -> bool:
    return step.transition is not None and step.transition.kind is TransitionKind.SWITCH


def successors(steps: Iterable[Step]) -> dict[str, tuple[str, ...]]:
    """Out-edges restricted to steps that exist (unknown targets are lint's business)."""
    steps = list(steps)
    names = {s.name for s in steps}
    return {s.name: tuple(dict.fromkeys(t for t in s.out_steps if t in names)) for s in steps}


def predecessors(steps: Iterable[Step]) -> dict[str, tuple[str, ...]]:
    """In-edges, each list in source order of the predecessor."""
    succ = successors(steps)
    preds: dict[str, list[str]] = {name: [] for name in succ}
    for name, outs in succ.items():
        for t in outs:
            preds[t].append(name)
    return {k: tuple(v) for k, v in preds.items()}


def reachable(succ: Mapping[str, Iterable[str]], root: str) -> set[str]:
    seen: set[str] = set()
    if root not in succ:
        return seen
    todo = [root]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(t for t in succ.get(n, ()) if t not in seen)
    return seen


def find_cycle(succ: Mapping[str, Iterable[str]], order: Iterable[str]) -> list[str] | None:
    """The first cycle found by depth-first search, as a path that repeats its first step
    (``["a", "b", "a"]``); None for an acyclic graph. Iterative, so deep graphs are fine."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in succ}
    for root in order:
        if color.get(root) != WHITE:
            continue
        path: list[str] = [root]
        iters = [iter(succ[root])]
        color[root] = GREY
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                color[path.pop()] = BLACK
                iters.pop()
                continue
            c = color.get(nxt)
            if c == GREY:
                return path[path.index(nxt) :] + [nxt]
            if c == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                iters.append(iter(succ[nxt]))
    return None


def order(ir: FlowIR) -> tuple[str, ...]:
    """Steps in graph order: from ``start``, depth-first along each transition's targets, a
    step emitted only once all of its reachable predecessors are (so a join follows all its
    branches); steps not reachable from start, or stuck on a cycle, follow in source order."""
    succ = successors(ir.steps)
    preds = predecessors(ir.steps)
    live = reachable(succ, "start")
    waiting = {n: sum(1 for p in preds[n] if p in live) for n in live}
    out: list[str] = []
    emitted: set[str] = set()
    stack = ["start"] if "start" in live else []
    while stack:
        n = stack.pop()
        if n in emitted:
            continue
        emitted.add(n)
        out.append(n)
        ready = []
        for t in succ[n]:
            waiting[t] -= 1
            if waiting[t] <= 0 and t not in emitted:
                ready.append(t)
        stack.extend(reversed(ready))
    out.extend(s.name for s in ir.steps if s.name not in emitted)
    return tuple(out)


@dataclass(frozen=True)
class NestingProblem:
    """Something the split/join walk could not make balanced, for lint to report.

    kinds: ``join-without-split`` (a join reached with no open split), ``unjoined-split`` (end,
    or a dead end, reached with splits still open; ``splits`` names them), ``join-input-count``
    (a join whose inputs do not match its split's branches), ``join-unrelated-splits`` (a join
    reached with different open splits along different inputs)."""

    kind: str
    step: str
    splits: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nesting:
    split_parents: dict[str, tuple[str, ...]]
    matching_join: dict[str, str]
    problems: tuple[NestingProblem, ...]


def switch_merge_points(steps: Iterable[Step]) -> dict[str, str]:
    """Where each switch's branches meet again: the first step reachable from every case."""
    steps = list(steps)
    succ = successors(steps)
    rank = {s.name: i for i, s in enumerate(steps)}
    merges: dict[str, str] = {}
    for s in steps:
        if not is_switch(s):
            continue
        targets = [t for t in succ[s.name]]
        if len(targets) < 2:
            continue
        common = set.intersection(*(reachable(succ, t) for t in targets))
        common.discard(s.name)
        if not common:
            continue
        # the common step from which every other common step is reachable comes first
        firsts = [c for c in common if common <= reachable(succ, c)]
        pool = firsts or list(common)
        merges[s.name] = min(pool, key=lambda c: rank[c])
    return merges


def nesting(steps: Iterable[Step]) -> Nesting:
    """Walk from ``start`` with a stack of open splits (outermost first).

    A split, foreach or switch opens; a join closes the innermost split; a switch closes where
    its branches meet. Each step keeps the stack it was first reached with (a join's includes
    the split it closes, as in Metaflow); every other edge is then checked against it."""
    steps = list(steps)
    by_name = {s.name: s for s in steps}
    succ = successors(steps)
    preds = predecessors(steps)
    merge_of_switch = switch_merge_points(steps)
    problems: list[NestingProblem] = []
    parents: dict[str, tuple[str, ...]] = {}
    joins: dict[str, str] = {}

    def arrive(stack: tuple[str, ...], name: str) -> tuple[str, ...]:
        # a switch's merge point closes it (and is not itself a join)
        while stack and merge_of_switch.get(stack[-1]) == name:
            stack = stack[:-1]
        return stack

    def leave(name: str, stack: tuple[str, ...]) -> tuple[str, ...]:
        step = by_name[name]
        if step.kind is NodeKind.JOIN:
            stack = stack[:-1]
        if opens_split(step):
            stack = stack + (name,)
        return stack

    if "start" in by_name:
        parents["start"] = ()
        queue = deque(["start"])
        while queue:
            n = queue.popleft()
            out_stack = leave(n, parents[n])
            for t in succ[n]:
                if t not in parents:
                    parents[t] = arrive(out_stack, t)
                    queue.append(t)

    for name, stack in parents.items():
        step = by_name[name]
        if step.kind is NodeKind.JOIN:
            if not stack:
                problems.append(NestingProblem("join-without-split", name))
                continue
            split = stack[-1]
            if split in joins and joins[split] != name:
                problems.append(NestingProblem("join-unrelated-splits", name, (split,)))
                continue
            joins.setdefault(split, name)
            branches = succ.get(split, ())
            inputs = tuple(p for p in preds[name] if p in parents)
            split_step = by_name[split]
            if is_switch(split_step):
                problems.append(NestingProblem("join-without-split", name, (split,)))
            elif is_foreach(split_step):
                if len(inputs) != 1:
                    problems.append(NestingProblem("join-input-count", name, (split,), inputs))
            elif len(inputs) != len(branches):
                problems.append(NestingProblem("join-input-count", name, (split,), inputs))
        elif step.kind is NodeKind.END and stack:
            problems.append(NestingProblem("unjoined-split", name, stack))

    # Every edge must bring the same open splits the target was first reached with.
    reported: set[str] = {p.step for p in problems}
    for name in parents:
        out_stack = leave(name, parents[name])
        for t in succ[name]:
            if t in reported:
                continue
            if arrive(out_stack, t) != parents[t]:
                reported.add(t)
                kind = (
                    "join-unrelated-splits"
                    if by_name[t].kind is NodeKind.JOIN
                    else "unjoined-split"
                )
                inputs = tuple(p for p in preds[t] if p in parents)
                diff = tuple(x for x in arrive(out_stack, t) if x not in parents[t]) or parents[t]
                problems.append(NestingProblem(kind, t, diff, inputs))
    for split, merge in merge_of_switch.items():
        if split in parents:
            joins.setdefault(split, merge)
    return Nesting(parents, joins, tuple(problems))


def annotate(steps: Iterable[Step]) -> tuple[Step, ...]:
    """Fill each step's ``in_steps``, ``matching_join``, ``split_parents`` and
    ``foreach_depth`` from the graph; steps not reachable from start keep empty nesting."""
    steps = list(steps)
    preds = predecessors(steps)
    nest = nesting(steps)
    by_name = {s.name: s for s in steps}
    out = []
    for s in steps:
        parents = nest.split_parents.get(s.name, ())
        depth = sum(
            1 for p in parents if is_foreach(by_name[p]) and nest.matching_join.get(p) != s.name
        )
        out.append(
            dataclasses.replace(
                s,
                in_steps=preds.get(s.name, ()),
                matching_join=nest.matching_join.get(s.name),
                split_parents=parents,
                foreach_depth=depth,
            )
        )
    return tuple(out)
