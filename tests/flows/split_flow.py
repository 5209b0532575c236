from flowc import FlowSpec, step


class SplitFlow(FlowSpec):
    """Static split: inputs by step name, len(inputs), merge_artifacts with exclude/include."""

    @step
    def start(self):
        self.shared = "same"
        self.base = 10
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = self.base + 1
        self.who = "a"
        self.next(self.join)

    @step
    def b(self):
        self.x = self.base + 2
        self.who = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.n_inputs = len(inputs)
        self.from_a = inputs.a.x
        self.from_b = inputs.b.x
        self.xs = sorted(inp.x for inp in inputs)
        self.merge_artifacts(inputs, exclude=["x", "who"])
        self.next(self.end)

    @step
    def end(self):
        self.total = self.from_a + self.from_b + self.base


if __name__ == "__main__":
    SplitFlow()
