"""Tutorial 05: a flow whose results the client script (client_api.py) reads back."""

import random

from flowc import FlowSpec, Parameter, step


class StatsFlow(FlowSpec):
    """Summarise a few samples of generated numbers, one task per sample."""

    size = Parameter("size", default=100, help="Numbers per sample.")

    @step
    def start(self):
        self.samples = ["a", "b", "c"]
        self.next(self.summarize, foreach="samples")

    @step
    def summarize(self):
        rng = random.Random(self.input)
        values = [rng.random() for _ in range(self.size)]
        self.sample = self.input
        self.mean = sum(values) / len(values)
        print(f"sample {self.sample}: mean {self.mean:.3f}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.means = {i.sample: round(i.mean, 3) for i in inputs}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StatsFlow()
