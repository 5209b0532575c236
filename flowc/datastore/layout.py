"""Where things live in a datastore, and the deterministic task ids.

A task id is the task's foreach index path (``2.0``: item 0 of the inner foreach inside item 2
of the outer one), or ``0`` for a step outside any foreach. The step name plus the index path
identifies a task in a run, so a join finds its inputs from the graph alone and an orchestrator
only has to pass the run id, the index path and the attempt.

::

    blobs/<sha[:2]>/<sha[2:]>                       content-addressed artifact payloads
    runs/<Flow>/<run>/run.json                      the run record (parameters, user, tags)
    runs/<Flow>/<run>/ir.json                       the flow's IR the run was started with
    runs/<Flow>/<run>/status.json                   final status, written when the run ends
    runs/<Flow>/<run>/<step>/<task>/task.json       the attempt that succeeded: commit marker
    runs/<Flow>/<run>/<step>/<task>/<n>.attempt.json   each attempt that failed
    runs/<Flow>/<run>/<step>/<task>/<n>.stdout, <n>.stderr   each attempt's output
"""

from __future__ import annotations

Index = tuple[int, ...]

ROOT_TASK_ID = "0"


def task_id(index: Index) -> str:
    return ".".join(str(i) for i in index) if index else ROOT_TASK_ID


def parse_index(text: str | None, depth: int) -> Index:
    """The index path ``--index`` names for a step at foreach depth ``depth``."""
    if depth == 0:
        if text in (None, "", ROOT_TASK_ID):
            return ()
        raise ValueError(f"this step is outside any foreach, so it takes no index (got {text!r})")
    if not text:
        raise ValueError(
            f"this step is inside {depth} foreach level(s): pass --index like "
            f"{'.'.join(['0'] * depth)}"
        )
    try:
        index = tuple(int(p) for p in text.split("."))
    except ValueError:
        raise ValueError(f"index {text!r} is not a dotted list of integers like 2.0") from None
    if len(index) != depth or any(i < 0 for i in index):
        raise ValueError(f"index {text!r} does not fit a step inside {depth} foreach level(s)")
    return index


def check_run_id(run_id: str) -> str:
    """Run ids come from orchestrators (``manual__2026-01-01T00:00:00+00:00``, ``wf-x7k2p``):
    anything that is one plain path segment."""
    if (
        not run_id
        or run_id.startswith(".")
        or any(c in run_id for c in "/\\\0")
        or len(run_id) > 200
        or not run_id.isprintable()
    ):
        raise ValueError(
            f"run id {run_id!r} cannot name a folder: use 1 to 200 printable characters, "
            "no '/' or '\\', not starting with '.'"
        )
    return run_id


def blob_key(sha: str) -> str:
    return f"blobs/{sha[:2]}/{sha[2:]}"


def run_dir(flow: str, run_id: str) -> str:
    return f"runs/{flow}/{run_id}"


def step_dir(flow: str, run_id: str, step: str) -> str:
    return f"runs/{flow}/{run_id}/{step}"


def task_dir(flow: str, run_id: str, step: str, task: str) -> str:
    return f"runs/{flow}/{run_id}/{step}/{task}"


def task_record_key(flow: str, run_id: str, step: str, task: str) -> str:
    return f"{task_dir(flow, run_id, step, task)}/task.json"


def attempt_key(flow: str, run_id: str, step: str, task: str, attempt: int, what: str) -> str:
    """``what`` is ``attempt.json``, ``stdout`` or ``stderr``."""
    return f"{task_dir(flow, run_id, step, task)}/{attempt}.{what}"
