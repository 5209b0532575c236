"""Which task comes after which, from the IR alone.

The task contract uses this to find a task's inputs and the executor to find what to start
next; an orchestrator backend reads the same facts. Pure functions of the graph, the index path
and what a finished task reported (its foreach cardinality or the switch branch it took).

A recursive switch (a case that goes back to its own step) runs once per visit: its index path
ends in the visit number, so ``loop/3`` is the fourth visit outside any foreach and ``loop/2.0``
the first one inside item 2. The step after the loop continues from the last visit, which only
the datastore knows: its parent candidate carries :data:`LAST_VISIT` in that place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flowc.datastore.layout import Index
from flowc.graph import is_foreach, is_recursive, predecessors
from flowc.ir import FlowIR, NodeKind, Step, TransitionKind

TaskKey = tuple[str, Index]  # (step name, foreach index path [+ visit of a recursive switch])
LAST_VISIT = -1  # in a parent candidate: the last visit of a recursive switch, to look up


@dataclass(frozen=True)
class Graph:
    ir: FlowIR

    @cached_property
    def steps(self) -> dict[str, Step]:
        return self.ir.step_map()

    @cached_property
    def preds(self) -> dict[str, tuple[str, ...]]:
        return predecessors(self.ir.steps)

    @cached_property
    def split_of(self) -> dict[str, Step]:
        """Each join's split step (static or foreach)."""
        return {
            s.matching_join: s
            for s in self.ir.steps
            if s.matching_join
            and s.transition is not None
            and s.transition.kind is not TransitionKind.SWITCH
        }

    def is_join(self, name: str) -> bool:
        return self.steps[name].kind is NodeKind.JOIN

    def is_foreach_join(self, name: str) -> bool:
        split = self.split_of.get(name)
        return split is not None and is_foreach(split)

    def is_recursive(self, name: str) -> bool:
        return is_recursive(self.steps[name])

    def foreach_index(self, step: str, index: Index) -> Index:
        """The foreach part of a task's index path (without a recursive switch's visit)."""
        return index[:-1] if self.is_recursive(step) else index

    def index_of_successor(self, target: str, index: Index) -> Index:
        """The index path of ``target`` reached from a task at foreach index path ``index``
        (not through a foreach); entering a recursive switch starts at visit 0."""
        if self.is_join(target) and self.is_foreach_join(target):
            return index[:-1]
        if self.is_recursive(target):
            return (*index, 0)
        return index

    def next_tasks(
        self, step: str, index: Index, num_splits: int | None = None, branch: str | None = None
    ) -> list[TaskKey]:
        tr = self.steps[step].transition
        if tr is None:
            return []
        if tr.kind in (TransitionKind.FOREACH, TransitionKind.PARALLEL):
            assert num_splits is not None
            return [(tr.targets[0], (*index, i)) for i in range(num_splits)]
        if branch == step and self.is_recursive(step):  # loop again: the next visit
            return [(step, (*index[:-1], index[-1] + 1))]
        base = self.foreach_index(step, index)
        targets = [branch] if tr.kind is TransitionKind.SWITCH else list(tr.targets)
        return [(t, self.index_of_successor(t, base)) for t in targets if t is not None]

    def expected_arrivals(self, join: str, num_splits: int | None) -> int:
        """How many finished tasks a join waits for: one per branch of a static split, one
        per item of a foreach."""
        split = self.split_of[join]
        if is_foreach(split):
            assert num_splits is not None
            return num_splits
        return len(split.transition.targets)

    def parent_candidates(self, step: str, index: Index) -> list[TaskKey]:
        """Tasks one of which is the single parent of a non-join task (several only after a
        switch, whose branches meet in one step). A visit of a recursive switch after the first
        continues from the visit before; a step after a recursive switch from its last visit
        (:data:`LAST_VISIT`)."""
        if self.is_recursive(step) and index and index[-1] > 0:
            return [(step, (*index[:-1], index[-1] - 1))]
        base = self.foreach_index(step, index)
        out = []
        for p in self.preds.get(step, ()):
            ps = self.steps[p]
            idx = base[:-1] if is_foreach(ps) else base
            out.append((p, (*idx, LAST_VISIT) if is_recursive(ps) else idx))
        return out

    def join_input_candidates(
        self, join: str, index: Index, num_splits: int | None
    ) -> list[list[TaskKey]]:
        """For each input slot of a join, the tasks that may fill it (the in-steps; more than
        one where a branch ends in a switch)."""
        ins = self.preds.get(join, ())
        if self.is_foreach_join(join):
            assert num_splits is not None
            return [[(s, (*index, i)) for s in ins] for i in range(num_splits)]
        return [[(s, index)] for s in ins]
