"""Kubernetes settings of the pods a flow runs in, from flow-level compile options and each
step's ``@kubernetes`` (Metaflow's decorator), checked once for every target.

Each target maps :class:`PodSettings` to its own words (Argo's template and workflow fields,
KFP's kfp-kubernetes platform config, Airflow's KubernetesPodOperator arguments) and reports
what it cannot express. Secrets are referenced by Kubernetes secret name, never inlined:
``secrets=["db"]`` exposes every key of secret ``db`` as an environment variable,
``secrets={"db": {"password": "DB_PASSWORD"}}`` exposes chosen keys under chosen names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flowc.diagnostics import Diagnostic, error
from flowc.ir import Decorator, FlowIR, Step

# @kubernetes arguments flowc maps; Metaflow has more (below), which flowc reports.
SUPPORTED = (
    "image", "image_pull_policy", "image_pull_secrets", "cpu", "memory", "disk", "gpu",
    "gpu_vendor", "node_selector", "tolerations", "service_account", "secrets", "labels",
    "annotations",
)  # fmt: skip
METAFLOW_ONLY = (
    "namespace", "use_tmpfs", "tmpfs_tempdir", "tmpfs_size", "tmpfs_path",
    "persistent_volume_claims", "shared_memory", "port", "compute_pool",
    "hostname_resolution_timeout", "qos", "security_context",
)  # fmt: skip
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
POD_GC = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "toleration_seconds"}
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# a label (or node selector) value: empty, or 63 characters at most, alphanumeric at both ends
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PodSettings:
    """One step's pod: flow-level options merged with its ``@kubernetes`` (the step wins)."""

    image: str | None = None
    image_pull_policy: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    resources: tuple[tuple[str, Any], ...] = ()  # cpu, memory (MB), disk (MB), gpu
    gpu_vendor: str = "nvidia"
    node_selector: Pairs = ()
    tolerations: tuple[Pairs, ...] = ()  # each: sorted (field, value) with Kubernetes' names
    service_account: str | None = None
    secrets: tuple[str, ...] = ()  # every key as env
    secret_keys: tuple[tuple[str, str, str], ...] = ()  # (secret, key, env var)
    labels: Pairs = ()
    annotations: Pairs = ()
    decorator: Decorator | None = field(default=None, compare=False)

    @property
    def gpu_resource(self) -> str:
        return f"{self.gpu_vendor}.com/gpu"


@dataclass(frozen=True)
class FlowPodOptions:
    """Flow-level compile options (``--service-account``, ``--label k=v`` ...)."""

    service_account: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    node_selector: Pairs = ()
    labels: Pairs = ()
    annotations: Pairs = ()
    ttl: int | None = None  # seconds a finished run's objects are kept
    pod_gc: str | None = None

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> FlowPodOptions:
        k = extra.get("kubernetes") or {}
        return cls(
            service_account=k.get("service_account"),
            image_pull_secrets=tuple(k.get("image_pull_secrets") or ()),
            node_selector=tuple(sorted(dict(k.get("node_selector") or {}).items())),
            labels=tuple(sorted(dict(k.get("labels") or {}).items())),
            annotations=tuple(sorted(dict(k.get("annotations") or {}).items())),
            ttl=k.get("ttl"),
            pod_gc=k.get("pod_gc"),
        )

    @property
    def any(self) -> bool:
        return self != FlowPodOptions()


def pairs_option(values: tuple[str, ...], what: str, label: bool = True) -> dict[str, str]:
    """``("a=1", "b=2")`` from a repeatable ``--label``-style option; ValueError says which.
    ``label``: the value must also be a valid label value (labels, node selectors)."""
    out = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not eq or not _KEY.match(key) or (label and not _LABEL_VALUE.match(value)):
            raise ValueError(f"{what} {v!r} is not KEY=VALUE with a label-style key and value")
        out[key] = value
    return out


class _Checker:
    def __init__(self, target: str, path: str):
        self.target, self.path = target, path
        self.found: list[Diagnostic] = []

    def bad(self, d: Decorator | None, line_col: tuple[int, int], message: str, fix: str) -> None:
        line, col = (d.span.line, d.span.col) if d else line_col
        self.found.append(error(f"{self.target}-kubernetes", message, fix, self.path, line, col))


def pod_settings(
    ir: FlowIR, extra: Mapping[str, Any], target: str
) -> tuple[dict[str, PodSettings], list[Diagnostic]]:
    """Every step's :class:`PodSettings`, and located errors for what is wrong or unknown."""
    flow = FlowPodOptions.from_extra(extra)
    check = _Checker(target, ir.file)
    base = PodSettings(
        image_pull_secrets=flow.image_pull_secrets,
        node_selector=flow.node_selector,
        service_account=flow.service_account,
        labels=flow.labels,
        annotations=flow.annotations,
    )
    out = {}
    for s in ir.steps:
        d = s.decorator("kubernetes")
        out[s.name] = base if d is None else _step(s, d, base, check)
    return out, check.found


def _step(s: Step, d: Decorator, base: PodSettings, check: _Checker) -> PodSettings:
    where = f"@kubernetes on {s.name!r}"
    args: dict[str, Any] = {}
    for a in d.args:
        if a.name is None:
            check.bad(d, (0, 0), f"{where} has a positional argument", "name it (image=...)")
        elif a.name in METAFLOW_ONLY:
            check.bad(
                d, (0, 0), f"{where}: {a.name}= is not supported by flowc",
                f"remove it; flowc maps {', '.join(SUPPORTED)}",
            )  # fmt: skip
        elif a.name not in SUPPORTED:
            check.bad(
                d, (0, 0), f"{where}: unknown argument {a.name}=",
                f"use one of {', '.join(SUPPORTED)}",
            )  # fmt: skip
        elif not a.value.literal:
            check.bad(
                d, (0, 0), f"{where}: {a.name}={a.value.source} is not a literal",
                "write the value as a literal",
            )  # fmt: skip
        else:
            args[a.name] = a.value.value
    n = len(check.found)
    settings = replace(base, decorator=d)

    def bad(message: str, fix: str) -> None:
        check.bad(d, (0, 0), f"{where}: {message}", fix)

    def text(name: str) -> str | None:
        v = args.get(name)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            bad(f"{name}= must be a non-empty string, not {v!r}", f"write {name}='...'")
            return None
        return v

    def names(name: str) -> tuple[str, ...]:
        v = args.get(name)
        if v is None:
            return ()
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not all(isinstance(x, str) and _K8S_NAME.match(x) for x in v):
            bad(f"{name}={v!r} is not a list of Kubernetes object names", f"write {name}=['name']")
            return ()
        return tuple(v)

    def mapping(name: str) -> Pairs:
        v = args.get(name)
        if isinstance(v, str) and name == "node_selector":  # Metaflow's "k=v,k2=v2" form
            try:
                v = pairs_option(tuple(p.strip() for p in v.split(",") if p.strip()), name + "=")
            except ValueError as e:
                bad(str(e), "write node_selector={'key': 'value'}")
                return ()
        if v is None:
            return ()
        if not isinstance(v, dict) or not all(
            isinstance(k, str)
            and _KEY.match(k)
            and isinstance(x, (str, int, float, bool))
            and (name == "annotations" or _LABEL_VALUE.match(_str(x)))
            for k, x in v.items()
        ):
            bad(f"{name}={v!r} is not a mapping of label-style keys to values",
                f"write {name}={{'key': 'value'}}")  # fmt: skip
            return ()
        return tuple(sorted((k, _str(x)) for k, x in v.items()))

    image = text("image")
    policy = text("image_pull_policy")
    if policy is not None and policy not in PULL_POLICIES:
        bad(f"image_pull_policy={policy!r}", f"use one of {', '.join(PULL_POLICIES)}")
    resources = []
    for key in ("cpu", "memory", "disk", "gpu"):
        v = args.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            bad(
                f"{key}={v!r} is not a non-negative number",
                f"write {key}=2 (memory and disk in MB)",
            )
        else:
            resources.append((key, v))
    vendor = text("gpu_vendor") or base.gpu_vendor
    account = text("service_account")
    tolerations = _tolerations(args.get("tolerations"), bad)
    secrets, secret_keys = _secrets(args.get("secrets"), bad)
    if len(check.found) > n:
        return settings
    return replace(
        settings,
        image=image or base.image,
        image_pull_policy=policy or base.image_pull_policy,
        image_pull_secrets=tuple(
            dict.fromkeys(base.image_pull_secrets + names("image_pull_secrets"))
        ),
        resources=tuple(sorted(resources)),
        gpu_vendor=vendor.lower(),
        node_selector=_merge(base.node_selector, mapping("node_selector")),
        tolerations=tolerations,
        service_account=account or base.service_account,
        secrets=secrets,
        secret_keys=secret_keys,
        labels=_merge(base.labels, mapping("labels")),
        annotations=_merge(base.annotations, mapping("annotations")),
    )


def _str(x: Any) -> str:
    return ("true" if x else "false") if isinstance(x, bool) else str(x)


def _merge(a: Pairs, b: Pairs) -> Pairs:
    return tuple(sorted({**dict(a), **dict(b)}.items()))


def _tolerations(v: Any, bad) -> tuple[Pairs, ...]:  # noqa: ANN001
    if v is None:
        return ()
    out = []
    for t in v if isinstance(v, list) else [v]:
        if not isinstance(t, dict) or not set(t) <= _TOLERATION_KEYS | {"tolerationSeconds"}:
            bad(
                f"tolerations entry {t!r} is not a toleration",
                "write tolerations=[{'key': 'k', 'operator': 'Equal', 'value': 'v', "
                "'effect': 'NoSchedule'}]",
            )
            continue
        norm = {("tolerationSeconds" if k == "toleration_seconds" else k): x for k, x in t.items()}
        out.append(tuple(sorted(norm.items())))
    return tuple(out)


def _secrets(v: Any, bad) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:  # noqa: ANN001
    if v is None:
        return (), ()
    if isinstance(v, str):
        v = [v]
    whole: list[str] = []
    keys: list[tuple[str, str, str]] = []
    fix = "write secrets=['secret-name'] or secrets={'secret-name': {'key': 'ENV_VAR'}}"
    if isinstance(v, list):
        for name in v:
            if not isinstance(name, str) or not _K8S_NAME.match(name):
                bad(f"secrets entry {name!r} is not a Kubernetes secret name", fix)
            else:
                whole.append(name)
    elif isinstance(v, dict):
        for name, m in v.items():
            ok = isinstance(m, dict) and all(
                isinstance(k, str) and isinstance(e, str) and _ENV.match(e) for k, e in m.items()
            )
            if not _K8S_NAME.match(name) or not ok:
                bad(
                    f"secrets entry {name!r}: {m!r} is not a mapping of keys to variable names", fix
                )
            else:
                keys += [(name, k, e) for k, e in sorted(m.items())]
    else:
        bad(f"secrets={v!r}", fix)
    return tuple(dict.fromkeys(whole)), tuple(sorted(keys))


def merged_resources(step_resources: tuple[tuple[str, Any], ...], pod: PodSettings) -> dict:
    """``@resources`` and ``@kubernetes`` together: the larger of each, as Metaflow does."""
    out = dict(step_resources)
    for k, v in pod.resources:
        out[k] = v if out.get(k) is None else max(out[k], v)
    return out


def unsupported(
    ir: FlowIR,
    pods: dict[str, PodSettings],
    target: str,
    fields: Mapping[str, str],
    flow: FlowPodOptions | None = None,
    flow_fields: Mapping[str, str] | None = None,
) -> list[Diagnostic]:
    """Located errors for settings a target cannot express. ``fields`` maps a PodSettings
    field to the fix; ``flow_fields`` a FlowPodOptions field (a compile option) to the fix."""
    out = []
    for s in ir.steps:
        pod = pods[s.name]
        d = pod.decorator
        if d is None:
            continue
        given = {a.name for a in d.args}
        for name, fix in fields.items():
            arg = {"secret_keys": "secrets"}.get(name, name)
            if arg in given and getattr(pod, name):
                out.append(
                    error(
                        f"{target}-kubernetes",
                        f"@kubernetes({arg}=...) on {s.name!r} cannot be expressed on {target}",
                        fix,
                        ir.file,
                        d.span.line,
                        d.span.col,
                    )  # fmt: skip
                )
    for name, fix in (flow_fields or {}).items():
        if flow is not None and getattr(flow, name):
            option = "--" + name.replace("_", "-")
            out.append(
                error(
                    f"{target}-kubernetes",
                    f"{option} cannot be expressed on {target}",
                    fix,
                    ir.file,
                    ir.span.line,
                    ir.span.col,
                )  # fmt: skip
            )
    return out


__all__ = [
    "FlowPodOptions",
    "PodSettings",
    "merged_resources",
    "pairs_option",
    "pod_settings",
    "unsupported",
]


def cli_options(
    service_account: str | None,
    ttl: int | None,
    pod_gc: str | None,
    image_pull_secrets: tuple[str, ...],
    node_selector: tuple[str, ...],
    labels: tuple[str, ...],
    annotations: tuple[str, ...],
) -> dict[str, Any]:
    """``EmitOptions.extra["kubernetes"]`` from ``flowc compile``'s options; ValueError names a
    malformed ``KEY=VALUE``."""
    out: dict[str, Any] = {
        "service_account": service_account,
        "ttl": ttl,
        "pod_gc": pod_gc,
        "image_pull_secrets": list(image_pull_secrets),
        "node_selector": pairs_option(node_selector, "--node-selector"),
        "labels": pairs_option(labels, "--label"),
        "annotations": pairs_option(annotations, "--annotation", label=False),
    }
    return {k: v for k, v in out.items() if v not in (None, [], {})}
