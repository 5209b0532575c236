import os
import time

from flowc import FlowSpec, Parameter, card, current, step
from flowc.cards import Table, VegaChart


class CardServerFlow(FlowSpec):
    """Runs for the card server's tests: a foreach, an artifact holding markup, a card with a
    table and a chart, an optional failure, and a step that can be held open to watch a live
    run."""

    fail = Parameter("fail", default=False, help="Fail in the end step.")
    wait_for = Parameter("wait-for", default="", help="Hold the hold step until this file exists.")

    @step
    def start(self):
        self.evil = "<script>alert(1)</script>"
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input**2
        print("squared", self.input)
        self.next(self.join)

    @card(type="blank", id="squares")
    @step
    def join(self, inputs):
        self.total = sum(i.sq for i in inputs)
        rows = sorted((i.input, i.sq) for i in inputs)
        current.card.append(Table([list(r) for r in rows], headers=["n", "n squared"]))
        current.card.append(
            VegaChart(
                {
                    "data": {"values": [{"n": n, "sq": sq} for n, sq in rows]},
                    "mark": "bar",
                    "encoding": {
                        "x": {"field": "n", "type": "ordinal"},
                        "y": {"field": "sq", "type": "quantitative"},
                    },
                }
            )
        )
        self.next(self.hold)

    @step
    def hold(self):
        deadline = time.time() + 90
        while self.wait_for and not os.path.exists(self.wait_for) and time.time() < deadline:
            time.sleep(0.1)
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise RuntimeError("planned failure <b>in end</b>")


if __name__ == "__main__":
    CardServerFlow()
