"""Metaflow API compatibility (issue 16): user decorators and mutators, @parallel, @project,
Configs, @secrets, @catch, resume of a partly failed foreach, the client's Metaflow attributes,
card client API, crashes, and ``flowc.Runner``. Every flow runs for real through ``flowc run``."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import FLOWS, artifacts, run_flow, run_flowc


@pytest.fixture
def client_at(tmp_path, monkeypatch):
    """The client reading the datastore the test's runs wrote, seeing every run."""
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    import flowc.client.scope as scope

    monkeypatch.setattr(scope, "_current", None)
    import flowc

    return flowc


def test_metaflow_api_flow(tmp_path, client_at):
    proc, run_id = run_flow(FLOWS / "compat_flow.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning[parameter-assign]" in proc.stderr  # warned, not refused
    start = artifacts(tmp_path, "CompatFlow", run_id, "start")
    assert start["before"] == "start:first" and start["after"] == "start"  # user_step_decorator
    assert start["counted"] == 2 and start["seen_during"] == ("start:first", 2)  # UserStepDecorator
    assert start["token"] == "s3cr3t"  # @secrets inline source
    assert start["from_cfg"] == "on"  # @environment(**config)
    assert start["project"] == ("compat", start["project"][1], f"compat.{start['project'][1]}.CompatFlow")
    assert start["project"][1].startswith("user.") and start["production"] is False
    assert start["size"] == 3 and start["size_readonly"] is True  # config_expr default; read-only
    assert start["label"] == "CompatFlow:label:3"  # callable default with a context
    assert start["settings"] == {"project": "compat", "size": 3}
    assert start["same_current"] is True  # metaflow.metaflow_current.current
    assert start["task_obj"].pathspec == f"CompatFlow/{run_id}/start/0"  # pickled client Task
    join = artifacts(tmp_path, "CompatFlow", run_id, "join")
    assert join["nodes"] == [(0, 3), (1, 3), (2, 3)]  # @parallel: current.parallel
    assert join["mutated"] == "yes"  # StepMutator added @environment
    risky = artifacts(tmp_path, "CompatFlow", run_id, "risky")
    assert risky["partial"] == "set before the raise"  # @catch keeps what the step set
    assert risky["failure"].type == "metaflow.exception.MetaflowException"
    end = json.loads(artifacts(tmp_path, "CompatFlow", run_id, "end")["summary"])
    assert end["attempt"] == 1  # FlowMutator added @retry to end
    run = client_at.Run(f"CompatFlow/{run_id}")
    assert "from-a-step" in run.user_tags  # Task(current.pathspec).parent.parent.add_tag
    assert {"project:compat", f"project_branch:{start['project'][1]}"} <= run.system_tags
    assert len(list(run["train"].tasks())) == 3
    assert [t.id for t in run["train"].control_tasks()] == ["0"]


def test_project_branch_and_production(tmp_path):
    flow = tmp_path / "proj.py"
    flow.write_text(
        "from metaflow import FlowSpec, step, project, current\n\n"
        "@project(name='demo')\n"
        "class ProjFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.names = (current.branch_name, current.project_flow_name, current.is_production)\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    proc, run_id = run_flow(flow, cwd=tmp_path, env={"METAFLOW_BRANCH": "feature"})
    assert proc.returncode == 0, proc.stderr
    assert artifacts(tmp_path, "ProjFlow", run_id, "start")["names"] == (
        "test.feature", "demo.test.feature.ProjFlow", False)
    proc, run_id = run_flow(flow, cwd=tmp_path, env={"METAFLOW_PRODUCTION": "True"})
    assert proc.returncode == 0, proc.stderr
    assert artifacts(tmp_path, "ProjFlow", run_id, "start")["names"] == (
        "prod", "demo.prod.ProjFlow", True)


def test_parameters_from_the_environment_and_configs(tmp_path):
    (tmp_path / "cfg.txt").write_text("key: value")
    flow = tmp_path / "params.py"
    flow.write_text(
        "import os\n"
        "from metaflow import FlowSpec, step, Parameter, Config, config_expr\n\n"
        "def parse(text):\n"
        "    k, v = text.split(':')\n"
        "    return {k: v.strip()}\n\n"
        "class ParamsFlow(FlowSpec):\n"
        "    LIMIT = 7\n"
        "    listed = Parameter('listed', default='a,b', separator=',')\n"
        "    from_env = Parameter('from-env', default='no')\n"
        "    parsed = Config('parsed', default='cfg.txt', parser=parse)\n"
        "    given = Config('given')\n\n"
        "    @step\n"
        "    def start(self):\n"
        "        try:\n"
        "            self.LIMIT = 8\n"
        "        except AttributeError:\n"
        "            self.const_readonly = True\n"
        "        try:\n"
        "            self.parsed['key'] = 'x'\n"
        "        except TypeError:\n"
        "            self.config_readonly = True\n"
        "        self.got = (self.listed, self.from_env, self.parsed.key, self.given.n, self.LIMIT)\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    env = {
        "METAFLOW_RUN_FROM_ENV": "yes",
        "METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"given": {"n": 5}}),
    }
    proc, run_id = run_flow(flow, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    start = artifacts(tmp_path, "ParamsFlow", run_id, "start")
    assert start["got"] == (["a", "b"], "yes", "value", 5, 7)
    assert start["const_readonly"] and start["config_readonly"]
    assert artifacts(tmp_path, "ParamsFlow", run_id, "end")["LIMIT"] == 7  # constants are artifacts


def test_resume_clones_the_succeeded_items_of_a_failed_foreach(tmp_path, client_at):
    flow = FLOWS / "partial_foreach_flow.py"
    proc, origin = run_flow(flow, "--max-workers", "1", cwd=tmp_path)
    assert proc.returncode == 1
    proc = run_flowc(
        "resume", str(flow), "--datastore", str(tmp_path / "ds"), "--run-id-file",
        str(tmp_path / "resumed"), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = client_at.Run(f"PartialForeachFlow/{(tmp_path / 'resumed').read_text()}")
    rerun = sorted(t.pathspec.split("/", 2)[2] for s in run for t in s if not t.origin_pathspec)
    assert rerun == ["body/3", "end/0", "join/0"]  # items 0-2 were cloned, not re-run
    assert run["join"].task.data.outs == [(0, False), (1, False), (2, False), (3, True)]
    assert run["body"].origin_pathspec == f"PartialForeachFlow/{origin}/body"


def test_client_attributes_and_cards(tmp_path, client_at):
    from flowc.cards import CardNotPresentException, get_cards

    proc, run_id = run_flow(FLOWS / "client_flow.py", cwd=tmp_path)
    assert proc.returncode == 1
    run = client_at.Run(f"ClientFlow/{run_id}")
    assert run.parent.id == "ClientFlow" and run.parent.tags == frozenset()
    start, a, join = run["start"].task, run["a"].task, run["join"].task
    assert [t.id for t in start.child_tasks] == ["0", "0"]
    assert sorted(t.parent.id for t in start.child_tasks) == ["a", "b"]
    assert sorted(t.parent.id for t in join.parent_tasks) == ["a", "b"]
    assert [s.id for s in run["a"].child_steps] == ["join"]
    assert join.data.words == ["first", "second"]  # a read `word`, then set a new one
    assert run["b"].task.data.task_obj == run["b"].task
    assert a.metadata_dict["attempt"] == "0"
    assert [(m.type, m.value) for m in a.metadata if m.type == "attempt"] == [("attempt", "0")]
    exc = run["end"].task.exception
    assert (exc.type, exc.exception) == ("KeyError", "'the end fails'")
    assert "raise KeyError" in exc.stacktrace and "KeyError" in str(exc)
    assert start.exception is None
    cards = get_cards(start, type="joined_card")
    assert len(cards) == 1 and cards[0].type == "joined_card"
    assert cards[0].get() == f"ClientFlow/{run_id}/start/0|HELLO"  # only real components
    with pytest.raises(CardNotPresentException):
        get_cards(start, type="nope")
    with pytest.raises(CardNotPresentException):
        get_cards(a)
    run.add_tag(["x", "y"])  # Metaflow's older list form
    run.replace_tag(["x"], ["z"])
    assert {"y", "z"} <= run.user_tags and "x" not in run.user_tags
    with pytest.raises(ValueError):
        run.replace_tags([], [])
    with pytest.raises(ValueError):
        run.remove_tags([f"user:{run.user}"])  # a system tag


def test_crashes_keep_output_and_catch_records_a_killed_task(tmp_path, client_at):
    flow = FLOWS / "crash_flow.py"
    began = time.monotonic()
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - began < 30  # minutes_between_retries=1: no local wait
    end = artifacts(tmp_path, "CrashFlow", run_id, "end")
    assert end["kind"] == "metaflow.plugins.catch_decorator.FailureHandledByCatch"
    task = client_at.Run(f"CrashFlow/{run_id}")["start"].task
    assert [m.value for m in task.metadata if m.type == "attempt"] == ["0", "1", "2"]
    proc, run_id = run_flow(FLOWS / "segfault_flow.py", cwd=tmp_path)
    assert proc.returncode == 1
    task = client_at.Run(f"SegfaultFlow/{run_id}")["start"].task
    assert "Crash and burn!" in task.stdout and "segmentation fault" in task.stderr
    lint = run_flowc("validate", str(flow))
    assert lint.returncode == 0 and "maybe-undefined" not in lint.stdout + lint.stderr


def test_parallel_catch_runs_the_fallback_attempt_in_the_control_task_only(tmp_path, client_at):
    proc, run_id = run_flow(FLOWS / "gang_crash_flow.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = client_at.Run(f"GangCrashFlow/{run_id}")
    attempts = {
        t.id: ([m.value for m in t.metadata if m.type == "attempt"], t.successful)
        for t in run["train"]
    }  # retry(times=1): attempts 0 and 1 run the step; 2 is @catch's, in node 0 only
    assert attempts == {"0": (["0", "1", "2"], True), "1": (["0", "1"], False),
                        "2": (["0", "1"], False)}
    control = run["train"]["0"]
    assert control.metadata_dict["internal_task_type"] == "control"
    assert control.data.ex.type == "metaflow.plugins.catch_decorator.FailureHandledByCatch"
    assert "over 2 attempts" in control.data.ex.exception and "SIGKILL" in control.data.ex.exception
    assert "killed by SIGKILL" in run["train"]["2"].stderr  # a worker's last attempt
    # the join reads the caught control task alone: what it inherited, not what the step set
    assert run["join"].task.data.seen == [(control.data.ex.type, "from start", False)]
    assert [p.pathspec for p in run["join"].task.parent_tasks] == [control.pathspec]
    assert run.successful and run["end"].task.successful
    # a Python exception instead: every node's own @catch takes it on the last attempt (no
    # fallback attempt anywhere), and the caught control task is still the join's only input
    raising = tmp_path / "gang_raise_flow.py"
    raising.write_text((FLOWS / "gang_crash_flow.py").read_text().replace(
        "os.kill(os.getpid(), signal.SIGKILL)", "raise ValueError('no gang today')"))
    proc, run_id = run_flow(raising, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = client_at.Run(f"GangCrashFlow/{run_id}")
    assert {t.id: [m.value for m in t.metadata if m.type == "attempt"] for t in run["train"]} == {
        "0": ["0", "1"], "1": ["0", "1"], "2": ["0", "1"]}
    (kind, before, set_node), = run["join"].task.data.seen
    assert kind.endswith("ValueError") and (before, set_node) == ("from start", True)
    assert [p.pathspec for p in run["join"].task.parent_tasks] == [f"{run.pathspec}/train/0"]


SUITE_HEADER = (
    "from metaflow import Config, config_expr, FlowSpec, step, Parameter, project, IncludeFile, "
    "JSONType, current, parallel, FlowMutator, StepMutator, UserStepDecorator, "
    "user_step_decorator\n"
)
SUITE_FLOWS = {
    "linear": (
        "class LinearTestFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.data = 'abc'\n        self.next(self.end)\n"
        "    @step\n    def end(self):\n        assert self.data == 'abc'\n"
    ),
    "foreach": (
        "class ForeachTestFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.arr = [1, 2, 3]\n"
        "        self.next(self.inner, foreach='arr')\n"
        "    @step\n    def inner(self):\n        self.x = self.input * 2\n        self.next(self.join)\n"
        "    @step\n    def join(self, inputs):\n        self.total = sum(i.x for i in inputs)\n"
        "        self.next(self.end)\n"
        "    @step\n    def end(self):\n        assert self.total == 12\n"
    ),
    "resume": (
        "class ResumeTestFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.data = 'start'\n        self.next(self.end)\n"
        "    @step\n    def end(self):\n"
        "        if current.origin_run_id is None:\n            raise RuntimeError('resume from here')\n"
    ),
}


@pytest.mark.parametrize("name", sorted(SUITE_FLOWS))
def test_runner_drives_flows_as_the_suites_api_executor(tmp_path, name, monkeypatch, client_at):
    """The suite's `api` executor: Runner(file, show_output=False, env=..., **top-level
    options), .run(**run options) then .resume(step_to_rerun=...), logs via command_obj."""
    from flowc import Runner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "test_flow.py").write_text(
        SUITE_HEADER + SUITE_FLOWS[name] + "if __name__ == '__main__':\n"
        f"    {SUITE_FLOWS[name].split('(')[0].split()[1]}()\n"
    )
    top = dict(metadata="local", datastore=str(tmp_path / "ds"), environment="local",
               event_logger="nullSidecarLogger", no_pylint=True, quiet=True)
    runner = Runner("test_flow.py", show_output=False, env={"METAFLOW_USER": "tester"}, **top)
    opts = dict(max_workers=50, max_num_splits=10000, tag=["刺身 means sashimi", "b"],
                run_id_file="run-id")
    result = runner.run(**opts)
    with open(result.command_obj.log_files["stdout"], encoding="utf-8") as f:
        stdout = f.read()
    code = result.command_obj.process.returncode
    run_id = (tmp_path / "run-id").read_text()
    assert run_id == result.run.id and f"{run_id}/start/0" in stdout
    assert "刺身 means sashimi" in result.run.tags and result.run.user == "tester"
    if name != "resume":
        assert code == 0 and result.status == "successful", result.stderr
    else:
        assert code == 1 and result.status == "failed"
        resumed = runner.resume(step_to_rerun="end", **opts)
        assert resumed.command_obj.process.returncode == 0, resumed.stderr
        assert resumed.run.origin_run_id == run_id and resumed.run.successful
    logs = os.path.dirname(result.command_obj.log_files["stdout"])
    assert os.path.isdir(logs)
    runner.cleanup()  # as leaving `with Runner(...)`: the runs' log files go
    assert not os.path.exists(logs)


def test_nbrunner_runs_a_flow_class(tmp_path, monkeypatch, client_at):
    import importlib.util

    from flowc import NBRunner

    spec = importlib.util.spec_from_file_location("partial_nb", FLOWS / "partial_foreach_flow.py")
    from flowc.runtime.loader import install_metaflow_shim

    install_metaflow_shim()
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(__import__("sys").modules, "partial_nb", module)
    spec.loader.exec_module(module)
    monkeypatch.chdir(tmp_path)
    nb = NBRunner(module.PartialForeachFlow, show_output=False, datastore=str(tmp_path / "ds"))
    run = nb.nbrun(max_workers=1)
    assert run.status == "failed" and run["body"].task.data.out == (0, False)


def test_metaflow_module_paths_in_the_stand_in():
    from flowc.runtime.loader import install_metaflow_shim

    install_metaflow_shim()
    import metaflow
    from metaflow.cards import CardNotPresentException, get_cards  # noqa: F401
    from metaflow.exception import MetaflowException, MissingInMergeArtifactsException
    from metaflow.metaflow_current import current
    from metaflow.plugins.cards.card_modules.test_cards import TestStringComponent

    assert issubclass(MissingInMergeArtifactsException, MetaflowException)
    assert current is metaflow.current and metaflow.get_metadata().startswith("local@")
    assert metaflow.Runner is __import__("flowc").Runner
    assert TestStringComponent("x").render() == "x"
    names = ("config_expr", "parallel", "FlowMutator", "StepMutator", "UserStepDecorator",
             "user_step_decorator", "secrets", "project")
    assert all(hasattr(metaflow, n) for n in names)
