"""A flow whose run exercises the client: parents and children, the failed task's exception,
an immutable artifact read then reassigned, current.task/run from a step, and a card."""

from metaflow import FlowSpec, card, current, step
from metaflow.cards import MetaflowCard, MetaflowCardComponent


class Shout(MetaflowCardComponent):
    def __init__(self, text):
        self.text = text

    def render(self):
        return self.text.upper()


class JoinedCard(MetaflowCard):
    type = "joined_card"
    ALLOW_USER_COMPONENTS = True

    def render(self, task):
        return f"{task.pathspec}|" + "|".join(self._components)


class ClientFlow(FlowSpec):
    @card(type="joined_card")
    @step
    def start(self):
        self.word = "first"
        current.card.append(Shout("hello"))
        current.card.append("dropped: not a component")
        self.next(self.a, self.b)

    @step
    def a(self):
        self.seen = self.word
        self.word = "second"
        self.next(self.join)

    @step
    def b(self):
        self.task_obj = current.task
        self.next(self.join)

    @step
    def join(self, inputs):
        self.words = sorted(i.word for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        raise KeyError("the end fails")


if __name__ == "__main__":
    ClientFlow()
