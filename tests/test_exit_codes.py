"""The README's exit-code table, walked verb by verb; --help for every verb; what
`flowc compile` says when an option, the SDK or the target's support is what is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import click
import pytest

from tests.conftest import EXAMPLES, run_flowc

GOOD = textwrap.dedent(
    """
    from flowc import FlowSpec, step

    class CodeFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        CodeFlow()
    """
)
INPUTS = {
    "syntax-error": GOOD.replace("def end(self):", "def end(self)"),
    "lint-error": GOOD.replace("self.next(self.end)", "self.next(self.ende)"),
    "missing-file": None,
}
# README "Exit codes": show/validate report a flow's errors (1); verbs that would run or
# compile it refuse to start (2); a file that is not there stops every verb (2).
TABLE = {
    ("show", "syntax-error"): 1,
    ("show", "lint-error"): 1,
    ("show", "missing-file"): 2,
    ("validate", "syntax-error"): 1,
    ("validate", "lint-error"): 1,
    ("validate", "missing-file"): 2,
    ("run", "syntax-error"): 2,
    ("run", "lint-error"): 2,
    ("run", "missing-file"): 2,
    ("compile", "syntax-error"): 2,
    ("compile", "lint-error"): 2,
    ("compile", "missing-file"): 2,
}
EXTRA = {"compile": ["--target", "airflow", "-o", "dags"], "run": ["--datastore", "ds"]}


@pytest.mark.parametrize(("verb", "case"), sorted(TABLE))
def test_exit_code_table(tmp_path, verb, case):
    flow = tmp_path / "flow.py"
    if INPUTS[case] is not None:
        flow.write_text(INPUTS[case])
    proc = run_flowc(verb, str(flow), *EXTRA.get(verb, []), cwd=tmp_path)
    assert proc.returncode == TABLE[verb, case], (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    said = proc.stdout + proc.stderr
    expected = {"syntax-error": "syntax-error", "lint-error": "unknown-step"}.get(case)
    assert (expected or "no such file") in said
    assert not (tmp_path / "dags").exists() and not (tmp_path / "ds").exists()


def test_bare_validate_checks_the_current_folder(tmp_path):
    (tmp_path / "flow.py").write_text(GOOD)
    proc = run_flowc("validate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ok: ./flow.py (CodeFlow)" in proc.stdout


def _verbs(group: click.Group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _verbs(cmd, (*prefix, name))


def test_every_verb_has_help(capsys):
    from flowc import cli

    verbs = list(_verbs(cli.cli))
    assert {("resume",), ("task",), ("card", "server")} <= set(verbs)
    for verb in verbs:
        for flag in ("--help", "-h"):
            with pytest.raises(SystemExit) as e:
                cli.main([*verb, flag])
            out = capsys.readouterr()
            assert e.value.code == 0, (verb, out.err)
            assert f"Usage: flowc {' '.join(verb)}" in out.out, verb


@pytest.mark.parametrize(
    "args",
    [
        ["resume", "--help"],
        ["resume", "--origin-run-id", "1", "--help"],
        ["task", "--help"],
        ["show", "--help"],
        ["validate", "--help"],
        ["run", "--help"],
        ["compile", "--help"],
        ["card", "--help"],
    ],
)
def test_help_through_the_flow_file(args):
    flow = EXAMPLES / "lr_flow.py"
    proc = subprocess.run(
        [sys.executable, str(flow), *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: python lr_flow.py {args[0]}" in proc.stdout


def test_resume_help_after_the_flow_file():
    proc = run_flowc("resume", str(EXAMPLES / "lr_flow.py"), "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Resume a failed run" in proc.stdout


def test_compile_says_an_option_is_missing(tmp_path):
    proc = run_flowc("compile", str(EXAMPLES / "lr_flow.py"), "--target", "argo", cwd=tmp_path)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "2 options for --target argo are missing or invalid" in last  # image, datastore
    assert "cannot express" not in last and "error[argo-image]" in proc.stderr


def test_compile_says_the_sdk_is_missing(tmp_path):
    """A Python where kfp cannot be imported, as on a machine without the kfp extra."""
    hide_kfp = (  # a None entry in sys.modules is Python's "this module is not there"
        "import sys\nsys.modules['kfp'] = None\nfrom flowc.cli import main\nmain()\n"
    )
    flow = str(EXAMPLES / "lr_flow.py")
    args = ["compile", flow, "--target", "kfp", "--image", "i:1", "--datastore", "s3://b/p"]
    args += ["-o", "p.yaml"]
    proc = subprocess.run(
        [sys.executable, "-c", hide_kfp, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "needs its SDK, which is not installed (pip install 'flowc[kfp]')" in last
    assert "cannot express" not in last and "option" not in last
