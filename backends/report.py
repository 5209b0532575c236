"""What ``flowc compile`` tells the user besides diagnostics: the names a target gives the
flow's parameters (when it spells them differently) and the images the pods expect."""

from __future__ import annotations

import os

from flowc.backends.base import EmitOptions
from flowc.backends.k8s import pod_settings
from flowc.backends.params import renamed
from flowc.ir import FlowIR

CONTAINER_TARGETS = ("argo", "kfp")


def compile_notes(ir: FlowIR, target: str, options: EmitOptions) -> list[str]:
    out = [
        f"parameter {name!r} is {new!r} on {target} (pass it by that name when starting a run)"
        for name, new in renamed([p.name for p in ir.parameters], target)
    ]
    containers = target in CONTAINER_TARGETS or options.extra.get("operator") == "kubernetes"
    if containers:
        pods = pod_settings(ir, options.extra, target)[0]
        own = sorted(
            {(p.image, s) for s, p in pods.items() if p.image and p.image != options.image}
        )
        images = ([options.image] if options.image else []) + sorted({i for i, _ in own})
        flow = os.path.relpath(ir.file)
        for image in images:
            steps = [s for i, s in own if i == image]
            where = f" (steps {', '.join(steps)})" if steps else ""
            out.append(
                f"the pods run image {image}{where}: it needs python, flowc and the flow's "
                f"requirements; `flowc image {flow}` writes a Dockerfile for it"
            )
    return out
