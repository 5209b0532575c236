"""``@parallel``: ``self.next(self.train, num_parallel=N)`` runs N tasks of ``train`` as one
gang, joined after. Each sees ``current.parallel`` (``num_nodes``, ``node_index``,
``control_task_id``, ``main_ip``); node 0 is the control task, as Metaflow calls it. Locally the
N tasks run as the items of a foreach over ``range(N)``.

With ``@catch``, as in Metaflow's local runtime (where the control task launches its workers
and answers for them), only the control task gets the attempt after the last one that runs no
user code and records the failure; a worker whose process died on its last attempt stays
failed, and once the control task is caught the join reads the control task alone."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowc.datastore.layout import Index, task_id

if TYPE_CHECKING:
    from flowc.runtime.task import TaskContext
    from flowc.runtime.walk import Graph


@dataclass(frozen=True)
class Parallel:
    main_ip: str
    num_nodes: int
    node_index: int
    control_task_id: str | None


def parallel_info(ctx: TaskContext, step: str, index: Index) -> Parallel:
    """``current.parallel`` for a task; one node of one outside a ``@parallel`` step."""
    ir_step = ctx.graph.steps[step]
    if ir_step.decorator("parallel") is None or not index:
        return Parallel("127.0.0.1", 1, 0, None)
    from flowc.runtime.task import find_parent

    _parent, rec = find_parent(ctx, step, index)
    control = task_id((*index[:-1], 0))
    return Parallel(_local_ip(), int(rec.get("foreach_num_splits") or 1), index[-1], control)


def gang_node(graph: Graph, step: str, index: Index) -> int | None:
    """The node index of a task of a ``@parallel`` step (0: the control task), else None."""
    if graph.steps[step].decorator("parallel") is None or not index:
        return None
    return index[-1]


def _local_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
