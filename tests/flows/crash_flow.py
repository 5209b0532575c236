"""A step killed where Python cannot catch it, under @catch: as in Metaflow, one more attempt
runs no user code and records the failure in the @catch variable."""

import os
import signal

from metaflow import FlowSpec, catch, retry, step


class CrashFlow(FlowSpec):
    @catch(var="ex", print_exception=False)
    @retry(times=1, minutes_between_retries=1)
    @step
    def start(self):
        self.note = "set before the kill"
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        self.kind = self.ex.type


if __name__ == "__main__":
    CrashFlow()
