"""``flowc card view | get | list``: find a task's stored cards from a flow and a step (the
latest run of yours by default, as Metaflow's ``card view STEP`` does)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from flowc.cards.store import cards_dir, list_cards, read_card
from flowc.client.scope import ClientError, NotFound
from flowc.datastore import Datastore
from flowc.datastore.index import read_index


@dataclass
class FoundCard:
    pathspec: str  # the task's
    meta: dict

    @property
    def key(self) -> str:
        return self.meta["key"]


def latest_run(ds: Datastore, flow: str, user: str) -> str:
    for entry in read_index(ds, flow):
        if entry.user == user:
            return entry.run_id
    if not ds.storage.listdir(f"runs/{flow}"):
        raise NotFound(f"flow {flow!r} has never run in the datastore {ds.url}")
    raise NotFound(f"{flow} has no run by {user}; pick one with --run-id")


def find(
    ds: Datastore,
    flow: str,
    target: str | None,
    run_id: str | None,
    card_id: str | None,
    user: str,
) -> list[FoundCard]:
    """``target`` is STEP, RUN/STEP or RUN/STEP/TASK (None: every step of the run)."""
    from flowc.client.objects import Run, Step, Task

    parts = [p for p in (target or "").split("/") if p]
    if len(parts) > 3:
        raise ClientError(f"{target!r}: name a STEP, RUN/STEP or RUN/STEP/TASK")
    if len(parts) >= 2:
        run_id = parts[0]
        parts = parts[1:]
    run_id = run_id or latest_run(ds, flow, user)
    run = Run(f"{flow}/{run_id}", _ds=ds, _check_namespace=False)
    if not parts:
        tasks = [t for s in run.steps() for t in s.tasks()]
    elif len(parts) == 1:
        tasks = list(Step(f"{run.pathspec}/{parts[0]}", ds).tasks())
    else:
        tasks = [Task(f"{run.pathspec}/{parts[0]}/{parts[1]}", ds)]
    found = []
    for task in tasks:
        for meta in list_cards(ds, flow, run_id, task.step_name, task.id):
            if card_id is None or card_id in (meta.get("id"), meta["key"]):
                found.append(FoundCard(task.pathspec, meta))
    if not found:
        what = f" with id {card_id!r}" if card_id else ""
        where = "/".join([run.pathspec, *parts])
        raise NotFound(
            f"{where} has no card{what}; add @card to the step (or run with --with card) "
            "and run it again"
        )
    return found


def html_of(ds: Datastore, card: FoundCard) -> str:
    flow, run_id, step, task = card.pathspec.split("/")
    html = read_card(ds, flow, run_id, step, task, card.key)
    if html is None:
        raise NotFound(f"the card {card.key} of {card.pathspec} has no page stored")
    return html


def local_path(ds: Datastore, card: FoundCard) -> str | None:
    """The card's file when the datastore is a local folder (a browser can open it as is)."""
    root = getattr(ds.storage, "root", None)
    if root is None:
        return None
    flow, run_id, step, task = card.pathspec.split("/")
    return os.path.join(root, cards_dir(flow, run_id, step, task), f"{card.key}.html")


def location(ds: Datastore, card: FoundCard) -> str:
    """Where the card is stored, as something that can open it: a local path, or a full URL
    (``s3://bucket/prefix/runs/...``) on a remote datastore."""
    path = local_path(ds, card)
    if path is not None:
        return path
    flow, run_id, step, task = card.pathspec.split("/")
    return f"{ds.url}/{cards_dir(flow, run_id, step, task)}/{card.key}.html"


def open_in_browser(path: str) -> bool:
    """Only where a browser can show something: a desktop session, or macOS / Windows."""
    if not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux"
    ):
        return False
    import webbrowser

    try:
        return webbrowser.open(f"file://{path}")
    except webbrowser.Error:
        return False
