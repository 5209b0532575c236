"""A datastore on S3 configured wrong, or failing under a run: one line naming the datastore
URL and what to set; exit 2 before a run starts, a failed task (exit 1) during one; never an
internal error or a traceback. Against moto's real server (a second one checks credentials)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import EXAMPLES, FLOWS, run_flowc
from tests.services.s3_server import start_server, stop_server

FLOW = str(EXAMPLES / "foreach_flow.py")


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    return lines[0]


def no_credentials(tmp_path) -> dict:
    return {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing bucket", "the bucket 'no-such-bucket' does not exist; create it"),
        ("unreachable", "cannot reach http://127.0.0.1:9; set AWS_ENDPOINT_URL"),
        ("no credentials", "no AWS credentials found; set AWS_ACCESS_KEY_ID"),
        ("unknown profile", "could not be found; set AWS_PROFILE to a profile"),
    ],
)
def test_bad_configuration_stops_the_run_before_it_starts(s3, tmp_path, case, expected):
    url = s3.datastore()
    env = dict(s3.env)
    if case == "missing bucket":
        url = "s3://no-such-bucket/flowc"
    elif case == "unreachable":
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    elif case == "no credentials":
        env.update(no_credentials(tmp_path))
    elif case == "unknown profile":
        env["AWS_PROFILE"] = "nope"
        env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    proc = run_flowc("run", FLOW, "--datastore", url, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert one_line(proc).startswith(f"flowc: error: datastore {url}: ")
    assert expected in proc.stderr
    # the reading verbs say the same, exit 2
    proc = run_flowc("runs", "ForeachFlow", "--datastore", url, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and expected in one_line(proc), proc.stderr


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    """A server that checks credentials: a bucket, and a user with no permission on it."""
    server = start_server(
        tmp_path_factory.mktemp("moto-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    )
    try:
        import boto3

        kw = {"endpoint_url": server.endpoint, "region_name": "us-east-1"}
        keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
        iam = boto3.client("iam", **kw, **keys)
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        boto3.client("s3", **kw, **keys).create_bucket(Bucket="locked")
        server.env.update(
            AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"]
        )
        yield server
    finally:
        stop_server(server.process)


@pytest.mark.parametrize("keys", ["user without permission", "unknown key"])
def test_access_denied_is_one_line(locked, tmp_path, keys):
    env = dict(locked.env)
    if keys == "unknown key":
        env.update(AWS_ACCESS_KEY_ID="AKIAUNKNOWN", AWS_SECRET_ACCESS_KEY="wrong")
    url = "s3://locked/flowc"
    proc = run_flowc("run", FLOW, "--datastore", url, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc)
    assert line.startswith(f"flowc: error: datastore {url}: ")
    assert "access denied" in line or "credentials were rejected" in line


def test_a_bucket_that_disappears_mid_run_fails_the_task(s3, tmp_path):
    url = s3.datastore()
    bucket = s3.bucket_of(url)
    marker = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowc", "run", str(FLOWS / "s3_flow.py"), "--datastore", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **s3.env, "WAIT_FOR": str(marker)},
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while not any(k.endswith("/caught/0/task.json") for k in s3.keys(url, "runs/")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    client = s3.client
    for key in s3.keys(url):
        client.delete_object(Bucket=bucket, Key=f"flowc/{key}")
    client.delete_bucket(Bucket=bucket)
    marker.touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "internal error" not in out + err
    big = [line for line in out.splitlines() if "/big/0]" in line]
    assert not any("Traceback" in line for line in big), big
    assert f"big/0] StorageError: datastore {url}: the bucket '{bucket}' does not exist" in out
    assert "failed: datastore" in out.splitlines()[-1]


def _without_botocore(tmp_path) -> dict:
    """An environment where the S3 client is not installed."""
    shim = tmp_path / "shim" / "botocore"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named botocore')\n")
    return {"PYTHONPATH": str(tmp_path / "shim")}


def test_missing_s3_support_names_the_extra(tmp_path):
    env = _without_botocore(tmp_path)
    proc = run_flowc("run", FLOW, "--datastore", "s3://bucket/flowc", cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'flowc[s3]'" in one_line(proc)
    proc = run_flowc(
        "compile",
        FLOW,
        "--target",
        "airflow",
        "--package",
        "--datastore",
        "s3://bucket/flowc",
        "-o",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'flowc[s3]'" in one_line(proc)


def test_storage_options_configure_the_datastore_alone(s3, tmp_path):
    url = s3.datastore()
    env = {k: v for k, v in s3.env.items() if k != "AWS_ENDPOINT_URL"}
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # other AWS clients' endpoint: not ours
    env["FLOWC_STORAGE_OPTIONS"] = f'{{"endpoint_url": "{s3.endpoint}"}}'
    proc = run_flowc("run", FLOW, "--datastore", url, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(k.endswith("/end/0/task.json") for k in s3.keys(url))
    for options, expected in (
        ('{"endpoint": "x"}', "FLOWC_STORAGE_OPTIONS has unknown option(s) endpoint"),
        ('{"endpoint_url', "FLOWC_STORAGE_OPTIONS is not JSON"),
    ):
        env["FLOWC_STORAGE_OPTIONS"] = options
        proc = run_flowc("runs", "ForeachFlow", "--datastore", url, cwd=tmp_path, env=env)
        assert proc.returncode == 2, proc.stderr
        assert one_line(proc).startswith(f"flowc: error: datastore {url}: {expected}")
