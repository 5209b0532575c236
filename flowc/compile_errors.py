"""The one line ``flowc compile`` ends with when a backend refused the flow.

Three different problems get three different messages, because they have different fixes: an
SDK the target needs is not installed (install it), an option is missing or wrong (pass it), or
the flow uses something the target cannot express (change the flow). The located diagnostics
printed above the line say exactly what and where.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowc.diagnostics import Diagnostic

# rule suffixes (after ``<target>-``) that are about the command's options, not the flow
OPTION_RULES = frozenset(
    {"image", "datastore", "kind", "package", "parallelism", "operator", "dag-id", "flow-path"}
    | {"namespace"}
)
_INSTALL = {"kfp": "pip install 'flowc[kfp]'", "argo": "pip install 'flowc[argo]'"}


def kind_of(d: Diagnostic, target: str) -> str:
    """``sdk``, ``option`` or ``construct``: what a backend's error is about."""
    rule = d.rule.removeprefix(f"{target}-")
    if rule == "sdk":
        return "sdk"
    if rule in OPTION_RULES or (rule == "value" and d.message.startswith("--")):
        return "option"
    return "construct"


def summary(path: str, flow: str, target: str, errors: Sequence[Diagnostic]) -> str:
    """One line naming every kind of problem among ``errors`` (which are not empty)."""
    kinds: dict[str, list[Diagnostic]] = {"sdk": [], "option": [], "construct": []}
    for d in errors:
        kinds[kind_of(d, target)].append(d)
    parts = []
    if kinds["sdk"]:
        how = _INSTALL.get(target, "install the SDK named above")
        parts.append(f"compiling for {target} needs its SDK, which is not installed ({how})")
    if kinds["option"]:
        n = len(kinds["option"])
        parts.append(
            f"{n} option{'s' if n > 1 else ''} for --target {target} "
            f"{'are' if n > 1 else 'is'} missing or invalid (see above)"
        )
    if kinds["construct"]:
        n = len(kinds["construct"])
        parts.append(f"{flow} uses {n} feature{'s' if n > 1 else ''} {target} cannot express")
    return f"{path}: " + "; ".join(parts)
