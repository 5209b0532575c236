"""``compile`` and ``image``: files an orchestrator runs, and the image its pods need."""

from __future__ import annotations

import os

import click

from flowc.cli.app import cli
from flowc.cli.common import (
    EXIT_OK,
    CommandError,
    flow_file_arg,
    launch_errors,
    print_diagnostics,
)


@cli.command(name="compile")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option(
    "--target", required=True, metavar="NAME", help="The orchestrator: airflow, argo or kfp."
)
@click.option(
    "-o",
    "--output",
    metavar="DIR_OR_FILE",
    default=".",
    show_default=True,
    help="A folder for the generated files, or the file name when there is one.",
)
@click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")
@click.option(
    "--operator",
    type=click.Choice(["bash", "kubernetes"]),
    default="bash",
    show_default=True,
    help="Airflow: run tasks on the worker (bash) or in pods (kubernetes).",
)
@click.option("--image", metavar="IMAGE", help="Container image (kubernetes, argo).")
@click.option("--namespace", metavar="NS", help="Kubernetes namespace (default: default).")
@click.option("--python", "python", metavar="PATH", help="Interpreter on the workers (python3).")
@click.option("--flow-path", metavar="PATH", help="The flow file as the workers see it.")
@click.option("--cwd", metavar="DIR", help="Working directory of the tasks (bash).")
@click.option("--datastore", metavar="URL", help="The datastore the tasks use.")
@click.option("--dag-id", metavar="ID", help="Airflow DAG id (default: the flow's name).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the DAG (repeatable).")
@click.option(
    "--package",
    is_flag=True,
    help="Store the flow's code in the datastore; tasks run it from there.",
)
@click.option(
    "--kind",
    type=click.Choice(["workflow-template", "workflow"]),
    default="workflow-template",
    show_default=True,
    help="Argo: the document's kind.",
)
@click.option(
    "--parallelism",
    type=click.IntRange(min=1),
    metavar="N",
    help="Argo: pods run at once; KFP: foreach tasks run at once.",
)
@click.option("--enable-caching", is_flag=True, help="KFP: let KFP cache tasks (off by default).")
@click.option("--schedule-spec", is_flag=True, help="KFP: print @schedule as recurring-run JSON.")
@click.option("--python-module", metavar="PATH", help="KFP: also write the pipeline module.")
@click.option("--service-account", metavar="NAME", help="Pods' Kubernetes service account.")
@click.option(
    "--ttl",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Keep a finished run's objects this long.",
)
@click.option(
    "--pod-gc",
    type=click.Choice(
        ["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"]
    ),
    help="Argo: when to delete the pods.",
)
@click.option(
    "--image-pull-secret",
    "image_pull_secrets",
    multiple=True,
    metavar="NAME",
    help="Secret to pull images with (repeatable).",
)
@click.option(
    "--node-selector",
    "node_selector",
    multiple=True,
    metavar="KEY=VALUE",
    help="Pods' node selector (repeatable).",
)
@click.option(
    "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label the pods (repeatable)."
)
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Annotate the pods (repeatable).",
)
def compile_(
    flow_file: str,
    target: str,
    output: str,
    flow_name: str | None,
    operator: str,
    image: str | None,
    namespace: str | None,
    python: str | None,
    flow_path: str | None,
    cwd: str | None,
    datastore: str | None,
    dag_id: str | None,
    tags: tuple[str, ...],
    package: bool,
    kind: str,
    parallelism: int | None,
    enable_caching: bool = False,
    schedule_spec: bool = False,
    python_module: str | None = None,
    service_account: str | None = None,
    ttl: int | None = None,
    pod_gc: str | None = None,
    image_pull_secrets: tuple[str, ...] = (),
    node_selector: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    annotations: tuple[str, ...] = (),
) -> int:
    """Compile a flow for an orchestrator: flowc compile FLOW_FILE --target airflow -o DIR.

    The same file always gives the same output. What the target cannot express is reported as
    file:line:col diagnostics (exit 2), like lint errors.
    """
    from flowc.backends import base
    from flowc.backends.k8s import cli_options
    from flowc.backends.report import compile_notes
    from flowc.runtime.launch import checked_flow

    path = flow_file_arg(flow_file)
    if target not in base.targets():
        known = ", ".join(base.targets())
        raise CommandError(f"unknown target {target!r} (targets: {known})")
    ir, warnings = launch_errors(lambda: checked_flow(path, flow_name))
    print_diagnostics(warnings, err=True)
    extra = {
        "operator": operator,
        "namespace": namespace,
        "python": python,
        "flow_path": flow_path,
        "cwd": cwd,
        "dag_id": dag_id,
        "tags": tags,
        "kind": kind,
        "parallelism": parallelism,
    }
    if target == "kfp":
        extra = {k: extra[k] for k in ("python", "flow_path")}
        extra.update(enable_caching=enable_caching, parallelism=parallelism)
        extra["python_module"] = bool(python_module)
    try:
        extra["kubernetes"] = cli_options(
            service_account, ttl, pod_gc, image_pull_secrets, node_selector, labels, annotations
        )
    except ValueError as e:
        raise CommandError(f"{e}; pass KEY=VALUE") from None
    options = base.EmitOptions(datastore=datastore, image=image, extra=extra)
    result = base.get_emitter(target).emit(ir, options)
    if package and not any(d.is_error for d in result.diagnostics):
        extra.update(_store_package(path, ir, datastore))
        options = base.EmitOptions(datastore=datastore, image=image, extra=extra)
        result = base.get_emitter(target).emit(ir, options)
    print_diagnostics(result.diagnostics, err=True)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        from flowc.compile_errors import summary

        raise CommandError(summary(path, ir.name, target, errors))
    for note in compile_notes(ir, target, options):
        click.echo(note, err=True)
    files = dict(result.files)
    paths = {}
    if target == "kfp":
        from flowc.backends.graphplan import plan as graph_plan
        from flowc.backends.kfp import recurring_run_settings

        if python_module:
            module = next(n for n in files if n.endswith(".py"))
            paths[module] = python_module
        if schedule_spec:
            import json

            spec = recurring_run_settings(graph_plan(ir, "kfp").schedule, ir.name)
            if spec is None:
                click.echo(f"{ir.name} has no @schedule: no recurring run to set up", err=True)
            else:
                click.echo(json.dumps(spec, indent=2, sort_keys=True))
    paths.update(_output_paths(output, sorted(n for n in files if n not in paths)))
    for name, target_path in paths.items():
        from flowc.atomic import write_atomic

        os.makedirs(os.path.dirname(os.path.abspath(target_path)), exist_ok=True)
        write_atomic(target_path, [files[name].encode()])
        click.echo(f"wrote {target_path}", err=True)
    return EXIT_OK


@cli.command(name="image")
@click.argument("flow_file", metavar="FLOW_FILE")
@click.option("-o", "--output", metavar="FILE", help="Write the Dockerfile here (default: stdout).")
@click.option("--flow", "flow_name", metavar="NAME", help="The flow class.")
@click.option("--datastore", metavar="URL", help="The datastore the pods use (s3:// adds s3).")
@click.option("--package", is_flag=True, help="Leave the code out: compile with --package.")
@click.option("--flowc-requirement", metavar="REQ", help="Install flowc from REQ instead.")
def image(
    flow_file: str,
    output: str | None,
    flow_name: str | None,
    datastore: str | None,
    package: bool,
    flowc_requirement: str | None,
) -> int:
    """Write a Dockerfile for a flow's pods: flowc image FLOW_FILE -o Dockerfile.

    A pinned Python, flowc with the extras the flow needs, the flow's requirements
    (requirements.txt beside it, @pypi_base/@pypi packages) and, unless --package, its code.
    """
    from flowc.backends.image import dockerfile
    from flowc.runtime.launch import checked_flow

    path = flow_file_arg(flow_file)
    ir, warnings = launch_errors(lambda: checked_flow(path, flow_name))
    print_diagnostics(warnings, err=True)
    recipe = dockerfile(
        ir, datastore or os.environ.get("FLOWC_DATASTORE"), package, flowc_requirement
    )
    print_diagnostics(recipe.diagnostics, err=True)
    if any(d.is_error for d in recipe.diagnostics):
        raise CommandError(f"{path}: the flow's requirements cannot be written into an image")
    if output is None:
        click.echo(recipe.text, nl=False)
    else:
        from flowc.atomic import write_atomic

        write_atomic(output, [recipe.text.encode()])
        click.echo(f"wrote {output}", err=True)
    how = "--package" if package else f"--flow-path {recipe.flow_path}"
    click.echo(
        f"build it, push it, then: flowc compile {flow_file} --image REPO:TAG {how}", err=True
    )
    return EXIT_OK


def _store_package(path: str, ir, datastore: str | None) -> dict[str, str]:  # noqa: ANN001
    """Package the flow's sources into the datastore; the options that make tasks use it."""
    from flowc.backends.package import PackageError, build, store
    from flowc.datastore import Datastore, DatastoreError

    if not datastore:
        raise CommandError("--package needs --datastore URL: the tasks read the package there")
    try:
        package_id, blob, name = build(path, [p for p, _ in ir.sources])
        ds = Datastore(datastore)
        ds.check_writable()
        store(ds, package_id, blob)
    except (PackageError, DatastoreError) as e:
        raise CommandError(str(e)) from None
    click.echo(f"stored code package {package_id} in {datastore}", err=True)
    return {"package": package_id, "flow_path": name}


def _output_paths(output: str, names: list[str]) -> dict[str, str]:
    """One file into ``x.py`` (``x.yaml``) when -o names such a file; otherwise a folder."""
    if output.endswith((".py", ".yaml", ".yml")) and not os.path.isdir(output):
        if len(names) != 1:
            raise CommandError(f"-o {output}: this target writes {len(names)} files; pass a folder")
        return {names[0]: output}
    if os.path.exists(output) and not os.path.isdir(output):
        raise CommandError(f"-o {output}: not a folder; pass a folder or a file name")
    return {n: os.path.join(output, n) for n in names}
