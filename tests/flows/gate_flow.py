import os

from flowc import FlowSpec, Parameter, step


class GateFlow(FlowSpec):
    """Fails until the file named by `gate` exists: a run that fails, is fixed, and is cleared
    and re-run to success by the orchestrator."""

    gate = Parameter("gate", default="/nonexistent")

    @step
    def start(self):
        self.next(self.check)

    @step
    def check(self):
        if not os.path.exists(self.gate):
            raise RuntimeError(f"the gate {self.gate} is closed")
        self.opened = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GateFlow()
