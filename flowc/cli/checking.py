"""``show`` and ``validate``: the flow read without running it."""

from __future__ import annotations

import os

import click

from flowc.cli.app import cli
from flowc.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    NOT_A_FLOW,
    CommandError,
    flow_file_arg,
    one_flow,
    print_diagnostics,
)

# folders validate never walks into
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"}


@cli.command()
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option(
    "--flow", "flow_name", metavar="NAME", help="The flow class, when the file holds several."
)
@click.option("--json", "as_json", is_flag=True, help="Print the flow's IR as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="Summary text, or the graph as Mermaid or Graphviz DOT.",
)
def show(flow_file: str, flow_name: str | None, as_json: bool, fmt: str) -> int:
    """Show a flow's parameters and steps in graph order, without running it."""
    from flowc.check import check_file

    path = flow_file_arg(flow_file)
    checked = check_file(path, flow_name)
    ir = one_flow(checked, path, flow_name, inspecting=True)
    if as_json:
        out = ir.to_json() + "\n"
    elif fmt == "mermaid":
        from flowc.show import mermaid

        out = mermaid(ir)
    elif fmt == "dot":
        from flowc.show import dot

        out = dot(ir)
    else:
        from flowc.show import summary

        out = summary(ir)
    click.echo(out, nl=False)
    findings = checked.diagnostics_for(ir.name)
    print_diagnostics(findings, err=True)
    return EXIT_FAILED if any(d.is_error for d in findings) else EXIT_OK


@cli.command()
@click.argument("paths", nargs=-1, metavar="[FLOW_FILE_OR_DIR]...")
@click.option("--flow", "flow_name", metavar="NAME", help="Check only this flow class.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the diagnostics.")
def validate(paths: tuple[str, ...], flow_name: str | None, as_json: bool, quiet: bool) -> int:
    """Check flow files without running them.

    A folder checks every flow file in it; no path checks the current folder. Exit 0 when clean
    (warnings are printed), 1 when any error was found, 2 when an input is not a flow file at all.
    """
    from flowc.check import check_file

    paths = paths or (".",)
    files = _expand(paths)
    results = [(f, check_file(f, flow_name)) for f in files]
    if any(os.path.isdir(p) for p in paths):
        results = _drop_base_modules(results, explicit={p for p in paths if not os.path.isdir(p)})
    usage = False
    report = []
    n_err = n_warn = n_flows = 0
    for f, checked in results:
        diags = checked.diagnostics
        usage |= any(d.rule in NOT_A_FLOW and d.is_error for d in diags)
        n_err += sum(1 for d in diags if d.is_error)
        n_warn += sum(1 for d in diags if not d.is_error)
        n_flows += len(checked.flow_names)
        report.append((f, checked, diags))
    if as_json:
        import json

        doc = [
            {
                "path": f,
                "flows": list(c.flow_names),
                "diagnostics": [d.to_dict() for d in diags],
            }
            for f, c, diags in report
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for f, checked, diags in report:
            print_diagnostics(diags)
            if not quiet and not any(d.is_error for d in diags):
                names = ", ".join(checked.flow_names)
                click.echo(f"ok: {f} ({names})")
        if not quiet:
            click.echo(
                f"checked {_plural(n_flows, 'flow')} in {_plural(len(report), 'file')}: "
                f"{_plural(n_err, 'error')}, {_plural(n_warn, 'warning')}"
            )
    if usage:
        return EXIT_USAGE
    return EXIT_FAILED if n_err else EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Every file to check: explicit files as given, folders searched for flow files. All
    inputs are checked before any analysis starts, so a typo fails fast with exit 2."""
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = _flow_files_in(p)
            if not found:
                raise CommandError(
                    f"{p}: no flow files in this folder (looked for .py files that define a "
                    "FlowSpec subclass); pass a flow file or a folder that holds one"
                )
            files.extend(found)
        else:
            files.append(flow_file_arg(p, allow_dir=False))
    return list(dict.fromkeys(files))


def _flow_files_in(folder: str) -> list[str]:
    import re

    looks_like_flow = re.compile(
        rb"FlowSpec|@step\b|\bfrom\s+(flowc|metaflow)\b|\bimport\s+(flowc|metaflow)\b"
    )
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            full = os.path.join(root, name)
            try:
                with open(full, "rb") as f:
                    if looks_like_flow.search(f.read()):
                        found.append(full)
            except OSError:
                continue
    return found


def _drop_base_modules(results, explicit):  # noqa: ANN001
    """In a folder, skip files that hold no flow, and modules that only provide base classes
    to other flows there (they are checked as part of those flows)."""
    used_as_base = set()
    for f, checked in results:
        main = os.path.abspath(f)
        used_as_base |= {p for p, _ in checked.sources if p != main}
    kept = []
    for f, checked in results:
        if f not in explicit:
            rules = {d.rule for d in checked.analyzer_diagnostics}
            if "no-flow" in rules:
                continue
            if os.path.abspath(f) in used_as_base and checked.main_flow is None:
                continue
        kept.append((f, checked))
    return kept
