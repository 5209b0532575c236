"""The command an Argo pod runs: ``flowc task`` plus the output parameters Argo reads.

``python -m flowc.backends.argo_task --outputs DIR [--param NAME]... -- TASK_ARGS...`` runs
``flowc task TASK_ARGS`` and turns its result into files Argo picks up as output parameters:
``DIR/indices.json`` (a foreach split: the JSON list of the next level's index paths, which the
body fans out over with ``withParam``), ``DIR/branch`` (a switch: the step it took) and
``DIR/next`` (a recursive switch: the index path of its next visit).

Flow parameters reach the start task as environment variables ``FLOWC_PARAM_<i>`` (the i-th
``--param NAME:TYPE``) holding ``{{workflow.parameters.NAME}}``: Argo substitutes once, so the
value arrives as given. Values are shown and given as typed (``argo submit -p name=text``
needs no quotes): :func:`decode` reads a JSON parameter as JSON, and a text parameter as the
text itself unless it is a JSON string literal (``"..."``), which is decoded: that is the
escaped form the compiler writes for a value holding ``{{``, ``}}``, ``$(`` or ``$$``. Numbers
and bools go as their text, converted by the parameter's type as on the command line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from flowc.backends.pod import index_paths, run_task

INDICES_FILE = "indices.json"
BRANCH_FILE = "branch"
NEXT_FILE = "next"


def decode(kind: str, raw: str) -> Any:
    """A parameter's value from its Argo text (see the module docstring). ``null`` is "no
    value" for every type (a parameter without a default)."""
    if raw == "null":
        return None
    if kind == "json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # the task contract reports it, naming the parameter
    if kind in ("int", "float", "bool"):
        return raw.strip()
    if kind == "str":
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            try:
                value = json.loads(raw)
            except ValueError:
                return raw
            return value if isinstance(value, str) else raw
        return raw
    try:  # no type given: JSON when it parses
        value = json.loads(raw)
    except ValueError:
        return raw
    # a number or bool goes as its text, which the parameter's type reads exactly as the
    # command line would (a str parameter given 1.50 keeps "1.50")
    return raw.strip() if isinstance(value, (int, float)) else value


def params_json(names: Sequence[str], environ: dict[str, str]) -> str:
    """The ``--params-json`` object from the ``FLOWC_PARAM_<i>`` variables; each of ``names``
    is ``NAME:TYPE`` (or a bare ``NAME``: untyped)."""
    doc = {}
    for i, spec in enumerate(names):
        raw = environ.get(f"FLOWC_PARAM_{i}")
        if raw is None:
            continue
        name, _, kind = spec.partition(":")
        doc[name] = decode(kind or "untyped", raw)
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
