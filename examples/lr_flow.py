"""Train ElasticNet regressors on scikit-learn's diabetes data set, one per l1 ratio in
parallel, and keep the best one.

    python examples/lr_flow.py show
    flowc validate examples/lr_flow.py
"""

from flowc import FlowSpec, Parameter, card, current, resources, retry, step


class LRFlow(FlowSpec):
    """ElasticNet regression on the diabetes data set.

    The data is scikit-learn's bundled diabetes set (`sklearn.datasets.load_diabetes`: 442
    patients, 10 features, ships with scikit-learn, nothing is downloaded). The flow splits it
    into train, validation and test sets, trains one model per l1 ratio in parallel (a
    foreach), keeps the model with the best validation R^2 and reports its test R^2 and MSE.

        python lr_flow.py run --alpha 0.02 --max-iter 300
    """

    alpha = Parameter("alpha", help="Regularisation strength of ElasticNet.", default=0.01)
    max_iter = Parameter("max-iter", help="Maximum number of solver iterations.", default=1000)
    test_size = Parameter(
        "test-size", help="Fraction of the data held out for testing.", default=0.2
    )
    seed = Parameter("seed", help="Random seed for the data split.", default=42)

    @step
    def start(self):
        """Load the diabetes data set and split it into train, validation and test sets."""
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import train_test_split

        X, y = load_diabetes(return_X_y=True)
        X_rest, self.X_test, y_rest, self.y_test = train_test_split(
            X, y, test_size=self.test_size, random_state=self.seed
        )
        self.X_train, self.X_val, self.y_train, self.y_val = train_test_split(
            X_rest, y_rest, test_size=0.25, random_state=self.seed
        )
        self.l1_ratios = [0.1, 0.5, 0.9]
        self.next(self.train, foreach="l1_ratios")

    @retry(times=2)
    @resources(cpu=1, memory=2048)
    @step
    def train(self):
        """Fit one ElasticNet with this branch's l1 ratio and score it on the validation set."""
        from sklearn.linear_model import ElasticNet

        self.l1_ratio = self.input
        self.model = ElasticNet(
            alpha=self.alpha, l1_ratio=self.l1_ratio, max_iter=self.max_iter, random_state=self.seed
        )
        self.model.fit(self.X_train, self.y_train)
        self.val_r2 = float(self.model.score(self.X_val, self.y_val))
        self.next(self.choose)

    @card(type="default")
    @step
    def choose(self, inputs):
        """Keep the model with the best validation R^2 and measure it on the test set."""
        from sklearn.metrics import mean_squared_error, r2_score

        best = max(inputs, key=lambda task: task.val_r2)
        self.model = best.model
        self.l1_ratio = best.l1_ratio
        self.scores = {task.l1_ratio: task.val_r2 for task in inputs}
        self.merge_artifacts(inputs, include=["X_test", "y_test"])
        predicted = self.model.predict(self.X_test)
        self.metrics = {
            "r2": float(r2_score(self.y_test, predicted)),
            "mse": float(mean_squared_error(self.y_test, predicted)),
        }
        self.report(predicted)
        self.next(self.end)

    def report(self, predicted):
        """The card: the metrics, each l1 ratio's score, and predicted against true values."""
        from flowc.cards import Markdown, Table, VegaChart

        current.card.append(Markdown(f"## Best model: l1_ratio = {self.l1_ratio}"))
        current.card.append(
            Table(
                [
                    ["test R^2", round(self.metrics["r2"], 4)],
                    ["test MSE", round(self.metrics["mse"], 1)],
                ]
                + [[f"validation R^2, l1_ratio={k}", round(v, 4)] for k, v in self.scores.items()],
                headers=["metric", "value"],
            )
        )
        points = [
            {"true": float(t), "predicted": float(p)}
            for t, p in zip(self.y_test, predicted, strict=True)
        ]
        lo, hi = min(self.y_test.min(), predicted.min()), max(self.y_test.max(), predicted.max())
        current.card.append(
            VegaChart(
                {
                    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                    "title": "Predicted against true disease progression (test set)",
                    "width": 420,
                    "height": 320,
                    "layer": [
                        {
                            "data": {"values": points},
                            "mark": {"type": "point", "filled": True, "opacity": 0.6},
                            "encoding": {
                                "x": {"field": "true", "type": "quantitative", "title": "true"},
                                "y": {
                                    "field": "predicted",
                                    "type": "quantitative",
                                    "title": "predicted",
                                },
                            },
                        },
                        {
                            "data": {"values": [{"v": float(lo)}, {"v": float(hi)}]},
                            "mark": {"type": "line", "color": "#9e9e9e", "strokeDash": [4, 4]},
                            "encoding": {
                                "x": {"field": "v", "type": "quantitative"},
                                "y": {"field": "v", "type": "quantitative"},
                            },
                        },
                    ],
                }
            )
        )

    @step
    def end(self):
        """Report the chosen model."""
        print(f"best l1_ratio={self.l1_ratio} (validation R^2 by l1_ratio: {self.scores})")
        print(f"test R^2={self.metrics['r2']:.3f}  test MSE={self.metrics['mse']:.1f}")


if __name__ == "__main__":
    LRFlow()
