"""``flowc run`` on the command line: parameters as options, and every kind of bad input
stopped with one clear line and exit 2, before anything is written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES, artifacts, run_flow, run_flowc

PARAMS_FLOW = """
from flowc import FlowSpec, IncludeFile, JSONType, Parameter, step


class ParamFlow(FlowSpec):
    max_iter = Parameter("max-iter", help="Iterations.", default=10)
    rate = Parameter("rate", type=float, default=1)
    verbose = Parameter("verbose", help="Talk more.", default=False)
    config = Parameter("config", type=JSONType, default='{"a": 1}')
    who = Parameter("who", required=True, help="Who runs it.")
    notes = IncludeFile("notes", help="A text file stored with the run.", default="notes.txt")

    @step
    def start(self):
        self.seen = {
            "max_iter": self.max_iter,
            "rate": self.rate,
            "verbose": self.verbose,
            "config": self.config,
            "who": self.who,
            "notes": self.notes,
        }
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture
def param_flow(tmp_path):
    (tmp_path / "notes.txt").write_text("remember this")
    flow = tmp_path / "param_flow.py"
    flow.write_text(PARAMS_FLOW)
    return flow


def seen(tmp_path, run_id):
    return artifacts(tmp_path, "ParamFlow", run_id, "start")["seen"]


def test_defaults_types_and_required(tmp_path, param_flow):
    proc, run_id = run_flow(param_flow, "--who", "ann", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen(tmp_path, run_id) == {
        "max_iter": 10,
        "rate": 1.0,
        "verbose": False,
        "config": {"a": 1},
        "who": "ann",
        "notes": "remember this",
    }
    assert isinstance(seen(tmp_path, run_id)["rate"], float)


@pytest.mark.parametrize(
    "args, key, value",
    [
        (["--max-iter", "300"], "max_iter", 300),
        (["--max_iter", "7"], "max_iter", 7),
        (["--max-iter=5"], "max_iter", 5),
        (["--verbose"], "verbose", True),
        (["--verbose", "True"], "verbose", True),
        (["--verbose", "false"], "verbose", False),
        (["--verbose", "1"], "verbose", True),
        (["--verbose", "0"], "verbose", False),
        (["--config", '{"b": [1, 2]}'], "config", {"b": [1, 2]}),
        (["--rate", "-0.5"], "rate", -0.5),
    ],
)
def test_parameter_forms(tmp_path, param_flow, args, key, value):
    proc, run_id = run_flow(param_flow, "--who", "x", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen(tmp_path, run_id)[key] == value


def test_bare_bool_flag_before_another_option(tmp_path, param_flow):
    proc, run_id = run_flow(param_flow, "--verbose", "--who", "y", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert seen(tmp_path, run_id)["verbose"] is True and seen(tmp_path, run_id)["who"] == "y"


def test_include_file_contents_are_stored(tmp_path, param_flow):
    other = tmp_path / "other.txt"
    other.write_text("other contents")
    proc, run_id = run_flow(param_flow, "--who", "z", "--notes", str(other), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert seen(tmp_path, run_id)["notes"] == "other contents"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--who", "a", "--max-itr", "3"],
            "--max-itr: ParamFlow has no such parameter; did you mean --max-iter?",
        ),
        (["--who", "a", "--max-iter", "many"], "--max-iter: expected an integer, got 'many'"),
        (["--who", "a", "--rate", "fast"], "--rate: expected a number, got 'fast'"),
        (["--who", "a", "--verbose", "maybe"], "--verbose takes true or false"),
        (["--who", "a", "--config", "{bad"], "--config: expected JSON"),
        ([], "missing required parameter: --who"),
        (["--who", "a", "--notes", "missing.txt"], "--notes: cannot read 'missing.txt'"),
        (["--who"], "--who needs a value"),
        (["--who", "a", "--max-workers", "0"], "--max-workers must be at least 1"),
        (["--who", "a", "--with", "retry:times"], "is not NAME=VALUE"),
        (["--who", "a", "--with", "sparkle"], "unknown decorator 'sparkle'"),
    ],
)
def test_bad_parameters_exit_2_with_one_line(tmp_path, param_flow, args, message):
    proc, run_id = run_flow(param_flow, *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowc: error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr
    assert run_id is None and not (tmp_path / "ds" / "runs").exists()  # nothing written


def test_help_lists_parameters_with_help_and_defaults(tmp_path, param_flow):
    proc = run_flowc("run", str(param_flow), "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "--max-iter INTEGER" in proc.stdout and "Iterations. [default: 10]" in proc.stdout
    assert "--who TEXT" in proc.stdout and "[required]" in proc.stdout
    assert "--verbose BOOLEAN" in proc.stdout
    assert "--notes PATH" in proc.stdout
    assert "--max-workers" in proc.stdout


def test_a_flow_with_lint_errors_is_refused(tmp_path):
    flow = tmp_path / "bad.py"
    flow.write_text(
        "from flowc import FlowSpec, step\n\n"
        "class BadFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.middel)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.py:6:" in proc.stderr and "unknown-step" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("flowc: error: ")
    assert "Traceback" not in proc.stderr and run_id is None


def test_a_flow_that_fails_to_import_is_refused(tmp_path):
    flow = tmp_path / "broken_import.py"
    flow.write_text(
        "from flowc import FlowSpec, step\nimport not_a_module_anywhere\n\n"
        "class ImpFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    proc, _ = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 2
    assert "broken_import.py:2: importing the flow failed: ModuleNotFoundError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_datastore(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_flowc(
        "run",
        str(EXAMPLES / "branch_flow.py"),
        "--datastore",
        str(blocker / "ds"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write to the datastore" in lines[0]
    assert "--datastore" in lines[0]


def test_datastore_from_environment(tmp_path):
    proc = run_flowc(
        "run",
        str(EXAMPLES / "branch_flow.py"),
        cwd=tmp_path,
        env={"FLOWC_DATASTORE": str(tmp_path / "envds")},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "envds" / "runs" / "BranchFlow").is_dir()
    assert not (tmp_path / ".flowc").exists()


def test_default_datastore_is_dot_flowc_in_the_working_directory(tmp_path):
    proc = run_flowc("run", str(EXAMPLES / "branch_flow.py"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / ".flowc" / "runs" / "BranchFlow"
    runs = [p for p in folder.iterdir() if not p.name.startswith(".")]  # .index: the run index
    assert len(runs) == 1
    record = json.loads((runs[0] / "run.json").read_text())
    assert record["flow"] == "BranchFlow" and record["run_id"] == runs[0].name
    status = json.loads((runs[0] / "status.json").read_text())
    assert status["status"] == "succeeded"


def test_tags_and_user_are_recorded(tmp_path):
    proc, run_id = run_flow(
        EXAMPLES / "branch_flow.py",
        "--tag",
        "nightly",
        "--tag",
        "v2",
        cwd=tmp_path,
        env={"FLOWC_USER": "ann"},
    )
    assert proc.returncode == 0
    from flowc.datastore import Datastore

    record = Datastore(str(tmp_path / "ds")).run_record("BranchFlow", run_id)
    assert record["tags"] == ["nightly", "v2"] and record["user"] == "ann"


def test_output_is_prefixed_and_summarised(tmp_path):
    proc, run_id = run_flow(EXAMPLES / "foreach_flow.py", "--count", "2", cwd=tmp_path)
    assert proc.returncode == 0
    assert f"[{run_id}/square/1] done in" in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"Run ForeachFlow/{run_id} succeeded in ")
    assert "(5 tasks)" in last and f"runs/ForeachFlow/{run_id}" in last
