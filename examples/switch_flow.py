"""A switch: one of two branches runs, chosen at run time by an artifact's value."""

from flowc import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """Route a value to the branch that handles its size."""

    value = Parameter("value", help="The value to route.", default=42)
    threshold = Parameter("threshold", help="Values above this take the high branch.", default=10)

    @step
    def start(self):
        """Decide the branch."""
        self.bucket = "high" if self.value > self.threshold else "low"
        self.next({"high": self.high, "low": self.low}, condition="bucket")

    @step
    def high(self):
        """Handle a large value."""
        self.message = f"{self.value} is large"
        self.next(self.report)

    @step
    def low(self):
        """Handle a small value."""
        self.message = f"{self.value} is small"
        self.next(self.report)

    @step
    def report(self):
        """Where both branches meet: only the branch that ran gives its message."""
        self.summary = f"{self.bucket}: {self.message}"
        self.next(self.end)

    @step
    def end(self):
        """Print the result."""
        print(self.summary)


if __name__ == "__main__":
    SwitchFlow()
