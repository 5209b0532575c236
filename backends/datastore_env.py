"""How compiled tasks get the datastore's configuration: never baked into the generated file.

The rule, one place for every backend: a task on Kubernetes (Argo, Airflow's
KubernetesPodOperator) takes the datastore's settings and credentials from the Kubernetes
secret :data:`SECRET` in its namespace, every key as an environment variable (the standard
ones the store's client reads: ``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``... for ``s3://``).
The secret is optional, so a pod that gets its credentials another way (IRSA, workload
identity, an instance role) runs without it. KFP pipelines name no secret (that needs the
kfp-kubernetes platform spec): their pods get the same variables from the cluster (a Kubeflow
PodDefault, or the service account's identity). A task on an Airflow worker itself
(BashOperator) inherits the worker's environment. A local folder needs nothing.
"""

from __future__ import annotations

SECRET = "flowc-datastore"

def remote(url: str | None) -> bool:
    """A datastore reached through a client that needs configuration (not a folder)."""
    return bool(url) and "://" in url and not url.startswith("file://")


def secret_name(url: str | None) -> str | None:
    """The Kubernetes secret tasks read the datastore's settings from; None for a folder."""
    return SECRET if remote(url) else None


def k8s_env_from(url: str | None) -> list[dict]:
    """A container's ``envFrom``: every key of the secret becomes a variable."""
    name = secret_name(url)
    return [{"secretRef": {"name": name, "optional": True}}] if name else []
