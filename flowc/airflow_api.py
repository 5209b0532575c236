"""A small client of Airflow 3's REST API (stdlib ``urllib`` only): a token from
``POST /auth/token``, then the DAG and DAG-run endpoints ``flowc trigger`` needs.

Credentials come from the caller (options or ``AIRFLOW_USERNAME`` / ``AIRFLOW_PASSWORD``) and
never appear in a message: errors name the URL and the HTTP status with Airflow's own detail.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"
TERMINAL = {"success", "failed"}
_PAGE = 100
_RETRY_DELAYS = (0.5, 1.0, 2.0)


class AirflowAPIError(Exception):
    """A request Airflow refused or could not answer; the message is one line."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AirflowAPI:
    def __init__(self, url: str, username: str | None, password: str | None, timeout: float = 30):
        self.url = url.rstrip("/")
        self._username = username
        self._password = password
        self._token: str | None = None
        self.timeout = timeout

    # --- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        """One call; a server error (Airflow on SQLite answers 500 when its database is busy)
        is tried again a few times: it rolled back, so nothing was done twice."""
        for delay in _RETRY_DELAYS:
            try:
                return self._once(method, path, body, auth)
            except AirflowAPIError as e:
                if e.status not in (500, 502, 503):
                    raise
                time.sleep(delay)
        return self._once(method, path, body, auth)

    def _once(self, method: str, path: str, body: Any, auth: bool) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AirflowAPIError(
                f"{method} {self.url}{path}: HTTP {e.code} {_detail(e)}", e.code
            ) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise AirflowAPIError(
                f"cannot reach Airflow at {self.url} ({reason}); is its api-server running? "
                "(pass --url or set AIRFLOW_URL)"
            ) from None
        return json.loads(raw) if raw else None

    def token(self) -> str:
        if self._token is None:
            if not self._username or not self._password:
                raise AirflowAPIError(
                    "no Airflow credentials: pass --username and --password, or set "
                    "AIRFLOW_USERNAME and AIRFLOW_PASSWORD"
                )
            doc = self._request(
                "POST",
                "/auth/token",
                {"username": self._username, "password": self._password},
                auth=False,
            )
            self._token = doc["access_token"]
        return self._token

    # --- endpoints ---------------------------------------------------------------------------

    def dag(self, dag_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{_q(dag_id)}")

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{_q(dag_id)}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        doc = self._request(
            "POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", {"logical_date": None, "conf": conf}
        )
        return doc["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            doc = self._request(
                "GET",
                f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances"
                f"?limit={_PAGE}&offset={len(out)}",
            )
            page = doc.get("task_instances") or []
            out += page
            if not page or len(out) >= int(doc.get("total_entries") or 0):
                return out

    def clear_failed(self, dag_id: str, run_id: str) -> None:
        """Clear the run's failed tasks and what follows them: Airflow runs them again."""
        self._request(
            "POST",
            f"/api/v2/dags/{_q(dag_id)}/clearTaskInstances",
            {
                "dag_run_id": run_id,
                "dry_run": False,
                "only_failed": True,
                "include_downstream": True,
            },
        )


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _detail(e: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(e.read() or b"{}")
    except ValueError:
        return e.reason or ""
    detail = doc.get("detail") if isinstance(doc, dict) else None
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(str(d.get("msg", d)) for d in detail)
    return " ".join(str(detail or e.reason or "").split())
