import os

from flowc import FlowSpec, Parameter, current, step


class ResumeFlow(FlowSpec):
    """Fails in `work` for item 1 while the file $FAIL_MARKER exists; each start appends a line
    to $START_LOG, so a test can tell whether start ran again."""

    size = Parameter("size", default=3)

    @step
    def start(self):
        with open(os.environ["START_LOG"], "a") as f:
            f.write(f"{current.run_id}\n")
        self.payload = os.urandom(4096)  # a value that could not be recomputed identically
        self.items = list(range(self.size))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"working on {self.input}")
        if self.input == 1 and os.path.exists(os.environ["FAIL_MARKER"]):
            raise RuntimeError("planned failure")
        self.square = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.square for i in inputs]
        self.payload = inputs[0].payload
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)
        self.origin = current.origin_run_id
        print("total", self.total)


if __name__ == "__main__":
    ResumeFlow()
