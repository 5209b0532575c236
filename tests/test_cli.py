"""The command line as users run it: real processes, real files, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from flowc.ir import FlowIR
from tests.conftest import EXAMPLES, ROOT, run_flowc, run_python

LR = str(EXAMPLES / "lr_flow.py")

GOOD = textwrap.dedent(
    '''
    from flowc import FlowSpec, Parameter, step

    class TinyFlow(FlowSpec):
        """A tiny flow."""

        n = Parameter("n", default=3, help="How many.")

        @step
        def start(self):
            """Begin."""
            self.items = list(range(self.n))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.out = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print(self.total)

    if __name__ == "__main__":
        TinyFlow()
    '''
)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def assert_clean_failure(proc, code):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout


# --- show ---------------------------------------------------------------------------------


def test_show_prints_summary_in_graph_order():
    proc = run_flowc("show", LR)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("LRFlow\n")
    assert "--alpha FLOAT" in out and "--max-iter INT" in out
    step_lines = [line.split()[1] for line in out.splitlines() if line.startswith("Step ")]
    assert step_lines[0] == "start" and step_lines[-1] == "end"
    assert "=> " in out


def test_python_flow_file_show_matches_flowc_show():
    direct = run_flowc("show", LR)
    via_file = run_python(LR, "show")
    assert via_file.returncode == 0, via_file.stderr
    assert via_file.stdout == direct.stdout


def test_python_flow_file_without_verb_prints_help(tmp_path):
    flow = write(tmp_path, "tiny.py", GOOD)
    proc = run_python(str(flow))
    assert proc.returncode == 0
    assert "show" in proc.stdout and "validate" in proc.stdout and "TinyFlow" in proc.stdout
    bad = run_python(str(flow), "frobnicate")
    assert_clean_failure(bad, 2)
    assert "unknown command 'frobnicate'" in bad.stderr


def test_show_json_round_trips_through_ir_loader():
    proc = run_flowc("show", LR, "--json")
    assert proc.returncode == 0, proc.stderr
    ir = FlowIR.from_json(proc.stdout)
    assert ir.name == "LRFlow"
    assert json.loads(ir.to_json()) == json.loads(proc.stdout)
    assert {p.attr for p in ir.parameters} >= {"alpha", "max_iter"}


@pytest.mark.parametrize("fmt,needle", [("mermaid", "flowchart TD"), ("dot", "digraph")])
def test_show_graph_pictures(tmp_path, fmt, needle):
    flow = write(tmp_path, "tiny.py", GOOD)
    proc = run_flowc("show", str(flow), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(needle)
    assert "foreach items" in proc.stdout
    # every step appears, with the three edges of the flow
    for name in ("start", "work", "join", "end"):
        assert name in proc.stdout
    assert proc.stdout.count("->") == 3


def test_show_is_deterministic(tmp_path):
    flow = write(tmp_path, "tiny.py", GOOD)
    runs = [
        run_flowc("show", str(flow), "--json", env={"FLOWC_NO_CACHE": "1"}).stdout for _ in range(2)
    ]
    assert runs[0] == runs[1]


# --- no user code runs ------------------------------------------------------------------------


def test_show_and_validate_never_run_user_code(tmp_path):
    marker = tmp_path / "ran.txt"
    flow = write(
        tmp_path,
        "evil.py",
        f"""
        import sys
        open({str(marker)!r}, "w").write("user code ran")
        sys.exit(3)
        from flowc import FlowSpec, step

        class EvilFlow(FlowSpec):
            @step
            def start(self):
                open({str(marker)!r}, "w").write("step ran")
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    show = run_flowc("show", str(flow))
    validate = run_flowc("validate", str(flow))
    assert show.returncode == 0, show.stderr
    assert validate.returncode == 0, validate.stdout
    assert "EvilFlow" in show.stdout
    assert not marker.exists()


# --- validate -------------------------------------------------------------------------------


def test_validate_examples_folder_is_clean():
    proc = run_flowc("validate", str(EXAMPLES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout
    assert "ok: " in proc.stdout


def test_validate_reports_located_error_and_exits_1(tmp_path):
    flow = write(
        tmp_path, "broken.py", GOOD.replace("self.next(self.join)", "self.next(self.joni)")
    )
    proc = run_flowc("validate", str(flow))
    assert_clean_failure(proc, 1)
    line = next(i for i, t in enumerate(flow.read_text().splitlines(), 1) if "self.joni" in t)
    assert f"{flow}:{line}:" in proc.stdout
    assert "error[unknown-step]" in proc.stdout and "join" in proc.stdout


def test_validate_json_output(tmp_path):
    flow = write(
        tmp_path, "broken.py", GOOD.replace("self.next(self.join)", "self.next(self.joni)")
    )
    proc = run_flowc("validate", str(flow), "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc[0]["flows"] == ["TinyFlow"]
    assert any(d["rule"] == "unknown-step" for d in doc[0]["diagnostics"])


def test_validate_several_files_and_exit_code_is_worst(tmp_path):
    good = write(tmp_path, "good.py", GOOD)
    bad = write(tmp_path, "bad.py", GOOD.replace("self.next(self.join)", "pass"))
    proc = run_flowc("validate", str(good), str(bad))
    assert proc.returncode == 1
    assert f"ok: {good}" in proc.stdout
    assert "missing-next" in proc.stdout


def test_folder_skips_base_modules_checked_through_their_flows(tmp_path):
    write(
        tmp_path,
        "base.py",
        """
        from flowc import FlowSpec, Parameter, step

        class BaseFlow(FlowSpec):
            size = Parameter("size", default=2)

            @step
            def end(self):
                pass
        """,
    )
    write(
        tmp_path,
        "child.py",
        """
        from base import BaseFlow
        from flowc import step

        class ChildFlow(BaseFlow):
            @step
            def start(self):
                self.x = self.size
                self.next(self.end)

        if __name__ == "__main__":
            ChildFlow()
        """,
    )
    proc = run_flowc("validate", str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert "ChildFlow" in proc.stdout and "checked 1 flow in 1 file" in proc.stdout


# --- several flows in one file --------------------------------------------------------------

# two complete flows in one file, and no __main__ block choosing one
TWO = GOOD.split("if __name__")[0] + GOOD.split("if __name__")[0].replace(
    "class TinyFlow", "class OtherFlow"
)


def test_several_flows_need_flow_option(tmp_path):
    flow = write(tmp_path, "two.py", TWO)
    proc = run_flowc("show", str(flow))
    assert_clean_failure(proc, 2)
    assert "OtherFlow" in proc.stderr and "TinyFlow" in proc.stderr and "--flow" in proc.stderr
    picked = run_flowc("show", str(flow), "--flow", "TinyFlow")
    assert picked.returncode == 0 and picked.stdout.startswith("TinyFlow")
    missing = run_flowc("show", str(flow), "--flow", "NopeFlow")
    assert_clean_failure(missing, 2)
    assert "unknown-flow" in missing.stderr and "OtherFlow" in missing.stderr
    both = run_flowc("validate", str(flow))
    assert both.returncode == 0 and "checked 2 flows" in both.stdout


# --- bad input ------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    for verb in ("show", "validate"):
        proc = run_flowc(verb, str(tmp_path / "nope.py"))
        assert_clean_failure(proc, 2)
        assert "nope.py: no such file" in proc.stderr


def test_folder_without_flows(tmp_path):
    write(tmp_path, "util.py", "x = 1\n")
    proc = run_flowc("validate", str(tmp_path))
    assert_clean_failure(proc, 2)
    assert "no flow files" in proc.stderr
    shown = run_flowc("show", str(tmp_path))
    assert_clean_failure(shown, 2)
    assert "is a folder" in shown.stderr


def test_file_without_flowspec(tmp_path):
    p = write(tmp_path, "plain.py", "def f():\n    return 1\n")
    for verb in ("show", "validate"):
        proc = run_flowc(verb, str(p))
        assert_clean_failure(proc, 2)
        assert "[no-flow]" in proc.stdout + proc.stderr


def test_binary_file(tmp_path):
    p = tmp_path / "blob.py"
    p.write_bytes(bytes(range(256)) * 4)
    for verb in ("show", "validate"):
        proc = run_flowc(verb, str(p))
        assert_clean_failure(proc, 2)
        assert "[not-python]" in proc.stdout + proc.stderr


def test_not_a_python_file(tmp_path):
    p = write(tmp_path, "notes.txt", "hello\n")
    proc = run_flowc("validate", str(p))
    assert_clean_failure(proc, 2)
    assert "not a Python file" in proc.stderr


def test_syntax_error_is_located(tmp_path):
    p = write(tmp_path, "syn.py", GOOD.replace("def work(self):", "def work(self)"))
    line = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "def work(self)" in t)
    shown = run_flowc("show", str(p))
    assert_clean_failure(shown, 1)  # a finding, as for validate (README: exit codes)
    assert f"{p}:{line}:" in shown.stderr and "error[syntax-error]" in shown.stderr
    checked = run_flowc("validate", str(p))
    assert_clean_failure(checked, 1)
    assert f"{p}:{line}:" in checked.stdout


def test_unknown_option_is_usage_error():
    proc = run_flowc("show", LR, "--colour")
    assert_clean_failure(proc, 2)
    assert "--colour" in proc.stderr


def test_internal_error_is_one_line_unless_debug(monkeypatch, capsys):
    import flowc.check
    from flowc import cli

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(flowc.check, "check_file", boom)
    with pytest.raises(SystemExit) as exc:
        cli.main(["show", LR])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "show", LR])


# --- fast start and the cache -----------------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import sys
    from flowc.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
    heavy = sorted(m for m in ("libcst", "jinja2") if m in sys.modules)
    print("HEAVY=" + ",".join(heavy), "CODE=%s" % code, file=sys.stderr)
    """
)


def _probe(*args):
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )


def test_cli_start_imports_nothing_heavy():
    proc = _probe("--help")
    assert "HEAVY= CODE=0" in proc.stderr


def test_repeated_show_uses_cache_without_libcst(tmp_path):
    flow = write(tmp_path, "tiny.py", GOOD)
    first = _probe("show", str(flow))
    assert "libcst" in first.stderr.split("HEAVY=")[1]
    second = _probe("show", str(flow))
    assert "HEAVY= CODE=0" in second.stderr
    assert second.stdout == first.stdout
    again = _probe("validate", str(flow))
    assert "CODE=0" in again.stderr


def test_cache_notices_edits_to_the_file_and_its_base_module(tmp_path):
    base = write(
        tmp_path,
        "base.py",
        """
        from flowc import FlowSpec, Parameter, step

        class BaseFlow(FlowSpec):
            size = Parameter("size", default=2)
        """,
    )
    child = write(
        tmp_path,
        "child.py",
        """
        from base import BaseFlow
        from flowc import step

        class ChildFlow(BaseFlow):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    assert "--size INT" in run_flowc("show", str(child)).stdout
    base.write_text(base.read_text().replace('"size", default=2', '"width", default=2.5'))
    out = run_flowc("show", str(child)).stdout
    assert "--width FLOAT" in out and "--size" not in out
    child.write_text(child.read_text().replace("def end(self)", "def finish(self)"))
    proc = run_flowc("validate", str(child))
    assert proc.returncode == 1 and "missing-end" in proc.stdout


def test_version_and_help():
    proc = run_flowc("--help")
    assert proc.returncode == 0 and "show" in proc.stdout and "validate" in proc.stdout
    v = run_flowc("--version")
    assert v.returncode == 0 and "0.1.0" in v.stdout


def test_module_and_console_script_agree():
    script = __import__("pathlib").Path(sys.executable).with_name("flowc")
    proc = subprocess.run([str(script), "show", LR], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout == run_flowc("show", LR).stdout


def test_show_prints_the_summary_and_reports_lint_errors_of_that_flow_only(tmp_path):
    broken = GOOD.split("if __name__")[0].replace("class TinyFlow", "class BrokenFlow")
    broken = broken.replace("self.next(self.join)", "self.next(self.joni)")
    flow = write(tmp_path, "two.py", GOOD.split("if __name__")[0] + broken)
    bad = run_flowc("show", str(flow), "--flow", "BrokenFlow")
    assert_clean_failure(bad, 1)
    assert bad.stdout.startswith("BrokenFlow") and "error[unknown-step]" in bad.stderr
    good = run_flowc("show", str(flow), "--flow", "TinyFlow")
    assert good.returncode == 0 and good.stderr == ""
