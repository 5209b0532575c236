from flowc import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """A switch picks one branch from a condition artifact; the branches meet again."""

    level = Parameter("level", default="high")

    @step
    def start(self):
        self.choice = self.level
        self.next({"high": self.high, "low": self.low}, condition="choice")

    @step
    def high(self):
        self.path = "high"
        self.next(self.after)

    @step
    def low(self):
        self.path = "low"
        self.next(self.after)

    @step
    def after(self):
        self.seen = self.path
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchFlow()
