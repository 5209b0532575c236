"""How compiled tasks get the datastore's configuration: never baked into the generated file.

The rule, one place for every backend: a task on Kubernetes (Argo, Airflow's
KubernetesPodOperator) takes the datastore's settings and credentials from the Kubernetes
secret :data:`SECRET` in its namespace, every key as an environment variable (the standard
ones the store's client reads: ``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``... for ``s3://``).
The secret is optional, so a pod that gets its credentials another way (IRSA, workload
identity, an instance role) runs without it. KFP's platform spec (kfp-kubernetes) cannot take a
whole secret, only named keys: its pods get the store's standard variables
(:func:`secret_keys`), each optional. A task on an Airflow worker itself (BashOperator)
inherits the worker's environment. A local folder needs nothing.
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


# The variables each store's client reads (and flowc's own storage options), for targets that
# must name the secret's keys one by one.
_KEYS = {
    "s3": (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ),
    "gs": ("GOOGLE_CLOUD_PROJECT",),
    "gcs": ("GOOGLE_CLOUD_PROJECT",),
    "az": (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
    ),
}
_KEYS["abfs"] = _KEYS["az"]


def secret_keys(url: str | None) -> dict[str, str]:
    """Secret key -> variable (the same name) for the store ``url`` names; empty for a folder."""
    if not remote(url):
        return {}
    from flowc.datastore.storage import OPTIONS_VAR

    scheme = str(url).split("://", 1)[0].lower()
    return {k: k for k in (*_KEYS.get(scheme, ()), OPTIONS_VAR)}
