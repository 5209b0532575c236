"""The local executor: runs a flow's tasks on this machine as the graph allows, up to
``max_workers`` at once, each through the task contract in a forked child of this process.

The flow module is imported once, here; a fork gives every task a warm interpreter in about a
millisecond instead of the ~0.4 s of starting Python. Each child gets its own process group, so
Ctrl-C reaches only this process, which stops the children and marks the run failed; SIGTERM
and SIGHUP (CI cancelling, ``docker stop``, a closed terminal) are treated the same way, and a
child whose executor dies without a word (SIGKILL) is killed by the kernel. Retries,
the hard side of ``@timeout`` (a child stuck in C code is killed) and the choice of what runs
next live here; everything a task stores is written by the contract in the child.
"""

from __future__ import annotations

import heapq
import json
import os
import selectors
import signal
import sys
import time
import traceback
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowc.datastore import layout
from flowc.datastore.layout import Index, task_id
from flowc.datastore.storage import StorageError
from flowc.graph import is_foreach
from flowc.runtime.console import Console
from flowc.runtime.decorators import StepPolicy, policy_for
from flowc.runtime.loader import find_function
from flowc.runtime.parallel import gang_node
from flowc.runtime.runs import finish_run
from flowc.runtime.task import TaskContext, TaskResult, execute_task
from flowc.runtime.walk import TaskKey
from flowc.runtime.workers import Stopped, die_with_parent, stop_signals

if TYPE_CHECKING:
    from flowc.runtime.resume import ClonePlan

TIMEOUT_GRACE = 5.0  # seconds past @timeout before a task that ignores SIGALRM is killed
POLL = 1.0  # seconds between checks for children that exited without closing their pipes


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(2, cores)


@dataclass
class Child:
    pid: int
    key: TaskKey
    attempt: int
    started: float
    deadline: float | None
    prefix: str
    fds: dict[int, str]  # fd -> "out" | "err" | "res"
    result: bytearray = field(default_factory=bytearray)
    killed: str | None = None
    status: int | None = None  # wait status, once collected
    # what it printed (the tail), stored for it if it dies before storing its own logs
    logs: dict[str, bytearray] = field(default_factory=lambda: {"out": bytearray(), "err": bytearray()})

    def keep(self, kind: str, data: bytes, limit: int = 1 << 20) -> None:
        buf = self.logs[kind]
        buf += data
        if len(buf) > limit:
            del buf[: len(buf) - limit]


@dataclass
class RunOutcome:
    ok: bool
    tasks: int
    retried: int
    duration: float
    failure: TaskResult | None = None
    interrupted: bool = False
    signal: int = signal.SIGINT  # what interrupted it, when it was


class Executor:
    def __init__(
        self, ctx: TaskContext, max_workers: int, console: Console, plan: ClonePlan | None = None
    ):
        self.ctx = ctx
        self.plan = plan
        self.g = ctx.graph
        self.max_workers = max(1, max_workers)
        self.console = console
        self.children: dict[int, Child] = {}  # by pid
        self.by_fd: dict[int, Child] = {}
        self.ready: deque[tuple[TaskKey, int]] = deque()
        self.delayed: list[tuple[float, int, TaskKey, int]] = []
        self.splits: dict[TaskKey, int] = {}
        self.arrivals: Counter[TaskKey] = Counter()
        # @parallel gangs (step, index of the gang): was the control task caught; which workers
        # died on their last attempt before it finished
        self.gang_caught: dict[TaskKey, bool] = {}
        self.gang_down: dict[TaskKey, list[tuple[Index, TaskResult]]] = {}
        self.policies: dict[str, StepPolicy] = {}
        self.failure: TaskResult | None = None
        self.tasks = 0
        self.retried = 0
        self.stopping = False
        self.exiting: set[int] = set()  # children that reported and are exiting
        self._seq = 0

    def policy(self, step: str) -> StepPolicy:
        if step not in self.policies:
            func = find_function(self.ctx.flow.cls, step)
            self.policies[step] = policy_for(func, self.ctx.run.with_specs)
        return self.policies[step]

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        t0 = time.monotonic()
        self.sel = selectors.DefaultSelector()
        self.ready.append((("start", ()), 0))
        interrupted = False
        stopped_by = signal.SIGINT
        restore = stop_signals()
        try:
            while True:
                now = time.monotonic()
                while self.delayed and self.delayed[0][0] <= now:
                    _, _, key, attempt = heapq.heappop(self.delayed)
                    self.ready.append((key, attempt))
                while self.failure is None and self.ready and len(self.children) < self.max_workers:
                    key, attempt = self.ready.popleft()
                    if not (attempt == 0 and self._clone(key)):
                        self._spawn(key, attempt)
                if not self.children and (
                    self.failure is not None or (not self.ready and not self.delayed)
                ):
                    break
                events = self.sel.select(self._wait_time())
                for sk, _ in events:
                    self._readable(sk.fd)
                if not events:
                    self._reap_exited()
                self._collect_exited()
                self._enforce_deadlines()
        except KeyboardInterrupt as e:
            interrupted = True
            stopped_by = e.signum if isinstance(e, Stopped) else signal.SIGINT
            reason = e.reason if isinstance(e, Stopped) else "interrupted (Ctrl-C)"
            self._stop_all(reason)
        finally:
            restore()
            self.sel.close()
            self.console.clear()
            self._collect_exited(block=True)
        ok = self.failure is None and not interrupted
        status = "succeeded" if ok else "failed"
        detail = {}
        if self.failure is not None:
            f = self.failure
            detail = {"failed_task": f"{f.step}/{f.task_id}", "error": f.error}
        elif interrupted:
            detail = {
                "error": "interrupted" if stopped_by == signal.SIGINT else _reason(stopped_by)
            }
        with _store_failure_reported():
            finish_run(self.ctx.ds, self.ctx.run, status, **detail)
        return RunOutcome(
            ok,
            self.tasks,
            self.retried,
            time.monotonic() - t0,
            self.failure,
            interrupted,
            stopped_by,
        )

    def _wait_time(self) -> float | None:
        now = time.monotonic()
        times = [d for d in (c.deadline for c in self.children.values()) if d is not None]
        if self.delayed:
            times.append(self.delayed[0][0])
        wait = min(times) - now if times else POLL
        wait = min(wait, 0.1 if self.console.live else POLL)
        return max(0.0, wait)

    def _reap_exited(self) -> None:
        """A child that exited while something it started still holds its pipes open: collect
        it anyway (its result, if any, is already in our buffer)."""
        for child in list(self.children.values()):
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                child.status = status
                for fd, kind in list(child.fds.items()):
                    if self.by_fd.get(fd) is child and kind == "res":
                        self._drain(child, fd, kind)
                self._reap(child)

    def _clone(self, key: TaskKey) -> bool:
        """Resume: take the origin run's finished task instead of running it."""
        if self.plan is None:
            return False
        result = self.plan.clone(self.ctx.ds, self.ctx.run, key)
        if result is None:
            return False
        self.console.cloned(key[0])
        self._advance(key[0], key[1], result)
        return True

    # --- children -----------------------------------------------------------------------------

    def _spawn(self, key: TaskKey, attempt: int) -> None:
        step, index = key
        policy = self.policy(step)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured by the tests' results
            die_with_parent(parent)
            self._child(key, attempt, (out_r, err_r, res_r), out_w, err_w, res_w)
        os.close(out_w)
        os.close(err_w)
        os.close(res_w)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child already did it, or already exited
        now = time.monotonic()
        deadline = now + policy.timeout + TIMEOUT_GRACE if policy.timeout else None
        child = Child(
            pid,
            key,
            attempt,
            now,
            deadline,
            self.console.prefix(step, index),
            {out_r: "out", err_r: "err", res_r: "res"},
        )
        self.children[pid] = child
        for fd in child.fds:
            os.set_blocking(fd, False)
            self.by_fd[fd] = child
            self.sel.register(fd, selectors.EVENT_READ)
        self.tasks += 1
        self.console.started(step)

    def _child(
        self,
        key: TaskKey,
        attempt: int,
        own_reads: tuple[int, ...],
        out_w: int,
        err_w: int,
        res_w: int,
    ) -> None:
        code = 0
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            for fd in (*self.by_fd, *own_reads):
                try:
                    os.close(fd)
                except OSError:
                    pass
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            result = execute_task(self.ctx, key[0], key[1], attempt)
            data = json.dumps(result.to_dict()).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(res_w, view) :]
            os.close(res_w)  # the parent moves on now, not after this process is torn down
        except BaseException:  # noqa: BLE001 - report anything, then leave without cleanup
            try:
                traceback.print_exc()
            finally:
                code = 70
        finally:
            os._exit(code)

    def _readable(self, fd: int) -> None:
        child = self.by_fd.get(fd)
        if child is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        kind = child.fds[fd]
        if data:
            if kind == "res":
                child.result += data
            else:
                self.console.output(child.pid, child.prefix, kind, data)
                child.keep(kind, data)
            return
        self._close(fd)
        if kind == "res":
            self._reap(child)

    def _close(self, fd: int) -> None:
        child = self.by_fd.pop(fd, None)
        if child is not None:
            self.sel.unregister(fd)
            os.close(fd)

    def _reap(self, child: Child) -> None:
        """The child closed its result pipe: it finished or died. Collect it and move on."""
        for fd, kind in list(child.fds.items()):
            if self.by_fd.get(fd) is child and kind != "res":  # fd numbers get reused
                self._drain(child, fd, kind)
        del self.children[child.pid]
        status = child.status
        if status is None and not self._has_result(child):
            status = os.waitpid(child.pid, 0)[1]  # it died: how, matters
        elif status is None:
            self.exiting.add(child.pid)  # collected later, without waiting for it
        self.console.flush_output(child.pid, child.prefix)
        step, index = child.key
        result = self._result_of(child, status)
        policy = self.policy(step)
        duration = time.monotonic() - child.started
        if result.ok:
            note = " (exception caught by @catch)" if result.caught else ""
            self.console.finished(step, child.prefix, True, duration, note)
            self._advance(step, index, result)
            return
        if self.stopping:
            self.console.finished(step, child.prefix, False, duration, f": {child.killed}")
            return
        if child.attempt < policy.retries and self.failure is None:
            self.retried += 1
            # As Metaflow's local runtime: retry at once. minutes_between_retries is the
            # orchestrators' backoff (the backends compile it), not a local wait.
            note = f" (attempt {child.attempt + 1} of {policy.attempts}): {result.error}; retrying"
            self.console.finished(step, child.prefix, False, duration, note)
            self._seq += 1
            due = time.monotonic()
            heapq.heappush(self.delayed, (due, self._seq, child.key, child.attempt + 1))
            return
        died_caught = (
            policy.catch
            and child.attempt == policy.retries
            and not self._has_result(child)
            and not child.killed
            and self.failure is None
        )
        worker = bool(gang_node(self.g, step, index))
        if died_caught and worker and self.gang_caught.get((step, index[:-1]), True):
            # A @parallel worker gets no fallback attempt: its control task answers for it.
            note = f": {result.error}; left to the control task's @catch"
            self.console.finished(step, child.prefix, False, duration, note)
            self._worker_down(step, index, result)
            return
        if died_caught and not worker:
            # The process died where @catch could not see it: as Metaflow, one more attempt
            # runs no user code and only records the failure in the @catch variable.
            note = f": {result.error}; @catch records it"
            self.console.finished(step, child.prefix, False, duration, note)
            self._seq += 1
            heapq.heappush(self.delayed, (time.monotonic(), self._seq, child.key, child.attempt + 1))
            return
        attempts = f" (attempt {child.attempt + 1} of {policy.attempts})" if policy.retries else ""
        self.console.finished(step, child.prefix, False, duration, f"{attempts}: {result.error}")
        if self.failure is None:
            self.failure = result
            self._stop_all("cancelled")

    @staticmethod
    def _has_result(child: Child) -> bool:
        try:
            json.loads(child.result)
        except ValueError:
            return False
        return True

    def _collect_exited(self, block: bool = False) -> None:
        for pid in list(self.exiting):
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                self.exiting.discard(pid)

    def _drain(self, child: Child, fd: int, kind: str) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break  # a process the task started still holds the pipe: stop listening
            if not data:
                break
            if kind == "res":
                child.result += data
            else:
                self.console.output(child.pid, child.prefix, kind, data)
                child.keep(kind, data)
        self._close(fd)

    def _result_of(self, child: Child, status: int | None) -> TaskResult:
        step, index = child.key
        run = self.ctx.run
        if child.result:
            try:
                return TaskResult(**json.loads(child.result))
            except (ValueError, TypeError):
                pass
        if status is None:  # the result did not parse after all: collect the exit status
            self.exiting.discard(child.pid)
            status = os.waitpid(child.pid, 0)[1]
        if child.killed:
            error = child.killed
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            error = f"the task's process was killed by {signal.Signals(sig).name}"
            if sig == signal.SIGSEGV:
                error += " (segmentation fault)"
        else:
            error = f"the task's process exited with code {os.waitstatus_to_exitcode(status)}"
        result = TaskResult(
            "failed", run.flow, run.run_id, step, task_id(index), child.attempt, error=error
        )
        # The task could not say so itself: record the attempt on its behalf (never task.json),
        # with what it printed before it died.
        child.keep("err", f"\n{error}\n".encode())
        logs = {}
        for kind, stream in (("out", "stdout"), ("err", "stderr")):
            data = bytes(child.logs[kind])
            logs[stream] = len(data)
            key = layout.attempt_key(
                run.flow, run.run_id, step, task_id(index), child.attempt, stream
            )
            self.ctx.ds.write_bytes(key, data)
        self.ctx.ds.write_json(
            layout.attempt_key(
                run.flow, run.run_id, step, task_id(index), child.attempt, "attempt.json"
            ),
            {
                "flow": run.flow,
                "run_id": run.run_id,
                "step": step,
                "task_id": task_id(index),
                "attempt": child.attempt,
                "status": "failed",
                "error": error,
                "pid": child.pid,
                "logs": logs,
            },
        )
        return result

    def _advance(self, step: str, index: Index, result: TaskResult) -> None:
        if gang_node(self.g, step, index) == 0:
            self._control_done(step, index, result.caught)
        n = result.foreach_num_splits
        if n is not None:
            self.splits[(step, index)] = n
            self.console.expect(self.g.steps[step].transition.targets[0], n)
        for target, idx in self.g.next_tasks(step, index, n, result.branch):
            if self.g.is_join(target):
                key = (target, idx)
                self.arrivals[key] += 1
                split = self.g.split_of[target]
                n_join = self.splits.get((split.name, idx)) if is_foreach(split) else None
                if self.arrivals[key] == self.g.expected_arrivals(target, n_join):
                    self.ready.append((key, 0))
            else:
                self.ready.append(((target, idx), 0))

    def _worker_down(self, step: str, index: Index, result: TaskResult) -> None:
        """A @parallel worker died on its last attempt: once its control task is caught, the
        worker's slot at the join is settled (the join reads the control task alone); if the
        control task finished without @catch stepping in, the worker's failure fails the run."""
        gang = (step, index[:-1])
        if gang not in self.gang_caught:
            self.gang_down.setdefault(gang, []).append((index, result))
        elif self.gang_caught[gang]:
            self._advance(step, index, result)
        elif self.failure is None:
            self.failure = result
            self._stop_all("cancelled")

    def _control_done(self, step: str, index: Index, caught: bool) -> None:
        gang = (step, index[:-1])
        self.gang_caught[gang] = caught
        for worker, result in self.gang_down.pop(gang, []):
            self._worker_down(step, worker, result)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            if child.deadline is not None and now >= child.deadline and not child.killed:
                timeout = self.policy(child.key[0]).timeout
                child.killed = f"timed out after {timeout:g} s (@timeout); the task was killed"
                _kill(child.pid, signal.SIGKILL)

    def _stop_all(self, reason: str) -> None:
        """Stop every running child (SIGTERM, then SIGKILL) and collect them."""
        self.stopping = True
        for child in self.children.values():
            child.killed = child.killed or reason
            _kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while self.children and time.monotonic() < deadline:
            for sk, _ in self.sel.select(0.05):
                self._readable(sk.fd)
            self._reap_exited()
        for child in list(self.children.values()):
            _kill(child.pid, signal.SIGKILL)
        while self.children:
            for sk, _ in self.sel.select(0.05):
                self._readable(sk.fd)
            self._reap_exited()


def _reason(signum: int) -> str:
    return f"stopped by {signal.Signals(signum).name}"


def _kill(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@contextmanager
def _store_failure_reported():
    """A record the executor writes itself when the datastore fails under the run: say so and
    go on, so the run ends as failed (exit 1) with the task's own error."""
    try:
        yield
    except StorageError as e:
        print(f"flowc: warning: {e}", file=sys.stderr)
