"""Backend emitters (installed as ``flowc.backends``): pure functions from the IR and options
to files for an orchestrator. See :mod:`flowc.backends.base` for the interface."""

from flowc.backends.base import register

register("airflow", "flowc.backends.airflow:AirflowEmitter")
register("argo", "flowc.backends.argo:ArgoEmitter")
register("kfp", "flowc.backends.kfp:KfpEmitter")
