"""`flowc compile --target kfp`: every compiled flow passes the strict checks of
:mod:`flowc.backends.kfp_validate`, each check catches a broken document, decorators and
parameters reach the pipeline, output is deterministic, and bad input is reported."""

from __future__ import annotations

import copy
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, run_flowc

import kfp  # noqa: E402,F401 - in the test extra: a missing SDK must fail, not skip

from flowc.backends import kfp_validate as v  # noqa: E402
from tests.test_kfp_run import NESTED_IN_BRANCH, RETRY_ONCE  # noqa: E402

RESOURCES = """
from flowc import FlowSpec, environment, resources, retry, step


class ResourcesFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @retry(times=3, minutes_between_retries=1)
    @resources(cpu=2, memory=4096, gpu=1)
    @environment(vars={"MODE": "fast", "LEVEL": "3"})
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


SHARED = ("--image", "img:1", "--datastore", "s3://bucket/flowc")


def compile_to(tmp_path: Path, flow: Path, *args: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Compiled with an image and a shared datastore unless ``args`` name their own."""
    out = tmp_path / f"{flow.stem}.yaml"
    given = set(args)
    args = tuple(a for i in (0, 2) if SHARED[i] not in given for a in SHARED[i : i + 2]) + args
    proc = run_flowc(
        "compile",
        str(flow),
        "--target",
        "kfp",
        "-o",
        str(out),
        *args,
        env={"FLOWC_USER": "deployer"},
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return path


def flows(tmp_path: Path) -> dict[str, Path]:
    return {
        "lr": EXAMPLES / "lr_flow.py",
        "branch": EXAMPLES / "branch_flow.py",
        "foreach": EXAMPLES / "foreach_flow.py",
        "nested": EXAMPLES / "nested_foreach_flow.py",
        "nested_in_branch": write(tmp_path, "nested_in_branch", NESTED_IN_BRANCH),
        "switch": EXAMPLES / "switch_flow.py",
        "retry": write(tmp_path, "retry_once", RETRY_ONCE),
        "resources": write(tmp_path, "resources", RESOURCES),
    }


def tasks(doc: dict) -> dict[str, dict]:
    """Every task of every DAG in the document, by task name."""
    out = {}
    for comp in [doc["root"], *doc["components"].values()]:
        out.update(comp.get("dag", {}).get("tasks", {}))
    return out


def container(doc: dict, task: str) -> dict:
    comp = doc["components"][tasks(doc)[task]["componentRef"]["name"]]
    return doc["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]


# --- every flow validates strictly --------------------------------------------------------


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    tmp = tmp_path_factory.mktemp("kfp")
    out = {}
    for name, flow in flows(tmp).items():
        path, _ = compile_to(tmp, flow, "--datastore", "s3://bucket/flowc", "--image", "img:1")
        out[name] = (path, v.validate_file(str(path)))
    return out


def test_every_flow_passes_all_four_checks(compiled):
    assert set(compiled) == {
        "lr",
        "branch",
        "foreach",
        "nested",
        "nested_in_branch",
        "switch",
        "retry",
        "resources",
    }
    for path, doc in compiled.values():
        assert doc["sdkVersion"] == "kfp-2.17.3"
        for t in tasks(doc).values():
            if t["componentRef"]["name"].startswith("comp-step-"):
                assert t.get("cachingOptions", {}).get("enableCache") is not True, path


def test_commands_carry_the_task_contract_ids_and_datastore(compiled):
    _, doc = compiled["nested"]
    score = container(doc, "step-score")
    assert score["image"] == "img:1"
    assert score["command"] == ["python3", "-m", "flowc.backends.kfp_task"]
    args = score["args"]
    assert args[args.index("--datastore") + 1] == "s3://bucket/flowc"
    assert args[args.index("--index") + 1] == "{{$.inputs.parameters['index']}}"
    assert args[args.index("--step") + 1] == "score"
    run_id = tasks(doc)["step-score"]["inputs"]["parameters"]["run_id"]
    assert run_id == {"runtimeValue": {"constant": "{{$.pipeline_job_uuid}}"}}


def test_nested_foreach_is_nested_parallel_for_over_split_outputs(compiled):
    _, doc = compiled["nested"]
    loops = {n: t for n, t in tasks(doc).items() if "parameterIterator" in t}
    producers = {}
    for name, t in loops.items():
        items = t["parameterIterator"]["items"]["inputParameter"]
        producers[name] = t["inputs"]["parameters"][items]["taskOutputParameter"]["producerTask"]
    # the outer loop iterates start's index paths; the inner one, inside the outer loop's DAG,
    # the index paths of the split task that runs once per outer item
    # (group numbers start at 2: group 1 is the ExitHandler holding the whole run)
    assert producers == {"for-loop-2": "step-start", "for-loop-3": "step-per-model"}
    inner = doc["components"]["comp-for-loop-2"]["dag"]["tasks"]
    assert {"step-per-model", "for-loop-3", "step-average"} <= set(inner)
    assert "for-loop-3" in inner["step-average"]["dependentTasks"]


def test_switch_is_if_else_and_the_merge_takes_one_of(compiled):
    _, doc = compiled["switch"]
    conds = [
        t["triggerPolicy"]["condition"]
        for t in tasks(doc).values()
        if "condition" in t.get("triggerPolicy", {})
    ]
    assert len(conds) == 2 and "== 'high'" in conds[0] and conds[1].startswith("!(")
    report = tasks(doc)["step-report"]
    assert "condition-branches-2" in report["dependentTasks"]
    oneof = doc["components"]["comp-condition-branches-2"]["dag"]["outputs"]["parameters"]
    selectors = next(iter(oneof.values()))["valueFromOneof"]["parameterSelectors"]
    assert {s["outputParameterKey"] for s in selectors} == {
        "pipelinechannel--step-high-result",
        "pipelinechannel--step-low-result",
    }


def test_retry_resources_and_environment_reach_the_tasks(compiled):
    _, doc = compiled["resources"]
    work = tasks(doc)["step-work"]
    assert work["retryPolicy"]["maxRetryCount"] == 3
    assert work["retryPolicy"]["backoffDuration"] == "60s"
    c = container(doc, "step-work")
    res = c["resources"]
    assert res["cpuRequest"] == res["cpuLimit"] == 2
    assert res["memoryRequest"] == res["memoryLimit"] == 4.294967296  # 4096Mi in GB
    assert res["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert res["accelerator"]["resourceCount"] == "1"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env == {"MODE": "fast", "LEVEL": "3", "FLOWC_USER": "deployer"}  # who compiled
    _, retry = compiled["retry"]
    assert tasks(retry)["step-flaky"]["retryPolicy"]["maxRetryCount"] == 1
    assert "retryPolicy" not in tasks(retry)["step-start"]


def test_parameters_become_typed_pipeline_inputs(compiled):
    _, doc = compiled["switch"]
    params = doc["root"]["inputDefinitions"]["parameters"]
    assert params["value"]["parameterType"] == "NUMBER_INTEGER"
    assert params["value"]["defaultValue"] == 42
    start = container(doc, "step-start")["args"]
    i = start.index("--param")
    assert start[i : i + 4] == ["--param", "value", "int", "{{$.inputs.parameters['param_value']}}"]


def test_caching_and_parallelism_options(tmp_path):
    flow = EXAMPLES / "foreach_flow.py"
    path, _ = compile_to(tmp_path, flow, "--enable-caching", "--parallelism", "2")
    doc = v.validate_file(str(path))
    steps = [t for n, t in tasks(doc).items() if n.startswith("step-")]
    assert steps and all(t["cachingOptions"]["enableCache"] is True for t in steps)
    loop = next(t for t in tasks(doc).values() if "parameterIterator" in t)
    assert loop["iteratorPolicy"]["parallelismLimit"] == 2


# --- each check catches a broken document -------------------------------------------------


def _broken(doc: dict, tmp_path: Path, edit) -> tuple[dict, Path]:
    bad = copy.deepcopy(doc)
    edit(bad)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(bad))
    return bad, path


def body(doc: dict) -> dict:
    """The run's tasks: inside the ExitHandler, beside the finaliser."""
    return doc["components"]["comp-exit-handler-1"]["dag"]["tasks"]


def _first_task(doc: dict) -> dict:
    return body(doc)["step-start"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["root"]["dag"].update(unknown_field=1), "PipelineSpec"),
        (lambda d: _first_task(d).update(cachingOptions={"enableCache": "maybe"}), "PipelineSpec"),
        (
            lambda d: d["root"]["inputDefinitions"]["parameters"]["count"].update(
                parameterType="NUMBER_WEIRD"
            ),
            "PipelineSpec",
        ),
        (
            lambda d: d["deploymentSpec"]["executors"]["exec-step-start"]["container"].update(
                imagee="x"
            ),
            "ExecutorSpec",
        ),
    ],
)
def test_proto_checks_catch_bad_fields_enums_and_executors(compiled, tmp_path, edit, message):
    bad, _ = _broken(compiled["foreach"][1], tmp_path, edit)
    with pytest.raises(v.KfpInvalid, match=message):
        v.check_proto(bad)


def test_the_sdk_loader_check_catches_what_the_protos_accept(compiled, tmp_path):
    # a pipeline with no name parses as a PipelineSpec but the SDK refuses to load it
    def edit(d):
        del d["pipelineInfo"]["name"]

    bad, path = _broken(compiled["foreach"][1], tmp_path, edit)
    v.check_proto(bad)
    v.check_references(bad)
    with pytest.raises(v.KfpInvalid, match="load_component_from_file"):
        v.check_loads(str(path))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: _first_task(d)["componentRef"].update(name="comp-nope"), "componentRef"),
        (
            lambda d: body(d)["step-join"].update(dependentTasks=["ghost"]),
            "dependentTasks",
        ),
        (
            lambda d: body(d)["for-loop-2"]["inputs"]["parameters"][
                "pipelinechannel--step-start-index_paths"
            ]["taskOutputParameter"].update(producerTask="ghost"),
            "producerTask",
        ),
        (
            lambda d: d["components"]["comp-step-start"].update(executorLabel="exec-ghost"),
            "executorLabel",
        ),
    ],
)
def test_reference_walk_catches_dangling_references(compiled, tmp_path, edit, message):
    bad, path = _broken(compiled["foreach"][1], tmp_path, edit)
    v.check_proto(bad)  # the protos do not resolve references
    with pytest.raises(v.KfpInvalid, match=message):
        v.check_references(bad)


def test_reference_walk_catches_a_dangling_one_of(compiled, tmp_path):
    def edit(d):
        outs = d["components"]["comp-condition-branches-2"]["dag"]["outputs"]["parameters"]
        next(iter(outs.values()))["valueFromOneof"]["parameterSelectors"][0].update(
            producerSubtask="ghost"
        )

    bad, _ = _broken(compiled["switch"][1], tmp_path, edit)
    with pytest.raises(v.KfpInvalid, match="producerSubtask"):
        v.check_references(bad)


# --- determinism, the module, hostile values ----------------------------------------------


def test_compiling_twice_is_byte_identical_and_the_module_writes_the_same_yaml(tmp_path):
    flow = tmp_path / "nested_in_branch.py"
    flow.write_text(NESTED_IN_BRANCH)
    module = tmp_path / "pipeline.py"
    a, _ = compile_to(tmp_path / "a", flow, "--python-module", str(module))
    b, _ = compile_to(tmp_path / "b", flow)
    assert a.read_bytes() == b.read_bytes()
    again = tmp_path / "again.yaml"
    proc = subprocess.run([sys.executable, str(module), str(again)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == a.read_bytes()


HOSTILE = (
    "q'uo\"te ''' \"\"\" {{ run_id }} {% if x %}y{% endif %} \\ \\n $(echo hi) `id` $HOME\nl2\n"
)


def test_hostile_defaults_docstrings_and_paths_round_trip(tmp_path):
    folder = tmp_path / "d{{ x }} $(y) 'q'"
    folder.mkdir()
    flow = folder / "hostile.py"
    flow.write_text(
        "from flowc import FlowSpec, Parameter, environment, step\n\n\n"
        "class HostileFlow(FlowSpec):\n"
        f"    {HOSTILE!r}\n\n"
        f"    text = Parameter('text', default={HOSTILE!r}, help={HOSTILE!r})\n"
        f"    conf = Parameter('conf', default={{'k': [1, {HOSTILE!r}]}}, type=dict)\n\n"
        f"    @environment(vars={{'HOSTILE_ENV': {HOSTILE!r}}})\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    path, _ = compile_to(tmp_path, flow, "--flow-path", str(flow))
    doc = v.validate_file(str(path))
    assert doc["pipelineInfo"]["description"] == inspect.cleandoc(HOSTILE)
    params = doc["root"]["inputDefinitions"]["parameters"]
    assert params["text"]["defaultValue"] == HOSTILE
    assert params["conf"]["defaultValue"] == {"k": [1, HOSTILE]}
    start = container(doc, "step-start")
    env = {e["name"]: e["value"] for e in start["env"]}
    assert env == {"HOSTILE_ENV": HOSTILE, "FLOWC_USER": "deployer"}
    assert start["args"][start["args"].index("--flow-file") + 1] == str(flow)


# --- bad input and what KFP cannot express ------------------------------------------------

TIMED_AND_SCHEDULED = """
from flowc import FlowSpec, schedule, step, timeout


@schedule(daily=True)
class TimedFlow(FlowSpec):
    @timeout(seconds=30)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_timeout_schedule_and_flow_path_are_warnings_that_say_what_to_do(tmp_path):
    flow = write(tmp_path, "timed", TIMED_AND_SCHEDULED)
    _, proc = compile_to(tmp_path, flow, "--schedule-spec")
    err = proc.stderr
    assert f"{flow}:7:5: warning[kfp-timeout]" in err and "activeDeadlineSeconds" in err
    assert f"{flow}:5:1: warning[kfp-schedule]" in err and "recurring run" in err
    assert "warning[kfp-flow-path]" in err and "--package" in err
    spec = json.loads(proc.stdout)
    assert spec == {
        "cron_expression": "0 0 0 * * *",
        "job_name": "timedflow",
        "max_concurrency": 1,
        "no_catchup": True,
    }
    # with an image and a shared datastore those two warnings go away
    _, proc = compile_to(
        tmp_path, flow, "--image", "i:1", "--datastore", "s3://b/p", "--flow-path", "/app/f.py"
    )
    assert "kfp-image" not in proc.stderr and "kfp-datastore" not in proc.stderr
    assert "kfp-flow-path" not in proc.stderr


def test_unsupported_features_are_located_errors(tmp_path):
    from tests.test_airflow_compile import UNSUPPORTED

    flow = tmp_path / "u.py"
    flow.write_text('N = int("2")\n' + UNSUPPORTED)
    out = tmp_path / "o.yaml"
    proc = run_flowc("compile", str(flow), "--target", "kfp", "-o", str(out), *SHARED)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    found = {line.split("[", 1)[1].split("]", 1)[0] for line in lines if "error[kfp-" in line}
    assert found == {"kfp-step-decorator", "kfp-decorator-argument"}  # a switch in a foreach is fine
    assert any(line.startswith(f"{flow}:13:5: error[kfp-step-decorator]") for line in lines)
    assert "cannot express" in lines[-1] and not out.exists()


def test_bad_parallelism_is_an_error(tmp_path):
    out = tmp_path / "o.yaml"
    flow = str(EXAMPLES / "foreach_flow.py")
    proc = run_flowc("compile", flow, "--target", "kfp", "-o", str(out), "--parallelism", "0")
    assert proc.returncode == 2 and "Invalid value for '--parallelism'" in proc.stderr
    assert not out.exists()


def test_kfp_is_imported_only_when_the_kfp_target_runs(tmp_path):
    probe = (
        "import sys\n"
        "from flowc.cli import main\n"
        "try:\n"
        f"    main(['compile', {str(EXAMPLES / 'lr_flow.py')!r}, '--target', 'airflow',"
        f" '-o', {str(tmp_path / 'x.py')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('kfp', 'google.protobuf') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stderr
    assert (tmp_path / "x.py").exists()


DIRECT_TO_MERGE = """
from flowc import FlowSpec, step


class DirectFlow(FlowSpec):
    @step
    def start(self):
        self.k = "a"
        self.next({"a": self.a, "b": self.merge}, condition="k")

    @step
    def a(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_switch_case_straight_to_the_merge_is_a_located_error(tmp_path):
    flow = write(tmp_path, "direct", DIRECT_TO_MERGE)
    out = tmp_path / "o.yaml"
    proc = run_flowc("compile", str(flow), "--target", "kfp", "-o", str(out), *SHARED)
    assert proc.returncode == 2, proc.stderr
    assert f"{flow}:16:5: error[kfp-graph]" in proc.stderr and "dsl.OneOf" in proc.stderr
    assert not out.exists()


NO_DEFAULT = """
from flowc import FlowSpec, Parameter, step


class NoDefaultFlow(FlowSpec):
    x = Parameter("x", type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_parameter_without_default_is_a_required_input_with_a_warning(tmp_path):
    flow = write(tmp_path, "nodefault", NO_DEFAULT)
    path, proc = compile_to(tmp_path, flow, "--schedule-spec")
    assert "warning[kfp-parameter-default]" in proc.stderr and "'x'" in proc.stderr
    assert "has no @schedule" in proc.stderr and proc.stdout == ""
    x = v.validate_file(str(path))["root"]["inputDefinitions"]["parameters"]["x"]
    assert x == {"parameterType": "NUMBER_INTEGER"}


GOLDEN = Path(__file__).parent / "golden" / "kfp_switch_flow.yaml"


def test_golden_pipeline_text(tmp_path):
    """The whole YAML of one flow, fixed; FLOWC_UPDATE_GOLDEN=1 refreshes it after an
    intended change."""
    import os

    args = ("--image", "repo/flows:1", "--datastore", "s3://b/p", "--flow-path", "/app/f.py")
    path, _ = compile_to(tmp_path, EXAMPLES / "switch_flow.py", *args)
    text = path.read_text()
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "changed; FLOWC_UPDATE_GOLDEN=1 refreshes it"
