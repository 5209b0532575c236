"""Starting and ending a run: its id, its record (parameters, user, tags, ``--with``
decorators, the IR it was started with) and its final status."""

from __future__ import annotations

import getpass
import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

from flowc.datastore import Datastore, index, layout
from flowc.datastore.storage import LocalStorage
from flowc.ir import FlowIR


def user_name() -> str:
    for var in ("FLOWC_USER", "METAFLOW_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


@dataclass
class RunInfo:
    flow: str
    run_id: str
    record: dict
    params: dict[str, Any]  # attribute -> value

    @property
    def param_refs(self) -> dict[str, dict]:
        return self.record["parameters"]

    @property
    def with_specs(self) -> list:
        return self.record.get("with", [])

    @classmethod
    def load(cls, ds: Datastore, flow: str, run_id: str) -> RunInfo | None:
        record = ds.run_record(flow, run_id)
        if record is None:
            return None
        params = {attr: ds.get(ref["sha"]) for attr, ref in record["parameters"].items()}
        return cls(flow, run_id, record, params)


def _claim_run_id(ds: Datastore, flow: str) -> str:
    local = isinstance(ds.storage, LocalStorage)
    candidate = time.time_ns() // 1000
    while True:
        run_id = str(candidate) if local else f"{candidate}-{os.urandom(3).hex()}"
        if ds.storage.claim(layout.run_dir(flow, run_id)):
            return run_id
        candidate += 1


def start_run(
    ds: Datastore,
    ir: FlowIR,
    flow_file: str,
    params: dict[str, Any],
    param_names: dict[str, str],
    tags: list[str] | tuple[str, ...] = (),
    with_specs: list | tuple = (),
    run_id: str | None = None,
    origin: RunInfo | None = None,
    project: dict[str, Any] | None = None,
) -> RunInfo:
    """Write the run record (once: an orchestrator's retried start task finds it there). A
    resumed run takes its ``origin``'s parameters by reference."""
    if run_id is not None:
        existing = RunInfo.load(ds, ir.name, run_id)
        if existing is not None:
            return existing
    else:
        run_id = _claim_run_id(ds, ir.name)
    refs = {}
    if origin is not None:
        params, refs = dict(origin.params), dict(origin.param_refs)
    for attr, value in params.items():
        if attr not in refs:
            refs[attr] = {**ds.put(attr, value), "name": param_names.get(attr, attr)}
    with open(flow_file, "rb") as f:
        code_sha = hashlib.sha256(f.read()).hexdigest()
    from flowc import __version__

    record = {
        "flow": ir.name,
        "run_id": run_id,
        "created_at": time.time(),
        "user": user_name(),
        "tags": sorted(set(tags)),
        "parameters": refs,
        "with": [list(w) for w in with_specs],
        "flow_file": os.path.abspath(flow_file),
        "code_sha": code_sha,
        "origin_run_id": origin.run_id if origin is not None else None,
        "flowc_version": __version__,
        "pid": os.getpid(),
    }
    if project:  # @project: current.project_name..., and the run's project system tags
        from flowc.runtime.project import project_tags

        record["project"] = project
        record["system_tags"] = project_tags(project)
    base = layout.run_dir(ir.name, run_id)
    ds.write_json(f"{base}/ir.json", ir.to_dict())
    ds.write_json(f"{base}/run.json", record)
    index.record_start(ds, record)
    return RunInfo(ir.name, run_id, record, dict(params))


def finish_run(ds: Datastore, run: RunInfo, status: str, **detail: Any) -> None:
    doc = {"status": status, "finished_at": time.time(), **detail}
    ds.write_json(f"{layout.run_dir(run.flow, run.run_id)}/status.json", doc)
    index.record_end(ds, run.flow, run.run_id, status, doc["finished_at"], detail.get("error"))


def record_executor(ds: Datastore, run: RunInfo) -> None:
    """Note which local process executes ``run``, so that a run whose executor died (SIGKILL,
    a crash) can be told from one still running."""
    from flowc.runtime.workers import EXECUTOR_FILE, executor_doc

    ds.write_json(f"{layout.run_dir(run.flow, run.run_id)}/{EXECUTOR_FILE}", executor_doc())


def run_died(ds: Datastore, flow: str, run_id: str) -> bool:
    """A run that never ended and whose local executor is gone: it will never finish."""
    from flowc.runtime.workers import EXECUTOR_FILE, executor_died

    base = layout.run_dir(flow, run_id)
    if ds.read_json(f"{base}/status.json") is not None:
        return False
    return executor_died(ds.read_json(f"{base}/{EXECUTOR_FILE}"))


def load_ir(ds: Datastore, flow: str, run_id: str) -> FlowIR | None:
    doc = ds.read_json(f"{layout.run_dir(flow, run_id)}/ir.json")
    return FlowIR.from_dict(doc) if doc is not None else None
