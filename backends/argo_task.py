"""The command an Argo pod runs: ``flowc task`` plus the output parameters Argo reads.

``python -m flowc.backends.argo_task --outputs DIR [--param NAME]... -- TASK_ARGS...`` runs
``flowc task TASK_ARGS`` and turns its result into files Argo picks up as output parameters:
``DIR/indices.json`` (a foreach split: the JSON list of the next level's index paths, which the
body fans out over with ``withParam``), ``DIR/branch`` (a switch: the step it took) and
``DIR/next`` (a recursive switch: the index path of its next visit).

Flow parameters reach the start task as environment variables ``FLOWC_PARAM_<i>`` (the i-th
``--param NAME``) holding ``{{workflow.parameters.NAME}}``: Argo substitutes once, so the value
arrives as given. Values are JSON (the compiled defaults are): a JSON string, list or object is
decoded; a number, a bool or text that is not JSON goes as text, converted by the parameter's
type as on the command line (``argo submit -p name=text`` needs no quotes).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from flowc.backends.pod import index_paths, run_task

INDICES_FILE = "indices.json"
BRANCH_FILE = "branch"
NEXT_FILE = "next"


def params_json(names: Sequence[str], environ: dict[str, str]) -> str:
    """The ``--params-json`` object from the ``FLOWC_PARAM_<i>`` variables."""
    doc = {}
    for i, name in enumerate(names):
        raw = environ.get(f"FLOWC_PARAM_{i}")
        if raw is None:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        # a number or bool goes as its text, which the parameter's type reads exactly as the
        # command line would (a str parameter given 1.50 keeps "1.50")
        doc[name] = raw.strip() if isinstance(value, (int, float)) else value
    return json.dumps(doc)


def write_outputs(result: dict, index: str | None, outputs: str) -> None:
    os.makedirs(outputs, exist_ok=True)
    if result.get("foreach_num_splits") is not None:
        with open(os.path.join(outputs, INDICES_FILE), "w") as f:
            json.dump(index_paths(result, index), f)
    if result.get("branch") is not None:
        with open(os.path.join(outputs, BRANCH_FILE), "w") as f:
            f.write(str(result["branch"]))
        if index:  # a recursive switch's next visit (read only when it loops)
            *outer, visit = index.split(".")
            with open(os.path.join(outputs, NEXT_FILE), "w") as f:
                f.write(".".join([*outer, str(int(visit) + 1)]))


def _split_args(argv: Sequence[str]) -> tuple[str, list[str], list[str]]:
    if "--" not in argv:
        raise SystemExit("usage: argo_task --outputs DIR [--param NAME]... -- TASK_ARGS...")
    cut = list(argv).index("--")
    own, task_args = list(argv[:cut]), list(argv[cut + 1 :])
    outputs, names = "", []
    it = iter(own)
    for a in it:
        if a == "--outputs":
            outputs = next(it)
        elif a == "--param":
            names.append(next(it))
        else:
            raise SystemExit(f"argo_task: unknown option {a!r}")
    return outputs, names, task_args


def main(argv: Sequence[str] | None = None) -> int:
    outputs, names, task_args = _split_args(sys.argv[1:] if argv is None else argv)
    index = None
    if "--index" in task_args:
        index = task_args[task_args.index("--index") + 1]
    if names:
        task_args = [*task_args, "--params-json", params_json(names, dict(os.environ))]
    rc, result = run_task(task_args)
    if rc == 0 and result is not None and outputs:
        write_outputs(result, index, outputs)
    return rc


if __name__ == "__main__":
    sys.exit(main())
