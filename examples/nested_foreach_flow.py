"""A foreach inside a foreach: every (model, fold) pair is its own task."""

from flowc import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Score each model on each fold, then average per model."""

    @step
    def start(self):
        """List the models to try."""
        self.models = ["ridge", "lasso"]
        self.next(self.per_model, foreach="models")

    @step
    def per_model(self):
        """Fan out again, over the folds of this model."""
        self.model = self.input
        self.folds = [0, 1, 2]
        self.next(self.score, foreach="folds")

    @step
    def score(self):
        """Score one (model, fold) pair; foreach_stack() tells where in both loops we are."""
        (model_index, _, model), (fold_index, _, fold) = self.foreach_stack()
        self.where = (model_index, fold_index)
        self.result = (len(model) * 10 + fold) / 10
        self.next(self.average)

    @step
    def average(self, inputs):
        """Join the folds of one model."""
        results = [task.result for task in inputs]
        self.mean = sum(results) / len(results)
        self.merge_artifacts(inputs, include=["model"])
        self.next(self.compare)

    @step
    def compare(self, inputs):
        """Join the models."""
        self.means = {task.model: task.mean for task in inputs}
        self.next(self.end)

    @step
    def end(self):
        """Print the mean score of each model."""
        print(self.means)


if __name__ == "__main__":
    NestedForeachFlow()
