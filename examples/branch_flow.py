"""A static branch: two steps run in parallel on the same input and a join combines them."""

from flowc import FlowSpec, step


class BranchFlow(FlowSpec):
    """Compute statistics of a list in two parallel branches."""

    @step
    def start(self):
        """Make the numbers both branches read."""
        self.numbers = [3, 1, 4, 1, 5, 9, 2, 6]
        self.next(self.total, self.extremes)

    @step
    def total(self):
        """Sum the numbers."""
        self.result = sum(self.numbers)
        self.next(self.join)

    @step
    def extremes(self):
        """Find the smallest and largest number."""
        self.result = (min(self.numbers), max(self.numbers))
        self.next(self.join)

    @step
    def join(self, inputs):
        """Pick each branch's result by name; `numbers` agrees across inputs, so merge it."""
        self.sum = inputs.total.result
        self.low, self.high = inputs.extremes.result
        self.merge_artifacts(inputs, exclude=["result"])
        self.next(self.end)

    @step
    def end(self):
        """Print what the branches found."""
        print(f"{len(self.numbers)} numbers: total {self.sum}, range {self.low}..{self.high}")


if __name__ == "__main__":
    BranchFlow()
