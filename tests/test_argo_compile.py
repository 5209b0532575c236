"""``flowc compile --target argo``: every document passes both validators (the official
``argo-workflows`` client models with an unknown-key walk, hera's models with
``extra="forbid"``) and flowc's own semantic check; each check catches a broken document;
compiling is deterministic, hostile values stay data, and a wide foreach does not grow the
document."""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path

import pytest
import yaml

from flowc.backends.argo_check import semantic_problems
from tests.conftest import EXAMPLES, run_flowc
from tests.test_airflow_run import NESTED_IN_BRANCH

FLOWS = Path(__file__).parent / "flows"


# --- the validators ---------------------------------------------------------------------------


def _argo_model(kind: str):
    from argo_workflows.model import (
        io_argoproj_workflow_v1alpha1_cron_workflow as cron,
        io_argoproj_workflow_v1alpha1_workflow as wf,
        io_argoproj_workflow_v1alpha1_workflow_template as wft,
    )

    return {
        "Workflow": wf.IoArgoprojWorkflowV1alpha1Workflow,
        "WorkflowTemplate": wft.IoArgoprojWorkflowV1alpha1WorkflowTemplate,
        "CronWorkflow": cron.IoArgoprojWorkflowV1alpha1CronWorkflow,
    }[kind]


class _Response:
    def __init__(self, doc: dict):
        self.data = json.dumps(doc)


def _unknown_keys(obj, where: str = "") -> list[str]:
    """Keys the client's models stored without declaring them."""
    out = []
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _unknown_keys(v, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += _unknown_keys(v, f"{where}.{k}")
    elif hasattr(obj, "_data_store") and hasattr(type(obj), "openapi_types"):
        declared = type(obj).openapi_types
        for k, v in obj._data_store.items():
            if k not in declared:
                out.append(f"{where}.{k}")
            out += _unknown_keys(v, f"{where}.{k}")
    return out


def argo_client_validate(doc: dict) -> None:
    from argo_workflows.api_client import ApiClient
    from argo_workflows.configuration import Configuration

    obj = ApiClient(Configuration()).deserialize(_Response(doc), (_argo_model(doc["kind"]),), True)
    unknown = _unknown_keys(obj)
    assert not unknown, f"keys the Argo models do not declare: {unknown}"


def hera_validate(doc: dict) -> None:
    from hera.workflows import models

    getattr(models, doc["kind"]).model_validate(doc, extra="forbid")


def validate_all(text: str) -> list[dict]:
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        argo_client_validate(doc)
        hera_validate(doc)
        assert semantic_problems(doc) == []
    return docs


def compile_text(flow: Path, tmp_path: Path, *args: str) -> str:
    out = tmp_path / "out.yaml"
    proc = run_flowc(
        "compile", str(flow), "--target", "argo", "--image", "repo/flowc:1", "-o", str(out),
        "--datastore", "s3://bucket/flowc", *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


DECORATED = """
from flowc import FlowSpec, environment, resources, retry, step, timeout


class DecoratedFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=1)
    @timeout(minutes=5)
    @resources(cpu=2, memory=4096, gpu=1)
    @environment(vars={"MODE": "fast", "N": "3"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""

SCHEDULED = """
from flowc import FlowSpec, schedule, step


@schedule(cron="0 3 * * *")
class NightlyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def wide_foreach(n: int) -> str:
    return f"""
from flowc import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({n}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.y = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


# --- every flow passes all three checks ------------------------------------------------------


@pytest.mark.parametrize(
    "flow",
    ["lr_flow", "branch_flow", "foreach_flow", "nested_foreach_flow", "switch_flow"],
)
@pytest.mark.parametrize("kind", ["workflow-template", "workflow"])
def test_examples_pass_both_validators_and_the_semantic_check(flow, kind, tmp_path):
    docs = validate_all(compile_text(EXAMPLES / f"{flow}.py", tmp_path, "--kind", kind))
    assert [d["kind"] for d in docs] == ["WorkflowTemplate" if kind != "workflow" else "Workflow"]
    assert docs[0]["metadata"]["labels"]["flowc.dev/flow"]
    assert docs[0]["metadata"]["annotations"]["flowc.dev/version"]


def templates(doc: dict) -> dict:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def tasks(doc: dict, template: str) -> dict:
    return {t["name"]: t for t in templates(doc)[template]["dag"]["tasks"]}


def test_foreach_fans_out_with_param_over_the_split_output(tmp_path):
    (doc,) = validate_all(compile_text(EXAMPLES / "foreach_flow.py", tmp_path))
    body = tasks(doc, "main")["start-body"]
    assert body["withParam"] == "{{tasks.start.outputs.parameters.indices}}"
    assert body["arguments"]["parameters"] == [{"name": "index", "value": "{{item}}"}]
    assert tasks(doc, "main")["join"]["depends"] == "start-body.Succeeded"
    labels = templates(doc)["step-square"]["metadata"]["labels"]
    assert labels == {"flowc.dev/flow": "foreachflow", "flowc.dev/step": "square"}
    out = templates(doc)["step-start"]["outputs"]["parameters"]
    assert out == [{"name": "indices", "valueFrom": {"path": "/tmp/flowc-outputs/indices.json"}}]
    # parameters: workflow arguments (JSON values), read by the start task only
    args = {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}
    assert json.loads(args["count"]) == 5
    env = templates(doc)["step-start"]["container"]["env"]
    assert {"name": "FLOWC_PARAM_0", "value": "{{workflow.parameters.count}}"} in env


def test_nested_foreach_inside_a_static_branch_nests_dag_templates(tmp_path):
    flow = write(tmp_path, "nib.py", NESTED_IN_BRANCH)
    (doc,) = validate_all(compile_text(flow, tmp_path))
    assert set(tasks(doc, "foreach-grid")) == {"row", "row-body", "row-join"}
    assert set(tasks(doc, "foreach-row")) == {"cell"}
    assert tasks(doc, "main")["join"]["depends"] == "grid-join.Succeeded && single.Succeeded"


def test_switch_uses_when_and_the_merge_waits_for_the_branch_taken(tmp_path):
    (doc,) = validate_all(compile_text(EXAMPLES / "switch_flow.py", tmp_path))
    main = tasks(doc, "main")
    assert main["high"]["when"] == "'{{tasks.start.outputs.parameters.branch}}' == 'high'"
    assert main["low"]["when"] == "'{{tasks.start.outputs.parameters.branch}}' == 'low'"
    assert main["report"]["depends"] == "high.Succeeded || low.Succeeded"


def test_retry_timeout_resources_environment(tmp_path):
    (doc,) = validate_all(compile_text(write(tmp_path, "d.py", DECORATED), tmp_path))
    t = templates(doc)["step-start"]
    assert t["retryStrategy"] == {
        "limit": "2",
        "retryPolicy": "Always",
        "backoff": {"duration": "60s"},
    }
    assert t["activeDeadlineSeconds"] == "360"
    assert t["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "4096Mi"},
        "limits": {"memory": "4096Mi", "nvidia.com/gpu": "1"},
    }
    env = {e["name"]: e["value"] for e in t["container"]["env"]}
    assert env["MODE"] == "fast" and env["N"] == "3"
    assert "{{retries}}" in t["container"]["args"]
    assert "{{retries}}" not in templates(doc)["step-end"]["container"]["args"]


@pytest.mark.parametrize("kind", ["workflow-template", "workflow"])
def test_a_scheduled_flow_adds_a_cron_workflow(kind, tmp_path):
    text = compile_text(write(tmp_path, "s.py", SCHEDULED), tmp_path, "--kind", kind)
    docs = validate_all(text)
    assert [d["kind"] for d in docs][1] == "CronWorkflow"
    cron = docs[1]["spec"]
    assert cron["schedules"] == ["0 3 * * *"]
    if kind == "workflow-template":
        assert cron["workflowSpec"] == {"workflowTemplateRef": {"name": "nightlyflow"}}
    else:
        assert cron["workflowSpec"]["entrypoint"] == "main"


def test_parallelism_and_namespace(tmp_path):
    text = compile_text(
        EXAMPLES / "foreach_flow.py", tmp_path, "--parallelism", "4", "--namespace", "ml"
    )
    (doc,) = validate_all(text)
    assert doc["spec"]["parallelism"] == 4 and doc["metadata"]["namespace"] == "ml"


# --- determinism, hostile values, width -------------------------------------------------------


def test_compiling_twice_is_byte_identical(tmp_path):
    flow = write(tmp_path, "nib.py", NESTED_IN_BRANCH)
    assert compile_text(flow, tmp_path) == compile_text(flow, tmp_path)


def test_libyaml_and_pure_python_dumpers_write_the_same_bytes(tmp_path):
    from flowc.backends.argo import dump

    flow = write(tmp_path, "nib.py", NESTED_IN_BRANCH)
    docs = list(yaml.safe_load_all(compile_text(flow, tmp_path)))
    docs.append({"hostile": [HOSTILE, "0", "1.5", "yes", "null", "", " x", "é 中 \u2028\x85"]})
    assert dump(docs, yaml.SafeDumper) == dump(docs, yaml.CSafeDumper)


HOSTILE = "q'uo\"te {{workflow.name}} {{inputs.parameters.x}} {{=sprig.x()}} $(echo hi) `id`\nl2\n"


def test_hostile_values_stay_data(tmp_path):
    flow = write(
        tmp_path,
        "h.py",
        "from flowc import FlowSpec, Parameter, environment, step\n\n\n"
        "class HostileFlow(FlowSpec):\n"
        f"    {HOSTILE!r}\n\n"
        f"    text = Parameter('text', default={HOSTILE!r}, help={HOSTILE!r})\n\n"
        f"    @environment(vars={{'H': {HOSTILE!r}}})\n"
        "    @step\n"
        "    def start(self):\n"
        f"        {HOSTILE!r}\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    text = compile_text(flow, tmp_path)
    (doc,) = validate_all(text)
    ann = doc["metadata"]["annotations"]
    assert ann["workflows.argoproj.io/description"] == inspect.cleandoc(HOSTILE)
    assert json.loads(ann["flowc.dev/step-docs"]) == {"start": inspect.cleandoc(HOSTILE)}
    assert json.loads(ann["flowc.dev/parameter-help"]) == {"text": HOSTILE}
    (arg,) = doc["spec"]["arguments"]["parameters"]
    assert json.loads(arg["value"]) == HOSTILE
    # the only {{...}} in the spec are flowc's own references
    refs = set(re.findall(r"\{\{[^}]*\}\}", json.dumps(doc["spec"])))
    assert refs == {"{{workflow.name}}", "{{workflow.parameters.text}}"}, refs
    assert "$" not in arg["value"]  # Kubernetes would expand $(VAR) in the env it reaches


def test_a_thousand_way_foreach_does_not_grow_the_document(tmp_path):
    small = compile_text(write(tmp_path, "w.py", wide_foreach(3)), tmp_path)
    wide = compile_text(write(tmp_path, "w.py", wide_foreach(1000)), tmp_path)
    assert small == wide
    validate_all(wide)


# --- bad input -----------------------------------------------------------------------------------


def test_argo_needs_an_image(tmp_path):
    proc = run_flowc("compile", str(EXAMPLES / "branch_flow.py"), "--target", "argo")
    assert proc.returncode == 2 and "argo-image" in proc.stderr


def test_a_braced_option_is_refused(tmp_path):
    proc = run_flowc(
        "compile", str(EXAMPLES / "branch_flow.py"), "--target", "argo",
        "--image", "img:{{workflow.name}}", "-o", str(tmp_path / "o.yaml"),
    )  # fmt: skip
    assert proc.returncode == 2 and "argo-value" in proc.stderr


def test_a_switch_inside_a_foreach_compiles(tmp_path):
    flow = write(
        tmp_path,
        "sw.py",
        "from flowc import FlowSpec, step\n\n\n"
        "class SwInForeach(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.xs = [1, 2]\n"
        "        self.next(self.pick, foreach='xs')\n\n"
        "    @step\n"
        "    def pick(self):\n"
        "        self.k = 'a'\n"
        "        self.next({'a': self.a, 'b': self.b}, condition='k')\n\n"
        "    @step\n"
        "    def a(self):\n"
        "        self.next(self.m)\n\n"
        "    @step\n"
        "    def b(self):\n"
        "        self.next(self.m)\n\n"
        "    @step\n"
        "    def m(self):\n"
        "        self.next(self.join)\n\n"
        "    @step\n"
        "    def join(self, inputs):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    (doc,) = validate_all(compile_text(flow, tmp_path))  # the case's `when` sits in the body
    tasks = [t for tpl in doc["spec"]["templates"] for t in tpl.get("dag", {}).get("tasks", [])]
    whens = {t["name"]: t.get("when") for t in tasks}
    assert "== 'a'" in whens["a"] and "== 'b'" in whens["b"]


# --- negative tests: each check catches a broken document -----------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("argo-good")
    text = compile_text(EXAMPLES / "nested_foreach_flow.py", tmp)
    return yaml.safe_load(text)


def _broken(doc: dict, change) -> dict:
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def _tpl(doc: dict, name: str) -> dict:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def test_the_good_document_passes(good):
    argo_client_validate(good)
    hera_validate(good)
    assert semantic_problems(good) == []


def test_argo_client_rejects_an_unquoted_int_or_string(good):
    doc = _broken(good, lambda d: _tpl(d, "step-start").update(retryStrategy={"limit": 2}))
    with pytest.raises(Exception, match="limit|str"):
        argo_client_validate(doc)


def test_argo_client_walk_rejects_an_unknown_key(good):
    doc = _broken(good, lambda d: _tpl(d, "step-start")["container"].update(imagee="x"))
    with pytest.raises(AssertionError, match="imagee"):
        argo_client_validate(doc)


def test_argo_client_rejects_a_missing_required_field(good):
    doc = _broken(good, lambda d: _tpl(d, "step-start")["container"].pop("image"))
    with pytest.raises(Exception, match="image"):
        argo_client_validate(doc)


def test_hera_rejects_an_unknown_key(good):
    doc = _broken(good, lambda d: _tpl(d, "main")["dag"].update(taskz=[]))
    with pytest.raises(Exception, match="taskz"):
        hera_validate(doc)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: _tpl(d, "main")["dag"]["tasks"][0].update(template="nope"), "'nope' does not"),
        (lambda d: _tpl(d, "main")["dag"]["tasks"][2].update(depends="ghost.Succeeded"), "ghost"),
        (lambda d: _tpl(d, "main")["dag"]["tasks"][2].update(depends="start.Done"), "Done"),
        (
            lambda d: _tpl(d, "main")["dag"]["tasks"][1].update(
                withParam="{{tasks.start.outputs.parameters.idx}}"
            ),
            "not an output",
        ),
        (
            lambda d: _tpl(d, "main")["dag"]["tasks"][1].update(
                withParam="{{tasks.ghost.outputs.parameters.indices}}"
            ),
            "names no task",
        ),
        (lambda d: _tpl(d, "step-score").pop("inputs"), "not a declared input"),
        (
            lambda d: _tpl(d, "step-end")["container"]["args"].append("{{workflow.parameters.p}}"),
            "not a workflow argument",
        ),
        (
            lambda d: _tpl(d, "step-end")["container"]["args"].append("{{retries}}"),
            "without a retryStrategy",
        ),
        (lambda d: d["spec"].update(entrypoint="nope"), "entrypoint"),
        (lambda d: _tpl(d, "main")["dag"]["tasks"][1].pop("withParam"), "without withParam"),
        (
            lambda d: _tpl(d, "foreach-start")["dag"]["tasks"][0].pop("arguments"),
            "are not passed",
        ),
    ],
)
def test_the_semantic_check_catches(good, change, expected):
    problems = semantic_problems(_broken(good, change))
    assert any(expected in p for p in problems), problems


def test_a_switch_case_that_is_also_a_merge_point_is_reported(tmp_path):
    flow = write(
        tmp_path,
        "swm.py",
        "from flowc import FlowSpec, step\n\n\n"
        "class SwMerge(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.k = 'a'\n"
        "        self.next({'a': self.a, 'b': self.b}, condition='k')\n\n"
        "    @step\n"
        "    def a(self):\n"
        "        self.next(self.b)\n\n"
        "    @step\n"
        "    def b(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    proc = run_flowc(
        "compile", str(flow), "--target", "argo", "--image", "i", "--datastore", "s3://b/p"
    )
    assert proc.returncode == 2 and "argo-switch-merge" in proc.stderr, proc.stderr


def test_the_pod_entry_point_builds_parameters_and_index_paths():
    from flowc.backends.argo_task import params_json
    from flowc.backends.pod import index_paths

    env = {
        "FLOWC_PARAM_0": "3",
        "FLOWC_PARAM_1": "plain text",
        "FLOWC_PARAM_2": '"{{x}}"',
        "FLOWC_PARAM_3": "1.50",
        "FLOWC_PARAM_4": '{"a": [1]}',
        "FLOWC_PARAM_5": "null",
    }
    assert json.loads(params_json(["n", "s", "t", "f", "j", "none", "missing"], env)) == {
        "n": "3",
        "s": "plain text",
        "t": "{{x}}",
        "f": "1.50",
        "j": {"a": [1]},
        "none": None,
    }
    assert index_paths({"foreach_num_splits": 2}, None) == ["0", "1"]
    assert index_paths({"foreach_num_splits": 3}, "1.0") == ["1.0.0", "1.0.1", "1.0.2"]


def test_a_default_with_no_json_form_is_reported(tmp_path):
    flow = write(
        tmp_path,
        "nan.py",
        "from flowc import FlowSpec, Parameter, step\n\n\n"
        "class NanFlow(FlowSpec):\n"
        "    x = Parameter('x', default=1e999)\n\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n",
    )
    proc = run_flowc(
        "compile", str(flow), "--target", "argo", "--image", "i", "--datastore", "s3://b/p"
    )
    assert proc.returncode == 2 and "argo-value" in proc.stderr, proc.stderr


def test_the_emitter_refuses_a_document_its_own_check_rejects(monkeypatch):
    from flowc.backends import argo
    from flowc.backends.base import EmitOptions
    from flowc.runtime.launch import checked_flow

    real = argo.build

    def broken(*a, **kw):
        docs = real(*a, **kw)
        docs[0]["spec"]["templates"][0]["dag"]["tasks"][1]["depends"] = "ghost.Succeeded"
        return docs

    monkeypatch.setattr(argo, "build", broken)
    ir, _ = checked_flow(str(EXAMPLES / "foreach_flow.py"), None)
    result = argo.ArgoEmitter().emit(ir, EmitOptions(image="i", datastore="s3://b"))
    assert not result.files
    assert any(d.rule == "argo-internal" and "ghost" in d.message for d in result.diagnostics)
