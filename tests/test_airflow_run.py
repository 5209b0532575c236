"""Compiled DAGs executed by real Airflow (``dag.test()`` on SQLite), each run compared with
``flowc run`` of the same flow: every task of every step must have stored the same artifacts
(the same content hashes) on both.

All DAG runs share one Airflow home and one Airflow start-up (module scope): the variables
Airflow reads at import are set before it is imported and restored afterwards.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_flow, run_flowc

AIRFLOW_VARS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
}


class Airflow:
    """One Airflow home with its dags folder; compiles flows into it and runs them."""

    def __init__(self, home: Path, work: Path):
        self.home = home
        self.dags = home / "dags"
        self.work = work  # flowc run and the DAG tasks both store into work/ds

    @property
    def ds(self) -> Path:
        return self.work / "ds"

    def compile(self, flow_file: Path, dag_id: str, *args: str) -> Path:
        out = self.dags / f"{dag_id}.py"
        proc = run_flowc(
            "compile",
            str(flow_file),
            "--target",
            "airflow",
            "-o",
            str(out),
            "--python",
            sys.executable,
            "--datastore",
            str(self.ds),
            "--cwd",
            str(self.work),
            "--dag-id",
            dag_id,
            *args,
        )
        assert proc.returncode == 0, proc.stderr
        return out

    def dagbag(self, path: Path):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        return bag

    def run(self, flow_file: Path, dag_id: str, conf: dict | None = None, compile_args=()):
        path = self.compile(flow_file, dag_id, *compile_args)
        dag = self.dagbag(path).get_dag(dag_id)
        return dag, dag.test(run_conf=conf)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    env = {
        **AIRFLOW_VARS,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        yield Airflow(home, tmp_path_factory.mktemp("airflow-work"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- what a run stored ---------------------------------------------------------------------


def stored(ds: Path, flow: str, run_id: str) -> dict[tuple[str, str], dict[str, str]]:
    """(step, task id) -> {artifact: content hash} for every committed task of a run."""
    from flowc.datastore import Datastore

    store = Datastore(str(ds))
    run_dir = ds / "runs" / flow / run_id
    out = {}
    for step in sorted(p.name for p in run_dir.iterdir() if p.is_dir()):
        for task in store.tasks(flow, run_id, step):
            record = store.task_record(flow, run_id, step, task)
            out[(step, task)] = {n: r["sha"] for n, r in record["artifacts"].items()}
    return out


def value(ds: Path, flow: str, run_id: str, step: str, task: str, name: str):
    from flowc.datastore import Datastore

    store = Datastore(str(ds))
    record = store.task_record(flow, run_id, step, task)
    return store.get(record["artifacts"][name]["sha"])


def states(dr) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in dr.get_task_instances()}


def assert_same_as_local(af: Airflow, flow_file: Path, flow: str, dr, *run_args: str) -> dict:
    """The DAG run succeeded and stored exactly what ``flowc run`` stores for the same flow."""
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), states(dr)
    proc, local_id = run_flow(flow_file, *run_args, cwd=af.work)
    assert proc.returncode == 0, proc.stderr
    on_airflow = stored(af.ds, flow, dr.run_id)
    local = stored(af.ds, flow, local_id)
    assert on_airflow.keys() == local.keys()
    assert on_airflow == local
    status = json.loads((af.ds / "runs" / flow / dr.run_id / "status.json").read_text())
    assert status["status"] == "succeeded"  # written by the end task
    return on_airflow


# --- the flows -----------------------------------------------------------------------------

NESTED_IN_BRANCH = '''
from flowc import FlowSpec, step


class NestedInBranchFlow(FlowSpec):
    """A nested foreach on one side of a static split."""

    @step
    def start(self):
        self.base = 10
        self.next(self.grid, self.single)

    @step
    def grid(self):
        self.rows = [1, 2]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        self.r = self.input
        self.cols = [0, 1, 2]
        self.next(self.cell, foreach="cols")

    @step
    def cell(self):
        self.value = self.r * 100 + self.input + self.base
        self.where = self.foreach_stack()[0][0], self.foreach_stack()[1][0]
        self.next(self.row_join)

    @step
    def row_join(self, inputs):
        self.row_values = [i.value for i in inputs]
        self.next(self.grid_join)

    @step
    def grid_join(self, inputs):
        self.table = [i.row_values for i in inputs]
        self.next(self.join)

    @step
    def single(self):
        self.one = self.base + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.table = inputs.grid_join.table
        self.one = inputs.single.one
        self.next(self.end)

    @step
    def end(self):
        print(self.table, self.one)
'''

RETRY_ONCE = """
from flowc import FlowSpec, current, retry, step


class RetryOnceFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""


# --- tests -----------------------------------------------------------------------------------


def test_lr_flow_runs_on_airflow_like_locally(airflow):
    flow = EXAMPLES / "lr_flow.py"
    dag, dr = airflow.run(flow, "lr_flow")
    got = assert_same_as_local(airflow, flow, "LRFlow", dr)
    assert {t for s, t in got if s == "train"} == {"0", "1", "2"}
    assert states(dr)[("train", 2)].endswith("success")
    metrics = value(airflow.ds, "LRFlow", dr.run_id, "choose", "0", "metrics")
    assert set(metrics) == {"r2", "mse"}
    # the run is visible through the client API under Airflow's run id, cards included
    from flowc.client import Flow, Run, namespace

    namespace(None)
    try:
        os.environ["FLOWC_DATASTORE"] = str(airflow.ds)
        run = Run(f"LRFlow/{dr.run_id}")
        assert run.successful and run.finished and run.data.metrics == metrics
        assert [t.id for t in run["train"]] == ["0", "1", "2"]
        assert run in list(Flow("LRFlow").runs())  # listed by the run index too
    finally:
        os.environ.pop("FLOWC_DATASTORE", None)
        from flowc.client import default_namespace

        default_namespace()
    card = airflow.ds / "runs" / "LRFlow" / dr.run_id / "choose" / "0" / "cards"
    assert "<td>test R^2</td>" in (card / "default-0.html").read_text()


def test_static_branch(airflow):
    flow = EXAMPLES / "branch_flow.py"
    _, dr = airflow.run(flow, "branch_flow")
    got = assert_same_as_local(airflow, flow, "BranchFlow", dr)
    assert {s for s, _ in got} == {"start", "total", "extremes", "join", "end"}
    assert value(airflow.ds, "BranchFlow", dr.run_id, "join", "0", "sum") == 31


def test_foreach_with_parameters_overridden_at_trigger_time(airflow):
    flow = EXAMPLES / "foreach_flow.py"
    dag, dr = airflow.run(flow, "foreach_flow", conf={"count": 3})
    assert dag.params["count"] == 5  # the flow's default, overridden by the run's conf
    got = assert_same_as_local(airflow, flow, "ForeachFlow", dr, "--count", "3")
    assert sorted(t for s, t in got if s == "square") == ["0", "1", "2"]
    squares = value(airflow.ds, "ForeachFlow", dr.run_id, "join", "0", "squares")
    assert squares == [1, 4, 9]


def test_nested_foreach(airflow):
    flow = EXAMPLES / "nested_foreach_flow.py"
    _, dr = airflow.run(flow, "nested_foreach_flow")
    got = assert_same_as_local(airflow, flow, "NestedForeachFlow", dr)
    assert sorted(t for s, t in got if s == "score") == [
        f"{i}.{j}" for i in (0, 1) for j in (0, 1, 2)
    ]
    # flattened to one mapped level: six mapped `score` tasks in one Airflow task
    assert sorted(m for (t, m) in states(dr) if t == "score") == list(range(6))


def test_nested_foreach_inside_a_static_branch(airflow, tmp_path):
    flow = tmp_path / "nested_in_branch.py"
    flow.write_text(NESTED_IN_BRANCH)
    _, dr = airflow.run(flow, "nested_in_branch")
    assert_same_as_local(airflow, flow, "NestedInBranchFlow", dr)
    table = value(airflow.ds, "NestedInBranchFlow", dr.run_id, "join", "0", "table")
    assert table == [[110, 111, 112], [210, 211, 212]]
    assert value(airflow.ds, "NestedInBranchFlow", dr.run_id, "cell", "1.2", "where") == (1, 2)


def test_switch_takes_one_branch_and_still_reaches_the_end(airflow):
    flow = EXAMPLES / "switch_flow.py"
    _, dr = airflow.run(flow, "switch_flow", conf={"value": 3})
    got = assert_same_as_local(airflow, flow, "SwitchFlow", dr, "--value", "3")
    s = states(dr)
    assert s[("low", -1)].endswith("success") and s[("high", -1)].endswith("skipped")
    assert s[("end", -1)].endswith("success")
    assert ("high", "0") not in got
    summary = value(airflow.ds, "SwitchFlow", dr.run_id, "report", "0", "summary")
    assert summary == "low: 3 is small"


def test_a_switch_inside_a_static_branch_reaches_the_join(airflow, tmp_path):
    """The case not taken is skipped; the join still runs (none failed, one succeeded)."""
    from tests.test_graph_shapes import SWITCH_IN_BRANCH

    flow = tmp_path / "switch_in_branch.py"
    flow.write_text(SWITCH_IN_BRANCH)
    _, dr = airflow.run(flow, "switch_in_branch")
    got = assert_same_as_local(airflow, flow, "Switches", dr)
    s = states(dr)
    assert s[("d", -1)].endswith("skipped") and s[("join", -1)].endswith("success")
    assert ("d", "0") not in got
    assert value(airflow.ds, "Switches", dr.run_id, "join", "0", "branches") == ["b", "c"]


def test_a_step_that_fails_once_is_retried(airflow, tmp_path):
    flow = tmp_path / "retry_once.py"
    flow.write_text(RETRY_ONCE)
    _, dr = airflow.run(flow, "retry_once")
    assert_same_as_local(airflow, flow, "RetryOnceFlow", dr)
    flaky = next(ti for ti in dr.get_task_instances() if ti.task_id == "flaky")
    assert flaky.try_number == 2
    task_dir = airflow.ds / "runs" / "RetryOnceFlow" / dr.run_id / "flaky" / "0"
    assert (task_dir / "0.attempt.json").exists()  # attempt 0 failed, attempt 1 committed
    assert "first attempt fails" in (task_dir / "0.stderr").read_text()


TIMES_OUT = """
import time

from flowc import FlowSpec, step, timeout


class TimesOutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=2)
    @step
    def slow(self):
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_step_over_its_timeout_fails_the_run(airflow, tmp_path):
    flow = tmp_path / "times_out.py"
    flow.write_text(TIMES_OUT)
    dag, dr = airflow.run(flow, "times_out")
    # Airflow's limit is a backstop: the task contract stops the step at 2 s and records it
    assert dag.get_task("slow").execution_timeout.total_seconds() == 62
    s = states(dr)
    assert "failed" in str(dr.state) and s[("slow", -1)].endswith("failed"), s
    assert not s[("end", -1)].endswith("success")
    task_dir = airflow.ds / "runs" / "TimesOutFlow" / dr.run_id / "slow" / "0"
    assert not (task_dir / "task.json").exists()  # nothing committed
    record = json.loads((task_dir / "0.attempt.json").read_text())
    assert "timed out after 2 s" in record["error"]
    proc, _ = run_flow(flow, cwd=airflow.work)  # flowc run fails the same way
    assert proc.returncode == 1 and "timed out" in proc.stdout + proc.stderr


HOSTILE = "q'uo\"te ''' \"\"\" {{ run_id }} {% if x %}y{% endif %} {# c #} \\ \\n $(echo hi) `id` $HOME\nline2\n"


def hostile_flow(tmp_path: Path) -> Path:
    # the folder name itself is hostile: the DAG passes the flow file's path to every task
    folder = tmp_path / "d{{ x }} $(y) 'q'"
    folder.mkdir()
    flow = folder / "hostile.py"
    flow.write_text(
        "import os\n\n"
        "from flowc import FlowSpec, Parameter, environment, step\n\n\n"
        "class HostileFlow(FlowSpec):\n"
        f"    {HOSTILE!r}\n\n"
        f"    text = Parameter('text', default={HOSTILE!r}, help={HOSTILE!r})\n\n"
        f"    @environment(vars={{'HOSTILE_ENV': {HOSTILE!r}}})\n"
        "    @step\n"
        "    def start(self):\n"
        f"        {HOSTILE!r}\n"
        "        self.seen = self.text\n"
        "        self.env_seen = os.environ['HOSTILE_ENV']\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    return flow


def test_hostile_values_come_through_unchanged(airflow, tmp_path):
    flow = hostile_flow(tmp_path)
    dag, dr = airflow.run(flow, "hostile")
    doc = inspect.cleandoc(HOSTILE)  # docstrings are cleaned, as Python's help() shows them
    assert dag.doc_md == doc and dag.params["text"] == HOSTILE
    assert dag.get_task("start").doc_md == doc
    assert str(dr.state).endswith("success"), states(dr)
    assert value(airflow.ds, "HostileFlow", dr.run_id, "start", "0", "seen") == HOSTILE
    assert value(airflow.ds, "HostileFlow", dr.run_id, "start", "0", "env_seen") == HOSTILE
    # what Airflow rendered into the task's environment is the values themselves
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    start = next(ti for ti in dr.get_task_instances() if ti.task_id == "start")
    rendered = RenderedTaskInstanceFields.get_templated_fields(start)["env"]
    assert rendered["HOSTILE_ENV"] == HOSTILE
    assert rendered["FLOWC_FLOW_FILE"] == str(flow)
    assert rendered["FLOWC_RUN_ID"] == dr.run_id
    # a value given at trigger time is not rendered by Airflow either
    other = HOSTILE.replace("run_id", "ds")
    dr2 = dag.test(run_conf={"text": other})
    assert str(dr2.state).endswith("success"), states(dr2)
    assert value(airflow.ds, "HostileFlow", dr2.run_id, "start", "0", "seen") == other


PACKAGED = """
from flowc import FlowSpec, step

from helpers import double


class PackagedFlow(FlowSpec):
    @step
    def start(self):
        self.x = double(21)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_code_package_runs_the_flow_from_the_datastore(airflow, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    flow = src / "packaged.py"
    flow.write_text(PACKAGED)
    proc, local_id = run_flow(flow, cwd=airflow.work)  # while the sources are still here
    assert proc.returncode == 0, proc.stderr
    path = airflow.compile(flow, "packaged", "--package")
    shutil.rmtree(src)  # the tasks can only run the copy stored in the datastore
    dr = airflow.dagbag(path).get_dag("packaged").test()
    assert str(dr.state).endswith("success"), states(dr)
    assert stored(airflow.ds, "PackagedFlow", dr.run_id) == stored(
        airflow.ds, "PackagedFlow", local_id
    )
    assert value(airflow.ds, "PackagedFlow", dr.run_id, "start", "0", "x") == 42
    (package,) = (airflow.ds / "packages").iterdir()
    assert package.name.split(".")[0] in path.read_text()


def test_kubernetes_dag_parses_with_image_command_and_resources(airflow, tmp_path):
    out = tmp_path / "k8s"
    out.mkdir()
    proc = run_flowc(
        "compile",
        str(EXAMPLES / "lr_flow.py"),
        "--target",
        "airflow",
        "--operator",
        "kubernetes",
        "--image",
        "registry.example/flows:1.2",
        "--namespace",
        "ml",
        "--flow-path",
        "/app/lr_flow.py",
        "--datastore",
        "s3://bucket/flowc",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    dag = airflow.dagbag(out / "LRFlow.py").get_dag("LRFlow")
    start = dag.get_task("start")
    assert isinstance(start, KubernetesPodOperator)
    assert start.image == "registry.example/flows:1.2" and start.namespace == "ml"
    assert start.cmds == ["/bin/sh", "-c"]
    command = start.arguments[0]
    assert "-m flowc task" in command and " start --flow LRFlow" in command
    assert "--result-file /airflow/xcom/return.json" in command
    # the provider keeps env_vars as given (a dict) or as V1EnvVar objects, by version
    raw = start.env_vars
    env = dict(raw) if isinstance(raw, dict) else {e.name: e.value for e in raw}
    assert env["FLOWC_FLOW_FILE"] == "/app/lr_flow.py"
    assert env["FLOWC_DATASTORE"] == "s3://bucket/flowc"
    assert start.env_from[0].secret_ref.name == "flowc-datastore"  # its credentials: a secret
    train = dag.get_task("train")  # mapped over the foreach's index paths
    assert train.partial_kwargs["container_resources"].requests == {
        "cpu": "1",
        "memory": "2048Mi",
    }
    assert train.partial_kwargs["retries"] == 2


def test_kubernetes_pod_operator_takes_every_kubernetes_argument(airflow, tmp_path):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from tests.test_k8s import FLOW_OPTIONS, PODS

    flow = tmp_path / "pod_flow.py"
    flow.write_text(PODS)
    out = tmp_path / "k8s"
    out.mkdir()
    proc = run_flowc(
        "compile", str(flow), "--target", "airflow", "--operator", "kubernetes",
        "--image", "repo/flows:1", "--datastore", "s3://bucket/flowc", "-o", str(out),
        *FLOW_OPTIONS, "--pod-gc", "OnPodSuccess",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    dag = airflow.dagbag(out / "PodFlow.py").get_dag("PodFlow")
    start, end = dag.get_task("start"), dag.get_task("end")
    assert isinstance(start, KubernetesPodOperator)
    assert start.image == "repo/train:2" and end.image == "repo/flows:1"
    assert start.image_pull_policy == "Always"
    assert [x.name for x in start.image_pull_secrets] == ["base-pull", "regcred"]
    assert start.node_selector == {"disk": "ssd", "pool": "gpu", "zone": "a"}
    (tol,) = start.tolerations
    assert (tol.key, tol.operator, tol.effect) == ("gpu", "Exists", "NoSchedule")
    assert start.service_account_name == "trainer" and end.service_account_name == "runner"
    (secret,) = start.secrets
    assert (secret.deploy_type, secret.deploy_target, secret.secret, secret.key) == (
        "env", "DB_PASSWORD", "db", "password",
    )  # fmt: skip
    (whole,) = end.secrets
    assert (whole.deploy_target, whole.secret, whole.key) == (None, "whole", None)
    assert start.labels["team"] == "ml" and start.labels["env"] == "prod"
    # a templated field: Airflow renders it back to the value as written
    rendered = start.render_template(start.annotations, {}, start.get_template_env())
    assert rendered == {"note": "{not a template}", "owner": "ml-team"}
    assert start.container_resources.requests == {
        "cpu": "4", "memory": "4096Mi", "ephemeral-storage": "1024Mi",
    }  # fmt: skip
    assert start.container_resources.limits == {"memory": "4096Mi", "amd.com/gpu": "1"}
    assert str(start.on_finish_action).endswith(("delete_succeeded_pod", "DELETE_SUCCEEDED_POD"))
    # a pod option without pods, and a TTL Airflow has no place for, are errors
    for args in (("--label", "a=b"), ("--operator", "kubernetes", "--ttl", "5")):
        proc = run_flowc(
            "compile", str(flow), "--target", "airflow", "--image", "i", "-o", str(out), *args
        )
        assert proc.returncode == 2 and "error[airflow-kubernetes]" in proc.stderr, proc.stderr
