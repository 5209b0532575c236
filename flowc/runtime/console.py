"""What a run prints: each task's output line by line behind a ``[run/step/task]`` prefix, task
outcomes, a live progress line when attached to a terminal (plain lines otherwise), and the
final summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from flowc.datastore.layout import Index, task_id


def _ms(seconds: float) -> str:
    # below 999.5 ms, not 1 s: 0.9996 s would print as "1000 ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 0.9995 else f"{seconds:.2f} s"


class Console:
    def __init__(self, flow: str, run_id: str, out: TextIO | None = None, live: bool | None = None):
        self.flow = flow
        self.run_id = run_id
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.partial: dict[tuple[int, str], bytearray] = {}
        self.done: Counter[str] = Counter()
        self.running: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.expected: Counter[str] = Counter()  # foreach bodies: how many tasks to come
        self.started_at = time.monotonic()
        self._status_shown = False
        self._last_draw = 0.0

    def prefix(self, step: str, index: Index) -> str:
        return f"[{self.run_id}/{step}/{task_id(index)}]"

    # --- task output ---------------------------------------------------------------------------

    def output(self, pid: int, prefix: str, stream: str, data: bytes) -> None:
        buf = self.partial.setdefault((pid, stream), bytearray())
        buf += data
        if b"\n" not in buf:
            return
        *lines, rest = bytes(buf).split(b"\n")
        buf[:] = rest
        self._lines(prefix, lines)

    def flush_output(self, pid: int, prefix: str) -> None:
        for stream in ("out", "err"):
            buf = self.partial.pop((pid, stream), None)
            if buf:
                self._lines(prefix, [bytes(buf)])

    def _lines(self, prefix: str, lines: list[bytes]) -> None:
        text = "".join(
            f"{prefix} {line.decode('utf-8', 'replace').rstrip(chr(13))}\n" for line in lines
        )
        self._print(text)

    # --- task events ---------------------------------------------------------------------------

    def started(self, step: str) -> None:
        self.running[step] += 1
        self.redraw()

    def finished(self, step: str, prefix: str, ok: bool, duration: float, note: str = "") -> None:
        self.running[step] -= 1
        if ok:
            self.done[step] += 1
            if not self.live:
                self._print(f"{prefix} done in {_ms(duration)}{note}\n")
        else:
            self.failed[step] += 1
            self._print(f"{prefix} failed after {_ms(duration)}{note}\n")
        self.redraw()

    def cloned(self, step: str) -> None:
        """Resume took this task from the origin run (counted, not printed: there may be
        thousands; the run's summary says how many)."""
        self.done[step] += 1
        self.redraw()

    def expect(self, step: str, n: int) -> None:
        """A foreach opened ``n`` tasks of ``step``: show its progress as done/total."""
        self.expected[step] += n
        self.redraw()

    def message(self, text: str) -> None:
        self._print(text.rstrip("\n") + "\n")

    # --- progress line ------------------------------------------------------------------------

    def redraw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        running = ", ".join(f"{s} x{n}" if n > 1 else s for s, n in self.running.items() if n)
        foreach = "".join(
            f"  {s} {self.done[s]}/{n}" for s, n in self.expected.items() if self.done[s] < n
        )
        line = (
            f"{self.flow}/{self.run_id}  {sum(self.done.values())} done"
            f"  {sum(self.running.values())} running{f' ({running})' if running else ''}"
            f"  {sum(self.failed.values())} failed{foreach}"
            f"  {time.monotonic() - self.started_at:.1f}s"
        )
        width = 120
        self.out.write("\r\x1b[K" + line[:width])
        self.out.flush()
        self._status_shown = True

    def clear(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._status_shown = False

    def _print(self, text: str) -> None:
        if self.live:
            self.out.write("\r\x1b[K")
        self.out.write(text)
        self.out.flush()
        if self.live:
            self._status_shown = False
            self.redraw(force=True)
