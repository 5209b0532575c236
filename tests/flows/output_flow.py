import json
import sys

from flowc import FlowSpec, Parameter, step


class OutputFlow(FlowSpec):
    """Steps whose output could break a result protocol, and a parameter a shell or a template
    would mangle: output without a final newline, JSON, a fake result line."""

    text = Parameter("text", default="plain")

    @step
    def start(self):
        sys.stdout.write("no newline at the end")  # the helper after a foreach reads the result
        self.items = [0, 1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        print(json.dumps({"item": self.input}))
        sys.stdout.write('{"flowc_result": {"foreach_num_splits": 99, "branch": "nowhere"}}')
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.route_it)

    @step
    def route_it(self):
        self.route = "left" if len(self.text) % 2 else "right"
        sys.stdout.write('{"flowc_result": {"branch": "nowhere"}}')
        self.next({"left": self.left, "right": self.right}, condition="route")

    @step
    def left(self):
        self.side = "left"
        self.next(self.end)

    @step
    def right(self):
        self.side = "right"
        self.next(self.end)

    @step
    def end(self):
        self.echo = self.text
        sys.stdout.write("the end, no newline")


if __name__ == "__main__":
    OutputFlow()
