"""Shared by the card server's tests: real runs of a small flow, a card written beside a task,
and the real server started as ``flowc card server`` in its own process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FLOWS, run_flow

FLOW_FILE = FLOWS / "cardserver_flow.py"
FLOW = "CardServerFlow"
SECRET = "TOP-SECRET-NOT-IN-THE-DATASTORE"

# A card as the lead's card renderer will store it: self-contained HTML with a table, and an
# inline script (the sandbox allows scripts) that fills one cell.
CARD_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>metrics</title>
<style>td { padding: 2px 6px; }</style></head><body>
<h1>Metrics</h1>
<table id="metrics"><tr><th>metric</th><th>value</th></tr>
<tr><td>total</td><td id="total">14</td></tr>
<tr><td>script</td><td id="js-cell"></td></tr></table>
<script>document.getElementById("js-cell").textContent = "rendered by script";</script>
</body></html>"""


def make_runs(work: Path) -> dict:
    """One run that succeeded (with a card on end/0) and one that failed, in ``work/ds``."""
    env = {"FLOWC_CACHE_DIR": str(work / "cache"), "FLOWC_USER": "alice"}
    ok_proc, ok_run = run_flow(FLOW_FILE, cwd=work, env=env)
    assert ok_proc.returncode == 0, ok_proc.stdout + ok_proc.stderr
    bad_proc, bad_run = run_flow(FLOW_FILE, "--fail", "true", cwd=work, env=env)
    assert bad_proc.returncode == 1, bad_proc.stdout + bad_proc.stderr
    from flowc.cards.store import write_card
    from flowc.datastore import Datastore

    meta = {"key": "default-0", "type": "default", "id": None, "n": 0, "attempt": 0, "error": None}
    write_card(Datastore(str(work / "ds")), (FLOW, ok_run, "end", "0"), meta, CARD_HTML)
    (work / "secret.txt").write_text(SECRET)
    return {"ok": ok_run, "failed": bad_run, "env": env}


class Server:
    """``flowc card server`` on a free port; stopped with SIGINT like Ctrl-C."""

    def __init__(self, work: Path, *args: str, argv: list[str] | None = None):
        self.log = work / f"server-{time.monotonic_ns()}.log"
        cmd = argv or [sys.executable, "-m", "flowc", "card", "server", FLOW, *args]
        with open(self.log, "w") as log:
            self.proc = self._start(cmd, work, log)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if "http://" not in line:
            self.stop()
            raise AssertionError(f"the server did not start: {line!r} {self.stderr()}")
        self.url = line[line.index("http://") :].strip().rstrip("/")

    @staticmethod
    def _start(cmd: list[str], work: Path, log) -> subprocess.Popen:  # noqa: ANN001
        return subprocess.Popen(
            cmd,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "FLOWC_DATASTORE": str(work / "ds")},
            # a shell without job control starts background jobs with SIGINT ignored; Ctrl-C
            # must reach the server as it would from a terminal
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def stderr(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode
