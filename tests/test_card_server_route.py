"""The card server's routing function and step states, called directly (no socket): URL
splitting, paging, the Host check, and how a task's records map to the states the graph shows
(retrying, killed, running with only a card written)."""

from __future__ import annotations

import json
import shutil

import pytest

from flowc.cards import runview
from flowc.cards.server import CardApp, HTTPError, route, split_target
from flowc.datastore import Datastore, layout
from tests.cardserver_util import FLOW, make_runs


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    work = tmp_path_factory.mktemp("cardroute")
    return {**make_runs(work), "work": work}


@pytest.fixture
def ds(made, tmp_path):
    """A private copy of the runs, for tests that edit records."""
    shutil.copytree(made["work"] / "ds", tmp_path / "ds")
    return Datastore(str(tmp_path / "ds"))


def test_split_target_decodes_each_segment_after_splitting():
    assert split_target("/runs/a%20b/start/") == (["runs", "a b", "start"], {})
    assert split_target("/?page=2&x=%41") == ([], {"page": "2", "x": "A"})
    for bad in ("/runs/a%2fb", "/runs/%2e%2e", "/runs/..", "/a//b", "runs", "/x/%00", "/%c3"):
        with pytest.raises(HTTPError) as e:
            split_target(bad)
        assert e.value.status == 400, bad


def test_runs_page_pages_through_the_runs(made, ds):
    app = CardApp(ds, FLOW, page_size=1)
    first = route(app, "/").body.decode()
    second = route(app, "/?page=1").body.decode()
    assert f'data-run="{made["failed"]}"' in first and made["ok"] not in first
    assert f'data-run="{made["ok"]}"' in second and made["failed"] not in second
    assert 'href="/?page=1" id="older"' in first and 'id="newer"' in second
    assert "No runs on this page" in route(app, "/?page=5").body.decode()
    assert route(app, "/?page=x").status == 400


def test_api_errors_are_json_and_pages_are_html(ds):
    app = CardApp(ds, FLOW)
    r = route(app, "/api/runs/%2e%2e/status")
    assert r.status == 400 and json.loads(r.body) == {
        "error": "Bad request",
        "detail": "a path segment holds '/', '\\', '.', '..' or a control character",
    }
    r = route(app, "/runs/123")
    assert r.status == 404 and r.content_type.startswith("text/html")
    assert b"404 Not found" in r.body


def test_host_header_must_name_localhost_when_bound_there(ds):
    app = CardApp(ds, FLOW, allowed_hosts=frozenset({"127.0.0.1", "localhost", "::1"}))
    for ok in ("127.0.0.1:8324", "localhost", "LOCALHOST:1", "[::1]:8324", None):
        assert route(app, "/", ok).status == 200, ok
    for bad in ("evil.example", "evil.example:8324", "127.0.0.1.evil.example", "[::2]:80"):
        assert route(app, "/", bad).status == 400, bad
    assert route(CardApp(ds, FLOW), "/", "any.name").status == 200  # bound to a public address


def test_run_page_shows_tags_changed_after_the_run(made, ds):
    from flowc.client.terminal import change_tags

    change_tags(ds, f"{FLOW}/{made['ok']}", "add", ("prod", "<i>x</i>"))
    app = CardApp(ds, FLOW)
    page = route(app, f"/runs/{made['ok']}").body.decode()
    assert "tags: &lt;i&gt;x&lt;/i&gt;, prod" in page
    row = route(app, "/").body.decode().split(f'data-run="{made["ok"]}"')[1].split("</tr>")[0]
    assert "&lt;i&gt;x&lt;/i&gt;, prod" in row


def _states(ds, run_id, live) -> dict[str, str]:
    from flowc.runtime.runs import load_ir

    ir = load_ir(ds, FLOW, run_id)
    return {s.name: s.state for s in runview.step_states(ds, FLOW, run_id, ir, live)}


def _task_dir(ds, run_id, step, task="0"):
    return f"{ds.url}/{layout.task_dir(FLOW, run_id, step, task)}"


def test_step_states_from_task_records(made, ds):
    run = made["failed"]
    assert _states(ds, run, live=False)["end"] == "failed"
    # a retry in progress: attempt 0 failed, attempt 1 has begun writing its output
    ds.write_bytes(f"{layout.task_dir(FLOW, run, 'end', '0')}/1.stdout", b"again")
    assert _states(ds, run, live=True)["end"] == "running"
    # the run ended (killed) while that attempt ran: it did not finish
    assert _states(ds, run, live=False)["end"] == "failed"


def test_live_states_are_inferred_from_the_parents(made, ds):
    run = made["ok"]
    for step in ("hold", "end"):
        shutil.rmtree(_task_dir(ds, run, step))
    assert _states(ds, run, live=True) == {
        "start": "succeeded",
        "square": "succeeded",
        "join": "succeeded",
        "hold": "running",  # parents done, no record yet: it runs
        "end": "pending",
    }
    # a foreach body with fewer finished tasks than its split made is still running
    shutil.rmtree(_task_dir(ds, run, "square", "2"))
    states = _states(ds, run, live=True)
    assert states["square"] == "running" and states["join"] == "succeeded"
    assert _states(ds, run, live=False)["square"] == "succeeded"


def test_running_task_with_only_a_card_has_a_page(made, ds):
    from flowc.cards.store import write_card

    run = made["ok"]
    shutil.rmtree(_task_dir(ds, run, "hold"))
    meta = {"key": "live", "type": "blank", "id": "live", "n": 0, "attempt": 0, "error": None}
    write_card(ds, (FLOW, run, "hold", "0"), meta, "<p id='v'>step 1 of 3</p>")
    app = CardApp(ds, FLOW)
    page = route(app, f"/runs/{run}/hold/0")
    assert page.status == 200
    body = page.body.decode()
    assert 'class="status status-running"' in body and 'data-key="live"' in body
    assert "Running: no attempt has ended yet." in body
    card = route(app, f"/cards/{run}/hold/0/live")
    assert card.status == 200 and card.body == b"<p id='v'>step 1 of 3</p>"
    api = json.loads(route(app, f"/api/runs/{run}/hold/0").body)
    assert api["state"] == "running" and [c["key"] for c in api["cards"]] == ["live"]


def test_resumed_run_shows_cloned_steps_and_their_origin(made, ds, tmp_path):
    from tests.cardserver_util import FLOW_FILE
    from tests.conftest import run_flowc

    id_file = tmp_path / "resumed-id"
    proc = run_flowc(
        "resume",
        str(FLOW_FILE),
        "--origin-run-id",
        made["failed"],
        "--datastore",
        ds.url,
        "--run-id-file",
        str(id_file),
        env=made["env"],
    )
    assert proc.returncode == 1, proc.stderr  # end fails again: the origin's parameters
    run = id_file.read_text()
    app = CardApp(ds, FLOW)
    page = route(app, f"/runs/{run}").body.decode()
    assert 'data-step="square" data-status="cloned"' in page
    assert 'data-step="end" data-status="failed"' in page
    assert f'resumed from <a href="/runs/{made["failed"]}">' in page
    task = route(app, f"/runs/{run}/square/1").body.decode()
    assert f'<a id="origin" href="/runs/{made["failed"]}/square/1">' in task
    assert "squared 2" in task  # the log is read where the task ran


def test_a_bug_is_a_bare_500_page_and_a_traceback_on_stderr(made, ds, capfd):
    """A damaged ir.json makes the run page fail inside the app: the browser gets a 500 page
    without details; the traceback goes to the server's stderr."""
    import threading
    import urllib.error
    import urllib.request

    from flowc.cards.server import make_server

    made_ir = f"{ds.url}/{layout.run_dir(FLOW, made['ok'])}/ir.json"
    with open(made_ir, "w") as f:
        f.write("{not json")
    server = make_server(ds, FLOW, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/runs/{made['ok']}", timeout=30)
        body = e.value.read().decode()
        assert e.value.code == 500
        assert "500 Server error" in body and "Traceback" not in body and "not json" not in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as ok:
            assert ok.status == 200  # the server goes on
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" in capfd.readouterr().err


def test_a_flow_that_never_ran_is_an_empty_list(tmp_path):
    (tmp_path / "ds").mkdir()
    app = CardApp(Datastore(str(tmp_path / "ds")), "NeverRanFlow")
    page = route(app, "/")
    assert page.status == 200 and b"NeverRanFlow has no runs yet." in page.body
    assert json.loads(route(app, "/api/runs").body) == []
    assert route(app, "/runs/1").status == 404


def test_live_step_after_a_switch_runs_once_the_branch_taken_is_done(tmp_path):
    """The merge step after a switch waits for the branch taken, not for the one skipped."""
    from tests.conftest import FLOWS, run_flow

    proc, run = run_flow(FLOWS / "switch_flow.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ds = Datastore(str(tmp_path / "ds"))
    base = f"{ds.url}/{layout.run_dir('SwitchFlow', run)}"
    for step in ("after", "end"):
        shutil.rmtree(f"{base}/{step}")
    (tmp_path / "ds" / layout.run_dir("SwitchFlow", run) / "status.json").unlink()
    from flowc.runtime.runs import load_ir

    ir = load_ir(ds, "SwitchFlow", run)
    states = {s.name: s.state for s in runview.step_states(ds, "SwitchFlow", run, ir, True)}
    assert states == {
        "start": "succeeded",
        "high": "succeeded",
        "low": "pending",  # the switch took high
        "after": "running",
        "end": "pending",
    }
    shutil.rmtree(f"{base}/high")  # high itself is now the one running
    states = {s.name: s.state for s in runview.step_states(ds, "SwitchFlow", run, ir, True)}
    assert (states["high"], states["low"], states["after"]) == ("running", "pending", "pending")
