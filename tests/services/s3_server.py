"""A real S3 API server for tests: moto's server on 127.0.0.1, one per test session.

Registered in ``tests/conftest.py`` (``pytest_plugins``). Use the ``s3`` fixture::

    def test_x(s3):
        url = s3.datastore()               # s3://<fresh bucket>/flowc, the bucket created
        run_flowc("run", FLOW, "--datastore", url, env=s3.env)
        s3.client.list_objects_v2(Bucket=s3.bucket_of(url))

``s3.env`` holds the standard AWS variables that point any client (flowc, boto3, s3fs, an
Airflow worker) at the server; the ``s3_env`` fixture also sets them in this process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict)

    @property
    def client(self):  # noqa: ANN201 - a boto3 S3 client
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_KEYS)

    def bucket(self, name: str | None = None) -> str:
        """A new, empty bucket."""
        name = name or f"t-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def datastore(self, prefix: str = "flowc") -> str:
        """``s3://<new bucket>/<prefix>``: a datastore no other test writes to."""
        return f"s3://{self.bucket()}/{prefix}"

    @staticmethod
    def bucket_of(url: str) -> str:
        return url[len("s3://") :].split("/", 1)[0]

    def keys(self, url: str, under: str = "") -> list[str]:
        """Every object key below the datastore ``url`` (relative to it)."""
        bucket, _, prefix = url[len("s3://") :].partition("/")
        base = f"{prefix}/{under}" if prefix else under
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)
        start = len(f"{prefix}/") if prefix else 0
        return [o["Key"][start:] for page in pages for o in page.get("Contents", ())]


_KEYS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}


def start_server(log_dir: Path, env: dict[str, str] | None = None) -> S3Server:
    """Start ``moto_server`` in its own process group; wait until it answers. ``env``: moto's
    settings, e.g. ``INITIAL_NO_AUTH_ACTION_COUNT`` to check credentials and permissions."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    log = open(log_dir / f"moto_server-{port}.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_server(proc)
                raise RuntimeError(
                    f"moto_server did not start: {(log_dir / f'moto_server-{port}.log').read_text()}"
                ) from None
            time.sleep(0.05)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": _KEYS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": _KEYS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": _KEYS["region_name"],
    }
    return S3Server(endpoint, proc, env)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server and anything it started (its reloader child): the whole group."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> S3Server:
    server = start_server(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def s3_env(s3, monkeypatch) -> S3Server:
    """The server, with its AWS variables set in this process too (for in-process clients)."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return s3
