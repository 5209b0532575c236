"""Compiled workflows pass a remote datastore's configuration by reference (a Kubernetes
secret for pods, the worker's environment for Airflow's BashOperator), never by value."""

from __future__ import annotations

import yaml

from tests.conftest import EXAMPLES, run_flowc

SECRET = "do-not-bake-me-0123456789"
ENV = {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}


def compile_(tmp_path, *args):
    out = tmp_path / "out"
    proc = run_flowc(
        "compile", str(EXAMPLES / "foreach_flow.py"), "--datastore", "s3://bucket/flowc",
        *args, "-o", str(out), cwd=tmp_path, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    texts = {p.name: p.read_text() for p in out.iterdir()}
    for text in texts.values():
        assert SECRET not in text and "AKIAEXAMPLE" not in text
    return texts


def test_argo_pods_take_the_datastore_secret(tmp_path):
    (text,) = compile_(tmp_path, "--target", "argo", "--image", "img:1").values()
    doc = yaml.safe_load(text)
    containers = [t["container"] for t in doc["spec"]["templates"] if "container" in t]
    assert containers
    for c in containers:
        assert c["envFrom"] == [{"secretRef": {"name": "flowc-datastore", "optional": True}}]


def test_airflow_kubernetes_pods_take_the_secret_and_bash_tasks_the_workers_env(tmp_path):
    (k8s,) = compile_(
        tmp_path, "--target", "airflow", "--operator", "kubernetes", "--image", "img:1"
    ).values()
    assert "V1SecretEnvSource(name='flowc-datastore', optional=True)" in k8s
    assert k8s.count("env_from=ENV_FROM") >= 3
    (bash,) = compile_(tmp_path, "--target", "airflow").values()
    assert "ENV_FROM" not in bash and "append_env=True" in bash


def test_kfp_pods_take_the_datastores_keys_from_the_secret(tmp_path):
    """kfp-kubernetes names a secret's keys one by one: every executor (the steps and the
    finaliser) maps the store's standard variables, each optional, checked against
    kfp-kubernetes's own protobuf schema."""
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as pb

    (text,) = compile_(tmp_path, "--target", "kfp", "--image", "img:1").values()
    docs = list(yaml.safe_load_all(text))
    pipeline, platform = docs[0], docs[1]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(pipeline["deploymentSpec"]["executors"])  # the finaliser too
    for name, config in executors.items():
        json_format.ParseDict(config, pb.KubernetesExecutorConfig())  # strict: unknown fields fail
        (secret,) = config["secretAsEnv"]
        assert secret["secretName"] == "flowc-datastore" and secret["optional"] is True, name
        keys = {k["secretKey"]: k["envVar"] for k in secret["keyToEnv"]}
        assert keys["AWS_ACCESS_KEY_ID"] == "AWS_ACCESS_KEY_ID"
        assert {"AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "FLOWC_STORAGE_OPTIONS"} <= set(keys)
    out = tmp_path / "shared.yaml"
    proc = run_flowc(
        "compile", str(EXAMPLES / "foreach_flow.py"), "--target", "kfp", "--image", "img:1",
        "--datastore", f"file://{tmp_path}/ds", "-o", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "secretAsEnv" not in out.read_text()  # a shared volume needs no credentials
