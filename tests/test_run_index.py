"""The run index: correct under concurrent writers and compacting readers, fast path never
stale, damage reported and survived. Runs are recorded with the functions `flowc run` uses."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from flowc.check import check_file
from flowc.datastore import Datastore, index
from flowc.runtime.runs import finish_run, start_run
from tests.conftest import FLOWS

FLOW_FILE = str(FLOWS / "linear_flow.py")


@pytest.fixture(scope="module")
def ir():
    return check_file(FLOW_FILE, None).chosen_flow()


def record(ds, ir, status="succeeded", tags=()):
    run = start_run(ds, ir, FLOW_FILE, {"greeting": "hi", "count": 1}, {}, tags)
    if status:
        finish_run(ds, run, status)
    return run.run_id


def _writer(url, ir, n, queue):
    ds = Datastore(url)
    ids = [record(ds, ir, "succeeded" if i % 2 else "failed") for i in range(n)]
    queue.put(ids)


def _reader(url, stop, errors):
    index.COMPACT_AFTER = 1  # compact on every read: the most racing possible
    ds = Datastore(url)
    while not stop.is_set():
        try:
            entries = index.read_index(ds, "LinearFlow")
            assert len({e.run_id for e in entries}) == len(entries)
        except Exception as e:  # noqa: BLE001 - reported to the test
            errors.put(repr(e))
            return


def test_concurrent_writers_and_compacting_readers_lose_nothing(tmp_path, ir):
    url = str(tmp_path / "ds")
    ctx = multiprocessing.get_context("fork")
    queue, errors, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    readers = [ctx.Process(target=_reader, args=(url, stop, errors)) for _ in range(2)]
    writers = [ctx.Process(target=_writer, args=(url, ir, 25, queue)) for _ in range(4)]
    for p in readers + writers:
        p.start()
    written = set()
    for _ in writers:
        written.update(queue.get(timeout=120))
    for p in writers:
        p.join(timeout=60)
    stop.set()
    for p in readers:
        p.join(timeout=60)
    assert errors.empty(), errors.get()
    assert len(written) == 100
    entries = index.read_index(Datastore(url), "LinearFlow")
    assert {e.run_id for e in entries} == written
    assert all(e.status in ("succeeded", "failed") for e in entries)
    created = [e.created_at for e in entries]
    assert created == sorted(created, reverse=True)


def test_the_fast_path_never_misses_a_new_run(tmp_path, ir):
    ds = Datastore(str(tmp_path / "ds"))
    first = [record(ds, ir) for _ in range(3)]
    index.read_index(ds, "LinearFlow")
    time.sleep(1.1)  # quiet folders: the next reader records their versions
    index.read_index(ds, "LinearFlow")
    snap = (tmp_path / "ds" / index.snapshot_key("LinearFlow")).read_bytes()
    assert b'"folders":[' in snap.split(b"\n")[0]  # the fast path is armed
    newest = record(ds, ir, status=None)
    entries = index.read_index(ds, "LinearFlow")
    assert [e.run_id for e in entries] == [newest, *first[::-1]]
    assert entries[0].status == "running"
    finish_run(ds, type("R", (), {"flow": "LinearFlow", "run_id": newest})(), "failed")
    assert index.read_index(ds, "LinearFlow")[0].status == "failed"
    index.record_tags(ds, "LinearFlow", first[0], ["x"])
    tagged = {e.run_id: e.tags for e in index.read_index(ds, "LinearFlow")}
    assert tagged[first[0]] == ["x"]


def test_a_damaged_snapshot_is_rebuilt_from_the_events(tmp_path, ir):
    ds = Datastore(str(tmp_path / "ds"))
    ids = [record(ds, ir) for _ in range(3)]
    index._compact(ds, "LinearFlow", index.read_index(ds, "LinearFlow"), set(), None)
    path = tmp_path / "ds" / index.snapshot_key("LinearFlow")
    path.write_text(f'{{"version": {index.SNAPSHOT_VERSION}, "rows": 7}}\n[]')
    seen = []
    entries = index.read_index(ds, "LinearFlow", seen.append)
    assert [e.run_id for e in entries] == ids[::-1]
    assert any("index.json is damaged (rows is not a list)" in m for m in seen)


def test_reading_works_on_a_read_only_datastore(tmp_path, ir):
    ds = Datastore(str(tmp_path / "ds"))
    ids = [record(ds, ir) for _ in range(2)]
    if os.geteuid() == 0:  # root ignores permissions: make writes fail another way
        ds.write_bytes = lambda key, data: (_ for _ in ()).throw(PermissionError(key))
    else:
        os.chmod(tmp_path / "ds" / "runs" / "LinearFlow", 0o555)
    try:
        index.COMPACT_AFTER, saved = 0, index.COMPACT_AFTER
        assert [e.run_id for e in index.read_index(ds, "LinearFlow")] == ids[::-1]
    finally:
        index.COMPACT_AFTER = saved
        os.chmod(tmp_path / "ds" / "runs" / "LinearFlow", 0o755)


def test_run_ids_holding_a_tilde_and_a_rewritten_status(tmp_path, ir):
    """Airflow run ids may hold '~' (even '~end' or '~tags~1'); a later finaliser's status wins."""
    ds = Datastore(str(tmp_path / "ds"))
    odd = ["manual__x~end", "a~tags~1", "b~start~end~5"]
    for run_id in odd:
        run = start_run(ds, ir, FLOW_FILE, {"greeting": "hi", "count": 1}, {}, (), run_id=run_id)
        finish_run(ds, run, "failed", error="task x failed")
        index.record_tags(ds, "LinearFlow", run_id, ["t"])
    finish_run(ds, type("R", (), {"flow": "LinearFlow", "run_id": odd[0]})(), "succeeded")
    for _ in range(2):  # the events, then the snapshot written from them
        entries = {e.run_id: e for e in index.read_index(ds, "LinearFlow")}
        assert set(entries) == set(odd)
        assert entries[odd[0]].status == "succeeded" and entries[odd[0]].error is None
        assert entries[odd[1]].status == "failed" and entries[odd[1]].tags == ["t"]
        index._compact(ds, "LinearFlow", list(entries.values()), set(), None)
