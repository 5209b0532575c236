"""The ``flowc`` command line, and the same verbs as ``python flow.py VERB``.

Start-up stays light: this package imports click and nothing of flowc's heavy parts; each verb
imports what it needs when it runs (the analyzer and libcst only on a cache miss). One module per
verb group (``checking``, ``running``, ``history``, ``cards``, ``tutorials``, ``compiling``),
sharing ``common``'s helpers and ``app``'s group.

Exit codes: 0 success; 1 the command ran and failed, or ``validate`` found errors; 2 bad input
stopped the command from starting (usage, missing or non-Python file, no flow in it).
"""

from __future__ import annotations

import os
import sys

import click

from flowc.cli import cards, checking, compiling, history, running, tutorials  # noqa: F401
from flowc.cli.app import cli
from flowc.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError


def main(argv: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run the CLI; exit with its code. Unexpected errors print one line unless --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("FLOWC_DEBUG", "") not in ("", "0")
    # --debug is accepted anywhere on the line, not only before the verb
    args = (["--debug"] if "--debug" in args else []) + [a for a in args if a != "--debug"]
    try:
        code = cli.main(args=args, prog_name=prog_name or "flowc", standalone_mode=False)
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.UsageError as e:
        hint = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
        click.echo(f"flowc: error: {e.format_message()}{hint}", err=True)
        code = EXIT_USAGE
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.exceptions.Abort:
        click.echo("flowc: aborted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("flowc: interrupted", err=True)
        code = 130
    except Exception as e:  # noqa: BLE001 - the one place that turns bugs into a clean line
        if debug:
            raise
        from flowc.datastore.storage import StorageError

        if isinstance(e, StorageError):  # the datastore as configured: not a flowc bug
            click.echo(f"flowc: error: {e}", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(
            f"flowc: internal error: {type(e).__name__}: {e}. Re-run with --debug for the "
            "traceback, and please report it.",
            err=True,
        )
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else EXIT_OK)


FLOW_VERBS = ("run", "resume", "show", "validate", "task", "compile", "image", "card")


def flow_main(path: str, flow_name: str) -> None:
    """``python flow.py VERB ...``: the same verbs, with the flow file and class filled in."""
    prog = f"python {os.path.basename(path)}"
    args = sys.argv[1:]
    debug = ["--debug"] if "--debug" in args else []
    args = [a for a in args if a != "--debug"]
    if not args or args[0] in ("-h", "--help", "help"):
        click.echo(f"Usage: {prog} [--debug] COMMAND [OPTIONS]\n")
        click.echo(f"  Commands for the flow {flow_name} in {path}:\n")
        for verb in FLOW_VERBS:
            doc = (cli.commands[verb].help or "").strip().splitlines()[0]
            click.echo(f"    {verb:<10} {doc}")
        click.echo(f"\n  Run '{prog} COMMAND --help' for a command's options.")
        sys.exit(EXIT_OK)
    verb, rest = args[0], args[1:]
    if verb not in FLOW_VERBS:
        click.echo(
            f"flowc: error: unknown command {verb!r}; commands: {', '.join(FLOW_VERBS)}",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    if verb == "card":  # python flow.py card view STEP -> flowc card view FLOW_FILE STEP
        if not rest or rest[0].startswith("-"):
            main(debug + ["card", *rest], prog_name=prog)
        main(debug + ["card", rest[0], path, *rest[1:]], prog_name=prog)
    if "--flow" not in rest and not any(a.startswith("--flow=") for a in rest):
        rest += ["--flow", flow_name]
    main(debug + [verb, path, *rest], prog_name=prog)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CommandError", "cli", "flow_main", "main"]
