"""Metaflow API that flows written for Metaflow use: user step decorators and mutators, @parallel,
@project, Configs and config_expr, @secrets, current.task/run, tag changes from a step, @catch
keeping what the step set, a parameter assigned under try/except, a callable default."""

import json
import os

from metaflow import (
    Config,
    FlowMutator,
    FlowSpec,
    Parameter,
    StepMutator,
    Task,
    UserStepDecorator,
    catch,
    config_expr,
    current,
    environment,
    parallel,
    project,
    secrets,
    step,
    user_step_decorator,
)
from metaflow.exception import MetaflowException
from metaflow.metaflow_current import current as current_too


@user_step_decorator
def timed(step_name, flow, inputs=None, attributes=None):
    flow.before = f"{step_name}:{(attributes or {}).get('label', '-')}"
    yield
    flow.after = step_name


class Counted(UserStepDecorator):
    def init(self, by=1):
        self.by = by

    def pre_step(self, step_name, flow, inputs=None):
        flow.counted = getattr(flow, "counted", 0) + self.by


class AddEnv(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator("environment", deco_kwargs={"vars": {"MUTATED": "yes"}})


class RetryEverything(FlowMutator):
    def mutate(self, mutable_flow):
        for name, s in mutable_flow.steps:
            if name == "end":
                s.add_decorator("retry", deco_kwargs={"times": 1, "minutes_between_retries": 0})


def default_tag(ctx):
    return f"{ctx.flow_name}:{ctx.parameter_name}:{ctx.configs.settings.size}"


@RetryEverything
@project(name=config_expr("settings").project)
class CompatFlow(FlowSpec):
    settings = Config("settings", default_value={"project": "compat", "size": 3})
    env_cfg = Config("env_cfg", default_value={"vars": {"FROM_CFG": "on"}})
    size = Parameter("size", default=config_expr("settings").size, type=int)
    label = Parameter("label", default=default_tag)

    @timed(label="first")
    @Counted(by=2)
    @secrets(sources=[{"type": "inline", "options": {"env_vars": {"TOKEN": "s3cr3t"}}}])
    @environment(**env_cfg)
    @step
    def start(self):
        self.token = os.environ["TOKEN"]
        self.from_cfg = os.environ["FROM_CFG"]
        self.project = (current.project_name, current.branch_name, current.project_flow_name)
        self.production = current.is_production
        self.task_obj = current.task
        self.run_obj = current.run
        self.same_current = current_too is current
        self.seen_during = (getattr(self, "before", None), getattr(self, "counted", None))
        run = Task(current.pathspec).parent.parent
        run.add_tag("from-a-step")
        try:
            self.size = 10
        except AttributeError:
            self.size_readonly = True
        self.next(self.train, num_parallel=self.size)

    @parallel
    @step
    def train(self):
        self.node = (current.parallel.node_index, current.parallel.num_nodes)
        self.next(self.join)

    @AddEnv
    @step
    def join(self, inputs):
        self.nodes = sorted(i.node for i in inputs)
        self.mutated = os.environ.get("MUTATED")
        self.next(self.risky)

    @catch(var="failure")
    @step
    def risky(self):
        self.partial = "set before the raise"
        raise MetaflowException("planned")
        self.next(self.end)

    @step
    def end(self):
        self.summary = json.dumps(
            {"failure": str(self.failure), "partial": self.partial, "attempt": current.retry_count}
        )
        if current.retry_count == 0:
            raise RuntimeError("retried by the flow mutator")


if __name__ == "__main__":
    CompatFlow()
