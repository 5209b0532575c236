"""``@secrets(sources=[...])``: environment variables a step gets from secret sources. flowc
reads the ``inline`` source locally (``{"type": "inline", "options": {"env_vars": {...}}}``),
as Metaflow's inline provider does; a source of another type names a secret manager flowc does
not reach, and the step fails saying which."""

from __future__ import annotations

from typing import Any


class SecretsError(Exception):
    pass


def secret_env(sources: Any) -> dict[str, str]:
    """The variables every source of one ``@secrets`` gives, later sources winning."""
    env: dict[str, str] = {}
    for src in sources or ():
        kind = src.get("type", "") if isinstance(src, dict) else str(src).partition(".")[0]
        if kind != "inline" or not isinstance(src, dict):
            raise SecretsError(
                f"@secrets: source {src!r} needs the {kind or 'default'!r} secrets provider, "
                "which flowc does not have; pass values as an inline source or @environment"
            )
        values = (src.get("options") or {}).get("env_vars") or {}
        env.update({str(k): str(v) for k, v in values.items()})
    return env
