"""Every node of a @parallel gang is killed where Python cannot catch it, under @catch and
@retry: as in Metaflow's local runtime, only the control task gets the attempt that runs no
user code and records the failure; the workers keep their failed attempts, and the join reads
the caught control task alone."""

import os
import signal

from metaflow import FlowSpec, catch, current, parallel, retry, step


class GangCrashFlow(FlowSpec):
    @step
    def start(self):
        self.before = "from start"
        self.next(self.train, num_parallel=3)

    @catch(var="ex", print_exception=False)
    @retry(times=1)
    @parallel
    @step
    def train(self):
        self.node = current.parallel.node_index
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = [(i.ex.type, i.before, hasattr(i, "node")) for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GangCrashFlow()
