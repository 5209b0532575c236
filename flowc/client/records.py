"""Reading run and task records for the client, with one clear error for a record that is
missing, not JSON, or hand-edited into the wrong shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flowc.client.scope import ClientError
from flowc.datastore import Datastore


def read_record(
    ds: Datastore, key: str, check: Callable[[dict], None] | None = None
) -> dict | None:
    """The JSON record at ``key``, None when absent; :class:`ClientError` when damaged."""
    raw = ds.read_bytes(key)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError(f"expected a JSON object, found {type(doc).__name__}")
        if check is not None:
            check(doc)
    except ValueError as e:
        raise ClientError(
            f"{ds.url}/{key} is damaged ({e}); restore it, or delete the run's folder if it "
            "is not needed"
        ) from None
    return doc


def _field(doc: dict, name: str, types: type | tuple[type, ...], required: bool = True) -> None:
    if name not in doc:
        if required:
            raise ValueError(f"field {name!r} is missing")
        return
    value = doc[name]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise ValueError(f"field {name!r} is {value!r}, not a {_names(types)}")


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _tuple(types))


def _refs(doc: dict, name: str) -> None:
    _field(doc, name, dict)
    for key, ref in doc[name].items():
        if not isinstance(ref, dict) or not isinstance(ref.get("sha"), str):
            raise ValueError(f"{name}[{key!r}] is not an artifact reference")


def check_run(doc: dict) -> None:
    _field(doc, "created_at", (int, float))
    _field(doc, "user", (str, type(None)), required=False)
    _field(doc, "tags", list, required=False)
    if not all(isinstance(t, str) for t in doc.get("tags", [])):
        raise ValueError("field 'tags' holds something that is not a string")
    _refs(doc, "parameters")


def check_task(doc: dict) -> None:
    _field(doc, "status", str)
    _field(doc, "started_at", (int, float), required=False)
    _field(doc, "finished_at", (int, float), required=False)
    _field(doc, "attempt", int, required=False)
    if doc["status"] == "ok":
        _refs(doc, "artifacts")


def check_status(doc: dict) -> None:
    _field(doc, "status", str)
    _field(doc, "finished_at", (int, float))


def check_tags(doc: dict) -> None:
    _field(doc, "tags", list)


def when(seconds: Any) -> datetime | None:
    """A record's time stamp as Metaflow's client gives it: a naive local datetime."""
    return datetime.fromtimestamp(seconds) if isinstance(seconds, (int, float)) else None
