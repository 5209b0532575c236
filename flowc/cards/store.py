"""Where cards live: beside their task, so a card made on Airflow or Argo is found the same
way as one made by ``flowc run``.

::

    runs/<Flow>/<run>/<step>/<task>/cards/<key>.html      one self-contained HTML file a card
    runs/<Flow>/<run>/<step>/<task>/cards/<key>.json      {key, type, id, attempt, error, updated_at}

``key`` is the card's ``id`` when it has one, else ``<type>-<n>`` (``default-0``): what
``flowc card get --id`` and the card server's URLs name. A card is written (atomically) while
the step runs, each time it is refreshed, and once more when the task ends, before
``task.json``; the task record lists the final cards under ``"cards"``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from flowc.datastore import Datastore, layout

KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def cards_dir(flow: str, run_id: str, step: str, task: str) -> str:
    return f"{layout.task_dir(flow, run_id, step, task)}/cards"


def card_key(card_type: str, card_id: str | None, n: int) -> str:
    return card_id if card_id else f"{card_type}-{n}"


def write_card(
    ds: Datastore, where: tuple[str, str, str, str], meta: dict[str, Any], html: str
) -> None:
    """The HTML first, then its small record: a reader that finds the record finds the page."""
    base = cards_dir(*where)
    ds.write_bytes(f"{base}/{meta['key']}.html", html.encode("utf-8"))
    ds.write_json(f"{base}/{meta['key']}.json", {**meta, "updated_at": time.time()})


def list_cards(ds: Datastore, flow: str, run_id: str, step: str, task: str) -> list[dict]:
    """The cards of one task (also while it runs), in the order the step declared them."""
    base = cards_dir(flow, run_id, step, task)
    out = []
    for name in ds.storage.listdir(base):
        if not name.endswith(".json"):
            continue
        try:
            meta = json.loads(ds.read_bytes(f"{base}/{name}") or b"null")
        except ValueError:
            continue  # a damaged card record hides that card only
        if isinstance(meta, dict) and KEY_RE.match(str(meta.get("key", ""))):
            out.append(meta)
    return sorted(out, key=lambda m: (m.get("n", 0), m["key"]))


def read_card(ds: Datastore, flow: str, run_id: str, step: str, task: str, key: str) -> str | None:
    if not KEY_RE.match(key):
        return None
    data = ds.read_bytes(f"{cards_dir(flow, run_id, step, task)}/{key}.html")
    return data.decode("utf-8") if data is not None else None
