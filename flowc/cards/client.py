"""Reading a task's cards from Python, with Metaflow's API::

    from flowc.cards import get_cards
    cards = get_cards(Task("Flow/123/train/0"), type="default")
    cards[0].get()          # the HTML
    cards[0].id, cards[0].type, cards[0].hash

A task that ``resume`` cloned shows the cards of the task it was cloned from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class CardNotPresentException(Exception):
    """The task has no card matching what was asked for."""

    headline = "Card not present"


class Card:
    """One stored card: ``get()`` gives its HTML."""

    def __init__(self, task: Any, meta: dict):
        self._task = task
        self._meta = meta
        self.id: str | None = meta.get("id")
        self.type: str = meta.get("type", "default")
        self.hash: str = meta.get("hash") or meta["key"]
        self.path = f"{task.pathspec}/cards/{meta['key']}.html"

    def get(self) -> str | None:
        from flowc.cards.store import read_card

        t = self._task
        return read_card(t._ds, t.flow_name, t.run_id, t.step_name, t.id, self._meta["key"])

    def get_data(self) -> dict | None:
        """Data a card published while its task ran (none for flowc's cards)."""
        return self._meta.get("data")

    def _repr_html_(self) -> str | None:
        return self.get()

    def __repr__(self) -> str:
        return f"<Card {self.type} {self.id or self._meta['key']} of {self._task.pathspec}>"


class CardContainer:
    """The cards found: indexable, iterable, ``len()``."""

    def __init__(self, cards: list[Card]):
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, n: int) -> Card:
        return self._cards[n]

    def _repr_html_(self) -> str:
        return "\n".join(c.get() or "" for c in self._cards)


def get_cards(
    task: Any, id: str | None = None, type: str | None = None, follow_resumed: bool = True  # noqa: A002
) -> CardContainer:
    """The cards of ``task`` (a client ``Task`` or its pathspec), optionally only those with
    ``id`` and/or ``type``; CardNotPresentException when there is none."""
    from flowc.cards.store import list_cards
    from flowc.client.objects import Task

    if isinstance(task, str):
        task = Task(task)
    for _ in range(100):
        origin = task.origin_pathspec if follow_resumed else None
        if not origin:
            break
        task = Task(origin, task._ds)
    metas = list_cards(task._ds, task.flow_name, task.run_id, task.step_name, task.id)
    found = [
        Card(task, m)
        for m in metas
        if (id is None or m.get("id") == id) and (type is None or m.get("type") == type)
    ]
    if not found:
        what = " ".join(f"{k}={v!r}" for k, v in (("id", id), ("type", type)) if v is not None)
        raise CardNotPresentException(f"task {task.pathspec} has no card{' ' + what if what else ''}")
    return CardContainer(found)
