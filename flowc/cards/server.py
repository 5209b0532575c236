"""``flowc card server``: a small read-only web app over one flow's runs in a datastore.

Routes (GET and HEAD only; anything else is 405)::

    /                                   recent runs, newest first (?page=N for older ones)
    /runs/<run>                         the run's graph, coloured by step status (live: polled)
    /runs/<run>/<step>                  the step's tasks
    /runs/<run>/<step>/<task>           a task: attempts, artifacts, logs, its cards in iframes
    /cards/<run>/<step>/<task>/<key>    one card's HTML, sandboxed by its CSP header
    /api/runs                           every run as JSON
    /api/runs/<run>/status              the run's and each step's status, and the graph SVG
    /api/runs/<run>/<step>/<task>       a task's state and its cards' update times

:func:`route` is the whole app as a pure function of the request target, so tests can call it
without a socket. Safety comes from its shape: the target is split on ``/`` before any
percent-decoding, each decoded segment must match what it names (a run id, a step name, a task
id, a card key) or the answer is 400, and keys into the datastore are built from those checked
ids with :mod:`flowc.datastore.layout`. No URL text is ever joined onto a path, and a bug is a
bare 500 page (the traceback goes to stderr only).

The server writes nothing of its own. Listing runs goes through the run index, which may
refresh its snapshot (a cache, best effort, as ``flowc runs`` does); a read-only datastore
serves the same pages.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import jinja2

from flowc.cards import runview
from flowc.cards.graph_svg import graph_svg
from flowc.cards.store import KEY_RE, read_card
from flowc.client.terminal import format_duration
from flowc.datastore import Datastore, human_size, layout

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8324
PAGE_SIZE = 100
MAX_TARGET = 2048  # bytes of request target; longer is a malformed request
STEP_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
PAGE_RE = re.compile(r"^[0-9]{1,6}$")

# The app's own pages: inline style and script only, frames from this server, fetches to it.
APP_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
# A card: a sandbox (an opaque origin: its scripts cannot reach the app) that fetches nothing.
# Inside it, scripts may eval: Vega compiles a chart's expressions with Function().
CARD_CSP = (
    "sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline' 'unsafe-eval'; img-src data: blob:; font-src data:; "
    "media-src data: blob:"
)
HTML, JSON = "text/html; charset=utf-8", "application/json"


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _bad(message: str) -> HTTPError:
    return HTTPError(400, message)


def _missing(message: str) -> HTTPError:
    return HTTPError(404, message)


# --- parsing the request target ---------------------------------------------------------------


def split_target(target: str) -> tuple[list[str], dict[str, str]]:
    """Path segments (each percent-decoded on its own, after splitting) and query pairs."""
    if len(target) > MAX_TARGET:
        raise _bad("the URL is too long")
    if not target.startswith("/") or target.startswith("//"):
        raise _bad("the URL must be a path starting with a single '/'")
    path, _, query = target.partition("?")
    path = path.partition("#")[0]
    raw = path[1:].split("/")
    if raw and raw[-1] == "" and len(raw) > 1:
        raw.pop()  # one trailing slash is allowed: /runs/1/
    segments = [_decode(s) for s in raw]
    if segments == [""]:
        segments = []
    if any(s == "" for s in segments):
        raise _bad("empty path segment")
    params: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        k, _, v = pair.partition("=")
        params[_decode(k)] = _decode(v)
    return segments, params


def _decode(text: str) -> str:
    try:
        value = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise _bad("the URL is not valid UTF-8") from None
    if value in (".", "..") or any(c in value for c in "/\\") or not value.isprintable():
        raise _bad("a path segment holds '/', '\\', '.', '..' or a control character")
    return value


def check_run(run_id: str) -> str:
    try:
        layout.check_run_id(run_id)
    except ValueError:
        raise _bad("malformed run id") from None
    if ".." in run_id:
        raise _bad("malformed run id")
    return run_id


def check_step(step: str) -> str:
    if not STEP_RE.match(step):
        raise _bad("malformed step name")
    return step


def check_task(task_id: str) -> str:
    if not runview.TASK_ID_RE.match(task_id):
        raise _bad("malformed task id")
    return task_id


def check_key(key: str) -> str:
    if not KEY_RE.match(key) or ".." in key:
        raise _bad("malformed card key")
    return key


# --- the app ----------------------------------------------------------------------------------


def _template_dir() -> str:
    import flowc.templates

    return os.path.dirname(os.path.abspath(flowc.templates.__file__))


class CardApp:
    """The server's state: a datastore, a flow name and the templates (autoescape on)."""

    def __init__(
        self,
        ds: Datastore,
        flow: str,
        page_size: int = PAGE_SIZE,
        allowed_hosts: frozenset[str] | None = None,
    ):
        self.ds, self.flow, self.page_size = ds, flow, page_size
        self.allowed_hosts = allowed_hosts
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_template_dir()),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=_when, duration=format_duration, size=human_size, q=_q)

    def render(self, name: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(f"card_server_{name}.html.j2").render(
            flow=self.flow, datastore=self.ds.url, **context
        )
        return Response(status, HTML, html.encode("utf-8"), {"Content-Security-Policy": APP_CSP})

    # --- pages --------------------------------------------------------------------------------

    def runs_page(self, params: dict[str, str]) -> Response:
        page = params.get("page", "0")
        if not PAGE_RE.match(page):
            raise _bad("page must be a number")
        rows = runview.run_rows(self.ds, self.flow)
        start = int(page) * self.page_size
        return self.render(
            "runs",
            rows=rows[start : start + self.page_size],
            total=len(rows),
            page=int(page),
            more=len(rows) > start + self.page_size,
        )

    def _run(self, run_id: str) -> tuple[dict, dict | None, Any]:
        check_run(run_id)
        if not runview.run_exists(self.ds, self.flow, run_id):
            raise _missing(f"{self.flow} has no run {run_id}")
        from flowc.runtime.runs import load_ir

        ir = load_ir(self.ds, self.flow, run_id)
        if ir is None:
            raise _missing(f"run {run_id} has no stored graph")
        return (
            runview.run_record(self.ds, self.flow, run_id),
            runview.run_status(self.ds, self.flow, run_id),
            ir,
        )

    def run_status(self, run_id: str) -> tuple[dict, dict]:
        """What the run page shows and polls: the status of the run and of each step, the
        graph coloured by them; and the run's record."""
        record, status, ir = self._run(run_id)
        from flowc.runtime.runs import run_died

        died = status is None and run_died(self.ds, self.flow, run_id)
        if died:  # its executor is gone: nothing will change, so the page stops polling
            status = {"status": "died", "error": "the executor died; flowc resume finishes it"}
        live = status is None
        steps = runview.step_states(self.ds, self.flow, run_id, ir, live)
        link = f"/runs/{quote(run_id, safe='')}/{{step}}"
        return {
            "run_id": run_id,
            "status": status.get("status", "failed") if status else "running",
            "live": live,
            "finished_at": status.get("finished_at") if status else None,
            "error": status.get("error") if status else None,
            "steps": [
                {
                    "name": s.name,
                    "state": s.state,
                    "tasks": s.total,
                    "done": sum(t.state in runview.DONE for t in s.tasks),
                }
                for s in steps
            ],
            "svg": graph_svg(ir, {s.name: s.state for s in steps}, link=link),
        }, record

    def run_page(self, run_id: str) -> Response:
        doc, record = self.run_status(run_id)
        return self.render("run", run=doc, record=record)

    def _check_step(self, run_id: str, step: str) -> None:
        check_step(step)
        _, _, ir = self._run(run_id)
        if step not in ir.step_map():
            raise _missing(f"the run has no step {step}")

    def step_page(self, run_id: str, step: str) -> Response:
        self._check_step(run_id, step)
        ids = self.ds.storage.listdir(layout.step_dir(self.flow, run_id, step))
        ids = sorted((t for t in ids if runview.TASK_ID_RE.match(t)), key=runview.task_sort_key)
        tasks = [runview.task_state(self.ds, self.flow, run_id, step, t) for t in ids]
        return self.render("step", run_id=run_id, step=step, tasks=tasks)

    def _task(self, run_id: str, step: str, task_id: str) -> runview.TaskState:
        check_task(task_id)
        self._check_step(run_id, step)
        if task_id not in self.ds.storage.listdir(layout.step_dir(self.flow, run_id, step)):
            raise _missing(f"step {step} has no task {task_id}")
        return runview.task_state(self.ds, self.flow, run_id, step, task_id)

    def task_api(self, run_id: str, step: str, task_id: str) -> dict:
        state = self._task(run_id, step, task_id)
        cards = runview.task_cards(self.ds, self.flow, run_id, step, task_id)
        return {
            "state": state.state,
            "live": runview.run_status(self.ds, self.flow, run_id) is None,
            "cards": [{"key": c["key"], "updated_at": c.get("updated_at")} for c in cards],
        }

    def task_page(self, run_id: str, step: str, task_id: str) -> Response:
        state = self._task(run_id, step, task_id)
        where = (self.flow, run_id, step, task_id)
        attempts = runview.attempts(self.ds, *where)
        last = attempts[-1] if attempts else {}
        origin = last.get("origin_pathspec")
        origin_where = self._origin(origin)
        logs = {"stdout": "", "stderr": ""}
        if attempts and (origin_where or not origin):
            # a cloned task's output is where it ran
            logs = runview.log_tail(
                self.ds, *(origin_where or where), int(last.get("attempt", 0) or 0)
            )
            for a in attempts[:-1]:  # each earlier attempt's own logs, under its row
                a["logs"] = runview.log_tail(
                    self.ds, *(origin_where or where), int(a.get("attempt", 0) or 0)
                )
        return self.render(
            "task",
            run_id=run_id,
            step=step,
            task_id=task_id,
            state=state.state,
            live=runview.run_status(self.ds, self.flow, run_id) is None,
            attempts=attempts,
            last=last,
            origin=origin,
            origin_url="/runs/" + "/".join(map(_q, origin_where[1:])) if origin_where else None,
            artifacts=runview.task_artifacts(self.ds, *where),
            cards=runview.task_cards(self.ds, *where),
            logs=logs,
        )

    def _origin(self, pathspec: Any) -> tuple[str, str, str, str] | None:
        """The task a cloned task came from, when it is a valid task of this flow."""
        parts = pathspec.split("/") if isinstance(pathspec, str) else []
        if len(parts) != 4 or parts[0] != self.flow:
            return None
        try:
            check_run(parts[1]), check_step(parts[2]), check_task(parts[3])
        except HTTPError:
            return None
        return parts[0], parts[1], parts[2], parts[3]

    def card(self, run_id: str, step: str, task_id: str, key: str) -> Response:
        check_key(key)
        self._task(run_id, step, task_id)
        html = read_card(self.ds, self.flow, run_id, step, task_id, key)
        if html is None:
            raise _missing(f"task {step}/{task_id} has no card {key}")
        headers = {"Content-Security-Policy": CARD_CSP, "Cache-Control": "no-store"}
        return Response(200, HTML, html.encode("utf-8"), headers)


def _json_response(doc: Any, status: int = 200) -> Response:
    body = json.dumps(doc, default=str).encode("utf-8")
    return Response(status, JSON, body, {"Cache-Control": "no-store"})


def route(app: CardApp, target: str, host: str | None = None) -> Response:
    """The whole app: a request target (and its Host header) in, a response out. 400/404 for
    bad or unknown ids."""
    api = target.startswith("/api/")
    try:
        check_host(app, host)
        segs, params = split_target(target)
        return _dispatch(app, segs, params)
    except HTTPError as e:
        return error_response(app, e.status, e.message, api)


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_host(app: CardApp, host: str | None) -> None:
    """A server on localhost answers only to localhost names: a web page whose own name was
    re-pointed at 127.0.0.1 (DNS rebinding) must not read the runs through the browser."""
    if app.allowed_hosts is None or host is None:
        return  # bound to a public address, or an HTTP/1.0 client that sent no Host
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if name not in app.allowed_hosts:
        raise _bad("this server answers only to localhost names (Host header)")


def _dispatch(app: CardApp, segs: list[str], params: dict[str, str]) -> Response:
    match segs:
        case []:
            return app.runs_page(params)
        case ["runs", run_id]:
            return app.run_page(run_id)
        case ["runs", run_id, step]:
            return app.step_page(run_id, step)
        case ["runs", run_id, step, task_id]:
            return app.task_page(run_id, step, task_id)
        case ["cards", run_id, step, task_id, key]:
            return app.card(run_id, step, task_id, key)
        case ["api", "runs"]:
            return _json_response(runview.run_rows(app.ds, app.flow))
        case ["api", "runs", run_id, "status"]:
            return _json_response(app.run_status(run_id)[0])
        case ["api", "runs", run_id, step, task_id]:
            return _json_response(app.task_api(run_id, step, task_id))
    raise _missing("no such page")


REASONS = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 500: "Server error"}


def error_response(app: CardApp | None, status: int, message: str, api: bool) -> Response:
    """A small error page (or JSON for /api/), never a traceback."""
    reason = REASONS.get(status, "Error")
    if api or app is None:
        return _json_response({"error": reason, "detail": message}, status)
    return app.render("error", status=status, code=status, reason=reason, message=message)


# --- template filters -------------------------------------------------------------------------


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _q(text: Any) -> str:
    """One URL path segment."""
    return quote(str(text), safe="")


# --- HTTP -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    app: CardApp  # set on the subclass make_server builds
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def version_string(self) -> str:
        return "flowc-card-server"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._respond(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(head=True)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every other method: 405, not http.server's 501
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        resp = error_response(None, 405, "only GET and HEAD", True)
        resp.headers["Allow"] = "GET, HEAD"
        self._send(resp, head=False)

    def _respond(self, head: bool) -> None:
        try:
            resp = route(self.app, self.path, self.headers.get("Host"))
        except Exception:  # noqa: BLE001 - a bug must not show a traceback to the browser
            traceback.print_exc(file=sys.stderr)
            try:
                resp = error_response(self.app, 500, "the server failed; see its log", False)
            except Exception:  # noqa: BLE001
                resp = Response(500, "text/plain", b"500 Server error\n")
        self._send(resp, head)

    def _send(self, resp: Response, head: bool) -> None:
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            for k, v in resp.headers.items():
                if k != "Cache-Control":
                    self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        # a request line may hold anything: control characters must not reach the terminal
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in format % args)
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {text}\n")


def make_server(
    ds: Datastore, flow: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    """A bound server (port 0 picks a free one: read ``server.server_address``)."""
    local = host in LOOPBACK or host.startswith("127.")
    allowed = LOOPBACK | {host} if local else None
    handler = type("CardHandler", (_Handler,), {"app": CardApp(ds, flow, allowed_hosts=allowed)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(ds: Datastore, flow: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted."""
    server = make_server(ds, flow, host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
