from flowc import FlowSpec, step


class NestedFlow(FlowSpec):
    """A nested foreach inside one branch of a static split."""

    @step
    def start(self):
        self.next(self.outer, self.side)

    @step
    def side(self):
        self.side_value = 7
        self.next(self.join_all)

    @step
    def outer(self):
        self.letters = ["a", "b"]
        self.next(self.pick_letter, foreach="letters")

    @step
    def pick_letter(self):
        self.letter = self.input
        self.numbers = [1, 2, 3]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.stack = [(i, n, v) for i, n, v in self.foreach_stack()]
        self.label = f"{self.letter}{self.input}"
        self.position = self.index
        self.next(self.join_numbers)

    @step
    def join_numbers(self, inputs):
        self.labels = [i.label for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.merge_artifacts(inputs, include=["letter"])
        self.next(self.join_letters)

    @step
    def join_letters(self, inputs):
        self.all_labels = [label for i in inputs for label in i.labels]
        self.next(self.join_all)

    @step
    def join_all(self, inputs):
        self.all_labels = inputs.join_letters.all_labels
        self.side_value = inputs.side.side_value
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedFlow()
