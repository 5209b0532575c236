"""Byte storage under a root: a local folder through plain OS calls (the fast, embedded
default), or any fsspec URL (``s3://bucket/prefix``, ``gs://``, ``file://``...).

Every write is atomic for readers: a local file is written under a temporary name and renamed
into place; object stores make a single PUT visible all at once. Keys are ``/``-separated
paths relative to the root.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import BinaryIO, Protocol

from flowc.atomic import write_atomic

Buffer = bytes | bytearray | memoryview


class StorageError(OSError):
    """The datastore cannot be reached or used as configured (credentials, endpoint, bucket,
    permissions). Its message is one line naming the datastore URL and what to set; it is bad
    configuration, never a flowc bug."""


class Storage(Protocol):
    url: str

    def read(self, key: str) -> bytes: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def write(self, key: str, parts: Iterable[Buffer]) -> None: ...

    def exists(self, key: str) -> bool: ...

    def is_file(self, key: str) -> bool: ...

    def listdir(self, key: str) -> list[str]: ...

    def folder_version(self, key: str) -> int | None: ...

    def claim(self, key: str) -> bool: ...

    def check_writable(self) -> None: ...


class LocalStorage:
    """A folder on this machine. Temporary files start with ``.`` and never match a key."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.url = self.root

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key)

    def read(self, key: str) -> bytes:
        with open(self._path(key), "rb") as f:
            return f.read()

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it

    def write(self, key: str, parts: Iterable[Buffer]) -> None:
        write_atomic(self._path(key), parts)

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def is_file(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def folder_version(self, key: str) -> int | None:
        """Changes whenever an entry of folder ``key`` is added, removed or renamed over (its
        mtime); None when the folder is missing. Lets an index skip listing a quiet folder."""
        try:
            return os.stat(self._path(key)).st_mtime_ns
        except OSError:
            return None

    def listdir(self, key: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self._path(key)) if not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def claim(self, key: str) -> bool:
        """Create the folder ``key`` if nobody has: the one atomic step that makes two runs
        started at the same moment get different ids."""
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
        return True

    def check_writable(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        probe = os.path.join(self.root, f".probe.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)


class FsspecStorage:
    """Any filesystem fsspec knows. Used for URLs; plain paths take :class:`LocalStorage`.

    Fork-safe: fsspec filesystems (s3fs, gcsfs...) hold an event loop and connections that a
    forked child must not use, so each process makes its own on first use, with fsspec's
    instance cache cleared.
    """

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._fs, self._pid = None, -1
        fs = self.fs  # fails here, before any run starts, when the protocol is not installed
        self._root = fsspec_root(fs, self.url)
        self._local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))

    @property
    def fs(self):  # noqa: ANN201 - an fsspec AbstractFileSystem
        if self._pid != os.getpid():
            import fsspec

            if self._pid != -1:
                type(self._fs).clear_instance_cache()
            try:
                options = storage_options(self.url)
                self._fs, _ = fsspec.core.url_to_fs(self.url, skip_instance_cache=True, **options)
            except ImportError as e:
                raise StorageError(f"datastore {self.url}: {_install_hint(self.url, e)}") from None
            self._pid = os.getpid()
        return self._fs

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def read(self, key: str) -> bytes:
        return self.fs.cat_file(self._path(key))

    def open_read(self, key: str) -> BinaryIO:
        return self.fs.open(self._path(key), "rb")

    def write(self, key: str, parts: Iterable[Buffer]) -> None:
        path = self._path(key)
        if not self._local:
            with self.fs.open(path, "wb") as f:  # one PUT: visible whole or not at all
                for part in parts:
                    f.write(part)
            return
        folder, name = path.rsplit("/", 1)
        self.fs.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with self.fs.open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
            self.fs.mv(tmp, path)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._path(key))

    def is_file(self, key: str) -> bool:
        return self.fs.isfile(self._path(key))

    def folder_version(self, key: str) -> int | None:
        return None  # object stores have no folder mtime: always list

    def listdir(self, key: str) -> list[str]:
        try:
            entries = self.fs.ls(self._path(key), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        names = (e.rstrip("/").rsplit("/", 1)[-1] for e in entries)
        return sorted(n for n in names if not n.startswith("."))

    def claim(self, key: str) -> bool:
        # Object stores have no atomic mkdir; callers add a random suffix to run ids here.
        marker = f"{key}/.claimed"
        if self.fs.exists(self._path(marker)):
            return False
        self.write(marker, [b""])
        return True

    def check_writable(self) -> None:
        probe = f".probe.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self.write(probe, [b""])
        self.fs.rm(self._path(probe))


OPTIONS_VAR = "FLOWC_STORAGE_OPTIONS"


def storage_options(url: str) -> dict:
    """``$FLOWC_STORAGE_OPTIONS``: a JSON object of options for the datastore's client (for
    ``s3://``: ``endpoint_url``, ``region_name``, ``profile``, ``addressing_style``; for any
    other URL, fsspec's keyword arguments of that filesystem)."""
    import json

    text = os.environ.get(OPTIONS_VAR, "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except ValueError as e:
        raise StorageError(f"datastore {url}: {OPTIONS_VAR} is not JSON ({e})") from None
    if not isinstance(options, dict):
        raise StorageError(
            f'datastore {url}: {OPTIONS_VAR} must be a JSON object like {{"endpoint_url": "..."}}'
        )
    return options


def fsspec_root(fs, url: str) -> str:  # noqa: ANN001
    return fs._strip_protocol(url).rstrip("/")


def _install_hint(url: str, e: ImportError) -> str:
    protocol = url.split("://", 1)[0]
    if protocol in ("s3", "s3a"):
        return "S3 support is not installed; pip install 'flowc[s3]'"
    return f"the {protocol}:// filesystem is not installed ({e})"


def open_storage(url: str) -> Storage:
    """A plain path is a local folder; ``s3://`` goes through botocore (fast to start);
    any other URL through fsspec."""
    if url.startswith("s3://"):
        from flowc.datastore.s3 import S3Storage

        return S3Storage(url)
    if "://" in url:
        return FsspecStorage(url)
    return LocalStorage(url)
