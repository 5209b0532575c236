"""What every pod entry point (Argo's, KFP's) shares: the task contract run in this process
(one interpreter start per pod, not two) with its result read back, and the index paths of
the foreach level a split task opens, which the orchestrator fans out over."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from typing import Any


def run_task(task_args: Sequence[str]) -> tuple[int, dict[str, Any] | None]:
    """``flowc task TASK_ARGS`` here; its exit code and result (None when it wrote none)."""
    from flowc.cli import main as flowc_main

    with tempfile.TemporaryDirectory(prefix="flowc-pod-") as tmp:
        result_file = os.path.join(tmp, "result.json")
        try:
            flowc_main(["task", *task_args, "--result-file", result_file], prog_name="flowc")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not os.path.exists(result_file):
            return code or 1, None
        with open(result_file) as f:
            return code, json.load(f)


def index_paths(result: dict[str, Any], index: str | None) -> list[str]:
    """The next foreach level's index paths under this task's own (``2`` -> ``2.0``, ``2.1``)."""
    n = int(result.get("foreach_num_splits") or 0)
    return [f"{index}.{i}" if index else str(i) for i in range(n)]
