"""Property-based: mangled flow files never crash the analyzer or lint.

Every outcome is either IR (that lints and round-trips through JSON) or located diagnostics."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.analyzer import analyze_source
from flowc.ir import FlowIR
from flowc.lint import lint
from tests.conftest import EXAMPLES

SEEDS = sorted(p.read_text() for p in EXAMPLES.glob("*.py"))
PATH = "mutant.py"

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_outcome(source: str | bytes) -> None:
    analysis = analyze_source(source, PATH)
    n_lines = (source.count("\n") if isinstance(source, str) else source.count(b"\n")) + 1
    for ir in analysis.flows:
        assert FlowIR.from_json(ir.to_json()) == ir
        for d in lint(ir):
            assert d.path == PATH and d.line >= 1 and d.col >= 1 and d.rule
            assert d.format().startswith(f"{PATH}:{d.line}:{d.col}: {d.severity.value}[{d.rule}]: ")
    for d in analysis.diagnostics:
        assert d.path == PATH and 1 <= d.line <= n_lines + 1 and d.col >= 1 and d.rule
    assert analysis.flows or any(d.is_error for d in analysis.diagnostics)


seed = st.sampled_from(SEEDS)


@SETTINGS
@given(seed, st.data())
def test_deleted_lines(src, data):
    lines = src.splitlines(keepends=True)
    n = data.draw(st.integers(1, min(8, len(lines))))
    for _ in range(n):
        del lines[data.draw(st.integers(0, len(lines) - 1))]
    check_outcome("".join(lines))


@SETTINGS
@given(seed, st.data())
def test_swapped_names(src, data):
    names = sorted(set(re.findall(r"\b[a-z_][a-z0-9_]*\b", src)))
    a = data.draw(st.sampled_from(names))
    b = data.draw(st.sampled_from(names))
    everywhere = data.draw(st.booleans())
    if everywhere:
        out = re.sub(rf"\b{a}\b", "\0", src)
        out = re.sub(rf"\b{b}\b", a, out).replace("\0", b)
    else:
        out = re.sub(rf"\b{a}\b", b, src, count=1)
    check_outcome(out)


@SETTINGS
@given(seed, st.data())
def test_truncated(src, data):
    check_outcome(src[: data.draw(st.integers(0, len(src)))])


@SETTINGS
@given(seed, st.data(), st.text(max_size=40))
def test_inserted_text(src, data, junk):
    at = data.draw(st.integers(0, len(src)))
    check_outcome(src[:at] + junk + src[at:])


@SETTINGS
@given(seed, st.data())
def test_duplicated_and_reindented_lines(src, data):
    lines = src.splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    shift = data.draw(st.sampled_from(["", "    ", "        ", "\t"]))
    lines.insert(i, shift + lines[i].lstrip(" "))
    check_outcome("".join(lines))


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(blob):
    check_outcome(blob)


@SETTINGS
@given(seed, st.data(), st.binary(min_size=1, max_size=30))
def test_random_bytes_spliced_into_a_flow(src, data, blob):
    raw = src.encode()
    at = data.draw(st.integers(0, len(raw)))
    check_outcome(raw[:at] + blob + raw[at:])
