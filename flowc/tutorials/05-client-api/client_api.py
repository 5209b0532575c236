"""Tutorial 05: reading runs back with the client API.

Run it as a script (`python client_api.py`) or cell by cell in a notebook or an editor that
knows `# %%` cells: the client reads the datastore in the working directory (`.flowc`, or
`FLOWC_DATASTORE`). `from metaflow import Flow` works the same inside a flowc environment.
"""

# %% The latest run of a flow, and its artifacts
from flowc import Flow, namespace

run = Flow("StatsFlow").latest_successful_run
print("run:", run.pathspec, "successful:", run.successful)
print("parameters:", dict(run.parameters))
print("means:", run.data.means)  # `run.data` is the end step's artifacts

# %% A step's tasks: one per foreach item
for task in run["summarize"]:
    print(task.pathspec, task.data.sample, round(task.data.mean, 3))

# %% One task: what it printed, and its artifacts
task = run["summarize"]["0"]
print("stdout:", task.stdout.strip())
print("artifacts:", sorted(a.id for a in task.artifacts))

# %% Everyone's runs, newest first
namespace(None)
print("runs of StatsFlow:", len(list(Flow("StatsFlow").runs())))
