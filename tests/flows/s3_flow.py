import os
import random
import time

from flowc import FlowSpec, card, catch, current, retry, step


class S3Flow(FlowSpec):
    """Everything a run stores, for the object-store tests: a nested foreach, a switch, a retry,
    a caught failure, a card. $BIG_MB makes `big` store that many MiB of incompressible bytes
    (the same bytes every run); $WAIT_FOR makes `big` wait for that file first."""

    @card
    @step
    def start(self):
        self.outer = [1, 2]
        self.next(self.mid, foreach="outer")

    @step
    def mid(self):
        self.o = self.input
        self.inner = [10, 20]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.value = self.o * self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.part = sum(i.value for i in inputs)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.total = sum(i.part for i in inputs)
        self.next(self.route)

    @step
    def route(self):
        self.mode = "retry"
        self.next({"retry": self.flaky, "other": self.other}, condition="mode")

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempts = current.retry_count + 1
        self.next(self.caught)

    @step
    def other(self):
        self.attempts = 0
        self.next(self.caught)

    @catch(var="error")
    @step
    def caught(self):
        raise ValueError("always fails")
        self.next(self.big)

    @step
    def big(self):
        marker = os.environ.get("WAIT_FOR")
        deadline = time.time() + 60
        while marker and not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.02)
        mib = int(os.environ.get("BIG_MB", "0"))
        self.blob = random.Random(0).randbytes(mib * 1024 * 1024)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total, "attempts", self.attempts, "blob", len(self.blob))
