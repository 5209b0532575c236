"""Train until the loss converges: a recursive switch.

`train` runs one epoch of gradient descent and then either goes back to itself or, once the
loss stops improving (or `max_epochs` is reached), on to `report`. Each epoch is a task of its
own (`train/0`, `train/1`, ...), so every epoch's weights and loss are kept and a failed run
resumes from the epoch that failed. Pure Python: no packages needed.

    flowc run examples/converge_flow.py --tolerance 1e-4
    flowc compile examples/converge_flow.py --target argo --image python:3.12
"""

from flowc import FlowSpec, Parameter, step


class ConvergeFlow(FlowSpec):
    """Fit y = a*x + b by gradient descent, one epoch per task, until the loss converges."""

    learning_rate = Parameter("learning-rate", default=0.3, help="Gradient descent step size.")
    tolerance = Parameter("tolerance", default=1e-3, help="Stop when the loss improves less.")
    max_epochs = Parameter("max-epochs", default=100, help="Stop after this many epochs.")

    @step
    def start(self):
        """Make noisy points on the line y = 3x + 2, and start from a = b = 0."""
        import random

        rng = random.Random(7)
        xs = [i / 50 for i in range(100)]
        self.points = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in xs]
        self.weights = (0.0, 0.0)
        self.losses = []
        self.next(self.train)

    @step
    def train(self):
        """One epoch; loop back here until the loss stops improving."""
        a, b = self.weights
        n = len(self.points)
        grad_a = sum(2 * (a * x + b - y) * x for x, y in self.points) / n
        grad_b = sum(2 * (a * x + b - y) for x, y in self.points) / n
        a, b = a - self.learning_rate * grad_a, b - self.learning_rate * grad_b
        self.weights = (a, b)
        loss = sum((a * x + b - y) ** 2 for x, y in self.points) / n
        improved = self.losses[-1] - loss if self.losses else float("inf")
        self.losses = self.losses + [loss]
        done = improved < self.tolerance or len(self.losses) >= self.max_epochs
        self.status = "converged" if done else "again"
        self.next({"again": self.train, "converged": self.report}, condition="status")

    @step
    def report(self):
        """Say how many epochs it took."""
        self.epochs = len(self.losses)
        a, b = self.weights
        print(f"{self.epochs} epochs: y = {a:.3f}x + {b:.3f}, loss {self.losses[-1]:.5f}")
        self.next(self.end)

    @step
    def end(self):
        """Done: every epoch's weights and loss are kept, one task per epoch."""


if __name__ == "__main__":
    ConvergeFlow()
