"""Keeping a run's worker processes tied to their executor.

SIGTERM and SIGHUP reach ``flowc run`` when CI cancels a job, ``docker stop`` or Kubernetes
stops a container, or a terminal closes. They get the Ctrl-C treatment: the executor's loop sees
:class:`Stopped` (a ``KeyboardInterrupt``, so every path that cleans up after Ctrl-C cleans up
after these too), stops its workers and marks the run failed. If the executor dies without a
word (SIGKILL, the OOM killer), each worker is killed by the kernel (``PR_SET_PDEATHSIG``), so
no task keeps writing into a run nobody watches.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class Stopped(KeyboardInterrupt):
    """The executor was asked to stop by ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.reason = f"stopped by {signal.Signals(signum).name}"


def stop_signals() -> Callable[[], None]:
    """Turn SIGTERM and SIGHUP into :class:`Stopped` in this process (the first one only: a
    second signal while the workers are being stopped does not cut that short). Returns the
    function that puts the previous handlers back."""
    fired = False

    def handler(signum: int, frame) -> None:  # noqa: ANN001
        nonlocal fired
        if not fired:
            fired = True
            raise Stopped(signum)

    previous = {}
    for sig in STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread: leave signals alone
            pass

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _libc_prctl():  # noqa: ANN202
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()  # loaded once in the executor, before it forks any worker


def die_with_parent(parent_pid: int) -> None:
    """In a freshly forked worker: be killed when the executor dies. Where the kernel cannot do
    that (not Linux), the executor's process-group kill on Ctrl-C/SIGTERM still applies."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- a run whose executor died ----------------------------------------------------------------

EXECUTOR_FILE = "executor.json"


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot), to tell it from a later process that
    reuses its id; None where /proc does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def executor_doc() -> dict:
    """What ``executor.json`` holds for a local run: which process on which machine runs it."""
    import socket

    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "start_ticks": _start_ticks(pid)}


def executor_died(doc: dict | None) -> bool:
    """Whether the local executor that ran a run is gone: its process no longer exists on this
    machine. False when it cannot be known (another machine, no record: an orchestrated run)."""
    import socket

    if not isinstance(doc, dict) or doc.get("host") != socket.gethostname():
        return False
    pid = doc.get("pid")
    if not isinstance(pid, int):
        return False
    if not process_alive(pid):
        return True
    ticks = doc.get("start_ticks")
    return ticks is not None and _start_ticks(pid) not in (None, ticks)
