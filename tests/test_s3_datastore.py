"""Everything flowc does, against ``s3://`` on a real S3 API server (moto's, one per session):
runs, resume, the client, runs/logs/dump/tag, cards and the card server, concurrent runs, a
worker killed mid-upload, content-addressed blobs stored once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


from tests.conftest import FLOWS, run_flowc

FLOW = FLOWS / "s3_flow.py"
BIG = 64 * 1024 * 1024


def run(s3, url, tmp_path, *args, env=None, verb="run", flow=FLOW):
    """``flowc run|resume`` into ``url``; returns (process, run id)."""
    id_file = tmp_path / f"run-id-{time.monotonic_ns()}"
    proc = run_flowc(
        verb,
        str(flow),
        "--datastore",
        url,
        "--run-id-file",
        str(id_file),
        *args,
        cwd=tmp_path,
        env={**s3.env, "FLOWC_USER": "tester", **(env or {})},
    )
    return proc, (id_file.read_text() if id_file.exists() else None)


def flowc(s3, *args, cwd, env=None):
    return run_flowc(*args, cwd=cwd, env={**s3.env, "FLOWC_USER": "tester", **(env or {})})


def blobs(s3, url) -> dict[str, tuple]:
    """Every blob object: key -> (size, etag, last modified)."""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    pages = s3.client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/blobs/"
    )
    return {
        o["Key"]: (o["Size"], o["ETag"], o["LastModified"])
        for page in pages
        for o in page.get("Contents", ())
    }


def test_a_run_with_foreach_switch_retry_catch_and_the_verbs_that_read_it(s3, tmp_path):
    url = s3.datastore()
    proc, run_id = run(s3, url, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{url}/runs/S3Flow/{run_id}" in proc.stdout  # a full URL, not bucket/prefix
    assert "total 90 attempts 2 blob 0" in proc.stdout
    keys = set(s3.keys(url))
    for task in ("start/0", "mid/1", "leaf/0.1", "leaf/1.1", "inner_join/1", "flaky/0", "end/0"):
        assert f"runs/S3Flow/{run_id}/{task}/task.json" in keys
    assert f"runs/S3Flow/{run_id}/flaky/0/0.attempt.json" in keys  # the retried attempt
    assert not any("/other/" in k for k in keys)  # the switch branch not taken

    # the client, in this process, through the standard variables
    code = (
        "from flowc import Flow, Run\n"
        "r = Flow('S3Flow').latest_successful_run\n"
        "print(r.id, r.data.total, 'always fails' in str(r['caught'].task.data.error))\n"
        "print(sorted(t.id for t in r['leaf']))\n"
    )
    got = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **s3.env, "FLOWC_DATASTORE": url, "FLOWC_USER": "tester"},
        cwd=tmp_path,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.split("\n")[:2] == [f"{run_id} 90 True", "['0.0', '0.1', '1.0', '1.1']"]

    listed = flowc(s3, "runs", "S3Flow", "--json", "--datastore", url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
    logs = flowc(s3, "logs", f"S3Flow/{run_id}/end/0", "--datastore", url, cwd=tmp_path)
    assert logs.returncode == 0 and "total 90" in logs.stdout, logs.stderr
    dump = flowc(s3, "dump", f"S3Flow/{run_id}/end/0", "--json", "--datastore", url, cwd=tmp_path)
    assert dump.returncode == 0 and '"total"' in dump.stdout, dump.stderr
    tagged = flowc(
        s3, "tag", "add", f"S3Flow/{run_id}", "nightly", "--datastore", url, cwd=tmp_path
    )
    assert tagged.returncode == 0, tagged.stderr
    listed = flowc(s3, "runs", "S3Flow", "--json", "--datastore", url, cwd=tmp_path)
    assert "nightly" in json.loads(listed.stdout)[0]["tags"]

    # cards: list prints where they are as URLs, get downloads one, view makes a local copy
    cards = flowc(s3, "card", "list", str(FLOW), "--datastore", url, cwd=tmp_path)
    assert cards.returncode == 0, cards.stderr
    assert f"{url}/runs/S3Flow/{run_id}/start/0/" in cards.stdout
    out = tmp_path / "card.html"
    got = flowc(s3, "card", "get", "S3Flow", "start", str(out), "--datastore", url, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "<html" in out.read_text().lower()
    view = flowc(s3, "card", "view", "S3Flow", "start", "--datastore", url, cwd=tmp_path)
    assert view.returncode == 0, view.stderr
    local = view.stdout.strip().rsplit(": ", 1)[1]
    assert Path(local).read_text() == out.read_text()
    _card_server_serves(s3, url, run_id, out.read_text(), tmp_path)


def _card_server_serves(s3, url, run_id, html, tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-m", "flowc", "card", "server", "S3Flow", "--port", "0"]
        + ["--datastore", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **s3.env},
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        line = server.stdout.readline()
        assert "http://" in line, line + server.stderr.read()
        base = line.split(" at ")[1].strip().rstrip("/")
        with urllib.request.urlopen(f"{base}/", timeout=30) as r:
            assert run_id in r.read().decode()
        with urllib.request.urlopen(f"{base}/cards/{run_id}/start/0/default-0", timeout=30) as r:
            assert r.read().decode() == html
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _upload_in_progress(s3, bucket) -> bool:
    return bool(s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads"))


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def test_killed_mid_upload_resumes_and_a_large_blob_is_stored_once(s3, tmp_path):
    """A worker SIGKILLed while it uploads a 64 MiB artifact leaves no task.json and no
    visible blob; resume clones what finished (no blob written again) and succeeds; a second
    run storing the same 64 MiB adds no blob of that size."""
    url = s3.datastore()
    bucket = s3.bucket_of(url)
    marker = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowc", "run", str(FLOW), "--datastore", url]
        + ["--run-id-file", str(tmp_path / "first")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            **s3.env,
            "FLOWC_USER": "tester",
            "BIG_MB": "64",
            "WAIT_FOR": str(marker),
        },
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120

    def reached_big() -> bool:  # `big` waits for the marker: nothing else is writing then
        if not (tmp_path / "first").exists():
            return False
        run_id = (tmp_path / "first").read_text()
        return f"runs/S3Flow/{run_id}/caught/0/task.json" in s3.keys(url, "runs/")

    while not reached_big():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    before = blobs(s3, url)
    marker.touch()
    while not _upload_in_progress(s3, bucket):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert workers, "no worker to kill"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    assert "killed by SIGKILL" in out
    first = (tmp_path / "first").read_text()
    keys = set(s3.keys(url))
    # the executor stores what the killed task printed, and names only a log that exists
    log = out.split("Its log: ")[1].split()[0]
    assert log.startswith(f"{url}/runs/S3Flow/{first}/big/0/"), out
    assert log[len(url) + 1 :] in keys, log
    assert f"runs/S3Flow/{first}/big/0/task.json" not in keys
    assert blobs(s3, url) == before  # nothing half-written became visible

    proc, resumed = run(s3, url, tmp_path, env={"BIG_MB": "64"}, verb="resume")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "blob 67108864" in proc.stdout
    after = blobs(s3, url)
    assert {k: after[k] for k in before} == before  # cloned by reference: not one rewritten
    key = f"flowc/runs/S3Flow/{resumed}/caught/0/task.json"
    cloned = json.loads(s3.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert cloned["origin_pathspec"] == f"S3Flow/{first}/caught/0"
    big = [k for k, (size, _, _) in after.items() if size >= BIG]
    assert len(big) == 1

    proc, _ = run(s3, url, tmp_path, env={"BIG_MB": "64"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [k for k, (size, _, _) in blobs(s3, url).items() if size >= BIG] == big


def test_two_concurrent_runs_into_one_prefix_lose_nothing(s3, tmp_path):
    url = s3.datastore()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flowc", "run", str(FLOW), "--datastore", url]
            + ["--run-id-file", str(tmp_path / f"id{i}"), "--max-workers", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **s3.env, "FLOWC_USER": "tester"},
            cwd=tmp_path,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ids = {(tmp_path / f"id{i}").read_text() for i in range(2)}
    assert len(ids) == 2
    keys = set(s3.keys(url))
    for run_id in ids:
        assert f"runs/S3Flow/{run_id}/end/0/task.json" in keys
        done = [k for k in keys if k.startswith(f"runs/S3Flow/{run_id}/")]
        assert sum(k.endswith("/task.json") for k in done) == 15, done
    listed = flowc(s3, "runs", "S3Flow", "--json", "--datastore", url, cwd=tmp_path)
    assert {r["run_id"] for r in json.loads(listed.stdout)} == ids
    assert {r["status"] for r in json.loads(listed.stdout)} == {"succeeded"}


def _in_a_fork(check) -> str:
    """Run ``check()`` in a forked child; its answer (or error) as text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            answer = str(check())
        except BaseException as e:  # noqa: BLE001
            answer = f"{type(e).__name__}: {e}"
        os.write(w, answer.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        answer = f.read()
    os.waitpid(pid, 0)
    return answer


def test_storage_used_before_a_fork_works_after_it(s3_env, tmp_path):
    """The executor's parent uses the datastore, then forks its workers: each must make its
    own client (s3://) or filesystem (any fsspec URL), never reuse the parent's."""
    from flowc.datastore import Datastore

    ds = Datastore(s3_env.datastore())
    ds.write_bytes("a", b"parent")
    parent_client = ds.storage.client
    child = _in_a_fork(lambda: (ds.storage.client is not parent_client, ds.read_bytes("a")))
    assert child == "(True, b'parent')"
    assert ds.read_bytes("a") == b"parent" and ds.storage.client is parent_client

    fs_ds = Datastore(f"file://{tmp_path}/fs")
    fs_ds.write_bytes("b", b"parent")
    parent_fs = fs_ds.storage.fs
    child = _in_a_fork(lambda: (fs_ds.storage.fs is not parent_fs, fs_ds.read_bytes("b")))
    assert child == "(True, b'parent')"


def test_the_task_contract_on_s3(s3, tmp_path):
    """``flowc task``, as an orchestrator calls it: the start task creates the run, a foreach
    task runs from ids alone."""
    from tests.conftest import EXAMPLES

    url = s3.datastore()
    flow = str(EXAMPLES / "foreach_flow.py")
    for step, extra in (("start", []), ("square", ["--index", "2"])):
        result = tmp_path / f"{step}.json"
        proc = flowc(
            s3, "task", flow, step, "--run-id", "wf-1", "--datastore", url,
            "--result-file", str(result), *extra, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(result.read_text())["status"] == "ok"
    keys = s3.keys(url)
    assert "runs/ForeachFlow/wf-1/square/2/task.json" in keys
    assert not any(".probe" in k for k in keys)
