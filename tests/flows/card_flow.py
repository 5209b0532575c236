import os
import time

from flowc import FlowSpec, Parameter, card, current, step
from flowc.cards import Artifact, Component, Markdown, ProgressBar, Table, ValueBox


class Slow(Component):
    """Renders too slowly for its card's timeout."""

    def render(self):
        time.sleep(5)
        return "never"


class CardFlow(FlowSpec):
    """Cards: the default card, several cards by id, a blank card, a live one, a slow one."""

    label = Parameter("label", default="<script>alert(1)</script>")

    @card
    @step
    def start(self):
        self.evil = "<script>alert(1)</script>"
        self.numbers = list(range(5))
        current.card.append(Markdown("# Report\n\nA *first* card <script>alert(1)</script>"))
        current.card.append(Table([[1, "<b>bold?</b>"], [2, 3.25]], headers=["n", "cell"]))
        self.next(self.ids)

    @card(type="blank", id="summary")
    @card(id="details")
    @step
    def ids(self):
        current.card["summary"].append(ValueBox("total", sum(self.numbers)))
        current.card["details"].append(Artifact({"nested": [1, 2, 3]}, name="thing"))
        self.next(self.live)

    @card(type="blank")
    @step
    def live(self):
        bar = ProgressBar(max=2, label="loading")
        current.card.append(bar)
        bar.update(1)
        current.card.refresh(force=True)
        marker = os.environ.get("CARD_WAIT_FOR")
        if marker:
            deadline = time.time() + 30
            while not os.path.exists(marker) and time.time() < deadline:
                time.sleep(0.05)
        bar.update(2)
        self.next(self.slow)

    @card(type="blank", timeout=1)
    @step
    def slow(self):
        current.card.append(Slow())
        self.done = True
        self.next(self.end)

    @card
    @step
    def end(self):
        if os.environ.get("CARD_FAIL"):
            raise RuntimeError("failing <on purpose>")


if __name__ == "__main__":
    CardFlow()
