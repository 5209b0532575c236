"""The client's namespace (which runs it sees) and its errors.

As in Metaflow, the default namespace is ``user:<you>``: ``Flow(...).latest_run`` is your
latest run, not a colleague's. ``namespace(None)`` sees every run; ``namespace('team:x')``
sees runs tagged ``team:x``.
"""

from __future__ import annotations

from flowc.datastore import Datastore, resolve_url


class ClientError(Exception):
    """Something the client was asked for cannot be read; the message says what and why."""


class NotFound(ClientError):
    """The flow, run, step, task or artifact does not exist in the datastore."""


class NamespaceMismatch(ClientError):
    """The object exists but is outside the current namespace."""


_UNSET = object()
_current: object = _UNSET


def namespace(ns: str | None) -> str | None:
    """Switch the namespace: ``'user:NAME'``, any tag, or None for every run."""
    global _current
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ClientError(f"a namespace is a tag such as 'user:alice', or None; got {ns!r}")
    _current = ns
    return ns


def get_namespace() -> str | None:
    if _current is _UNSET:
        return default_namespace()
    return _current  # type: ignore[return-value]


def default_namespace() -> str:
    """Go back to ``user:<you>`` (from FLOWC_USER, METAFLOW_USER, USER or USERNAME)."""
    from flowc.runtime.runs import user_name

    return namespace(f"user:{user_name()}")  # type: ignore[return-value]


def datastore() -> Datastore:
    """The datastore runs were written to: ``FLOWC_DATASTORE`` or ``.flowc`` (inside a running
    step: the run's own)."""
    from flowc.authoring import current

    if current.is_running_flow and current._datastore is not None:
        return current._datastore
    return Datastore(resolve_url())


def get_metadata() -> str:
    """Where the client reads run records from, as Metaflow's ``get_metadata()`` names its
    metadata provider: ``local@<datastore URL>``."""
    return f"local@{resolve_url()}"


def metadata(ms: str | None = None) -> str:
    """Metaflow's ``metadata()``: flowc has one provider, the datastore; this names it."""
    return get_metadata()
