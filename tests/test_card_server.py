"""The card server over real HTTP: what each page shows, and that no URL reaches a file outside
the datastore, shows a traceback, or gets anything but 400/404/405 when it is malformed or
names nothing."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.cardserver_util import CARD_HTML, FLOW, FLOW_FILE, SECRET, Server, make_runs


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("cardserver")
    runs = make_runs(work)
    server = Server(work, "--port", "0")
    yield {**runs, "url": server.url, "work": work, "server": server}
    assert server.stop() == 0, server.stderr()
    log = server.stderr()
    assert "Traceback" not in log
    assert "\x1b" not in log and "\x00" not in log  # request lines are logged escaped


def request(site, path: str, method: str = "GET", host: str | None = None) -> tuple[int, dict, str]:
    """Send ``path`` byte for byte (no client-side normalisation of '..' or '%2e')."""
    url = urlsplit(site["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def get(site, path: str) -> str:
    status, _, body = request(site, path)
    assert status == 200, (path, status, body)
    return body


# --- pages --------------------------------------------------------------------------------


def test_runs_list_shows_every_run_with_its_status(site):
    body = get(site, "/")
    assert f'data-run="{site["ok"]}" data-status="succeeded"' in body
    assert f'data-run="{site["failed"]}" data-status="failed"' in body
    assert body.index(site["failed"]) < body.index(site["ok"])  # newest first
    assert f'href="/runs/{site["ok"]}"' in body
    assert "alice" in body
    doc = json.loads(get(site, "/api/runs"))
    assert {(r["run_id"], r["status"]) for r in doc} == {
        (site["ok"], "succeeded"),
        (site["failed"], "failed"),
    }


def test_run_page_has_the_graph_coloured_by_step_status(site):
    body = get(site, f"/runs/{site['ok']}")
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph"' in body
    for step in ("start", "square", "join", "hold", "end"):
        assert f'data-step="{step}" data-status="succeeded"' in body
        assert f'href="/runs/{site["ok"]}/{step}"' in body
    assert "<script>" not in body  # a finished run is not polled
    assert 'data-parameter="wait_for"><td class="mono">wait-for</td>' in body
    assert "started " in body and " by alice, finished " in body
    failed = get(site, f"/runs/{site['failed']}")
    assert 'data-step="end" data-status="failed"' in failed
    assert 'data-step="hold" data-status="succeeded"' in failed
    status = json.loads(get(site, f"/api/runs/{site['failed']}/status"))
    assert status["status"] == "failed" and status["live"] is False
    assert {s["name"]: (s["state"], s["done"], s["tasks"]) for s in status["steps"]}["square"] == (
        "succeeded",
        3,
        3,
    )


def test_step_page_lists_the_foreach_tasks(site):
    body = get(site, f"/runs/{site['ok']}/square")
    for i in range(3):
        assert f'href="/runs/{site["ok"]}/square/{i}"' in body
    assert body.count('class="status status-succeeded"') == 3


def test_task_page_escapes_artifact_reprs_and_frames_its_cards(site):
    body = get(site, f"/runs/{site['ok']}/start/0")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)" not in body
    assert 'data-artifact="items"' in body and "[1, 2, 3]" in body
    end = get(site, f"/runs/{site['ok']}/end/0")
    assert 'sandbox="allow-scripts" data-key="default-0"' in end
    assert f'src="/cards/{site["ok"]}/end/0/default-0"' in end
    square = get(site, f"/runs/{site['ok']}/square/2")
    assert "squared 3" in square  # the task's stdout


def test_failed_task_page_shows_the_error_escaped(site):
    body = get(site, f"/runs/{site['failed']}/end/0")
    assert 'class="status status-failed"' in body
    assert "planned failure &lt;b&gt;in end&lt;/b&gt;" in body
    assert "<b>in end</b>" not in body


def test_card_is_served_raw_in_a_sandbox(site):
    status, headers, body = request(site, f"/cards/{site['ok']}/end/0/default-0")
    assert status == 200 and body == CARD_HTML
    assert headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] == "text/html; charset=utf-8"


def test_head_sends_headers_only(site):
    status, headers, body = request(site, "/", method="HEAD")
    assert status == 200 and body == ""
    assert int(headers["content-length"]) == len(get(site, "/").encode())


# --- hostile and malformed requests ---------------------------------------------------------

BAD = [
    "/cards/../../etc/passwd",
    "/cards/%2e%2e/%2e%2e/etc/passwd",
    "/cards/%2E%2E/%2E%2E/%2E%2E/secret.txt",
    "/runs/..%2f..%2fetc",
    "/runs/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/runs/..%5c..%5csecret.txt",
    "/runs/{ok}/..%2f..%2f..%2f..%2fsecret.txt",
    "/runs/{ok}/end/..",
    "/runs/{ok}/end/0/%2fetc%2fpasswd",
    "/cards/{ok}/end/0/..%2f..%2f..%2f..%2f..%2f..%2fsecret.txt",
    "/cards/{ok}/end/0/..default-0",
    "/cards/{ok}/end/0/default-0%00.html",
    "/cards/{ok}/end/0/%2e%2e",
    "/cards//etc/passwd",
    "/runs/%00",
    "/runs/%ff%fe",
    "/runs/.index",
    "/runs/{ok}/ir.json",
    "/runs/{ok}/not-a-step",
    "/runs/{ok}/end/abc",
    "/runs/{ok}/end/0/" + "9" * 3000,
    "/runs/" + "1" * 300,
    "/?page=-1",
    "/?page=%2e%2e",
    "/api/runs/..%2f..%2f/status",
    "http://example.com/etc/passwd",
    "*",
]
# http.server itself may collapse a leading "//" (Python >= 3.12) before the app sees it
EITHER = ["//etc/passwd", "//runs/..%2f..%2fsecret.txt", "/cards/..//..//etc/passwd"]
UNKNOWN = [
    "/etc/passwd",
    "/secret.txt",
    "/favicon.ico",
    "/runs/999999",
    "/runs/{ok}/nostep",
    "/runs/{ok}/end/7",
    "/runs/{ok}/square/0.1",
    "/cards/{ok}/end/0/nokey",
    "/cards/{ok}/end/0/default-0.json",
    "/cards/{failed}/end/0/default-0",
    "/cards/999999/end/0/default-0",
    "/api/runs/999999/status",
    "/api/nothing",
    "/runs/{ok}/end/0/extra/segments",
]


def _check_refused(site, path: str, allowed: tuple[int, ...]) -> tuple[int, str]:
    path = path.format(ok=site["ok"], failed=site["failed"])
    status, headers, body = request(site, path)
    assert status in allowed, (path, status, body[:300])
    for leak in ("Traceback", "root:x:0:0", SECRET, 'File "'):
        assert leak not in body, (path, leak)
    assert headers.get("x-content-type-options") == "nosniff"
    return status, body


@pytest.mark.parametrize("path", BAD)
def test_malformed_paths_get_400(site, path):
    status, body = _check_refused(site, path, (400,))
    if path.startswith("/api/"):
        assert json.loads(body)["error"] == "Bad request"


@pytest.mark.parametrize("path", EITHER)
def test_double_slashes_get_400_or_404(site, path):
    _check_refused(site, path, (400, 404))


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_things_get_404(site, path):
    _check_refused(site, path, (404,))


def test_runs_of_other_flows_in_the_same_datastore_are_not_served(site, tmp_path):
    other = tmp_path / "Other.py"
    other.write_text(
        "from flowc import FlowSpec, step\n\n\nclass OtherFlow(FlowSpec):\n    @step\n"
        "    def start(self):\n        self.secret = 'other'\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\nif __name__ == '__main__':\n"
        "    OtherFlow()\n"
    )
    from tests.conftest import run_flowc

    proc = run_flowc("run", str(other), "--datastore", str(site["work"] / "ds"), env=site["env"])
    assert proc.returncode == 0, proc.stderr
    other_run = os.listdir(site["work"] / "ds" / "runs" / "OtherFlow")
    run_id = next(r for r in other_run if not r.startswith("."))
    _check_refused(site, f"/runs/{run_id}", (404,))
    _check_refused(site, f"/runs/{run_id}/start/0", (404,))


def test_foreign_host_names_are_refused(site):
    """DNS rebinding: a page whose name now points at 127.0.0.1 gets nothing."""
    status, _, body = request(site, "/", host="attacker.example:8324")
    assert status == 400 and site["ok"] not in body
    assert request(site, "/", host=urlsplit(site["url"]).netloc)[0] == 200
    assert request(site, "/", host="localhost")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_other_methods_get_405(site, method):
    status, headers, body = request(site, "/", method=method)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert "Traceback" not in body


@pytest.mark.parametrize(
    "raw",
    [
        # (each is read to its end by the server before it answers: bytes left unread would
        # make the close a reset that can swallow the answer)
        b"GARBAGE\r\n",
        b"GET /runs/\x00/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /runs/\x1b[2J HTTP/1.1\r\n\r\n",
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /runs/\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/9.9\r\n",
        b"GET " + b"/runs/" + b"a" * 60000 + b" HTTP/1.1\r\n\r\n",
    ],
)
def test_raw_malformed_requests_never_leak(site, raw):
    host = urlsplit(site["url"])
    with socket.create_connection((host.hostname, host.port), timeout=30) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n", 1)[0].decode("latin-1")
    words = head.split()
    code = int(words[1] if head.startswith("HTTP/") else words[0])  # HTTP/0.9 has no status line
    assert 400 <= code < 600 and code != 500, head
    assert b"Traceback" not in data and b"root:x:0:0" not in data
    assert get(site, "/")  # the server is still up


def test_access_log_escapes_control_characters(site):
    url = urlsplit(site["url"])
    with socket.create_connection((url.hostname, url.port), timeout=30) as s:
        s.sendall(b"GET /runs/\x1b[2J-log-probe HTTP/1.1\r\n\r\n")
        while s.recv(65536):
            pass
    log = site["server"].stderr()
    assert "/runs/\\x1b[2J-log-probe" in log and "\x1b" not in log


def test_python_flow_file_card_server_verb(tmp_path):
    """``python flow.py card server`` serves that flow; Ctrl-C stops it with exit 0."""
    make_runs_dir = tmp_path
    env = {"FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    from tests.conftest import run_flow

    proc, run_id = run_flow(FLOW_FILE, cwd=make_runs_dir, env=env)
    assert proc.returncode == 0, proc.stderr
    server = Server(
        tmp_path, argv=[sys.executable, str(FLOW_FILE), "card", "server", "--port", "0"]
    )
    try:
        status, _, body = request({"url": server.url}, "/")
        assert status == 200 and f'data-run="{run_id}"' in body and FLOW in body
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    assert "Traceback" not in server.stderr()


def test_card_without_subcommand_prints_its_help():
    from tests.conftest import run_flowc

    proc = run_flowc("card")
    assert proc.returncode == 0, proc.stderr
    assert "Cards: view, get, list, serve." in proc.stdout and "server" in proc.stdout


def test_bad_flow_name_is_one_line_exit_2(tmp_path):
    (tmp_path / "ds").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "flowc", "card", "server", "../../etc", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "FLOWC_DATASTORE": str(tmp_path / "ds")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr == "flowc: error: '../../etc' is not a flow name; pass a flow class "
        "name or its .py file\n"
    )


def test_port_in_use_is_one_line_exit_2(site, tmp_path):
    shutil.copytree(site["work"] / "ds", tmp_path / "ds")  # a flow that ran: served, if it could
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "flowc", "card", "server", FLOW, "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "FLOWC_DATASTORE": str(tmp_path / "ds")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"flowc: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in proc.stderr


def test_live_run_status_follows_the_run(site):
    """While a run has no status.json its page polls; the steps turn as the tasks finish."""
    work = site["work"]
    marker = work / "release-hold"
    id_file = work / "live-run-id"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowc",
            "run",
            str(FLOW_FILE),
            "--datastore",
            str(work / "ds"),
            "--run-id-file",
            str(id_file),
            "--wait-for",
            str(marker),
        ],
        cwd=work,
        env={**os.environ, **site["env"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _wait(lambda: id_file.exists() and id_file.read_text(), "the run id")

        def steps() -> dict:
            doc = json.loads(get(site, f"/api/runs/{run_id}/status"))
            return {"live": doc["live"], **{s["name"]: s["state"] for s in doc["steps"]}}

        held = _wait(lambda: (s := steps())["hold"] == "running" and s, "hold to run")
        assert held["live"] is True
        assert held["join"] == "succeeded" and held["end"] == "pending"
        page = get(site, f"/runs/{run_id}")
        assert 'data-step="hold" data-status="running"' in page
        assert f'/api/runs/" + encodeURIComponent("{run_id}")' in page  # it polls
        assert f'data-run="{run_id}" data-status="running"' in get(site, "/")
        marker.write_text("go")
        done = _wait(lambda: not (s := steps())["live"] and s, "the run to end")
        assert done["end"] == "succeeded"
    finally:
        marker.write_text("go")
        proc.wait(60)


def _wait(probe, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
