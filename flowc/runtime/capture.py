"""Capture a task's stdout and stderr at the file-descriptor level (so output of C code and
subprocesses is caught too), keep a copy for the datastore, and pass everything through to
where the output went before (the terminal, the orchestrator's log, or the executor's pipe)."""

from __future__ import annotations

import os
import selectors
import sys
import threading

_MAX_KEPT = 64 * 1024 * 1024  # per stream; beyond this only the tail is kept


class Capture:
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self._saved: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

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
                kept += data
                if len(kept) > _MAX_KEPT:
                    del kept[: len(kept) - _MAX_KEPT]
                try:
                    _write_all(echo, data)
                except OSError:
                    pass  # nobody listens any more; the copy is still kept
        sel.close()


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
