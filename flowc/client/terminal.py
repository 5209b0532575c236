"""What ``flowc runs``, ``flowc logs``, ``flowc dump`` and ``flowc tag`` print: views over the
client objects, as text for people or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flowc.client.scope import ClientError, NotFound
from flowc.client.objects import Flow, Run, Step, Task
from flowc.datastore import Datastore, human_size
from flowc.datastore.index import RunEntry


def open_pathspec(ds: Datastore, pathspec: str) -> Run | Step | Task:
    """The run, step or task a pathspec names (``Flow/run[/step[/task]]``)."""
    parts = [p for p in pathspec.strip("/").split("/") if p]
    kinds = {2: Run, 3: Step, 4: Task}
    if len(parts) not in kinds:
        raise NotFound(
            f"{pathspec!r} is not a pathspec; use FLOW/RUN, FLOW/RUN/STEP or FLOW/RUN/STEP/TASK "
            "(flowc runs FLOW lists run ids)"
        )
    if len(parts) == 2:
        return Run("/".join(parts), _ds=ds, _check_namespace=False)
    return kinds[len(parts)]("/".join(parts), ds)


def _time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def format_duration(seconds: float | None) -> str:
    """``4.2s``, ``3m07s``, ``2h05m``: durations as the terminal and the card server show them."""
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


# --- runs ---------------------------------------------------------------------------------------


def runs_rows(ds: Datastore, flow: str, user: str | None, limit: int) -> tuple[list[dict], int]:
    """The newest ``limit`` runs (of ``user``, or everyone's) and how many others are hidden."""
    from flowc.datastore.index import read_index
    from flowc.runtime.runs import run_died

    Flow(flow, ds)  # a clear NotFound for a flow that never ran
    entries = read_index(ds, flow, _warn)
    mine = [e for e in entries if user is None or e.user == user]
    rows = [run_row(e) for e in mine[:limit]]
    for row in rows:
        if row["status"] == "running" and run_died(ds, flow, row["run_id"]):
            row["status"] = "died"  # its executor is gone: it will never finish; resume it
    return rows, len(entries) - len(mine)


def run_row(e: RunEntry) -> dict[str, Any]:
    """One run of the index as ``flowc runs --json`` and the card server give it."""
    return {
        "run_id": e.run_id,
        "status": e.status,
        "user": e.user,
        "created_at": e.created_at,
        "finished_at": e.finished_at,
        "duration": (e.finished_at - e.created_at) if e.finished_at else None,
        "tags": sorted(e.tags),
        "origin_run_id": e.origin_run_id,
    }


def format_runs(flow: str, rows: list[dict], hidden: int, user: str | None) -> str:
    if not rows:
        who = f" by {user}" if user else ""
        text = f"{flow} has no runs{who}."
    else:
        resumed = any(r["origin_run_id"] for r in rows)  # a column only when it says something
        header = ("RUN", "STATUS", "STARTED", "DURATION", "USER")
        header += ("RESUMED FROM", "TAGS") if resumed else ("TAGS",)
        table = [header]
        for r in rows:
            row = (
                r["run_id"],
                r["status"],
                _time(datetime.fromtimestamp(r["created_at"])),
                format_duration(r["duration"]),
                r["user"] or "-",
            )
            row += (r["origin_run_id"] or "-",) if resumed else ()
            table.append((*row, ", ".join(r["tags"]) or "-"))
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True))
            + "  "
            + row[-1]
            for row in table
        ]
        text = "\n".join(line.rstrip() for line in lines)
    if hidden:
        text += f"\n({hidden} run{'s' if hidden != 1 else ''} by other users not shown; --all shows them)"
    return text + "\n"


def _warn(message: str) -> None:
    import sys

    print(f"flowc: warning: {message}", file=sys.stderr)


# --- logs ---------------------------------------------------------------------------------------


def tasks_of(obj: Run | Step | Task) -> Iterator[Task]:
    if isinstance(obj, Task):
        yield obj
    elif isinstance(obj, Step):
        yield from obj.tasks()
    else:
        for step in obj.steps():
            yield from step.tasks()


def format_logs(
    obj: Run | Step | Task,
    streams: tuple[str, ...],
    attempt: int | None = None,
    all_attempts: bool = False,
) -> list[tuple[str, str]]:
    """(stream, text) chunks. One task: its streams as they were, for ``stdout`` and
    ``stderr`` of this process; several: each under a header line, all for ``stdout``. By
    default the attempt that counted (the last); ``attempt`` picks one, ``all_attempts`` shows
    every attempt under a header saying how it ended."""
    tasks = list(tasks_of(obj))
    if attempt is not None and len(tasks) == 1:
        _check_attempt(tasks[0], attempt)
    if len(tasks) == 1 and not all_attempts:
        n = tasks[0].current_attempt if attempt is None else attempt
        return [(stream, _line_end(task_log(tasks[0], stream, n))) for stream in streams]
    out = []
    for task in tasks:
        if all_attempts:
            chosen = attempts_of(task)
        elif attempt is not None:
            chosen = [a for a in attempts_of(task) if a["attempt"] == attempt]
        else:
            chosen = [{"attempt": task.current_attempt}]
        for a in chosen:
            n = a["attempt"]
            label = f"attempt {n}, {_ended(a)}" if all_attempts else None
            for stream in streams:
                text = task_log(task, stream, n)
                if text or label:
                    what = f"{label}, {stream}" if label else stream
                    header = f"--- {task.pathspec} ({what}) ---"
                    out.append(("stdout", f"{header}\n{_line_end(text)}"))
    return out


def _ended(a: dict) -> str:
    if a.get("status") == "ok":
        if a.get("caught"):
            error = a.get("error")
            return "succeeded, its exception caught by @catch" + (f": {error}" if error else "")
        return "succeeded"
    if a.get("status") is None:
        return "no record (running, or its process died)"
    return f"failed: {a.get('error')}"


def _log_home(task: Task) -> Task:
    """Where a task ran: a cloned task's logs are its origin's."""
    for _ in range(100):
        origin = task.origin_pathspec
        if not origin:
            break
        task = Task(origin, task._ds)
    return task


def attempts_of(task: Task) -> list[dict]:
    """Every attempt of a task, oldest first, with its record (``status``, ``error``,
    ``caught``): failed ones from ``<n>.attempt.json``, the one that counted from ``task.json``,
    and any attempt that left only logs."""
    home = _log_home(task)
    ds = home._ds
    found: dict[int, dict] = {}
    for name in ds.storage.listdir(home._dir):
        head, _, tail = name.partition(".")
        if head.isdigit() and tail in ("stdout", "stderr", "attempt.json"):
            found.setdefault(int(head), {"attempt": int(head)})
            if tail == "attempt.json":
                try:
                    rec = json.loads(ds.read_bytes(f"{home._dir}/{name}") or b"{}")
                except ValueError:
                    rec = {}
                if isinstance(rec, dict):
                    found[int(head)].update(rec, attempt=int(head))
    if home.successful:
        n = home.current_attempt
        found[n] = {**found.get(n, {}), **home._record, "attempt": n}
    return [found[n] for n in sorted(found)]


def _check_attempt(task: Task, attempt: int) -> None:
    numbers = [a["attempt"] for a in attempts_of(task)]
    if attempt not in numbers:
        have = ", ".join(map(str, numbers)) or "none"
        raise NotFound(f"task {task.pathspec} has no attempt {attempt} (its attempts: {have})")


def task_log(task: Task, stream: str, attempt: int) -> str:
    """One attempt's stdout or stderr (where the task ran, for a cloned one)."""
    home = _log_home(task)
    data = home._ds.read_bytes(f"{home._dir}/{int(attempt)}.{stream}")
    return data.decode("utf-8", "replace") if data else ""


def _line_end(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


# --- dump ---------------------------------------------------------------------------------------


def dump_doc(obj: Run | Step | Task) -> list[dict[str, Any]]:
    """Every task's artifacts as records: name, type, size, short repr, sha (no value loaded)."""
    out = []
    for task in tasks_of(obj):
        arts = [
            {
                "name": a.id,
                "type": a.type,
                "size": a.size,
                "repr": a.short_repr,
                "sha": a.sha,
            }
            for a in task
        ]
        out.append(
            {
                "pathspec": task.pathspec,
                "successful": task.successful,
                "origin_pathspec": task.origin_pathspec,
                "artifacts": arts,
            }
        )
    return out


def format_dump(doc: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, indent=2) + "\n"
    lines = []
    for task in doc:
        note = "" if task["successful"] else " (failed: no artifacts)"
        if task["origin_pathspec"]:
            note += f" (cloned from {task['origin_pathspec']})"
        lines.append(f"{task['pathspec']}{note}")
        if not task["artifacts"]:
            continue
        w_name = max(len(a["name"]) for a in task["artifacts"])
        w_type = max(len(a["type"] or "?") for a in task["artifacts"])
        for a in task["artifacts"]:
            size = human_size(a["size"])
            lines.append(
                f"  {a['name'].ljust(w_name)}  {(a['type'] or '?').ljust(w_type)}  "
                f"{size.rjust(9)}  {a['repr'] or ''}"
            )
    return "\n".join(lines) + "\n"


# --- tags ---------------------------------------------------------------------------------------


def change_tags(ds: Datastore, pathspec: str, action: str, tags: tuple[str, ...]) -> Run:
    run = open_pathspec(ds, pathspec)
    if not isinstance(run, Run):
        raise ClientError(f"tags belong to runs: pass FLOW/RUN, not {pathspec!r}")
    try:
        if action == "add":
            run.add_tags(list(tags))
        elif action == "remove":
            run.remove_tags(list(tags))
    except ValueError as e:
        raise ClientError(str(e)) from None
    return run
