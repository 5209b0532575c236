"""Capture a task's stdout and stderr at the file-descriptor level (so output of C code and
subprocesses is caught too), keep a copy for the datastore, and pass everything through to
where the output went before (the terminal, the orchestrator's log, or the executor's pipe)."""

from __future__ import annotations

import io
import os
import selectors
import sys
import threading
from typing import Any

_MAX_KEPT = 64 * 1024 * 1024  # per stream; beyond this only the tail is kept


class Capture:
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self._saved: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._streams: tuple | None = None

    def __enter__(self) -> Capture:
        _flush()
        self._saved = (os.dup(1), os.dup(2))
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        os.dup2(w1, 1)
        os.dup2(w2, 2)
        os.close(w1)
        os.close(w2)
        try:
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
        # Python-level output is kept and passed on synchronously, not through the pipe: a
        # process that dies at once (a segfault in C code) keeps what it printed before.
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(self, self.out, self._saved[0], sys.stdout, 1)  # type: ignore[assignment]
        sys.stderr = _Tee(self, self.err, self._saved[1], sys.stderr, 2)  # type: ignore[assignment]
        self._thread = threading.Thread(
            target=self._pump, args=(r1, r2), name="flowc-capture", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._saved is None:
            return
        _flush()
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None
        out, err = self._saved
        os.dup2(out, 1)  # closes the pipes' write ends: the pump sees end of file
        os.dup2(err, 2)
        assert self._thread is not None
        self._thread.join(timeout=5)  # a child process may still hold the pipe
        os.close(out)
        os.close(err)
        self._saved = None

    def _pump(self, r1: int, r2: int) -> None:
        assert self._saved is not None
        targets = {r1: (self.out, self._saved[0]), r2: (self.err, self._saved[1])}
        sel = selectors.DefaultSelector()
        for fd in targets:
            sel.register(fd, selectors.EVENT_READ)
        open_fds = set(targets)
        while open_fds:
            for key, _ in sel.select():
                fd = key.fd
                data = os.read(fd, 65536)
                if not data:
                    sel.unregister(fd)
                    os.close(fd)
                    open_fds.discard(fd)
                    continue
                kept, echo = targets[fd]
                self.keep(kept, echo, data)
        sel.close()

    def keep(self, kept: bytearray, echo: int, data: bytes) -> None:
        with self._lock:
            kept += data
            if len(kept) > _MAX_KEPT:
                del kept[: len(kept) - _MAX_KEPT]
            try:
                _write_all(echo, data)
            except OSError:
                pass  # nobody listens any more; the copy is still kept


class _Tee(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while a task runs: each write is kept and passed on at
    once (file-descriptor output of C code and subprocesses still goes through the pipe)."""

    def __init__(self, cap: Capture, kept: bytearray, echo: int, original: Any, fd: int):
        self._cap, self._kept, self._echo, self._fd = cap, kept, echo, fd
        self._encoding = getattr(original, "encoding", None) or "utf-8"
        self._errors = getattr(original, "errors", None) or "replace"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    @property
    def errors(self) -> str:  # type: ignore[override]
        return self._errors

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._cap.keep(self._kept, self._echo, s.encode(self._encoding, self._errors))
        return len(s)

    @property
    def buffer(self) -> Any:
        return _BinaryTee(self)

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False


class _BinaryTee:
    def __init__(self, tee: _Tee):
        self._tee = tee

    def write(self, b: bytes) -> int:
        self._tee._cap.keep(self._tee._kept, self._tee._echo, bytes(b))
        return len(b)

    def flush(self) -> None:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
