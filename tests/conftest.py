from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own IR cache, so no test sees another's cached analysis."""
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path_factory.mktemp("flowc-cache")))
    monkeypatch.delenv("FLOWC_NO_CACHE", raising=False)
    monkeypatch.delenv("FLOWC_DEBUG", raising=False)


def run_flowc(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None):
    """The real command, in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flowc", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_python(*args: str, cwd: str | os.PathLike | None = None):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
