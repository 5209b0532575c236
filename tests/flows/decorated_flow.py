import os

from flowc import FlowSpec, catch, current, environment, retry, step, timeout, user_step_decorator


@user_step_decorator
def stamped(step_name, flow, inputs=None, attributes=None):
    """A user's decorator: it runs in the task contract, wherever the task runs."""
    flow.stamp = f"before {step_name}"
    yield
    flow.stamp += " and after"


class DecoratedFlow(FlowSpec):
    """@retry succeeds on the third attempt; @catch keeps going; @timeout kills a slow step;
    a user step decorator wraps start."""

    @stamped
    @step
    def start(self):
        self.next(self.flaky, self.broken, self.slow)

    @retry(times=2, minutes_between_retries=0)
    @environment(vars={"FLOWC_TEST_VAR": "from-env"})
    @step
    def flaky(self):
        if current.retry_count < 2:
            raise RuntimeError(f"attempt {current.retry_count} fails")
        self.attempts = current.retry_count + 1
        self.env = os.environ.get("FLOWC_TEST_VAR")
        self.next(self.join)

    @catch(var="broken_error")
    @step
    def broken(self):
        self.half_done = True
        raise ValueError("this step always fails")
        self.next(self.join)

    @catch(var="slow_error")
    @timeout(seconds=1)
    @step
    def slow(self):
        import time

        time.sleep(30)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.attempts = inputs.flaky.attempts
        self.env = inputs.flaky.env
        self.broken_error = str(inputs.broken.broken_error)
        self.half_done = getattr(inputs.broken, "half_done", None)
        self.slow_error = str(inputs.slow.slow_error)
        self.flaky_error = (
            inputs.flaky.broken_error if hasattr(inputs.flaky, "broken_error") else "unset"
        )
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratedFlow()
