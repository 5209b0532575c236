"""Tutorial 04: cards, a page per step that shows what it did."""

from flowc import FlowSpec, Parameter, card, current, step
from flowc.cards import Markdown, ProgressBar, Table, ValueBox


class CardFlow(FlowSpec):
    """Simulate a small training loop and report it on a card."""

    epochs = Parameter("epochs", default=5, help="How many epochs to simulate.")

    @card  # the default card: ids, timing, parameters, artifacts, the graph
    @step
    def start(self):
        self.losses = [round(1.0 / (e + 1), 3) for e in range(self.epochs)]
        self.next(self.report)

    @card(type="blank", id="report")  # a card of your own, by id
    @step
    def report(self):
        current.card["report"].append(Markdown("# Training report"))
        bar = ProgressBar(max=len(self.losses), label="epochs")
        current.card["report"].append(bar)
        for epoch, _ in enumerate(self.losses):
            bar.update(epoch + 1)
            current.card["report"].refresh()  # live while the step runs (flowc card server)
        current.card["report"].append(ValueBox(title="final loss", value=self.losses[-1]))
        rows = [[e + 1, loss] for e, loss in enumerate(self.losses)]
        current.card["report"].append(Table(rows, headers=["epoch", "loss"]))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
