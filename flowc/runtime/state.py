"""What a flow object knows while one of its steps runs: which artifacts it inherited (loaded
lazily, only when the step reads them), which are parameters (read-only), its foreach frames,
and the ``self.next`` call the step made. ``FlowSpec`` delegates to this; outside a task a flow
object has no state and says so.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowc.datastore import Datastore
    from flowc.datastore.serialize import Loaded
    from flowc.ir import Step


from flowc.errors import (
    MetaflowException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)


class StepError(MetaflowException):
    """A misuse of the flow API inside a step (a bad ``self.next``, a merge conflict...)."""


class NoSuchTask(StepError):
    """The index path names no task of this run (past the end of its foreach)."""


class TaskState:
    def __init__(
        self,
        ds: Datastore,
        step: Step,
        refs: dict[str, dict],
        params: frozenset[str],
        frames: list[dict],
        read_only: bool = False,
        pathspec: str = "",
    ):
        self.ds = ds
        self.step = step
        self.refs = dict(refs)  # inherited or merged artifacts, not loaded yet
        self.params = params
        self.frames = frames
        self.read_only = read_only
        self.pathspec = pathspec
        self.loaded: dict[str, Loaded] = {}  # artifacts read from refs
        self.read_values: dict[str, Any] = {}  # immutable values as read (to spot `x += 1`)
        self.deleted: set[str] = set()
        self.next_call: dict | None = None
        self._inputs: dict[int, Any] = {}

    # --- artifacts -------------------------------------------------------------------------

    def load(self, obj: Any, name: str) -> Any:
        ref = self.refs.get(name)
        if ref is None:
            raise AttributeError(
                f"{type(obj).__name__} has no artifact or attribute {name!r} in step "
                f"{self.step.name!r}"
                + (
                    " (a join starts with no artifacts: read them from `inputs`, or call "
                    "self.merge_artifacts(inputs))"
                    if self.step.kind.value == "join" and not self.read_only
                    else ""
                )
            )
        value, self.loaded[name] = self.ds.load(ref["sha"])
        if isinstance(value, (int, float, complex, str, bytes, bool, type(None))):
            self.read_values[name] = value
        obj.__dict__[name] = value
        return value

    def check_set(self, name: str) -> None:
        if self.read_only:
            raise AttributeError(
                f"cannot set {name!r} on an input of join step {self.step.name!r}: inputs are "
                "read-only; set it on self instead"
            )
        if name in self.params:
            raise AttributeError(
                f"cannot assign to {name!r}: it is a Parameter (or a class-level constant), "
                "read-only in every step; store a new value under another name"
            )

    def delete(self, obj: Any, name: str) -> None:
        self.check_set(name)
        found = obj.__dict__.pop(name, None) is not None or name in self.refs
        self.refs.pop(name, None)
        if not found:
            raise AttributeError(name)
        self.deleted.add(name)

    def has(self, obj: Any, name: str) -> bool:
        return name in obj.__dict__ or name in self.refs or hasattr(type(obj), name)

    # --- foreach ---------------------------------------------------------------------------

    def input_at(self, obj: Any, level: int) -> Any:
        if level in self._inputs:
            return self._inputs[level]
        frame = self.frames[level]
        if frame.get("var") is None:  # num_parallel: the item is its index
            value = frame["index"]
        else:
            try:
                seq = getattr(obj, frame["var"])
            except AttributeError:  # outside the body (e.g. the join): not available
                value = None
            else:
                try:
                    value = seq[frame["index"]]
                except TypeError:  # iterable without indexing
                    value = next(islice(seq, frame["index"], frame["index"] + 1))
        self._inputs[level] = value
        return value

    # --- transitions -----------------------------------------------------------------------

    def record_next(
        self,
        targets: tuple[Any, ...],
        foreach: str | None,
        condition: str | None,
        num_parallel: int | None,
    ) -> None:
        step = self.step.name
        if self.read_only:
            raise StepError("self.next() cannot be called on an input of a join")
        if self.next_call is not None:
            raise StepError(f"step {step!r} called self.next() twice; call it once, last")
        cases = None
        if len(targets) == 1 and isinstance(targets[0], dict):
            cases = {k: _step_name(v, step) for k, v in targets[0].items()}
            names = list(dict.fromkeys(cases.values()))
        else:
            names = [_step_name(t, step) for t in targets]
        tr = self.step.transition
        declared = list(tr.targets) if tr is not None else []
        if tr is None or sorted(names) != sorted(declared):
            said = ", ".join(f"self.{n}" for n in names)
            want = ", ".join(f"self.{n}" for n in declared) or "nothing (it is the end step)"
            raise StepError(
                f"step {step!r} called self.next({said}) but its source says {want}; "
                "transitions must be written literally, as flowc reads them from the source"
            )
        if (foreach or None) != (tr.foreach or None) or (condition or None) != (
            tr.condition or None
        ):
            raise StepError(
                f"step {step!r} called self.next() with foreach={foreach!r}, "
                f"condition={condition!r}, which differs from its source"
            )
        self.next_call = {
            "targets": names,
            "foreach": foreach,
            "condition": condition,
            "num_parallel": num_parallel,
            "cases": cases,
        }


def _step_name(target: Any, step: str) -> str:
    func = getattr(target, "__func__", target)
    name = getattr(func, "__name__", None)
    if name is None or not getattr(func, "is_step", False):
        raise StepError(
            f"step {step!r} passed {target!r} to self.next(); pass steps, like self.train"
        )
    return name


class Inputs:
    """A join's ``inputs``: iterable, sized, indexable, and ``inputs.<step>`` for the input
    that came from that step."""

    def __init__(self, flows: list[Any], steps: list[str]):
        self._flows = flows
        self._by_step = dict(zip(steps, flows, strict=True))

    def __iter__(self):
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def __getitem__(self, i: int) -> Any:
        return self._flows[i]

    def __getattr__(self, name: str) -> Any:
        by_step = self.__dict__.get("_by_step", {})
        if name in by_step:
            return by_step[name]
        raise AttributeError(
            f"this join has no input from a step named {name!r} (inputs come from: "
            f"{', '.join(by_step) or 'none'})"
        )

    def __repr__(self) -> str:
        return f"<Inputs of {len(self._flows)}>"


def merge_artifacts(
    state: TaskState,
    obj: Any,
    inputs: Inputs,
    include: list[str] | None,
    exclude: list[str] | None,
) -> None:
    """Metaflow's rules: an artifact already on self is left alone; one that every input
    holding it holds with the same value is merged (by reference, nothing is loaded); different
    values are an error naming them."""
    step = state.step.name
    if state.step.kind.value != "join":
        raise StepError(f"merge_artifacts can only be called in a join; {step!r} is not one")
    if include and exclude:
        raise StepError("merge_artifacts takes include= or exclude=, not both")
    include = list(include or [])
    excluded = set(exclude or [])
    chosen: dict[str, dict] = {}
    conflicts: list[str] = []
    for inp in inputs:
        in_state: TaskState = inp.__dict__["_flowc_task"]
        for name, ref in in_state.refs.items():
            if name in in_state.params:
                continue
            if (include and name not in include) or name in excluded:
                continue
            if state.has(obj, name):
                continue
            first = chosen.setdefault(name, ref)
            if first["sha"] != ref["sha"] and name not in conflicts:
                conflicts.append(name)
    if conflicts:
        names = ", ".join(sorted(conflicts))
        raise UnhandledInMergeArtifactsException(
            f"step {step!r} cannot merge artifacts whose values differ across its inputs: "
            f"{names}. Set them on self before calling merge_artifacts, or leave them out "
            "with exclude=[...]"
        )
    missing = [n for n in include if n not in chosen and not state.has(obj, n)]
    if missing:
        raise MissingInMergeArtifactsException(
            f"step {step!r} asked merge_artifacts to include {', '.join(missing)}, which no "
            "input has"
        )
    state.refs.update(chosen)
