"""Code packages: the flow file and the local modules it imports, stored content-addressed in
the datastore so that a task in a pod (or on any worker) runs exactly the code that was
compiled, without the code being baked into an image.

The package is a gzipped tar with fixed metadata (sorted names, zero times and owners), so the
same sources always give the same bytes and so the same id; ``flowc task --package ID`` unpacks
it once per machine (:func:`unpack`) and runs the flow file from there. Every backend can reuse
this: it only needs to pass the package id and the flow file's name inside the package.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable

PACKAGE_DIR = "packages"


class PackageError(Exception):
    """The sources cannot be packaged, or a package cannot be found or unpacked."""


def package_key(package_id: str) -> str:
    return f"{PACKAGE_DIR}/{package_id}.tar.gz"


_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"}


def python_files(root: str) -> list[str]:
    """Every .py file under ``root`` (as Metaflow packages a flow's folder): the flow may import
    any of them, and the analyzer only records the modules flow classes come from."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        found += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    return found


def build(flow_file: str, sources: Iterable[str] = ()) -> tuple[str, bytes, str]:
    """(package id, package bytes, the flow file's name inside the package).

    It holds every .py file under the flow file's folder plus the analyzer's ``sources``, by
    paths relative to that folder; a source outside it cannot be packaged (its import would
    not resolve the same way)."""
    root = os.path.dirname(os.path.abspath(flow_file))
    names = {}
    files = {os.path.abspath(flow_file), *python_files(root), *map(os.path.abspath, sources)}
    for path in files:
        rel = os.path.relpath(path, root)
        if rel.startswith(".."):
            raise PackageError(
                f"{path} is outside the flow's folder {root}; a code package holds only files "
                "under it (move the module, or bake the code into the image instead)"
            )
        names[rel.replace(os.sep, "/")] = path
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(names):
            with open(names[rel], "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    blob = gzip.compress(raw.getvalue(), mtime=0)
    package_id = hashlib.sha256(blob).hexdigest()
    return package_id, blob, os.path.relpath(os.path.abspath(flow_file), root)


def store(ds, package_id: str, blob: bytes) -> None:  # noqa: ANN001 - a flowc Datastore
    """Write the package once; an existing one with this id has these very bytes."""
    key = package_key(package_id)
    if not ds.storage.exists(key):
        ds.write_bytes(key, blob)


def unpack(ds, package_id: str, cache_root: str | None = None) -> str:  # noqa: ANN001
    """The folder holding the unpacked package (unpacked once; later calls reuse it)."""
    if not package_id or any(c not in "0123456789abcdef" for c in package_id):
        raise PackageError(f"--package {package_id!r} is not a package id (64 hex digits)")
    base = cache_root or os.path.join(tempfile.gettempdir(), "flowc-packages")
    target = os.path.join(base, package_id)
    if os.path.isdir(target):
        return target
    blob = ds.read_bytes(package_key(package_id))
    if blob is None:
        raise PackageError(f"package {package_id} is not in the datastore {ds.url}")
    if hashlib.sha256(blob).hexdigest() != package_id:
        raise PackageError(f"package {package_id} in {ds.url} is damaged (its hash differs)")
    os.makedirs(base, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{package_id[:12]}-", dir=base)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r") as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.startswith("/") or ".." in member.name:
                raise PackageError(f"package {package_id}: unexpected entry {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, filter="data")
        else:  # every entry was checked above
            tar.extractall(staging)
    try:
        os.rename(staging, target)  # atomic: another task may have unpacked it meanwhile
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not os.path.isdir(target):
            raise
    return target
