"""Turning a task's cards into HTML pages: the default card's sections, the page around any
card's components, and what ``current.card`` collects while the step runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from flowc.cards.components import Component, Error, Table, as_component, render_all
from flowc.datastore import human_size

CARD_TYPES = ("default", "blank")
REFRESH_EVERY = 1.0  # seconds: refresh() more often than this is folded into the next one


@dataclass(frozen=True)
class CardSpec:
    """One ``@card`` of a step (or the one ``--with card`` adds)."""

    type: str = "default"
    id: str | None = None
    options: dict = field(default_factory=dict)
    timeout: float = 45.0
    n: int = 0  # position among the step's cards: part of the key when there is no id
    save_errors: bool = True  # False: a card that fails to render is not stored
    customize: bool = False  # this card takes current.card.append when several could

    @property
    def key(self) -> str:
        from flowc.cards.store import card_key

        return card_key(self.type, self.id, self.n)


def card_specs(
    decorators: Sequence[tuple[str, dict]], with_specs: Sequence[Sequence[Any]] = ()
) -> list[CardSpec]:
    kwargs = [kw for name, kw in decorators if name == "card"]
    if not kwargs:
        kwargs = [dict(kw) for name, kw in with_specs if name == "card"][:1]
    out = []
    for n, kw in enumerate(kwargs):
        t = str(kw.get("type", "default"))
        out.append(
            CardSpec(
                type=t,
                id=str(kw["id"]) if kw.get("id") else None,
                options=dict(kw.get("options") or {}),
                timeout=float(kw.get("timeout", 45) or 45),
                n=n,
                save_errors=bool(kw.get("save_errors", True)),
                customize=bool(kw.get("customize", False)),
            )
        )
    return out


# --- what current.card is -----------------------------------------------------------------


class CardHandle:
    """One card's component list, as ``current.card['id']`` gives it."""

    def __init__(self, spec: CardSpec | None, owner: CardSet):
        self.spec = spec
        self.components: list[Component] = []
        self.raw: list[Any] = []  # as appended: a custom card type takes only components
        self._owner = owner

    def append(self, component: Any) -> None:
        self._owner._check(self)
        self.components.append(as_component(component))
        self.raw.append(component)

    def extend(self, components: Iterable[Any]) -> None:
        for c in components:
            self.append(c)

    def clear(self) -> None:
        self.components.clear()
        self.raw.clear()

    def refresh(self, force: bool = False) -> None:
        self._owner.refresh(force)


class CardSet:
    """``current.card``: appends go to the step's card without an id (or its only card);
    ``current.card['id']`` picks one by id; ``refresh()`` re-renders them while the step runs."""

    def __init__(self, specs: Sequence[CardSpec], on_refresh: Callable[[CardSet], None] | None):
        self.specs = list(specs)
        self.handles = {s.key: CardHandle(s, self) for s in self.specs}
        self._on_refresh = on_refresh
        self._last_refresh = 0.0
        self._warned = False
        self._default = CardHandle(None, self)
        pick = default_editable(self.specs)
        if pick is not None:
            self._default = self.handles[pick.key]

    def get(self, type: str | None = None, id: str | None = None) -> list[Component]:  # noqa: A002
        """The components of the cards of ``type`` (and ``id``), as Metaflow's ``get``."""
        return [
            c
            for s in self.specs
            if (type is None or s.type == type) and (id is None or s.id == id)
            for c in self.handles[s.key].components
        ]

    def _check(self, handle: CardHandle) -> None:
        if handle.spec is None and not self._warned:
            self._warned = True
            why = (
                "the step has no @card"
                if not self.specs
                else "the step has several cards without an id; use current.card['ID']"
            )
            print(f"flowc: current.card: components are dropped: {why}", file=sys.stderr)

    def __getitem__(self, card_id: str) -> CardHandle:
        for s in self.specs:
            if s.id == card_id:
                return self.handles[s.key]
        # As Metaflow: a wrong id must not fail the step; its components go nowhere, said once
        ids = ", ".join(repr(s.id) for s in self.specs if s.id) or "none"
        print(
            f"flowc: current.card[{card_id!r}]: this step has no card with that id (ids: "
            f"{ids}); its components are dropped",
            file=sys.stderr,
        )
        self._warned = True
        return CardHandle(None, self)

    def append(self, component: Any) -> None:
        self._default.append(component)

    def extend(self, components: Iterable[Any]) -> None:
        self._default.extend(components)

    def clear(self) -> None:
        self._default.clear()

    @property
    def components(self) -> list[Component]:
        return self._default.components

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._on_refresh is None or (not force and now - self._last_refresh < REFRESH_EVERY):
            return
        self._last_refresh = now
        self._on_refresh(self)


def default_editable(specs: Sequence[CardSpec]) -> CardSpec | None:
    """The card ``current.card.append`` feeds, as Metaflow picks it: the one marked
    ``customize=True``, else the only card that takes components (a card without an id when
    several do)."""
    from flowc.cards.custom import editable

    marked = [s for s in specs if s.customize]
    if marked:
        return marked[0]
    open_ = [s for s in specs if editable(s.type)]
    if len(open_) == 1:
        return open_[0]
    unnamed = [s for s in open_ if s.id is None]
    return unnamed[0] if len(unnamed) == 1 else None


# --- pages --------------------------------------------------------------------------------


@dataclass
class TaskView:
    """What a card shows about its task."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: str  # ok | failed | running
    started_at: float
    finished_at: float | None
    parameters: dict[str, Any]
    artifacts: dict[str, dict]  # name -> ref (type, size, repr)
    error: str | None = None
    earlier_attempts: list[dict] = field(default_factory=list)
    graph_svg: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


def render_page(spec: CardSpec, task: TaskView, components: Sequence[Component]) -> str:
    """One self-contained HTML page; a part that fails to render shows its error instead."""
    from flowc import __version__
    from flowc.cards.vega import DRAW, bundle

    sections: list[Markup] = []
    if spec.type == "default":
        sections.extend(_default_sections(task))
    if components:
        sections.append(_section(None, render_all(components)))
    body = Markup("\n").join(sections)
    vega_js = None
    if 'class="vega-chart"' in body:
        js = bundle()
        if js is None:
            from flowc.cards.vega import MISSING

            body = Markup(f'<section><div class="error">{escape(MISSING)}</div></section>') + body
        else:
            vega_js = Markup(js.replace("</script", "<\\/script"))
    template = _env().get_template("card.html.j2")
    return template.render(
        title=f"{task.step} · {task.flow}/{task.run_id}",
        heading=f"{task.flow} · {task.step}",
        pathspec=task.pathspec,
        status=task.status,
        card_id=spec.id,
        card_type=spec.type,
        body=body,
        version=__version__,
        rendered_at=datetime.fromtimestamp(time.time()).strftime("%Y-%m-%d %H:%M:%S"),
        vega_js=vega_js,
        draw_js=Markup(DRAW),
    )


def render_error_page(spec: CardSpec, task: TaskView, error: BaseException) -> str:
    """What is stored when a card cannot be rendered at all: the card shows why."""
    return render_page(
        CardSpec("blank", spec.id, n=spec.n),
        task,
        [Error(error, "This card could not be rendered")],
    )


def _env():  # noqa: ANN202
    global _ENV
    if _ENV is None:
        import os

        import jinja2

        import flowc.templates

        folder = os.path.dirname(os.path.abspath(flowc.templates.__file__))
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
    return _ENV


_ENV = None


def _section(title: str | None, content: Markup) -> Markup:
    head = f"<h2>{escape(title)}</h2>" if title else ""
    return Markup(f"<section>{head}{content}</section>")


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _default_sections(task: TaskView) -> list[Markup]:
    duration = (
        f"{task.finished_at - task.started_at:.2f} s" if task.finished_at else "still running"
    )
    facts = [
        ("flow", task.flow),
        ("run", task.run_id),
        ("step", task.step),
        ("task", task.task_id),
        ("attempt", str(task.attempt)),
        ("started", _when(task.started_at)),
        ("finished", _when(task.finished_at)),
        ("duration", duration),
    ]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    out = [_section("Task", Markup(f'<dl class="facts">{dl}</dl>'))]
    if task.error:
        out.append(_section("Error", Error(task.error, "The step failed").render()))
    if task.earlier_attempts:
        rows = [
            [a.get("attempt"), a.get("status"), a.get("error") or ""] for a in task.earlier_attempts
        ]
        out.append(_section("Attempts", Table(rows, ["attempt", "status", "error"]).render()))
    if task.parameters:
        rows = [[name, value] for name, value in task.parameters.items()]
        out.append(_section("Parameters", Table(rows, ["name", "value"]).render()))
    if task.graph_svg:
        out.append(_section("Graph", Markup(f'<div class="graph">{task.graph_svg}</div>')))
    params = set(task.parameters)
    arts = [
        [name, ref.get("type", "?"), human_size(ref.get("size")), ref.get("repr", "")]
        for name, ref in sorted(task.artifacts.items())
        if name not in params
    ]
    if arts:
        out.append(
            _section(
                f"Artifacts ({len(arts)})",
                Table(arts, ["name", "type", "size", "value"], max_rows=400).render(),
            )
        )
    return out
