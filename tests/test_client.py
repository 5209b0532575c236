"""The client API against real runs (made by `flowc run` / `flowc resume` in subprocesses):
every property, namespaces, tags, and damaged records."""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime
from pathlib import Path

import pytest

import flowc.client.scope as ns_state
from flowc import DataArtifact, Flow, Run, Step, Task, get_namespace, namespace
from flowc.client import ClientError, NamespaceMismatch, NotFound, default_namespace
from tests.conftest import FLOWS, run_flow, run_flowc

RESUME = FLOWS / "resume_flow.py"
LINEAR = FLOWS / "linear_flow.py"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Runs of two flows by two users, one failed run resumed, one tagged run."""
    root = tmp_path_factory.mktemp("client")
    marker = root / "fail"
    base = {
        "START_LOG": str(root / "start.log"),
        "FAIL_MARKER": str(marker),
        "FLOWC_CACHE_DIR": str(root / "cache"),
    }
    alice = {**base, "FLOWC_USER": "alice"}
    ids = {}

    def run(key, flow, *args, env=alice, ok=True):
        proc, run_id = run_flow(flow, *args, cwd=root, env=env)
        assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
        ids[key] = run_id

    run("linear", LINEAR, "--greeting", "hey", "--tag", "exp1")
    run("bob", LINEAR, env={**base, "FLOWC_USER": "bob"})
    run("ok", RESUME)
    marker.touch()
    run("failed", RESUME, ok=False)
    marker.unlink()
    proc = run_flowc(
        "resume",
        str(RESUME),
        "--datastore",
        str(root / "ds"),
        "--run-id-file",
        str(root / "resumed"),
        cwd=root,
        env=alice,
    )
    assert proc.returncode == 0, proc.stderr
    ids["resumed"] = (root / "resumed").read_text()
    marker.touch()
    run("latest_failed", RESUME, ok=False)
    marker.unlink()
    return root, ids


@pytest.fixture
def client(world, monkeypatch):
    root, ids = world
    monkeypatch.setenv("FLOWC_DATASTORE", str(root / "ds"))
    monkeypatch.setenv("FLOWC_USER", "alice")
    default_namespace()
    yield root, ids
    ns_state._current = ns_state._UNSET


def test_flow_lists_runs_newest_first_in_the_namespace(client):
    _, ids = client
    assert get_namespace() == "user:alice"
    runs = list(Flow("ResumeFlow").runs())
    assert [r.id for r in runs] == [ids["latest_failed"], ids["resumed"], ids["failed"], ids["ok"]]
    assert list(Flow("ResumeFlow")) == runs
    assert Flow("ResumeFlow").latest_run.id == ids["latest_failed"]
    assert Flow("ResumeFlow").latest_successful_run.id == ids["resumed"]
    assert Flow("ResumeFlow")[ids["ok"]] == Run(f"ResumeFlow/{ids['ok']}")
    # alice sees only her LinearFlow run; bob's appears in the global namespace
    assert [r.id for r in Flow("LinearFlow").runs()] == [ids["linear"]]
    namespace(None)
    assert get_namespace() is None
    assert [r.id for r in Flow("LinearFlow").runs()] == [ids["bob"], ids["linear"]]
    namespace("user:bob")
    assert Flow("LinearFlow").latest_run.id == ids["bob"]
    assert Flow("ResumeFlow").latest_run is None
    namespace("exp1")  # any tag is a namespace
    assert [r.id for r in Flow("LinearFlow").runs()] == [ids["linear"]]


def test_run_properties(client):
    _, ids = client
    run = Run(f"LinearFlow/{ids['linear']}")
    assert run.id == ids["linear"] and run.pathspec == f"LinearFlow/{ids['linear']}"
    assert run.successful and run.finished and run.status == "succeeded"
    assert isinstance(run.created_at, datetime) and isinstance(run.finished_at, datetime)
    assert run.created_at <= run.finished_at
    assert abs((datetime.now() - run.created_at).total_seconds()) < 600
    assert run.parameters == {"greeting": "hey", "count": 2}
    assert run.tags == {"exp1", "user:alice"}
    assert run.user_tags == {"exp1"} and run.system_tags == {"user:alice"}
    assert run.user == "alice"
    assert run.data.message == "heyhey"  # the end step's artifacts
    assert run.data.seen == ["start", "middle", "end"]
    assert [s.id for s in run] == ["start", "middle", "end"]
    assert "middle" in run and "nope" not in run
    assert run.end_task == Task(f"LinearFlow/{ids['linear']}/end/0")
    assert run.origin_pathspec is None and run.origin_run_id is None


def test_step_and_task_properties(client):
    _, ids = client
    run = Run(f"ResumeFlow/{ids['ok']}")
    step = run["work"]
    assert isinstance(step, Step) and step.pathspec == f"ResumeFlow/{ids['ok']}/work"
    tasks = list(step)
    assert [t.id for t in tasks] == ["0", "1", "2"]
    assert [t.index for t in tasks] == [0, 1, 2]
    assert [t.data.square for t in tasks] == [0, 1, 4]
    assert step.task == tasks[0]
    assert step.created_at <= step.finished_at
    task = tasks[2]
    assert task["square"].data == 4
    assert "square" in task and "nope" not in task
    assert task.successful and task.finished and task.current_attempt == 0
    assert "working on 2" in task.stdout and task.stderr == ""
    assert task.created_at <= task.finished_at
    assert task.origin_pathspec is None and task.exception is None
    assert task.tags == {"user:alice"}
    names = sorted(a.id for a in task.artifacts)
    assert names == sorted(a.id for a in task) == ["items", "payload", "size", "square"]
    assert len(task.artifacts) == 4
    art = task.artifacts.square
    assert isinstance(art, DataArtifact) and art.data == 4 and art.type == "int"
    assert art.size > 0 and len(art.sha) == 64 and art.short_repr == "4"
    assert art.created_at == task.finished_at
    same = DataArtifact(f"ResumeFlow/{ids['ok']}/work/2/square")
    assert same.data == 4 and same.sha == art.sha
    # every task holds the run's parameters
    assert task.data.size == 3
    assert run["start"].task.index is None


def test_a_failed_task_is_listed_with_its_error_and_logs(client):
    _, ids = client
    run = Run(f"ResumeFlow/{ids['failed']}")
    assert not run.successful and run.finished and run.status == "failed"
    assert run.data is None and run.end_task is None
    task = run["work"]["1"]
    assert not task.successful and task.finished
    assert "planned failure" in task.stderr and "working on 1" in task.stdout
    assert task.exception == "RuntimeError: planned failure"
    with pytest.raises(AttributeError, match="failed, so it stored no artifact 'square'"):
        _ = task.data.square


def test_resumed_runs_show_their_origin(client):
    _, ids = client
    run = Run(f"ResumeFlow/{ids['resumed']}")
    assert run.origin_run_id == ids["failed"]
    assert run.origin_pathspec == f"ResumeFlow/{ids['failed']}"
    start = run["start"].task
    assert start.origin_pathspec == f"ResumeFlow/{ids['failed']}/start/0"
    origin = Task(start.origin_pathspec)
    assert start["payload"].sha == origin["payload"].sha
    assert start.data.payload == origin.data.payload
    assert start.stdout == origin.stdout  # logs come from where the task ran
    work = {t.id: t.origin_pathspec for t in run["work"]}
    assert work["1"] is None  # the failed item ran again; items that succeeded were cloned
    assert all(o in (None, f"ResumeFlow/{ids['failed']}/work/{i}") for i, o in work.items())
    assert run.data.total == 5 and run.data.origin == ids["failed"]


def test_tags_can_be_added_and_removed(client):
    _, ids = client
    run = Run(f"ResumeFlow/{ids['ok']}")
    run.add_tag("golden")
    run.add_tags(["a", "b"])
    assert Run(run.pathspec).tags == {"golden", "a", "b", "user:alice"}
    assert [r.id for r in Flow("ResumeFlow").runs("golden")] == [ids["ok"]]
    namespace("golden")
    assert Flow("ResumeFlow").latest_run.id == ids["ok"]
    default_namespace()
    run.remove_tag("golden")
    run.remove_tags(["a", "b"])
    assert Run(run.pathspec).tags == {"user:alice"}
    assert list(Flow("ResumeFlow").runs("golden")) == []
    with pytest.raises(ValueError, match="non-empty string"):
        run.add_tag("")


def test_objects_outside_the_namespace_are_refused_with_a_way_out(client):
    _, ids = client
    with pytest.raises(NamespaceMismatch, match=r"namespace\(None\)"):
        Run(f"LinearFlow/{ids['bob']}")
    namespace(None)
    assert Run(f"LinearFlow/{ids['bob']}").user == "bob"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ids: Flow("NoSuchFlow"), "flow 'NoSuchFlow' has never run"),
        (lambda ids: Flow("ResumeFlw"), "did you mean 'ResumeFlow'"),
        (lambda ids: Run("ResumeFlow/123"), "ResumeFlow has no run '123'"),
        (lambda ids: Run("ResumeFlow"), "is not a Run pathspec"),
        (lambda ids: Run(f"LinearFlow/{ids['ok']}"), "is a run of ResumeFlow, not of LinearFlow"),
        (lambda ids: Step(f"ResumeFlow/{ids['ok']}/nope"), "has no task of step 'nope'"),
        (lambda ids: Task(f"ResumeFlow/{ids['ok']}/work/9"), "does not exist"),
        (lambda ids: DataArtifact(f"ResumeFlow/{ids['ok']}/work/0/sq"), "no artifact 'sq'"),
    ],
)
def test_unknown_pathspecs_raise_not_found(client, make, message):
    _, ids = client
    with pytest.raises(NotFound, match=message):
        make(ids)


def test_an_artifact_typo_suggests_the_name(client):
    _, ids = client
    task = Task(f"ResumeFlow/{ids['ok']}/work/0")
    with pytest.raises(AttributeError, match="did you mean 'square'"):
        _ = task.data.squar
    with pytest.raises(KeyError, match="did you mean 'square'"):
        task["squar"]


def test_damaged_records_are_named_and_do_not_hide_other_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_USER", "carol")
    env = {"FLOWC_USER": "carol", "FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    ids = []
    for _ in range(3):
        proc, run_id = run_flow(LINEAR, cwd=tmp_path, env=env)
        assert proc.returncode == 0
        ids.append(run_id)
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    ds = tmp_path / "ds" / "runs" / "LinearFlow"
    default_namespace()
    try:
        # the run record of one run is not JSON; another's was hand-edited into a wrong shape
        (ds / ids[0] / "run.json").write_text("{oops")
        rec = json.loads((ds / ids[1] / "run.json").read_text())
        rec["created_at"] = "yesterday"
        (ds / ids[1] / "run.json").write_text(json.dumps(rec))
        with pytest.raises(ClientError, match=r"run.json is damaged \(.*\); restore it"):
            Run(f"LinearFlow/{ids[0]}")
        with pytest.raises(ClientError, match="field 'created_at' is 'yesterday'"):
            Run(f"LinearFlow/{ids[1]}")
        # listing reads the index, so all three runs are still listed; the good one opens
        assert [r.id for r in Flow("LinearFlow").runs()] == ids[::-1]
        assert Flow("LinearFlow").latest_run.data.message == "hihi"
        # an index event that is damaged is skipped with a warning, the others still count
        shutil_rm(ds / ".snapshot")
        (ds / ".index" / f"{ids[1]}~start").write_text("garbage")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            listed = [r.id for r in Flow("LinearFlow").runs()]
        assert ids[2] in listed and ids[0] in listed
        assert any("is damaged" in str(w.message) for w in caught)
        # a damaged task record
        task_json = ds / ids[2] / "end" / "0" / "task.json"
        task_json.write_text(json.dumps({"status": "ok", "artifacts": {"x": 1}}))
        with pytest.raises(ClientError, match=r"artifacts\['x'\] is not an artifact reference"):
            Task(f"LinearFlow/{ids[2]}/end/0")
    finally:
        ns_state._current = ns_state._UNSET


def shutil_rm(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def test_runs_without_index_events_are_found_and_indexed(tmp_path, monkeypatch):
    """A datastore written before the index existed (or an event lost) still lists its runs."""
    env = {"FLOWC_USER": "dan", "FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    ids = [run_flow(LINEAR, cwd=tmp_path, env=env)[1] for _ in range(2)]
    ds = tmp_path / "ds" / "runs" / "LinearFlow"
    shutil_rm(ds / ".index")
    shutil_rm(ds / ".snapshot")
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    namespace(None)
    try:
        assert [r.id for r in Flow("LinearFlow").runs()] == ids[::-1]
        assert Flow("LinearFlow").latest_successful_run.id == ids[1]
        names = sorted(os.listdir(ds / ".index"))  # end events carry a version: end~<ns>
        assert [n.rsplit("~", 1)[0] if "~end~" in n else n for n in names] == sorted(
            f"{i}~{e}" for i in ids for e in ("start", "end")
        )
    finally:
        ns_state._current = ns_state._UNSET


def test_the_client_is_importable_from_flowc_and_the_metaflow_stand_in(monkeypatch):
    import sys

    import flowc
    import flowc.client
    from flowc.runtime.loader import install_metaflow_shim

    assert flowc.Flow is flowc.client.Flow and flowc.namespace is flowc.client.namespace
    monkeypatch.delitem(sys.modules, "metaflow", raising=False)
    install_metaflow_shim()
    import metaflow

    assert metaflow.Run is flowc.client.Run and metaflow.get_namespace is flowc.get_namespace
    with pytest.raises(AttributeError, match="no 'nope'"):
        _ = metaflow.nope


def test_a_run_made_task_by_task_like_an_orchestrator_is_visible(tmp_path, monkeypatch):
    """What an Airflow / Argo / KFP run writes (the task contract, the orchestrator's run id)
    is a run like any other to the client."""
    run_id = "manual__2026-11-30T10:00:00+00:00"
    env = {"FLOWC_USER": "airflow", "FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    for step in ("start", "middle", "end"):
        extra = ["--greeting", "ho"] if step == "start" else []
        proc = run_flowc(
            "task",
            str(LINEAR),
            step,
            "--run-id",
            run_id,
            "--datastore",
            str(tmp_path / "ds"),
            *extra,
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    namespace("user:airflow")
    try:
        run = Flow("LinearFlow").latest_run
        assert run.id == run_id and run == Run(f"LinearFlow/{run_id}")
        assert run.successful and run.finished and run.data.message == "hoho"
        assert Flow("LinearFlow").latest_successful_run == run
        assert run.parameters == {"greeting": "ho", "count": 2}
    finally:
        ns_state._current = ns_state._UNSET
