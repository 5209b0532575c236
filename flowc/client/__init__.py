"""The client API: find runs and read their artifacts and logs from Python, with Metaflow's
shape (``Flow('LRFlow').latest_run.data.model``). It reads the datastore that runs wrote:
``FLOWC_DATASTORE`` or ``.flowc`` in the working directory."""

from flowc.client.scope import (
    ClientError,
    NamespaceMismatch,
    NotFound,
    default_namespace,
    get_namespace,
    namespace,
)
from flowc.client.objects import DataArtifact, Flow, Run, Step, Task

__all__ = [
    "ClientError",
    "DataArtifact",
    "Flow",
    "NamespaceMismatch",
    "NotFound",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_namespace",
    "namespace",
]
