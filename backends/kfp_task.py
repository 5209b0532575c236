"""What a KFP container runs: ``python -m flowc.backends.kfp_task ...`` around the task contract.

KFP gives a container only placeholders (job id, loop item, input values, output file paths) and
no retry count, so this small entry point (1) works out the attempt from the attempts the
datastore already holds, (2) turns the start task's typed pipeline inputs into ``--params-json``,
(3) runs ``flowc task`` in this process and (4) writes the KFP output parameters from its result: the next
foreach level's index paths (a JSON list ``dsl.ParallelFor`` iterates) and the switch branch.
It needs only the standard library and flowc, as the image has them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from flowc.backends.pod import index_paths, run_task

# how KFP renders a typed input into a placeholder string, undone per flow parameter type
_DECODE = {
    "str": str,
    "int": lambda v: int(float(v)) if "." in v or "e" in v.lower() else int(v),
    "float": float,
    "bool": lambda v: v.strip().lower() == "true",
    "json": json.loads,
    "list": json.loads,
}


def decode(kind: str, text: str) -> Any:
    """A pipeline input as the task contract wants it, from KFP's rendering of it."""
    return _DECODE[kind](text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowc.backends.kfp_task")
    p.add_argument("--flow-file", required=True)
    p.add_argument("--flow", required=True)
    p.add_argument("--step", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--index")
    p.add_argument("--datastore")
    p.add_argument("--package")
    p.add_argument("--param", nargs=3, action="append", default=[], metavar=("NAME", "TYPE", "V"))
    p.add_argument("--tag", action="append", default=[], help="tag the run (start task)")
    p.add_argument("--after", action="append", default=[], help="ignored: orders the task")
    p.add_argument("--result", help="KFP output file: the task's result JSON")
    p.add_argument("--index-paths", help="KFP output file: the next foreach level's index paths")
    p.add_argument("--branch", help="KFP output file: the step the switch took")
    return p


def attempt(datastore: str | None, flow: str, run_id: str, step: str, index: str | None) -> int:
    """The next attempt number: one past the failed attempts already recorded for this task."""
    from flowc.datastore import Datastore
    from flowc.datastore.layout import attempt_key

    url = datastore or os.environ.get("FLOWC_DATASTORE") or ".flowc"
    try:
        ds = Datastore(url)
    except Exception:  # noqa: BLE001 - the task contract reports a bad datastore itself
        return 0
    task = index if index else "0"
    n = 0
    while ds.read_json(attempt_key(flow, run_id, step, task, n, "attempt.json")) is not None:
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    cmd = [a.flow_file, a.step, "--flow", a.flow]
    cmd += ["--run-id", a.run_id]
    cmd += ["--attempt", str(attempt(a.datastore, a.flow, a.run_id, a.step, a.index))]
    if a.index:
        cmd += ["--index", a.index]
    if a.datastore:
        cmd += ["--datastore", a.datastore]
    if a.package:
        cmd += ["--package", a.package]
    for tag in a.tag:
        cmd += ["--tag", tag]
    if a.param:
        params = {name: decode(kind, text) for name, kind, text in a.param}
        cmd += ["--params-json", json.dumps(params)]
    code, result = run_task(cmd)
    if code != 0 or result is None:
        return code or 1
    outputs = {
        a.result: json.dumps(result, sort_keys=True),
        a.index_paths: json.dumps(index_paths(result, a.index)),
        a.branch: result.get("branch") or "",
    }
    for path, text in outputs.items():
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
