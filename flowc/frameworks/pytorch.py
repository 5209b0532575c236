"""PyTorch's distributed environment for the tasks of a ``@parallel`` step (Metaflow's
``metaflow.plugins.frameworks.pytorch``): call :func:`setup_torch_distributed` in the step, or
subclass :class:`PytorchParallelDecorator` in an extension, and ``torch.distributed`` finds its
peers through the usual environment variables."""

from __future__ import annotations

import os
from typing import Any

from flowc.authoring import current
from flowc.plugin_api import StepDecorator


def setup_torch_distributed(master_port: int | None = None) -> dict[str, str]:
    """Set ``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``, ``WORLD_SIZE``, ``NUM_NODES`` from
    ``current.parallel``; the port is derived from the run id unless given."""
    par = current.parallel
    if par is None:
        raise RuntimeError("setup_torch_distributed() runs inside a task of a @parallel step")
    if master_port is None:
        digits = "".join(ch for ch in str(current.run_id or "") if ch.isdigit())
        master_port = 51000 + int(digits[-9:]) % 10000 if digits else 51001
    env = {
        "MASTER_ADDR": par.main_ip,
        "MASTER_PORT": str(master_port),
        "NODE_RANK": str(par.node_index),
        "WORLD_SIZE": str(par.num_nodes),
        "NUM_NODES": str(par.num_nodes),
    }
    os.environ.update(env)
    return env


class PytorchParallelDecorator(StepDecorator):
    """Sets up the distributed environment before the step's code runs."""

    name = "pytorch_parallel"
    defaults: dict[str, Any] = {"master_port": None}
    IS_PARALLEL = True

    def task_pre_step(self, step_name: str, *_args: Any, **_kwargs: Any) -> None:
        setup_torch_distributed(self.attributes["master_port"])
