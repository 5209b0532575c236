"""An on-disk cache of checked flow files, so that a repeated ``show``/``validate`` of an
unchanged file neither imports libcst nor re-runs lint.

An entry is keyed by the file's bytes, the path as given, the ``--flow`` selection and a
fingerprint of flowc's own front-end code; it is valid only while every other source file the
analysis read (local modules holding base flows) still has the hash it had. Entries are
written atomically (temp file + rename), so concurrent runs never see half an entry. Any cache
problem (unwritable folder, corrupt entry) silently falls back to a fresh analysis.

Location: ``FLOWC_CACHE_DIR``, else ``$XDG_CACHE_HOME/flowc``, else ``~/.cache/flowc``;
``FLOWC_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from flowc.atomic import write_atomic

_FRONT_END = ("ir.py", "graph.py", "diagnostics.py", "check.py", "analyzer", "lint")
_fingerprint: str | None = None


def cache_dir() -> Path | None:
    if os.environ.get("FLOWC_NO_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get("FLOWC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowc"


def code_fingerprint() -> str:
    """Changes whenever flowc's analyzer, lint or IR code changes (size and mtime of each
    file), so an upgraded or edited flowc never serves a stale analysis."""
    global _fingerprint
    if _fingerprint is None:
        from flowc import __version__

        root = Path(__file__).parent
        h = hashlib.sha256(__version__.encode())
        for name in _FRONT_END:
            p = root / name
            files = sorted(p.glob("*.py")) if p.is_dir() else [p]
            for f in files:
                try:
                    st = f.stat()
                except OSError:
                    continue
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        _fingerprint = h.hexdigest()[:16]
    return _fingerprint


def key_for(path: str, data: bytes, flow: str | None) -> str:
    h = hashlib.sha256()
    h.update(code_fingerprint().encode())
    h.update(b"\0" + path.encode("utf-8", "surrogateescape"))
    h.update(b"\0" + os.path.abspath(path).encode("utf-8", "surrogateescape"))
    h.update(b"\0" + (flow or "").encode())
    h.update(b"\0" + data)
    return h.hexdigest()


def file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _entry(key: str, part: str) -> Path | None:
    root = cache_dir()
    return None if root is None else root / key[:2] / f"{key}.{part}.json"


def load(key: str, part: str) -> dict[str, Any] | None:
    """Part ``part`` of the entry under ``key``, if it exists and every file the entry depends
    on is unchanged (checked when the ``meta`` part, the entry's commit marker, is loaded)."""
    path = _entry(key, part)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    for dep_path, dep_hash in entry.get("deps", ()):
        if file_sha256(dep_path) != dep_hash:
            return None
    return entry.get("value")


def store(key: str, parts: dict[str, dict[str, Any]], deps: list[tuple[str, str]]) -> None:
    """Write each part atomically; ``meta`` goes last, so a reader that finds it finds the
    others (a crash in between leaves an entry that is simply missed)."""
    order = sorted(parts, key=lambda p: p == "meta")
    for part in order:
        path = _entry(key, part)
        if path is None:
            return
        if not _write_atomic(path, {"deps": deps if part == "meta" else [], "value": parts[part]}):
            return


def _write_atomic(path: Path, doc: dict[str, Any]) -> bool:
    try:
        write_atomic(path, [json.dumps(doc, separators=(",", ":")).encode()])
    except OSError:
        return False
    return True
