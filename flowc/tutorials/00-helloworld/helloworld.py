"""Tutorial 00: the smallest flow, three steps in a line."""

from flowc import FlowSpec, step  # `from metaflow import FlowSpec, step` works the same


class HelloFlow(FlowSpec):
    """A flow where flowc says hi."""

    @step
    def start(self):
        """Every flow begins with `start`."""
        print("HelloFlow is starting.")
        self.next(self.hello)

    @step
    def hello(self):
        """Say hi, and keep what was said: `self.message` is an artifact."""
        self.message = "flowc says: hi!"
        print(self.message)
        self.next(self.end)

    @step
    def end(self):
        """Every flow ends with `end`."""
        print("HelloFlow is all done.")


if __name__ == "__main__":
    HelloFlow()
