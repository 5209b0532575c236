"""What every target bakes into a deployed flow at compile time, and the rules for it.

* Who deployed it: orchestrated runs record the user who compiled the flow (so they see the
  runs in their default namespace, as with ``flowc run``) and a tag naming the target.
* The finaliser every target runs last, whatever failed: ``flowc finalize`` (see
  :mod:`flowc.runtime.finalize`).
* Where tasks run: a target whose tasks run on this machine (Airflow's bash operator) gets
  absolute paths resolved here, named in one warning; a target whose tasks run in containers
  (KubernetesPodOperator, Argo, KFP) needs an image and a datastore every pod reaches, the same
  rule and message on all three.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from flowc.diagnostics import Diagnostic, error, warning
from flowc.ir import FlowIR

FINALIZE_NODE = "flowc__finalize"  # the finaliser's task name; "__" keeps it off step names
USER_VAR = "FLOWC_USER"  # read by flowc.runtime.runs.user_name()


def target_tag(target: str) -> str:
    """The tag every orchestrated run carries: ``flowc:target=airflow``."""
    return f"flowc:target={target}"


def deployer() -> str:
    """The user compiling the flow, recorded as the user of every run it makes."""
    from flowc.runtime.runs import user_name

    return user_name()


def finalize_args(flow: str, run_id: str, datastore: str | None) -> list[str]:
    """``flowc finalize`` arguments after the interpreter and ``-m flowc``."""
    args = ["finalize", flow, "--run-id", run_id]
    if datastore:
        args += ["--datastore", datastore]
    return args


def is_local_datastore(url: str | None) -> bool:
    """A folder of this machine. ``file:///path`` counts as shared: it says every pod mounts
    that path (a volume)."""
    return not url or "://" not in url


def local_datastore(url: str | None) -> str:
    """The datastore tasks on this machine use, as an absolute path or URL: ``--datastore``,
    else ``$FLOWC_DATASTORE``, else ``.flowc`` in the folder compiling the flow."""
    url = url or os.environ.get("FLOWC_DATASTORE") or ".flowc"
    return os.path.abspath(url) if is_local_datastore(url) else url


def container_problems(
    ir: FlowIR, target: str, image: str | None, datastore: str | None, what: str
) -> list[Diagnostic]:
    """Tasks in containers need an image and a datastore every pod reaches (one rule for the
    KubernetesPodOperator, Argo and KFP). ``what`` names the target in the message."""
    out = []
    if not image:
        out.append(
            error(
                f"{target}-image",
                f"{what} runs every step in a container, and no --image names it",
                "pass --image REPO:TAG (an image with python, flowc and, unless --package, the "
                "flow's code)",
                ir.file,
                ir.span.line,
                ir.span.col,
            )
        )
    if is_local_datastore(datastore):
        shown = datastore or ".flowc (the default)"
        out.append(
            error(
                f"{target}-datastore",
                f"{what} runs every step in its own container, which cannot see the local "
                f"datastore {shown!r}: later steps would not find earlier artifacts",
                "pass --datastore s3://bucket/prefix (or another fsspec URL every pod reaches; "
                "file:///PATH for a volume every pod mounts)",
                ir.file,
                ir.span.line,
                ir.span.col,
            )
        )
    return out


def baked_in_warning(ir: FlowIR, target: str, values: Sequence[tuple[str, str, str]]) -> Diagnostic:
    """One warning naming every machine-specific value written into the output:
    ``values`` holds (what, value, the option that changes it)."""
    listed = "; ".join(f"{what} {value} ({option})" for what, value, option in values)
    return warning(
        f"{target}-baked-in",
        f"the DAG runs tasks on the machine that compiled it, with: {listed}",
        "workers elsewhere need these paths; change them with the options named",
        ir.file,
        ir.span.line,
        ir.span.col,
    )


def interpreter() -> str:
    """The interpreter running this flowc: it has flowc installed."""
    return sys.executable or "python3"
