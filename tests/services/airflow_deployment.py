"""A real Airflow 3.3.2 deployment for the whole test session: ``scheduler``, ``dag-processor``
and ``api-server`` (LocalExecutor, SQLite) on 127.0.0.1 with free ports, started once and
stopped at session end by PID (each in its own process group, so their children go too).

DAGs are compiled the way the README tells users: ``flowc compile FLOW --target airflow -o
dags/`` run in the deployment's work folder, whose ``dags/`` is Airflow's DAGs folder. Runs are
driven over the REST API with :class:`flowc.airflow_api.AirflowAPI`, the client ``flowc
trigger`` uses.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.airflow_api import AirflowAPI, AirflowAPIError

BIN = Path(sys.executable).parent
USER = "admin"
SERVICES = ("dag-processor", "scheduler", "api-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    def __init__(self, root: Path):
        self.home = root / "airflow-home"
        self.work = root / "work"  # where DAGs are compiled; the default datastore is here
        self.dags = self.work / "dags"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.procs: dict[str, subprocess.Popen] = {}
        for d in (self.home, self.dags):
            d.mkdir(parents=True, exist_ok=True)
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({USER: self.password}))
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
        }
        self.api = AirflowAPI(self.url, USER, self.password)

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        for name in SERVICES:
            args = [str(BIN / "airflow"), name]
            if name == "api-server":
                args += ["--port", str(self.port), "--host", "127.0.0.1"]
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                args,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                self.api.token()
                return
            except AirflowAPIError:
                time.sleep(0.5)
        raise RuntimeError(f"Airflow's api-server did not answer within {timeout} s{self.logs()}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        out = []
        for name in SERVICES:
            path = self.home / f"{name}.log"
            if path.exists():
                out.append(f"\n--- {name} ---\n" + path.read_text(errors="replace")[-tail:])
        return "".join(out)

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group too: task processes the services started
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    # --- what tests do ---------------------------------------------------------------------

    def compile(self, flow_file: str | Path, *args: str, env: dict | None = None) -> str:
        """``flowc compile FLOW --target airflow -o dags/ [ARGS]`` in the work folder."""
        proc = subprocess.run(
            [str(BIN / "flowc"), "compile", str(flow_file), "--target", "airflow", "-o", "dags/"]
            + list(args),
            cwd=self.work,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 240) -> None:
        """Until the dag-processor has parsed every DAG; each is then unpaused."""
        pending = set(dag_ids)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            self.check_alive()
            for dag_id in sorted(pending):
                try:
                    self.api.dag(dag_id)
                except AirflowAPIError as e:
                    if e.status != 404:
                        raise
                    continue
                self.api.unpause(dag_id)
                pending.discard(dag_id)
            if pending:
                time.sleep(1)
        assert not pending, f"DAGs never parsed: {sorted(pending)}{self.logs()}"

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 420) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api.dag_run(dag_id, run_id)["state"]
            if state in ("success", "failed"):
                return state
            self.check_alive()
            time.sleep(1)
        tis = [
            (t["task_id"], t.get("map_index"), t["state"]) for t in self.task_states(dag_id, run_id)
        ]
        raise AssertionError(f"{dag_id}/{run_id} still running after {timeout} s: {tis}")

    def task_states(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api.task_instances(dag_id, run_id)


@pytest.fixture(scope="session")
def airflow_deployment(tmp_path_factory):
    """The session's one Airflow deployment (started on first use, stopped at session end)."""
    deployment = Deployment(tmp_path_factory.mktemp("airflow-deployment"))
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
