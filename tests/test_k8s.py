"""KFP and Argo output a cluster operator would accept: every parameter type becomes the
target's native type with a default of that type, names a target cannot spell follow one rule
(reported by compile), the harnesses hand the start task values of the right type, and every
``@kubernetes`` argument and pod option lands in the right field, checked by the official
models (argo-workflows client + hera ``extra="forbid"``; kfp protobuf + kfp-kubernetes)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.argo_runner import Runner
from tests.conftest import EXAMPLES, run_flowc
from tests.test_airflow_run import value
from tests.test_argo_compile import validate_all

import kfp  # noqa: E402,F401 - in the test extra: a missing SDK must fail, not skip

from flowc.backends.kfp_validate import validate_file  # noqa: E402
from tests.kfp_harness import Job  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"

TYPED = """
from metaflow import Config, FlowSpec, IncludeFile, JSONType, Parameter, step


class TypedFlow(FlowSpec):
    text = Parameter("text", default="hello world")
    max_iter = Parameter("max-iter", default=1000)
    rate = Parameter("rate", default=0.5)
    flag = Parameter("flag", default=True)
    windows = Parameter("windows", type=JSONType, default='{"windows": [3, 7], "name": "w"}')
    sizes = Parameter("sizes", type=JSONType, default=[1, 2])
    data = IncludeFile("data", default="data.txt")
    cfg = Config("cfg", default_value={"k": [1, 2], "on": True})
    hostile = Parameter("hostile", default="{{workflow.name}} $(HOME) $$")

    @step
    def start(self):
        self.seen = {
            "text": self.text, "max_iter": self.max_iter, "rate": self.rate,
            "flag": self.flag, "windows": self.windows, "sizes": self.sizes,
            "data": self.data, "cfg": dict(self.cfg), "hostile": self.hostile,
        }
        self.next(self.end)

    @step
    def end(self):
        pass
"""

DEFAULTS = {
    "text": "hello world",
    "max_iter": 1000,
    "rate": 0.5,
    "flag": True,
    "windows": {"windows": [3, 7], "name": "w"},
    "sizes": [1, 2],
    "data": "some data\n",
    "cfg": {"k": [1, 2], "on": True},
    "hostile": "{{workflow.name}} $(HOME) $$",
}


@pytest.fixture(scope="module")
def typed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("typed")
    (folder / "data.txt").write_text("some data\n")
    (folder / "typed_flow.py").write_text(TYPED)
    return folder


@pytest.fixture(scope="module")
def typed_kfp(typed) -> tuple[Path, str]:
    """The typed flow compiled for KFP once (the kfp SDK is slow to start): (file, stderr)."""
    out = typed / "kfp" / "pipeline.yaml"
    return out, compile_flow(typed / "typed_flow.py", "kfp", out).stderr


@pytest.fixture(scope="module")
def typed_argo(typed) -> tuple[Path, str]:
    out = typed / "argo" / "workflow.yaml"
    return out, compile_flow(typed / "typed_flow.py", "argo", out).stderr


def compile_flow(flow: Path, target: str, out: Path, *args: str, ok: bool = True):
    proc = run_flowc(
        "compile", str(flow), "--target", target, "-o", str(out), "--python", sys.executable,
        "--datastore", f"file://{out.parent / 'ds'}", "--image", "repo/flows:1", *args,
        cwd=flow.parent,
    )  # fmt: skip
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def seen(ds: Path, flow: str, run_id: str) -> dict:
    return value(ds, flow, run_id, "start", "0", "seen")


# --- types and names -------------------------------------------------------------------------


def test_kfp_inputs_are_native_types_with_defaults_of_that_type(typed_kfp):
    out, stderr = typed_kfp
    assert "parameter 'max-iter' is 'max_iter' on kfp" in stderr
    doc = validate_file(str(out))
    inputs = doc["root"]["inputDefinitions"]["parameters"]
    expected = {
        "text": ("STRING", "hello world"),
        "max_iter": ("NUMBER_INTEGER", 1000),
        "rate": ("NUMBER_DOUBLE", 0.5),
        "flag": ("BOOLEAN", True),
        "windows": ("STRUCT", {"windows": [3, 7], "name": "w"}),
        "sizes": ("LIST", [1, 2]),
        "data": ("STRING", "data.txt"),
        "cfg": ("STRUCT", {"k": [1, 2], "on": True}),
        "hostile": ("STRING", DEFAULTS["hostile"]),
    }
    got = {k: (v["parameterType"], v["defaultValue"]) for k, v in inputs.items()}
    assert got == expected
    assert type(inputs["max_iter"]["defaultValue"]) is int  # not 1000.0
    assert type(inputs["windows"]["defaultValue"]["windows"][0]) is int
    text = out.read_text()
    assert "#    max_iter: int [Default: 1000]\n" in text and "1000.0" not in text


def test_argo_arguments_show_values_as_typed_and_escape_only_what_argo_would_rewrite(typed_argo):
    out, stderr = typed_argo
    assert "is '" not in stderr  # Argo keeps every name as written
    (doc,) = validate_all(out.read_text())
    args = {a["name"]: a["value"] for a in doc["spec"]["arguments"]["parameters"]}
    assert args == {
        "text": "hello world",
        "max-iter": "1000",
        "rate": "0.5",
        "flag": "true",
        "windows": '{"windows": [3, 7], "name": "w"}',
        "sizes": "[1, 2]",
        "data": "data.txt",
        "cfg": '{"k": [1, 2], "on": true}',
        # braces and dollars only as escapes: neither Argo nor Kubernetes rewrites it
        "hostile": '"\\u007b\\u007bworkflow.name\\u007d\\u007d \\u0024(HOME) \\u0024\\u0024"',
    }


def test_the_name_rule_is_one_function_for_compile_and_triggers():
    from flowc.backends.params import parameter_name

    assert parameter_name("max-iter", "kfp") == "max_iter"
    assert parameter_name("max-iter", "argo") == "max-iter"
    assert parameter_name("max-iter", "airflow") == "max-iter"
    assert parameter_name("2x", "kfp") == "p_2x"
    assert parameter_name("class", "kfp") == "class_"
    assert parameter_name("dsl", "kfp") == "dsl_"


def test_the_kfp_harness_hands_the_start_task_typed_values(typed, typed_kfp):
    doc = validate_file(str(typed_kfp[0]))
    ds = typed_kfp[0].parent / "ds"
    job = Job(doc, f"kfp-{uuid.uuid4()}", str(typed)).run()
    assert not job.failed, getattr(job, "last_stderr", "")
    got = seen(ds, "TypedFlow", job.job_id)
    assert got == DEFAULTS and type(got["max_iter"]) is int
    given = {"max_iter": 7, "windows": {"a": [1, {"b": None}]}, "sizes": [], "flag": False}
    job = Job(doc, f"kfp-{uuid.uuid4()}", str(typed)).run(given)
    assert not job.failed, getattr(job, "last_stderr", "")
    got = seen(ds, "TypedFlow", job.job_id)
    assert got == {**DEFAULTS, **given}


def test_the_argo_harness_hands_the_start_task_typed_values(typed, typed_argo):
    doc = yaml.safe_load(typed_argo[0].read_text())
    ds = typed_argo[0].parent / "ds"
    cwd = os.getcwd()
    os.chdir(typed)  # the IncludeFile's relative path, as in the pod's working directory
    try:
        assert Runner(doc, "typed-1").run() == "Succeeded"
        # values given at submit time as a user types them in the UI or with -p
        given = {
            "max-iter": "7", "flag": "false", "windows": '{"a": [1, {"b": null}]}',
            "text": "1.50", "hostile": '"$(HOME) \\u007b\\u007bx\\u007d\\u007d"',
        }  # fmt: skip
        assert Runner(doc, "typed-2", given).run() == "Succeeded"
    finally:
        os.chdir(cwd)
    assert seen(ds, "TypedFlow", "typed-1") == DEFAULTS
    got = seen(ds, "TypedFlow", "typed-2")
    assert got == {
        **DEFAULTS,
        "max_iter": 7,
        "flag": False,
        "windows": {"a": [1, {"b": None}]},
        "text": "1.50",
        "hostile": "$(HOME) {{x}}",
    }
    assert type(got["max_iter"]) is int


# --- @kubernetes and pod options -------------------------------------------------------------

PODS = """
from flowc import FlowSpec, kubernetes, resources, step


class PodFlow(FlowSpec):
    @kubernetes(
        image="repo/train:2", image_pull_policy="Always", image_pull_secrets=["regcred"],
        cpu=2, memory=4096, disk=1024, gpu=1, gpu_vendor="amd",
        node_selector="pool=gpu,zone=a",
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        service_account="trainer", secrets={"db": {"password": "DB_PASSWORD"}},
        labels={"team": "ml"}, annotations={"note": "{not a template}"},
    )
    @resources(cpu=4, memory=1024)
    @step
    def start(self):
        self.next(self.end)

    @kubernetes(secrets=["whole"])
    @step
    def end(self):
        pass
"""

FLOW_OPTIONS = (
    "--service-account", "runner", "--image-pull-secret", "base-pull", "--node-selector",
    "disk=ssd", "--label", "env=prod", "--annotation", "owner=ml-team",
)  # fmt: skip


def pod_flow(tmp_path: Path, text: str = PODS) -> Path:
    flow = tmp_path / "pod_flow.py"
    flow.write_text(text)
    return flow


def _template(doc: dict, name: str) -> dict:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def test_argo_puts_every_kubernetes_argument_in_its_field(tmp_path):
    out = tmp_path / "argo.yaml"
    compile_flow(
        pod_flow(tmp_path), "argo", out, *FLOW_OPTIONS, "--ttl", "3600", "--pod-gc", "OnPodSuccess"
    )
    (doc,) = validate_all(out.read_text())
    spec = doc["spec"]
    assert spec["serviceAccountName"] == "runner"
    assert spec["imagePullSecrets"] == [{"name": "base-pull"}, {"name": "regcred"}]
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 3600}
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert doc["metadata"]["labels"]["env"] == "prod"
    start = _template(doc, "step-start")
    c = start["container"]
    assert c["image"] == "repo/train:2" and c["imagePullPolicy"] == "Always"
    assert c["resources"] == {  # the larger of @resources and @kubernetes, as Metaflow does
        "requests": {"cpu": "4", "memory": "4096Mi", "ephemeral-storage": "1024Mi"},
        "limits": {"memory": "4096Mi", "amd.com/gpu": "1"},
    }
    ref = {"secretKeyRef": {"name": "db", "key": "password"}}
    assert {"name": "DB_PASSWORD", "valueFrom": ref} in c["env"]
    assert start["nodeSelector"] == {"disk": "ssd", "pool": "gpu", "zone": "a"}
    assert start["tolerations"] == [{"effect": "NoSchedule", "key": "gpu", "operator": "Exists"}]
    assert start["serviceAccountName"] == "trainer"
    assert start["metadata"]["labels"]["team"] == "ml"
    assert start["metadata"]["labels"]["env"] == "prod"
    assert start["metadata"]["annotations"] == {"note": "{not a template}", "owner": "ml-team"}
    end = _template(doc, "step-end")
    assert end["container"]["image"] == "repo/flows:1"
    assert end["container"]["envFrom"] == [{"secretRef": {"name": "whole"}}]
    assert "serviceAccountName" not in end  # the workflow's


def test_kfp_puts_every_kubernetes_argument_in_its_field(tmp_path):
    out = tmp_path / "kfp.yaml"
    text = PODS.replace('service_account="trainer", ', "").replace(
        '@kubernetes(secrets=["whole"])', '@kubernetes(labels={"x": "y"})'
    )
    args = [a for a in FLOW_OPTIONS if a not in ("--service-account", "runner")]
    compile_flow(pod_flow(tmp_path, text), "kfp", out, *args, "--ttl", "600")
    doc = validate_file(str(out))  # protobuf, kfp-kubernetes' protos, the SDK, references
    platform = list(yaml.safe_load_all(out.read_text()))[1]["platforms"]["kubernetes"]
    assert platform["pipelineConfig"] == {"resourceTtlOnCompletion": 600}
    start = platform["deploymentSpec"]["executors"]["exec-step-start"]
    assert start["imagePullPolicy"] == "Always"
    assert [x["secretName"] for x in start["imagePullSecret"]] == ["base-pull", "regcred"]
    assert start["nodeSelector"] == {"labels": {"disk": "ssd", "pool": "gpu", "zone": "a"}}
    assert start["tolerations"] == [{"effect": "NoSchedule", "key": "gpu", "operator": "Exists"}]
    (secret,) = start["secretAsEnv"]
    assert secret["secretName"] == "db"
    assert secret["keyToEnv"] == [{"envVar": "DB_PASSWORD", "secretKey": "password"}]
    assert start["podMetadata"] == {
        "labels": {"env": "prod", "team": "ml"},
        "annotations": {"note": "{not a template}", "owner": "ml-team"},
    }
    end = platform["deploymentSpec"]["executors"]["exec-step-end"]
    assert end["podMetadata"]["labels"] == {"env": "prod", "x": "y"}
    executors = doc["deploymentSpec"]["executors"]
    c = executors["exec-step-start"]["container"]
    assert c["image"] == "repo/train:2"
    assert executors["exec-step-end"]["container"]["image"] == "repo/flows:1"
    assert c["resources"]["cpuRequest"] == 4 and c["resources"]["memoryLimit"] == 4.294967296
    accelerator = c["resources"]["accelerator"]
    assert accelerator["resourceType"] == "amd.com/gpu" and accelerator["resourceCount"] == "1"


def test_what_kfp_cannot_express_is_a_located_error(tmp_path):
    flow = pod_flow(tmp_path)
    proc = compile_flow(flow, "kfp", tmp_path / "k.yaml", "--pod-gc", "OnPodSuccess", ok=False)
    assert proc.returncode == 2
    errors = [x for x in proc.stderr.splitlines() if "error[kfp-kubernetes]" in x]
    assert len(errors) == 3, proc.stderr
    assert errors[0].startswith(f"{flow}:6:5:") and "service_account" in errors[0]
    assert errors[1].startswith(f"{flow}:19:5:") and "secrets" in errors[1]
    assert "--pod-gc" in errors[2]


@pytest.mark.parametrize("target", ["argo", "kfp", "airflow"])
def test_an_unknown_kubernetes_argument_is_a_located_error(tmp_path, target):
    flow = pod_flow(
        tmp_path,
        "from metaflow import FlowSpec, kubernetes, step\n\n\n"
        "class Bad(FlowSpec):\n"
        "    @kubernetes(cpus=2, use_tmpfs=True)\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    extra = ("--operator", "kubernetes") if target == "airflow" else ()
    proc = compile_flow(flow, target, tmp_path / "out", *extra, ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if f"error[{target}-kubernetes]" in x]
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(f"{flow}:5:5:") and "unknown argument cpus=" in lines[0]
    assert "use_tmpfs= is not supported" in lines[1]


def test_bad_kubernetes_values_are_located_errors(tmp_path):
    flow = pod_flow(
        tmp_path,
        "from flowc import FlowSpec, kubernetes, step\n\n\n"
        "class Bad(FlowSpec):\n"
        "    @kubernetes(cpu='two', secrets=[{'x': 1}], image_pull_policy='Sometimes')\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    proc = compile_flow(flow, "argo", tmp_path / "o.yaml", ok=False)
    lines = [x for x in proc.stderr.splitlines() if "error[argo-kubernetes]" in x]
    assert len(lines) == 3 and all(x.startswith(f"{flow}:5:5:") for x in lines), proc.stderr


def test_kubernetes_is_recorded_and_otherwise_a_no_op_locally(tmp_path):
    from flowc import kubernetes

    @kubernetes(cpu=2)
    def f():
        pass

    assert f.__flowc_decorators__ == [("kubernetes", {"cpu": 2})]
    flow = pod_flow(tmp_path, PODS.replace("from flowc", "from metaflow"))
    proc = run_flowc("run", str(flow), "--datastore", str(tmp_path / "ds"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# --- golden documents ---------------------------------------------------------------------------

GOLDEN_ARGS = (
    "--image", "registry.example/flows:1.2", "--datastore", "s3://bucket/flowc",
    "--flow-path", "/flow/lr_flow.py", "--python", "python3",
)  # fmt: skip


def lr_flow_on_kubernetes(tmp_path: Path) -> Path:
    """lr_flow with its train step in its own image, with resources, a secret and a node
    selector."""
    text = (EXAMPLES / "lr_flow.py").read_text()
    text = text.replace("from flowc import ", "from flowc import kubernetes, ", 1)
    decorator = (
        '    @kubernetes(image="registry.example/lr-train:1.2", cpu=2, memory=8192,\n'
        '                secrets={"lr-db": {"password": "DB_PASSWORD"}},\n'
        '                node_selector={"pool": "cpu-large"})\n'
    )
    text = text.replace("    @retry(times=2)\n", decorator + "    @retry(times=2)\n", 1)
    assert "@kubernetes" in text
    flow = tmp_path / "lr_flow.py"
    flow.write_text(text)
    return flow


@pytest.mark.parametrize(
    "target, golden",
    [("argo", "argo_lr_flow_kubernetes.yaml"), ("kfp", "kfp_lr_flow_kubernetes.yaml")],
)
def test_golden_lr_flow_on_kubernetes(tmp_path, target, golden):
    """The whole document, fixed and byte-identical on recompilation; FLOWC_UPDATE_GOLDEN=1
    refreshes it after an intended change."""
    flow = lr_flow_on_kubernetes(tmp_path)
    texts = []
    for i in range(2):
        out = tmp_path / f"{i}.yaml"
        proc = run_flowc("compile", str(flow), "--target", target, "-o", str(out), *GOLDEN_ARGS,
                         env={"FLOWC_USER": "deployer"})
        assert proc.returncode == 0, proc.stderr
        texts.append(out.read_text())
    assert texts[0] == texts[1]
    if target == "argo":
        validate_all(texts[0])
    else:
        validate_file(str(tmp_path / "0.yaml"))
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        (GOLDEN / golden).write_text(texts[0])
    assert texts[0] == (GOLDEN / golden).read_text(), "changed; FLOWC_UPDATE_GOLDEN=1 refreshes it"


def test_a_malformed_pod_option_stops_compile_with_the_fix(tmp_path):
    flow = pod_flow(tmp_path)
    proc = compile_flow(flow, "argo", tmp_path / "o.yaml", "--label", "team=m l", ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--label 'team=m l' is not KEY=VALUE" in proc.stderr.strip().splitlines()[-1]
