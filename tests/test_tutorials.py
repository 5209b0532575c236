"""`flowc tutorials`: every tutorial run exactly as its README says, with its output checked;
list/info/pull. (tests/test_authoring.py checks that the wheel ships them.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from flowc.tutorials import tutorials
from tests.conftest import run_flowc

NAMES = [t.name for t in tutorials()]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def steps(readme: str) -> list[tuple[str, list[str]]]:
    """(commands, expected lines) for each ```bash block, with the ```text block after it."""
    out: list[tuple[str, list[str]]] = []
    for kind, body in BLOCK.findall(readme):
        if kind == "bash":
            out.append((body, []))
        elif kind == "text" and out and not out[-1][1]:
            out[-1][1].extend(line for line in body.splitlines() if line.strip())
    return out


def _norm(line: str) -> str:
    return " ".join(line.split())


def assert_output(expected: list[str], output: str, where: str) -> None:
    """Each expected line matches a later output line; `...` stands for anything and runs of
    spaces are one space (column widths depend on user names and ids)."""
    lines = [_norm(ln) for ln in output.splitlines()]
    at = 0
    for want in expected:
        pattern = re.compile(".*".join(re.escape(p.strip()) for p in _norm(want).split("...")))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        assert at < len(lines), f"{where}: expected {want!r} in order in:\n{output}"
        at += 1


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """The tutorials as a user gets them: `flowc tutorials pull` into an empty folder."""
    home = tmp_path_factory.mktemp("tutorials")
    proc = run_flowc("tutorials", "pull", cwd=home)
    assert proc.returncode == 0, proc.stderr
    return home / "flowc-tutorials"


@pytest.mark.parametrize("name", NAMES)
def test_tutorial_runs_as_its_readme_says(pulled, name):
    folder = pulled / name
    readme = (folder / "README.md").read_text()
    todo = steps(readme)
    assert todo, f"{name}: no commands in its README"
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FLOWC_DATASTORE", None)
    for commands, expected in todo:
        assert expected, f"{name}: no expected output after {commands!r}"
        proc = subprocess.run(
            ["bash", "-e", "-c", commands],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (
            f"{name}: {commands!r} exited {proc.returncode}:\n{proc.stdout}"
        )
        assert "Traceback" not in proc.stdout or "TUTORIAL_BUG" in commands
        assert_output(expected, proc.stdout, f"{name}: {commands.strip()}")


def test_list_info_and_pull(tmp_path):
    listed = run_flowc("tutorials", "list")
    assert listed.returncode == 0
    assert [ln.split()[0] for ln in listed.stdout.splitlines()[: len(NAMES)]] == NAMES
    assert len(NAMES) >= 7 and NAMES[0] == "00-helloworld"
    info = run_flowc("tutorials", "info", "3")
    assert info.returncode == 0 and info.stdout.startswith("# 03 Resume after a failure")
    assert run_flowc("tutorials", "info", "resume").stdout == info.stdout
    missing = run_flowc("tutorials", "info", "99")
    assert missing.returncode == 2 and "no tutorial '99'" in missing.stderr
    first = run_flowc("tutorials", "pull", "00", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    flow = tmp_path / "flowc-tutorials" / "00-helloworld" / "helloworld.py"
    flow.write_text("# my edits\n")
    again = run_flowc("tutorials", "pull", cwd=tmp_path)
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr
    assert flow.read_text() == "# my edits\n"  # nothing overwritten
    forced = run_flowc("tutorials", "pull", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "HelloFlow" in flow.read_text()
    assert sorted(p.name for p in (tmp_path / "flowc-tutorials").iterdir()) == NAMES
