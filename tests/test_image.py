"""``flowc image``: the Dockerfile for a flow's pods holds a pinned Python, flowc with the
extras the flow needs, the flow's declared requirements and (unless --package) its code; its
``pip install`` line resolves (``pip install --dry-run`` against the package registry, with
flowc from this source tree)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from flowc.backends.image import pip_arguments
from tests.conftest import ROOT, run_flowc

FLOW = """
from metaflow import FlowSpec, card, pypi, pypi_base, step
from metaflow.cards import VegaChart

import helpers


@pypi_base(packages={"pyyaml": "6.0.2"}, python="3.12.8")
class ImageFlow(FlowSpec):
    @pypi(packages={"click": ">=8.1"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def flow_folder(tmp_path: Path, requirements: str | None = "markupsafe>=2.1\n") -> Path:
    (tmp_path / "image_flow.py").write_text(FLOW)
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prep.py").write_text("Y = 2\n")
    if requirements is not None:
        (tmp_path / "requirements.txt").write_text(requirements)
    return tmp_path / "image_flow.py"


def image(flow: Path, *args: str) -> tuple[str, str]:
    out = flow.parent / "Dockerfile"
    proc = run_flowc("image", str(flow), "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return out.read_text(), proc.stderr


def test_the_dockerfile_holds_python_flowc_requirements_and_code(tmp_path):
    flow = flow_folder(tmp_path)
    text, stderr = image(flow, "--datastore", "s3://bucket/flowc")
    lines = text.splitlines()
    assert "FROM python:3.12.8-slim-bookworm" in lines  # @pypi_base(python=...) pins it
    run = next(x for x in lines if x.startswith("RUN "))
    assert run == (
        "RUN python -m pip install --no-cache-dir 'flowc[s3,charts]==0.1.0' 'click>=8.1' "
        "pyyaml==6.0.2 -r requirements.txt"
    )
    assert lines.index("COPY requirements.txt requirements.txt") < lines.index(run)
    copies = [x for x in lines if x.startswith("COPY ") and "requirements" not in x]
    assert copies == [
        "COPY data/prep.py /flow/data/prep.py",
        "COPY helpers.py /flow/helpers.py",
        "COPY image_flow.py /flow/image_flow.py",
    ]
    assert "--image REPO:TAG --flow-path /flow/image_flow.py" in stderr
    assert image(flow, "--datastore", "s3://bucket/flowc")[0] == text  # deterministic


def test_with_package_the_image_holds_no_code_and_a_local_datastore_needs_no_s3(tmp_path):
    flow = flow_folder(tmp_path, requirements=None)
    text, stderr = image(flow, "--package", "--datastore", "/shared/ds")
    assert "COPY" not in text and "--package" in stderr
    assert "'flowc[charts]==0.1.0'" in text and "-r requirements.txt" not in text


def test_the_default_base_is_pinned_and_conflicting_pins_are_located(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text(
        "from flowc import FlowSpec, step\n\n\nclass P(FlowSpec):\n    @step\n"
        "    def start(self):\n        self.next(self.end)\n\n    @step\n"
        "    def end(self):\n        pass\n"
    )
    text = run_flowc("image", str(plain)).stdout
    assert re.search(r"^FROM python:3\.\d+\.\d+-slim-bookworm$", text, re.M)
    assert "RUN python -m pip install --no-cache-dir flowc==0.1.0\n" in text
    bad = tmp_path / "bad.py"
    bad.write_text(FLOW.replace('"click": ">=8.1"', '"pyyaml": "5.4"'))
    (tmp_path / "helpers.py").write_text("")
    proc = run_flowc("image", str(bad))
    assert proc.returncode == 2 and f"{bad}:10:5: error[image-pypi]" in proc.stderr, proc.stderr


def test_the_pip_install_line_resolves(tmp_path):
    flow = flow_folder(tmp_path)
    requirement = f"flowc[s3,charts] @ {ROOT.as_uri()}"
    text, _ = image(flow, "--datastore", "s3://b/p", "--flowc-requirement", requirement)
    args = pip_arguments(text)
    assert args[1] == requirement
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
