"""A foreach: one task per item of a list, then a join that gathers their results."""

from flowc import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    """Square every number up to a limit in parallel tasks."""

    count = Parameter("count", help="How many numbers to square.", default=5)

    @step
    def start(self):
        """Make the list the foreach fans out over."""
        self.numbers = list(range(1, self.count + 1))
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        """Square this task's number (`self.input`)."""
        self.squared = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect the squares in item order."""
        self.squares = [task.squared for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        """Print the squares."""
        print(self.squares)


if __name__ == "__main__":
    ForeachFlow()
