"""``@project``: the project a run belongs to and its branch, as Metaflow names them.

A run is on branch ``user.<user>`` by default, ``test.<branch>`` with ``METAFLOW_BRANCH`` /
``FLOWC_BRANCH`` set, and ``prod`` (or ``prod.<branch>``) with ``METAFLOW_PRODUCTION`` /
``FLOWC_PRODUCTION`` true; its project flow name is ``<project>.<branch>.<Flow>``. The run
carries the system tags ``project:<name>`` and ``project_branch:<branch>``."""

from __future__ import annotations

import os
from typing import Any


def _env(name: str) -> str | None:
    return os.environ.get(f"FLOWC_{name}") or os.environ.get(f"METAFLOW_{name}") or None


def project_info(name: str | None, flow: str, user: str) -> dict[str, Any] | None:
    """``current``'s project fields for a run of ``flow`` by ``user``; None without a project."""
    if not name:
        return None
    branch = _env("BRANCH")
    production = (_env("PRODUCTION") or "").lower() in ("1", "true", "yes")
    if production:
        branch_name = f"prod.{branch}" if branch else "prod"
    elif branch:
        branch_name = f"test.{branch}"
    else:
        branch_name = f"user.{user}"
    return {
        "project_name": str(name),
        "branch_name": branch_name,
        "project_flow_name": f"{name}.{branch_name}.{flow}",
        "is_production": production,
    }


def project_tags(info: dict[str, Any] | None) -> list[str]:
    if not info:
        return []
    return [f"project:{info['project_name']}", f"project_branch:{info['branch_name']}"]


def project_name_of(cls: type, configs: dict[str, Any] | None = None) -> str | None:
    """The ``name`` given to the flow class's ``@project`` (a config expression evaluated)."""
    for deco, kwargs in getattr(cls, "__flowc_decorators__", []):
        if deco == "project":
            from flowc.configs import resolve

            return resolve(kwargs.get("name"), configs or {})
    return None
