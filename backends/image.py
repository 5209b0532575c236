"""An image recipe for a flow: the Dockerfile ``flowc image FLOW`` writes.

What goes in, and why:

* a pinned Python base (``python:X.Y.Z-slim-bookworm``; ``@pypi_base(python="X.Y.Z")`` picks
  the version), so a rebuild months later runs the same interpreter;
* flowc with the extras the flow needs: ``s3`` when the datastore is ``s3://``, ``charts``
  when the flow's code uses ``VegaChart`` (cards render charts with vl-convert);
* the flow's own requirements, when it declares them: a ``requirements.txt`` beside the flow
  file, and the ``packages`` of ``@pypi_base`` / ``@pypi`` (as literal ``{"name": "version"}``),
  all in the same ``pip install`` as flowc so pip resolves them together;
* the flow's code (the flow file and every ``.py`` file under its folder, as a code package
  holds them) in ``/flow``, unless the code travels as a code package (``--package``: then
  ``flowc compile --package`` ships it through the datastore and the image holds no code).

The build context is the flow file's folder. Pure: the same flow and options give the same
text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass

from flowc import __version__
from flowc.diagnostics import Diagnostic, error
from flowc.ir import Decorator, FlowIR

PYTHON = "3.11.11"
BASE = "python:{version}-slim-bookworm"
WORKDIR = "/flow"
REQUIREMENTS = "requirements.txt"
_VERSION = re.compile(r"^3\.\d+\.\d+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?$")


@dataclass(frozen=True)
class Recipe:
    text: str
    flow_path: str | None  # where the image holds the flow file (None with --package)
    diagnostics: tuple[Diagnostic, ...] = ()


def require_image(image: str | None, target: str) -> str | None:
    """The message for a containerised target compiled without ``--image`` (None when one is
    given): every pod needs an image holding python, flowc and the flow."""
    if image:
        return None
    return (
        f"{target} runs every step in a container: pass --image REPO:TAG "
        "(`flowc image FLOW_FILE` writes a Dockerfile for it)"
    )


def extras(ir: FlowIR, datastore: str | None) -> list[str]:
    """flowc's extras the flow needs in its image."""
    out = []
    if datastore and datastore.startswith("s3://"):
        out.append("s3")
    if any(_uses_charts(path) for path in _sources(ir)):
        out.append("charts")
    return out


def _sources(ir: FlowIR) -> list[str]:
    return sorted({ir.file, *(p for p, _ in ir.sources)})


def _uses_charts(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "VegaChart" in f.read()
    except OSError:
        return False


def _packages(ir: FlowIR) -> tuple[dict[str, str], str | None, list[Diagnostic]]:
    """``@pypi_base``/``@pypi`` packages (name -> version), the Python version, problems."""
    found: dict[str, str] = {}
    python = None
    problems = []
    decorators: list[Decorator] = [d for d in ir.decorators if d.name == "pypi_base"]
    decorators += [d for s in ir.steps for d in s.decorators if d.name == "pypi"]
    for d in decorators:

        def bad(message: str, fix: str, d: Decorator = d) -> None:
            problems.append(error("image-pypi", message, fix, ir.file, d.span.line, d.span.col))

        packages = d.kwargs().get("packages")
        if packages is not None:
            value = packages.value if packages.literal else None
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and _NAME.match(k) and isinstance(v, str | int | float)
                for k, v in value.items()
            ):
                bad(f"@{d.name}(packages={packages.source}) is not a literal {{name: version}}",
                    "write packages={'pandas': '2.2.2'}")  # fmt: skip
                continue
            for name, version in value.items():
                version = str(version)
                if found.get(name, version) != version:
                    bad(f"package {name} is pinned at {found[name]} and at {version}",
                        "pin one version in every @pypi/@pypi_base")  # fmt: skip
                found[name] = version
        v = d.get("python")
        if v is not None:
            if not isinstance(v, str) or not _VERSION.match(v):
                bad(f"@{d.name}(python={v!r}) is not a full version", "write python='3.11.11'")
            elif python not in (None, v):
                bad(f"python {python} and {v} are both asked for", "ask for one version")
            else:
                python = v
    return dict(sorted(found.items())), python, problems


def dockerfile(
    ir: FlowIR,
    datastore: str | None = None,
    package: bool = False,
    flowc_requirement: str | None = None,
) -> Recipe:
    """The Dockerfile for ``ir`` (see the module docstring). ``flowc_requirement`` replaces
    ``flowc[extras]==VERSION`` (a wheel URL, a private index's name...)."""
    root = os.path.dirname(os.path.abspath(ir.file))
    packages, python, problems = _packages(ir)
    wanted = extras(ir, datastore)
    flowc = flowc_requirement or (
        f"flowc[{','.join(wanted)}]=={__version__}" if wanted else f"flowc=={__version__}"
    )
    requirements = [flowc] + [
        f"{name}=={version}" if re.match(r"^[0-9]", version) else f"{name}{version}"
        for name, version in packages.items()
    ]
    has_txt = os.path.isfile(os.path.join(root, REQUIREMENTS))
    name = os.path.basename(ir.file)
    declared = [REQUIREMENTS] if has_txt else []
    declared += ["@pypi_base/@pypi packages"] if packages else []
    lines = [
        f"# The image for flow {ir.name} ({name}), written by `flowc image`; build it from the",
        "# flow's folder:  docker build -f Dockerfile -t REPO:TAG .",
        f"# flowc extras: {', '.join(wanted) or 'none'}; the flow's requirements: "
        + (", ".join(declared) or "none declared"),
        f"FROM {BASE.format(version=python or PYTHON)}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"WORKDIR {WORKDIR}",
    ]
    pip = ["python", "-m", "pip", "install", "--no-cache-dir", *requirements]
    if has_txt:
        lines.append(_copy(REQUIREMENTS, REQUIREMENTS))
        pip += ["-r", REQUIREMENTS]
    lines.append("RUN " + shlex.join(pip))
    flow_path = None
    if package:
        lines.append("# no flow code: `flowc compile --package` ships it through the datastore")
    else:
        from flowc.backends.package import python_files

        files = sorted(
            {
                os.path.relpath(p, root).replace(os.sep, "/")
                for p in [os.path.abspath(ir.file), *python_files(root), *_sources(ir)]
                if not os.path.relpath(p, root).startswith("..")
            }
        )
        lines += [_copy(rel, f"{WORKDIR}/{rel}") for rel in files]
        flow_path = f"{WORKDIR}/{name}"
    return Recipe("\n".join(lines) + "\n", flow_path, tuple(problems))


def _copy(src: str, dst: str) -> str:
    """A COPY line; the JSON form when a path holds anything but plain characters."""
    if all(re.fullmatch(r"[A-Za-z0-9._/+-]+", p) for p in (src, dst)):
        return f"COPY {src} {dst}"
    return f"COPY {json.dumps([src, dst], ensure_ascii=False)}"


def pip_arguments(text: str) -> list[str]:
    """The arguments after ``pip install`` in a recipe (for checking that they resolve)."""
    line = next(x for x in text.splitlines() if x.startswith("RUN ") and " pip install " in x)
    args = shlex.split(line[4:])
    return args[args.index("install") + 1 :]


__all__ = ["Recipe", "dockerfile", "extras", "pip_arguments", "require_image"]
