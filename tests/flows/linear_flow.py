from flowc import FlowSpec, Parameter, current, step


class LinearFlow(FlowSpec):
    """Artifacts flow along a line; parameters are read-only artifacts; current knows the task."""

    greeting = Parameter("greeting", default="hi")
    count = Parameter("count", default=2)

    @step
    def start(self):
        self.seen = [current.step_name]
        self.info = {
            "flow": current.flow_name,
            "run": current.run_id,
            "task": current.task_id,
            "running": current.is_running_flow,
            "params": sorted(current.parameter_names),
            "retry": current.retry_count,
            "tempdir": bool(current.tempdir),
        }
        try:
            setattr(self, "greet" + "ing", "changed")  # hidden from lint on purpose
        except AttributeError as e:
            self.readonly_error = str(e)
        self.next(self.middle)

    @step
    def middle(self):
        self.seen = self.seen + [current.step_name]
        self.message = self.greeting * self.count
        self.next(self.end)

    @step
    def end(self):
        self.seen.append("end")
        print("message:", self.message)


if __name__ == "__main__":
    LinearFlow()
