"""Tutorial 01: parameters come in from the command line; artifacts go from step to step."""

from flowc import FlowSpec, JSONType, Parameter, step


class ParameterFlow(FlowSpec):
    """Scale some numbers: parameters in, artifacts along the way."""

    factor = Parameter("factor", default=2.0, help="What every number is multiplied by.")
    numbers = Parameter(
        "numbers", type=JSONType, default="[1, 2, 3]", help="The numbers, as a JSON list."
    )
    label = Parameter("label", default="scaled", help="A name for the result.")
    verbose = Parameter("verbose", default=False, help="Print each number.")

    @step
    def start(self):
        """Parameters are read-only artifacts of every step."""
        print(f"factor={self.factor} numbers={self.numbers} label={self.label}")
        self.scaled = [n * self.factor for n in self.numbers]
        self.next(self.summarize)

    @step
    def summarize(self):
        """`self.scaled` was assigned in `start`: it arrives here as it was stored."""
        if self.verbose:
            for n in self.scaled:
                print("scaled", n)
        self.result = {"label": self.label, "total": sum(self.scaled)}
        self.next(self.end)

    @step
    def end(self):
        print("result:", self.result)


if __name__ == "__main__":
    ParameterFlow()
