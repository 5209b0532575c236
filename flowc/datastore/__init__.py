"""The datastore: content-addressed artifact blobs plus run and task records.

``.flowc/`` in the working directory by default; ``--datastore`` or ``FLOWC_DATASTORE`` picks
another folder or any fsspec URL. Records are small JSON documents, each written atomically; a
task's ``task.json`` is written after everything else it produced and is its commit marker, so
a task killed half-way leaves nothing that a reader would take for a result.
"""

from __future__ import annotations

import json
import os
import reprlib
from typing import Any

from flowc.datastore import layout
from flowc.datastore.serialize import Loaded, SerializationError, deserialize, load, serialize
from flowc.datastore.storage import LocalStorage, Storage, StorageError, open_storage

DEFAULT_URL = ".flowc"
ENV_VAR = "FLOWC_DATASTORE"

__all__ = ["ArtifactError", "Datastore", "DatastoreError", "layout", "resolve_url"]


class DatastoreError(Exception):
    """The datastore cannot be used (missing, unwritable, damaged)."""


class ArtifactError(Exception):
    """An artifact value that cannot be stored; the message names it and its type."""


def resolve_url(url: str | None = None) -> str:
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 6


def short_repr(obj: Any) -> str:
    try:
        text = _short.repr(obj)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        text = f"<{type(obj).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def human_size(n: Any) -> str:
    """``4.0 KiB``: sizes as the terminal and cards show them."""
    if not isinstance(n, int):
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class Datastore:
    def __init__(self, url: str | None = None, storage: Storage | None = None):
        self.url = resolve_url(url)
        # raises StorageError (S3 support missing, bad options...): one line, exit 2
        self.storage = storage or open_storage(self.url)
        self._known_blobs: set[str] = set()
        self._records: dict[str, dict] = {}

    def check_writable(self) -> None:
        try:
            self.storage.check_writable()
        except StorageError as e:  # already says which datastore and what to set
            raise DatastoreError(str(e)) from None
        except (OSError, ValueError, ImportError) as e:
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise DatastoreError(
                f"cannot write to the datastore {self.url} ({reason}); pick a writable place "
                f"with --datastore PATH or {ENV_VAR}"
            ) from None

    # --- artifacts ---------------------------------------------------------------------------

    def put(self, name: str, value: Any) -> dict:
        """Store ``value`` (once per distinct content) and return its reference."""
        try:
            s = serialize(value)
        except SerializationError as e:
            raise ArtifactError(
                f"artifact {name!r} of type {type_name(value)} cannot be stored: {e}. Store "
                f"something picklable instead, or `del self.{name}` before the step ends"
            ) from None
        if s.sha not in self._known_blobs:
            key = layout.blob_key(s.sha)
            if not self.storage.is_file(key):
                self.storage.write(key, s.blob())
            self._known_blobs.add(s.sha)
        return {"sha": s.sha, "size": s.size, "type": type_name(value), "repr": short_repr(value)}

    def get(self, sha: str) -> Any:
        """The value of a blob. Every call returns a fresh object, as Metaflow does."""
        with self.storage.open_read(layout.blob_key(sha)) as f:
            value = deserialize(f)
        self._known_blobs.add(sha)  # read, so there: storing the same value again is free
        return value

    def load(self, sha: str) -> tuple[Any, Loaded]:
        """The value and what :func:`flowc.datastore.serialize.unchanged` needs later."""
        with self.storage.open_read(layout.blob_key(sha)) as f:
            loaded = load(f)
        self._known_blobs.add(sha)
        return loaded

    # --- records -----------------------------------------------------------------------------

    def read_json(self, key: str) -> dict | None:
        try:
            return json.loads(self.storage.read(key))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_json(self, key: str, doc: Any) -> None:
        self.storage.write(key, [json.dumps(doc, separators=(",", ":"), default=str).encode()])

    def write_bytes(self, key: str, data: bytes) -> None:
        self.storage.write(key, [data])

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self.storage.read(key)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def run_record(self, flow: str, run_id: str) -> dict | None:
        return self.read_json(f"{layout.run_dir(flow, run_id)}/run.json")

    def task_record(self, flow: str, run_id: str, step: str, task: str) -> dict | None:
        """A committed task's record. On an object store, where every read is a request,
        found ones are remembered: a commit marker is written once."""
        key = layout.task_record_key(flow, run_id, step, task)
        if key in self._records:
            return self._records[key]
        record = self.read_json(key)
        if record is not None and not isinstance(self.storage, LocalStorage):
            self._records[key] = record
        return record

    def prefetch_task_records(self, flow: str, run_id: str, tasks: list[tuple[str, str]]) -> None:
        """Read many task records at once (a join's inputs) on a remote store, where each read
        is a round trip; later :meth:`task_record` calls find them. A folder needs none."""
        if isinstance(self.storage, LocalStorage) or len(tasks) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(16, len(tasks))) as pool:
            list(pool.map(lambda t: self.task_record(flow, run_id, *t), tasks))

    def tasks(self, flow: str, run_id: str, step: str) -> list[str]:
        """Committed task ids of a step, in index order."""
        names = [
            t
            for t in self.storage.listdir(layout.step_dir(flow, run_id, step))
            if self.storage.is_file(layout.task_record_key(flow, run_id, step, t))
        ]
        return sorted(names, key=lambda t: tuple(int(p) for p in t.split(".")))
