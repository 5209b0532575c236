"""Every lint rule: a flow that breaks it (rule id and reported line checked) and a close
variant that does not."""

from __future__ import annotations

import re
import textwrap

import pytest

from flowc.analyzer import analyze_source
from flowc.diagnostics import Severity
from flowc.lint import RULES, lint
from tests.conftest import EXAMPLES

HEAD = "from metaflow import FlowSpec, Parameter, step, parallel\n\n\nclass F(FlowSpec):\n"


def flow(body: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def run(src: str):
    analysis = analyze_source(src, "flow.py")
    assert analysis.flows, analysis.diagnostics
    return lint(analysis.flows[0])


def line_of(src: str, needle: str) -> int:
    return next(i for i, text in enumerate(src.splitlines(), 1) if needle in text)


LINEAR = """
@step
def start(self):
    self.x = 1
    self.next(self.end)

@step
def end(self):
    print(self.x)
"""

SPLIT = """
@step
def start(self):
    self.next(self.a, self.b)

@step
def a(self):
    self.y = 1
    self.next(self.join)

@step
def b(self):
    self.y = 2
    self.next(self.join)

@step
def join(self, inputs):
    self.total = inputs.a.y + inputs.b.y
    self.next(self.end)

@step
def end(self):
    print(self.total)
"""

SWITCH = """
@step
def start(self):
    self.route = "a"
    self.next({"a": self.a, "b": self.b}, condition="route")

@step
def a(self):
    self.z = 1
    self.next(self.meet)

@step
def b(self):
    self.z = 2
    self.next(self.meet)

@step
def meet(self):
    print(self.z)
    self.next(self.end)

@step
def end(self):
    pass
"""

FOREACH = """
@step
def start(self):
    self.items = [1, 2]
    self.next(self.body, foreach="items")

@step
def body(self):
    self.out = self.input
    self.next(self.join)

@step
def join(self, inputs):
    self.outs = [i.out for i in inputs]
    self.next(self.end)

@step
def end(self):
    pass
"""

PARALLEL = """
@step
def start(self):
    self.next(self.train, num_parallel=2)

@parallel
@step
def train(self):
    self.next(self.join)

@step
def join(self, inputs):
    self.next(self.end)

@step
def end(self):
    pass
"""


SWITCH_IN_FOREACH = """
@step
def start(self):
    self.items = [1, 2]
    self.next(self.body, foreach="items")

@step
def body(self):
    self.kind = "a" if self.input == 1 else "b"
    self.next({"a": self.a, "b": self.b}, condition="kind")

@step
def a(self):
    self.out = 1
    self.next(self.join)

@step
def b(self):
    self.out = 2
    self.next(self.join)

@step
def join(self, inputs):
    self.outs = [i.out for i in inputs]
    self.next(self.end)

@step
def end(self):
    print(self.outs)
"""

RECURSIVE = """
@step
def start(self):
    self.n = 0
    self.next(self.loop)

@step
def loop(self):
    self.n += 1
    self.more = "yes" if self.n < 3 else "no"
    self.next({"yes": self.loop, "no": self.end}, condition="more")

@step
def end(self):
    print(self.n)
"""


def swap(base: str, old: str, new: str, count: int = 1) -> str:
    assert old in base, old
    return base.replace(old, new, count)


# (rule, failing source, text on the reported line, passing source)
CASES = [
    (
        "reserved-name",
        swap(
            swap(LINEAR, "self.next(self.end)", "self.next(self.index)"),
            "def end",
            "def index(self):\n    self.next(self.end)\n\n@step\ndef end",
        ),
        "def index",
        LINEAR,
    ),
    (
        "reserved-name",
        'tag = Parameter("tag", default="x")\n' + LINEAR,
        'Parameter("tag"',
        'label = Parameter("label", default="x")\n' + LINEAR,
    ),
    (
        "step-name",
        swap(
            swap(LINEAR, "self.next(self.end)", "self.next(self.Mid)"),
            "@step\ndef end",
            "@step\ndef Mid(self):\n    self.next(self.end)\n\n@step\ndef end",
        ),
        "def Mid",
        swap(
            swap(LINEAR, "self.next(self.end)", "self.next(self.mid)"),
            "@step\ndef end",
            "@step\ndef mid(self):\n    self.next(self.end)\n\n@step\ndef end",
        ),
    ),
    (
        "duplicate-parameter",
        'a = Parameter("max-iter", default=1)\nb = Parameter("max_iter", default=2)\n' + LINEAR,
        "b = Parameter",
        'a = Parameter("max-iter", default=1)\nb = Parameter("min-iter", default=2)\n' + LINEAR,
    ),
    ("artifact-name", swap(SPLIT, "self.y = 1", "self.a = 1"), "self.a = 1", SPLIT),
    (
        "parameter-assign",
        'n = Parameter("n", default=1)\n'
        + swap(LINEAR, "self.x = 1", "self.n = 2\n    self.x = 1"),
        "self.n = 2",
        'n = Parameter("n", default=1)\n' + LINEAR,
    ),
    (
        "join-unmerged-read",
        swap(SPLIT, "self.total = inputs.a.y + inputs.b.y", "self.total = self.y"),
        "self.total = self.y",
        swap(SPLIT, "self.total = inputs.a.y + inputs.b.y", "self.total = inputs.a.y"),
    ),
    (
        "join-unmerged-read",
        swap(
            SPLIT,
            "self.total = inputs.a.y + inputs.b.y",
            "self.total = self.y\n    self.merge_artifacts(inputs, include=['y'])",
        ),
        "self.total = self.y",
        swap(
            SPLIT,
            "self.total = inputs.a.y + inputs.b.y",
            "self.merge_artifacts(inputs, exclude=['x'])\n    self.total = self.y",
        ),
    ),
    ("maybe-undefined", swap(SWITCH, "self.z = 2\n", ""), "print(self.z)", SWITCH),
    (
        "maybe-undefined",
        swap(LINEAR, "print(self.x)", "print(self.nope)"),
        "print(self.nope)",
        LINEAR,
    ),
    (
        "maybe-undefined",
        swap(SPLIT, "print(self.total)", "print(self.y)"),
        "print(self.y)",
        swap(
            SPLIT,
            "self.next(self.end)",
            "self.merge_artifacts(inputs, include=['y'])\n    self.next(self.end)",
            1,
        ).replace("print(self.total)", "print(self.y)"),
    ),
    (
        "foreach-undefined",
        swap(FOREACH, "self.items = [1, 2]", "self.other = [1, 2]"),
        'foreach="items"',
        FOREACH,
    ),
    (
        "condition-undefined",
        swap(SWITCH, 'self.route = "a"', 'self.way = "a"'),
        'condition="route"',
        SWITCH,
    ),
    ("missing-start", LINEAR.replace("def start", "def begin"), "class F", LINEAR),
    (
        "missing-end",
        LINEAR.replace("self.end", "self.finish").replace("def end", "def finish"),
        "class F",
        LINEAR,
    ),
    ("step-arguments", swap(LINEAR, "def end(self):", "def end(self, a, b):"), "def end", LINEAR),
    (
        "step-arguments",
        swap(LINEAR, "def start(self):", "def start(self, inputs):"),
        "def start",
        LINEAR,
    ),
    (
        "join-also-split",
        swap(
            SPLIT,
            "self.total = inputs.a.y + inputs.b.y\n    self.next(self.end)",
            "self.next(self.c, self.d)\n\n@step\ndef c(self):\n    self.next(self.j2)\n\n@step\ndef d(self):\n    self.next(self.j2)\n\n@step\ndef j2(self, inputs):\n    self.total = 1\n    self.next(self.end)",
        ),
        "self.next(self.c, self.d)",
        SPLIT,
    ),
    (
        "cycle",
        swap(
            LINEAR,
            "def end",
            "def loop(self):\n    self.next(self.back)\n\n@step\ndef back(self):\n    self.next(self.loop)\n\n@step\ndef end",
        ).replace("self.next(self.end)", "self.next(self.loop, self.end)", 1),
        "self.next(self.loop)",
        LINEAR,
    ),
    (
        "cycle",
        swap(RECURSIVE, '"no": self.end}', '"no": self.back}').replace(
            "@step\ndef end",
            "@step\ndef back(self):\n    self.next(self.loop)  # back\n\n@step\ndef end",
        ),
        "self.next(self.loop)  # back",
        RECURSIVE,
    ),
    (
        "switch-into-join",
        swap(SWITCH_IN_FOREACH, '"b": self.b}', '"b": self.join}').replace(
            "@step\ndef b(self):\n    self.out = 2\n    self.next(self.join)\n\n", ""
        ),
        'condition="kind"',
        SWITCH_IN_FOREACH,
    ),
    (
        "unreachable-step",
        swap(
            LINEAR,
            "@step\ndef end",
            "@step\ndef orphan(self):\n    self.next(self.end)\n\n@step\ndef end",
        ),
        "def orphan",
        LINEAR,
    ),
    (
        "unjoined-split",
        swap(
            swap(SPLIT, "self.next(self.join)", "self.next(self.end)", 2),
            "def join(self, inputs):",
            "def join(self, inputs):  # now unused",
        ),
        "def end",
        SPLIT,
    ),
    (
        "join-without-split",
        swap(LINEAR, "self.next(self.end)", "self.next(self.mid)").replace(
            "@step\ndef end",
            "@step\ndef mid(self, inputs):\n    self.x = 2\n    self.next(self.end)\n\n@step\ndef end",
        ),
        "def mid",
        swap(LINEAR, "self.next(self.end)", "self.next(self.mid)").replace(
            "@step\ndef end",
            "@step\ndef mid(self):\n    self.x = 2\n    self.next(self.end)\n\n@step\ndef end",
        ),
    ),
    (
        "join-input-count",
        swap(
            SPLIT,
            "self.y = 1\n    self.next(self.join)",
            "self.y = 1\n    self.next(self.p, self.q)\n\n@step\ndef p(self):\n    self.next(self.join)\n\n@step\ndef q(self):\n    self.next(self.join)",
        ),
        "def join",
        SPLIT,
    ),
    (
        "join-unrelated-splits",
        swap(
            SPLIT,
            "self.y = 2\n    self.next(self.join)",
            "self.y = 2\n    self.next(self.other)\n\n@step\ndef other(self, inputs):\n    self.next(self.end)",
        ),
        "def other",
        SPLIT,
    ),
    (
        "foreach-into-join",
        swap(
            FOREACH,
            'self.next(self.body, foreach="items")',
            'self.next(self.join, foreach="items")',
        ),
        'foreach="items"',
        FOREACH,
    ),
    (
        "num-parallel",
        swap(PARALLEL, "num_parallel=2", "num_parallel=0"),
        "num_parallel=0",
        PARALLEL,
    ),
    ("num-parallel", swap(PARALLEL, "@parallel\n", ""), "def train", PARALLEL),
    (
        "switch-cases",
        swap(SWITCH, '{"a": self.a, "b": self.b}', '{"a": self.a}')
        .replace("self.z = 2", "self.z = 3")
        .replace("@step\ndef b(self):\n    self.z = 3\n    self.next(self.meet)\n\n", ""),
        "condition=",
        SWITCH,
    ),
    ("switch-cases", swap(SWITCH, ', condition="route"', ""), '{"a": self.a', SWITCH),
    ("missing-next", swap(LINEAR, "    self.next(self.end)", "    pass"), "def start", LINEAR),
    (
        "missing-next",
        swap(
            LINEAR,
            "    self.x = 1\n    self.next(self.end)",
            "    self.next(self.end)\n    self.x = 1",
        ),
        "self.next(self.end)",
        LINEAR,
    ),
    (
        "end-has-next",
        swap(LINEAR, "print(self.x)", "self.next(self.start)"),
        "self.next(self.start)",
        LINEAR,
    ),
    (
        "start-has-input",
        swap(
            LINEAR, "def end", "def again(self):\n    self.next(self.start)\n\n@step\ndef end"
        ).replace("self.next(self.end)", "self.next(self.again, self.end)", 1),
        "self.next(self.start)",
        LINEAR,
    ),
    ("malformed-next", swap(FOREACH, 'foreach="items"', "foreach=items"), "foreach=items", FOREACH),
    (
        "malformed-next",
        swap(LINEAR, "self.next(self.end)", 'self.next("end")'),
        'self.next("end")',
        LINEAR,
    ),
    (
        "malformed-next",
        swap(
            LINEAR,
            "    self.x = 1\n",
            "    if self.x:\n        self.next(self.end)\n    self.x = 1\n",
        ),
        "        self.next(self.end)",
        LINEAR,
    ),
    (
        "unknown-step",
        swap(LINEAR, "self.next(self.end)", "self.next(self.edn)"),
        "self.next(self.edn)",
        LINEAR,
    ),
]


@pytest.mark.parametrize("rule,bad,needle,good", CASES, ids=[c[0] for c in CASES])
def test_rule_fires_at_the_right_line_and_not_on_the_fixed_flow(rule, bad, needle, good):
    bad_src, good_src = flow(bad), flow(good)
    found = [d for d in run(bad_src) if d.rule == rule]
    assert found, f"{rule} did not fire; got {[d.format() for d in run(bad_src)]}"
    expected_line = line_of(bad_src, needle)
    assert expected_line in [d.line for d in found], [d.format() for d in found]
    d = next(d for d in found if d.line == expected_line)
    assert re.match(
        rf"flow\.py:{expected_line}:\d+: (error|warning)\[{re.escape(rule)}\]: \S.*\. \S.*[.?]$",
        d.format(),
    ), d.format()
    assert rule not in {x.rule for x in run(good_src)}, [x.format() for x in run(good_src)]


def test_every_rule_is_covered_and_ids_are_stable():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert set(ids) == {c[0] for c in CASES}
    for r in RULES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", r.id) and r.summary


def test_severities():
    by_id = {r.id: r.severity for r in RULES}
    assert by_id["maybe-undefined"] is Severity.WARNING
    assert by_id["join-unmerged-read"] is Severity.WARNING
    assert by_id["foreach-undefined"] is Severity.ERROR
    assert by_id["cycle"] is Severity.ERROR
    assert by_id["parameter-assign"] is Severity.WARNING  # Metaflow runs such a file


def test_messages_name_the_loop_and_suggest_the_closest_step():
    cyc = next(c for c in CASES if c[0] == "cycle")
    d = next(d for d in run(flow(cyc[1])) if d.rule == "cycle")
    assert "loop -> back -> loop" in d.message
    unk = next(c for c in CASES if c[0] == "unknown-step")
    d = next(d for d in run(flow(unk[1])) if d.rule == "unknown-step")
    assert "self.end" in d.fix


def test_maybe_undefined_names_the_path():
    src = flow(swap(SWITCH, "self.z = 2\n", ""))
    d = next(d for d in run(src) if d.rule == "maybe-undefined")
    assert "start -> b -> meet" in d.message


def test_join_unmerged_read_says_inputs_disagree():
    src = flow(swap(SPLIT, "self.total = inputs.a.y + inputs.b.y", "self.total = self.y"))
    d = next(d for d in run(src) if d.rule == "join-unmerged-read")
    assert "ambiguous across its inputs a, b" in d.message


def test_method_without_step_decorator_is_named():
    src = (
        flow(swap(LINEAR, "self.next(self.end)", "self.next(self.helper)"))
        + "\n    def helper(self):\n        pass\n"
    )
    d = next(d for d in run(src) if d.rule == "unknown-step")
    assert "without `@step`" in d.message


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_examples_are_clean(path):
    analysis = analyze_source(path.read_text(), str(path))
    assert not analysis.diagnostics
    for ir in analysis.flows:
        assert lint(ir) == []


def test_lint_is_deterministic_and_handles_a_large_flow():
    from bench.genflow import generate

    src = generate(1000)
    analysis = analyze_source(src, "big.py")
    ir = analysis.flows[0]
    assert len(ir.steps) >= 1000
    first = lint(ir)
    assert first == lint(ir)
    assert [d for d in first if d.is_error] == []
