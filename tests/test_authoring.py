"""The authoring API a flow file imports: complete, light, and free of side effects."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import zipfile

from tests.conftest import EXAMPLES, ROOT

PUBLIC = (
    "FlowSpec step Parameter JSONType IncludeFile Config current "
    "card retry catch timeout resources environment schedule project"
).split()


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_public_names_import_without_heavy_modules():
    proc = run(
        f"""
        import sys
        from flowc import {", ".join(PUBLIC)}
        heavy = [m for m in ("libcst", "click", "jinja2", "flowc.analyzer", "flowc.lint") if m in sys.modules]
        print(heavy)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_decorators_work_bare_and_called_and_record_their_arguments():
    from flowc import FlowSpec, card, project, retry, schedule, step

    @project(name="demo")
    @schedule(daily=True)
    class Demo(FlowSpec):
        @retry(times=3)
        @card
        @step
        def start(self):
            self.next(self.end)

    assert Demo.start.is_step
    assert Demo.start.__flowc_decorators__ == [("card", {}), ("retry", {"times": 3})]
    assert Demo.__flowc_decorators__ == [
        ("schedule", {"daily": True}),
        ("project", {"name": "demo"}),
    ]
    assert Demo(use_cli=False).name == "Demo"


def test_parameters_and_current_outside_a_run():
    from flowc import Config, IncludeFile, JSONType, Parameter, current

    p = Parameter("max-iter", default=3, help="h", required=False)
    assert (p.name, p.default, p.help) == ("max-iter", 3, "h")
    assert IncludeFile("data", is_text=False).is_text is False
    assert Config("cfg", default_value={"a": 1}).default == {"a": 1}
    assert Parameter("j", type=JSONType).type is JSONType
    assert current.is_running_flow is False and current.run_id is None


def test_example_modules_import_without_side_effects():
    for path in sorted(EXAMPLES.glob("*.py")):
        proc = run(
            f"""
            import importlib.util, sys
            spec = importlib.util.spec_from_file_location("example_under_test", {str(path)!r})
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            print("sklearn" in sys.modules, "numpy" in sys.modules)
            """
        )
        assert proc.returncode == 0, (path, proc.stderr)
        assert proc.stdout.strip() == "False False", path


def test_wheel_installs_everything_under_the_flowc_namespace(tmp_path):
    # from a clean copy of the sources: a checkout's stale *.egg-info/SOURCES.txt would add
    # files that pyproject.toml's package data no longer names
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("flowc", "backends", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("flowc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"flowc"}
    assert "flowc/backends/base.py" in names and "flowc/templates/__init__.py" in names
    assert "flowc/analyzer/__init__.py" in names and "flowc/lint/__init__.py" in names
    # the tutorials `flowc tutorials pull` copies out: every file of every tutorial folder
    tutorials = ROOT / "flowc" / "tutorials"
    shipped = {
        f"flowc/tutorials/{p.relative_to(tutorials).as_posix()}"
        for p in tutorials.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "flowc/tutorials/00-helloworld/README.md" in shipped
    assert shipped <= set(names), sorted(shipped - set(names))
