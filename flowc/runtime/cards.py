"""The task contract's side of cards: ``current.card`` while the step runs, live refreshes,
and the final render stored beside the task before its ``task.json``. A card that cannot be
rendered is stored showing its error; it never fails the step. A step without ``@card`` pays
for none of this (the card modules are not even imported)."""

from __future__ import annotations

import hashlib
import sys
import time
from typing import TYPE_CHECKING, Any

from flowc.datastore import layout
from flowc.datastore.layout import Index, task_id

if TYPE_CHECKING:
    from flowc.runtime.task import TaskContext, TaskResult


class NoCards:
    """``current.card`` in a step without ``@card``: components go nowhere, with one note."""

    _warned = False

    def _drop(self, *args: Any, **kwargs: Any) -> None:
        if not NoCards._warned:
            NoCards._warned = True
            print(
                "flowc: current.card: this step has no @card, so components are dropped "
                "(add @card to the step, or run with --with card)",
                file=sys.stderr,
            )

    append = extend = _drop

    def clear(self) -> None:
        pass

    def refresh(self, force: bool = False) -> None:
        pass

    def __getitem__(self, card_id: str) -> NoCards:
        self._drop()
        return self

    @property
    def components(self) -> list:
        return []


class TaskCards:
    def __init__(
        self,
        ctx: TaskContext,
        step: str,
        index: Index,
        attempt: int,
        kwargs: tuple[dict, ...],
        started: float,
    ):
        self.ctx, self.step, self.index, self.attempt, self.started = (
            ctx,
            step,
            index,
            attempt,
            started,
        )
        self.specs: list = []
        self.current: Any = NoCards()
        if kwargs:
            from flowc.cards.render import CardSet, card_specs

            self.specs = card_specs([("card", kw) for kw in kwargs])
            self.current = CardSet(
                self.specs, lambda _cards: self._write("running", {}, None, timed=False)
            )

    def finish(self, result: TaskResult, artifacts: dict[str, dict]) -> list[dict]:
        """Render every card for the task's outcome and store it; returns their records."""
        status = "ok" if result.ok else "failed"
        return self._write(
            status, artifacts if result.ok else {}, result.error, time.time(), timed=True
        )

    def _write(
        self,
        status: str,
        artifacts: dict[str, dict],
        error: str | None,
        finished: float | None = None,
        timed: bool = False,
    ) -> list[dict]:
        """``timed``: bound each render by the card's timeout (only after the step: during it,
        the step's own @timeout alarm is running)."""
        from flowc.cards.custom import find_card_type, render_custom
        from flowc.cards.render import CARD_TYPES, render_error_page, render_page
        from flowc.cards.store import write_card
        from flowc.runtime.task import StepTimeout, _alarm

        view = self._view(status, artifacts, error, finished)
        run = self.ctx.run
        where = (run.flow, run.run_id, self.step, task_id(self.index))
        metas = []
        for spec in self.specs:
            handle = self.current.handles[spec.key]
            problem = None
            custom = find_card_type(spec.type) if spec.type not in CARD_TYPES else None
            if spec.type not in CARD_TYPES and not timed and status == "running":
                continue  # a custom card type renders once, when the task has ended
            try:
                if spec.type not in CARD_TYPES and custom is None:
                    raise LookupError(
                        f"card type {spec.type!r} is not found: define a MetaflowCard subclass "
                        "with that type, or use default or blank"
                    )
                limit = spec.timeout if timed else None
                why = f"card {spec.key!r} took longer than its timeout of {spec.timeout:g} s"
                with _alarm(limit, self.step, why):
                    if custom is not None:
                        task = self._client_task(status, artifacts)
                        page = render_custom(custom, spec.options, handle.raw, task)
                    else:
                        page = render_page(spec, view, handle.components)
            except (Exception, StepTimeout) as e:  # noqa: BLE001 - never fail the step
                problem = f"{type(e).__name__}: {e}"
                if not spec.save_errors:
                    print(f"flowc: card {spec.key} not stored: {problem}", file=sys.stderr)
                    continue
                page = render_error_page(spec, view, e)
            meta = {
                "key": spec.key,
                "type": spec.type,
                "id": spec.id,
                "n": spec.n,
                "attempt": self.attempt,
                "status": status,
                "error": problem,
                "hash": hashlib.sha256(page.encode("utf-8")).hexdigest(),
            }
            try:
                write_card(self.ctx.ds, where, meta, page)
            except OSError as e:
                print(f"flowc: card {spec.key} could not be stored: {e}", file=sys.stderr)
                continue
            metas.append(meta)
        return metas

    def _client_task(self, status: str, artifacts: dict[str, dict]) -> Any:
        """The client ``Task`` a custom card renders, before the task's record is written."""
        from flowc.client.objects import Task

        run = self.ctx.run
        pathspec = f"{run.flow}/{run.run_id}/{self.step}/{task_id(self.index)}"
        record = {"status": status, "artifacts": artifacts, "attempt": self.attempt}
        return Task._from_record(pathspec, self.ctx.ds, record)

    def _view(self, status: str, artifacts: dict, error: str | None, finished: float | None):  # noqa: ANN202
        from flowc.cards.graph_svg import graph_svg
        from flowc.cards.render import TaskView

        run, ds = self.ctx.run, self.ctx.ds
        tid = task_id(self.index)
        earlier = []
        for n in range(self.attempt):
            doc = ds.read_json(
                layout.attempt_key(run.flow, run.run_id, self.step, tid, n, "attempt.json")
            )
            if isinstance(doc, dict):
                earlier.append(doc)
        needs_graph = any(s.type == "default" for s in self.specs)
        return TaskView(
            flow=run.flow,
            run_id=run.run_id,
            step=self.step,
            task_id=tid,
            attempt=self.attempt,
            status=status,
            started_at=self.started,
            finished_at=finished,
            parameters=dict(run.params),
            artifacts=artifacts,
            error=error,
            earlier_attempts=earlier,
            graph_svg=graph_svg(self.ctx.graph.ir, highlight=self.step) if needs_graph else None,
        )
