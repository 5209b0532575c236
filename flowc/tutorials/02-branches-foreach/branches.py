"""Tutorial 02: a static branch (two steps at once) and a foreach (one task per item)."""

import random

from flowc import FlowSpec, Parameter, step


class BranchFlow(FlowSpec):
    """Generate some data, describe it two ways at once, then fit one line per degree."""

    seed = Parameter("seed", default=7, help="Seed of the generated data.")

    @step
    def start(self):
        """Generated data: nothing to download."""
        rng = random.Random(self.seed)
        self.xs = [i / 10 for i in range(50)]
        self.ys = [2.0 * x + 1.0 + rng.gauss(0, 0.1) for x in self.xs]
        self.next(self.mean, self.spread)  # a static branch: both run, maybe at once

    @step
    def mean(self):
        self.mean_y = sum(self.ys) / len(self.ys)
        self.next(self.describe)

    @step
    def spread(self):
        self.range_y = max(self.ys) - min(self.ys)
        self.next(self.describe)

    @step
    def describe(self, inputs):
        """A join: `inputs` holds each branch's artifacts."""
        self.mean_y = inputs.mean.mean_y
        self.range_y = inputs.spread.range_y
        self.merge_artifacts(inputs, include=["xs", "ys"])
        print(f"mean {self.mean_y:.2f}, range {self.range_y:.2f}")
        self.next(self.plan)

    @step
    def plan(self):
        """A join cannot also split: this step starts the foreach."""
        self.degrees = [0, 1, 2]
        self.next(self.fit, foreach="degrees")  # one `fit` task per degree

    @step
    def fit(self):
        """`self.input` is this task's item; `self.index` its position."""
        self.degree = self.input
        self.error = _fit_error(self.xs, self.ys, self.degree)
        print(f"degree {self.degree}: mean squared error {self.error:.4f}")
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """The join of a foreach: one input per item."""
        best = min(inputs, key=lambda i: i.error)
        self.best_degree = best.degree
        print(f"best degree: {self.best_degree}")
        self.next(self.end)

    @step
    def end(self):
        pass


def _fit_error(xs, ys, degree):
    """Least squares with a polynomial of `degree`, in plain Python (normal equations)."""
    n = degree + 1
    a = [[sum(x ** (i + j) for x in xs) for j in range(n)] for i in range(n)]
    b = [sum(y * x**i for x, y in zip(xs, ys, strict=True)) for i in range(n)]
    for col in range(n):  # Gauss-Jordan elimination
        pivot = a[col][col]
        a[col] = [v / pivot for v in a[col]]
        b[col] /= pivot
        for row in range(n):
            if row != col:
                f = a[row][col]
                a[row] = [v - f * p for v, p in zip(a[row], a[col], strict=True)]
                b[row] -= f * b[col]
    predict = [sum(b[i] * x**i for i in range(n)) for x in xs]
    return sum((p - y) ** 2 for p, y in zip(predict, ys, strict=True)) / len(ys)


if __name__ == "__main__":
    BranchFlow()
