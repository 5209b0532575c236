"""A foreach whose last item fails in the first run only: resume clones the items that
succeeded and re-runs the failed one."""


from metaflow import FlowSpec, current, step


class PartialForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == 3 and current.origin_run_id is None:
            raise RuntimeError("item 3 fails the first time")
        self.out = (self.input, current.origin_run_id is not None)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = sorted(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PartialForeachFlow()
