"""A per-flow index of runs: listing a flow with 10,000 runs, or finding its latest one, reads
one snapshot instead of every run's records.

Writers never rewrite a shared file: each event of a run (``start``, ``end``, a tag change) is
a small file of its own in ``runs/<Flow>/.index/``, named ``<run id>~<event>``, written
atomically (the event is ``start``, ``end~<ns>`` or ``tags~<ns>``; a run id may hold ``~`` itself,
so names are read from their end). An end event is versioned: a later finaliser (an Airflow run
cleared and re-run to success) records a new status without rewriting the old one. Readers fold the snapshot ``runs/<Flow>/.snapshot/index.json`` and the event files
it does not cover yet, and write a new snapshot (atomically, best effort) when many were
uncovered or the folders have been quiet. Event files are never deleted, so two compactions
racing can only leave a snapshot that covers less, never lose an event. On a local datastore
the snapshot records the mtimes of the event and run folders: while they are unchanged the
snapshot alone is the answer. Runs whose folder exists but that no event names (written by an
older flowc, or a writer killed between its record and its event) are read from their records
once and given their events. A damaged event or snapshot is reported and skipped; it never
hides the other runs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowc.datastore import layout

if TYPE_CHECKING:
    from flowc.datastore import Datastore

COMPACT_AFTER = 64  # uncovered events a reader tolerates before it writes a new snapshot
SNAPSHOT_VERSION = 3
QUIET_NS = 1_000_000_000  # a folder unchanged this long can be trusted by its mtime


@dataclass
class RunEntry:
    run_id: str
    created_at: float = 0.0
    user: str | None = None
    tags: list[str] = field(default_factory=list)
    tags_version: int = 0
    status: str = "running"  # running | succeeded | failed
    finished_at: float | None = None
    origin_run_id: str | None = None
    error: str | None = None
    end_version: int = 0

    @property
    def finished(self) -> bool:
        return self.status != "running"


def index_dir(flow: str) -> str:
    return f"{layout.run_dir(flow, '.index')}"


def snapshot_key(flow: str) -> str:
    # in a folder of its own: rewriting it must not change the mtime of the folders it covers
    return f"runs/{flow}/.snapshot/index.json"


def _event_key(flow: str, run_id: str, event: str) -> str:
    return f"{index_dir(flow)}/{run_id}~{event}"


# the event is matched at the end of the name, so a run id holding "~" reads back whole
_EVENT_NAME = re.compile(r"^(?P<run>.+)~(?P<event>start|end(?:~\d+)?|tags~\d+)$", re.DOTALL)


def parse_event_name(name: str) -> tuple[str, str] | None:
    """``<run id>~<event>`` -> (run id, event); None for a name that is no event."""
    m = _EVENT_NAME.match(name)
    return (m["run"], m["event"]) if m else None


# --- writing ------------------------------------------------------------------------------------


def record_start(ds: Datastore, record: dict) -> None:
    doc = {
        "created_at": record["created_at"],
        "user": record.get("user"),
        "tags": record.get("tags", []),
        "origin_run_id": record.get("origin_run_id"),
    }
    ds.write_json(_event_key(record["flow"], record["run_id"], "start"), doc)


def record_end(
    ds: Datastore, flow: str, run_id: str, status: str, finished_at: float, error: str | None
) -> str:
    """Record how the run ended; returns the event's file name."""
    doc = {"status": status, "finished_at": finished_at, "error": error}
    event = f"end~{time.time_ns()}"
    ds.write_json(_event_key(flow, run_id, event), doc)
    return f"{run_id}~{event}"


def record_tags(ds: Datastore, flow: str, run_id: str, tags: list[str]) -> None:
    version = time.time_ns()
    ds.write_json(_event_key(flow, run_id, f"tags~{version}"), {"tags": sorted(set(tags))})


# --- reading ------------------------------------------------------------------------------------


Warn = Callable[[str], None]
_FIELDS = tuple(RunEntry.__dataclass_fields__)


def read_index(ds: Datastore, flow: str, warn: Warn | None = None) -> list[RunEntry]:
    """Every run of ``flow``, newest first.

    Fast path: when neither the event folder nor the run folder changed since the snapshot
    was taken (their mtimes, on a local datastore), the snapshot's first line is the answer.
    """
    warn = warn or (lambda message: None)
    folders = (index_dir(flow), f"runs/{flow}")
    before = tuple(ds.storage.folder_version(f) for f in folders)
    raw = ds.read_bytes(snapshot_key(flow))
    head, _, tail = (raw or b"").partition(b"\n")
    snap = _parse_head(ds, flow, head, warn) if raw is not None else None
    if snap is not None and None not in before and snap["folders"] == list(before):
        return [RunEntry(*row) for row in snap["rows"]]
    runs: dict[str, RunEntry] = {}
    covered: set[str] = set()
    if snap is not None:
        try:
            covered = set(json.loads(tail))
            runs = {row[0]: RunEntry(*row) for row in snap["rows"]}
        except (ValueError, TypeError) as e:
            warn(f"{ds.url}/{snapshot_key(flow)} is damaged ({e}); reading the run events")
            runs, covered = {}, set()
    names = [n for n in ds.storage.listdir(index_dir(flow)) if parse_event_name(n)]
    fresh = sorted((n for n in names if n not in covered), key=_event_order)
    applied = []
    for name in fresh:
        run_id, event = parse_event_name(name)  # type: ignore[misc]
        doc = _read_event(ds, f"{index_dir(flow)}/{name}", warn)
        if doc is None:
            continue
        try:
            _apply(runs, run_id, event, doc)
        except (KeyError, TypeError, ValueError) as e:
            warn(f"{ds.url}/{index_dir(flow)}/{name} is damaged ({e}); skipped")
            continue
        applied.append(name)
    # a run folder without events only appears with a change of the run folder
    same_runs = snap is not None and snap["folders"] and snap["folders"][1] == before[1]
    healed = [] if same_runs and before[1] is not None else _heal(ds, flow, runs, warn)
    # events of a run whose start event is missing: not a run anyone can open
    entries = [e for e in runs.values() if e.created_at]
    entries.sort(key=lambda e: (e.created_at, e.run_id), reverse=True)
    # Record the folders' versions only when they were quiet for a second before we listed:
    # mtimes tick coarsely, so a change in the same tick as our stat would go unseen.
    now = time.time_ns()
    quiet = None not in before and all(now - v > QUIET_NS for v in before)  # type: ignore[operator]
    stale = snap is None or snap["folders"] != list(before) or fresh or healed
    if len(fresh) + len(healed) >= COMPACT_AFTER or (quiet and stale):
        done = covered | set(applied) | set(healed)
        _compact(ds, flow, entries, done, list(before) if quiet else None)
    return entries


def _parse_head(ds: Datastore, flow: str, head: bytes, warn: Warn) -> dict | None:
    try:
        snap = json.loads(head)
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown version {snap.get('version')!r}")
        if not isinstance(snap["rows"], list):
            raise ValueError("rows is not a list")
        return snap
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        warn(f"{ds.url}/{snapshot_key(flow)} is damaged ({e}); reading the run events instead")
        return None


def _event_order(name: str) -> tuple[int, int]:
    event = parse_event_name(name)[1]  # type: ignore[index]
    kind, _, version = event.partition("~")
    rank = 0 if kind == "start" else 1 if kind == "end" else 2
    return rank, int(version or 0)  # versions sort by their time stamp within a rank


def _read_event(ds: Datastore, key: str, warn: Warn) -> dict | None:
    raw = ds.read_bytes(key)
    if raw is None:
        return None  # replaced by a newer version while we listed
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        return doc
    except ValueError as e:
        warn(f"{ds.url}/{key} is damaged ({e}); skipped")
        return None


def _apply(runs: dict[str, RunEntry], run_id: str, event: str, doc: dict) -> None:
    entry = runs.get(run_id) or RunEntry(run_id)
    if event == "start":
        entry.created_at = float(doc["created_at"])
        entry.user = doc.get("user")
        if not entry.tags_version:
            entry.tags = list(doc.get("tags") or [])
        entry.origin_run_id = doc.get("origin_run_id")
    elif event == "end" or event.startswith("end~"):
        version = int(event.partition("~")[2] or 0)  # "end": written by an older flowc
        if version >= entry.end_version:
            entry.status = str(doc["status"])
            entry.finished_at = doc.get("finished_at")
            entry.error = doc.get("error")
            entry.end_version = version
    elif event.startswith("tags~"):
        version = int(event.partition("~")[2])
        if version >= entry.tags_version:
            entry.tags = list(doc["tags"])
            entry.tags_version = version
    else:
        raise ValueError(f"unknown event {event!r}")
    runs[run_id] = entry


def _heal(ds: Datastore, flow: str, runs: dict[str, RunEntry], warn: Warn) -> list[str]:
    """Runs with a folder but no start event: read their records once and give them their
    events. Returns the names of the events written."""
    written = []
    for run_id in ds.storage.listdir(f"runs/{flow}"):
        if run_id in runs and runs[run_id].created_at:
            continue
        base = layout.run_dir(flow, run_id)
        try:
            record = ds.read_json(f"{base}/run.json")
            if record is None:
                continue  # a run that is being created right now
            record = {**record, "flow": flow, "run_id": run_id}
            _apply(runs, run_id, "start", record)
            status = ds.read_json(f"{base}/status.json")
            if status is not None:
                _apply(runs, run_id, "end", status)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            warn(f"{ds.url}/{base} has a damaged record ({e}); run {flow}/{run_id} is not listed")
            runs.pop(run_id, None)
            continue
        try:
            record_start(ds, record)
            written.append(f"{run_id}~start")
            if status is not None:
                e = runs[run_id]
                written.append(record_end(ds, flow, run_id, e.status, e.finished_at, e.error))
        except OSError:
            pass  # read-only datastore: heal again next time
    return written


def _compact(
    ds: Datastore, flow: str, entries: list[RunEntry], covered: set[str], folders: list | None
) -> None:
    """Line 1: the runs, newest first (all the fast path reads); line 2: the events they
    include. One atomic write, so the two always agree."""
    head = {
        "version": SNAPSHOT_VERSION,
        "folders": folders,
        "rows": [[getattr(e, f) for f in _FIELDS] for e in entries],
    }
    body = json.dumps(head, separators=(",", ":")) + "\n" + json.dumps(sorted(covered))
    try:
        ds.write_bytes(snapshot_key(flow), body.encode())
    except OSError:
        pass  # a reader without write access still gets its answer
