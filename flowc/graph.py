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


def is_recursive(step: Step) -> bool:
    """A recursive switch: one of its cases runs the step again (the only loop a flow may
    have, as in Metaflow). Each visit is a task of its own; the last one takes another case."""
    return is_switch(step) and step.name in step.out_steps


def exit_targets(step: Step) -> tuple[str, ...]:
    """A step's targets without the loop back to itself of a recursive switch."""
    return tuple(t for t in step.out_steps if not (is_recursive(step) and t == step.name))


def index_depth(step: Step) -> int:
    """How many numbers a task of ``step`` has in its index path: one per enclosing foreach,
    plus the iteration for a recursive switch (its n-th visit is task ``...n``)."""
    return step.foreach_depth + (1 if is_recursive(step) else 0)


def successors(steps: Iterable[Step]) -> dict[str, tuple[str, ...]]:
    """Out-edges restricted to steps that exist (unknown targets are lint's business). The
    loop edge of a recursive switch is left out: every graph walk sees the loop as one step,
    and the runtime repeats it (see :func:`is_recursive`)."""
    steps = list(steps)
    names = {s.name for s in steps}
    return {s.name: tuple(dict.fromkeys(t for t in exit_targets(s) if t in names)) for s in steps}


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
    """Walk from ``start`` with a stack of open splits (outermost first), each with the branch
    (the split's target) the walk went down.

    A split or foreach opens; a join closes the innermost one. A switch opens nothing, as in
    Metaflow: its cases carry the stack on, so a branch that passes through a switch is still
    one branch when it reaches its join. Each step keeps the stack it was first reached with
    (a join's ends in its split, without a branch); every other edge is then checked against
    it, which also catches branches of one split meeting before a join."""
    steps = list(steps)
    by_name = {s.name: s for s in steps}
    succ = successors(steps)
    preds = predecessors(steps)
    problems: list[NestingProblem] = []
    stacks: dict[str, tuple[tuple[str, str | None], ...]] = {}
    joins: dict[str, str] = {}

    def leave(name: str, stack):
        step = by_name[name]
        if step.kind is NodeKind.JOIN:
            stack = stack[:-1]
        return stack

    def edge(name: str, out_stack, target: str):
        step = by_name[name]
        if opens_split(step) and not is_switch(step):
            out_stack = out_stack + ((name, target),)
        if by_name[target].kind is NodeKind.JOIN and out_stack:
            out_stack = out_stack[:-1] + ((out_stack[-1][0], None),)
        return out_stack

    if "start" in by_name:
        stacks["start"] = ()
        queue = deque(["start"])
        while queue:
            n = queue.popleft()
            out_stack = leave(n, stacks[n])
            for t in succ[n]:
                if t not in stacks:
                    stacks[t] = edge(n, out_stack, t)
                    queue.append(t)

    def names(stack) -> tuple[str, ...]:
        return tuple(x[0] for x in stack)

    reported: set[str] = set()
    for name, stack in stacks.items():
        step = by_name[name]
        if step.kind is NodeKind.JOIN:
            if not stack:
                problems.append(NestingProblem("join-without-split", name))
                reported.add(name)
                continue
            split = stack[-1][0]
            if split in joins and joins[split] != name:
                problems.append(NestingProblem("join-unrelated-splits", name, (split,)))
                reported.add(name)
                continue
            joins.setdefault(split, name)
            inputs = tuple(p for p in preds[name] if p in stacks)
            arrived = {_branch_into(by_name, stacks, p, name) for p in inputs}
            if arrived != set(succ.get(split, ())):
                problems.append(NestingProblem("join-input-count", name, (split,), inputs))
                reported.add(name)
        elif step.kind is NodeKind.END and stack:
            problems.append(NestingProblem("unjoined-split", name, names(stack)))
            reported.add(name)

    # Every edge must bring the same open splits (and branches) the target was first reached with.
    for name in stacks:
        out_stack = leave(name, stacks[name])
        for t in succ[name]:
            if t in reported:
                continue
            got = edge(name, out_stack, t)
            if got != stacks[t]:
                reported.add(t)
                kind = (
                    "join-unrelated-splits"
                    if by_name[t].kind is NodeKind.JOIN
                    else "unjoined-split"
                )
                inputs = tuple(p for p in preds[t] if p in stacks)
                diff = tuple(x[0] for x in got if x not in stacks[t]) or names(stacks[t])
                problems.append(NestingProblem(kind, t, diff, inputs))
    for split, merge in switch_merge_points(steps).items():
        if split in stacks:
            joins.setdefault(split, merge)
    parents = {n: names(st) for n, st in stacks.items()}
    return Nesting(parents, joins, tuple(problems))


def _branch_into(by_name: Mapping[str, Step], stacks, pred: str, join: str) -> str | None:
    """The branch of the join's split that the edge ``pred -> join`` comes down."""
    step = by_name[pred]
    stack = stacks[pred]
    if step.kind is NodeKind.JOIN:
        stack = stack[:-1]
    if opens_split(step) and not is_switch(step):
        return join  # a split straight into its own join: the branch is the join itself
    return stack[-1][1] if stack else None


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


def join_groups(steps: Mapping[str, Step], join: str) -> tuple[tuple[str, ...], ...]:
    """A join's in-steps grouped by the branch of its split they come down, in branch order:
    a branch that passes through a switch ends in one of several steps (the case taken), so
    the join waits for one step of each group. A foreach join has one group."""
    split = next((s for s in steps.values() if s.matching_join == join and opens_split(s)), None)
    ins = steps[join].in_steps
    if split is None or is_foreach(split) or is_switch(split):
        return (ins,) if ins else ()
    succ = successors(steps.values())
    groups = []
    for b in split.out_steps:
        live = reachable(succ, b) if b != join else {split.name}
        group = tuple(q for q in ins if q in live)
        if group:
            groups.append(group)
    return tuple(groups)
