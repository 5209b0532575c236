"""The first day's small rough edges, each pinned: how a JSON default shows, the DOT labels of
start and end, the no-flow message for a lower-case file, `done in 1000 ms`, where "resumed
from" goes in `flowc runs`."""

from __future__ import annotations

import textwrap

from flowc.analyzer import analyze_source
from flowc.client.terminal import format_runs
from flowc.runtime.console import _ms
from flowc.show import dot, summary

FLOW = textwrap.dedent(
    """
    from flowc import FlowSpec, JSONType, Parameter, step

    class EdgeFlow(FlowSpec):
        cfg = Parameter("cfg", type=JSONType, default='{"a": [1, 2]}')

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def _ir():
    (ir,) = analyze_source(FLOW, "edge.py").flows
    return ir


def test_show_prints_a_json_default_as_written():
    assert '--cfg JSON  default {"a": [1, 2]}' in summary(_ir())


def test_dot_labels_start_and_end_once():
    text = dot(_ir())
    assert '"start" [label="start"];' in text and '"end" [label="end"];' in text


def test_no_flow_message_keeps_the_file_name_as_written():
    (d,) = analyze_source("def helper():\n    return 1\n", "pkg/utils.py").diagnostics
    assert d.rule == "no-flow"
    assert d.format().startswith("pkg/utils.py:1:1: error[no-flow]: No flow in utils.py: ")


def test_durations_never_read_1000_ms():
    assert _ms(0.9994) == "999 ms"
    assert _ms(0.9996) == "1.00 s"


def test_resumed_from_is_its_own_column_not_a_tag():
    rows = [
        {
            "run_id": "2",
            "status": "succeeded",
            "user": "ann",
            "created_at": 0.0,
            "duration": 1.0,
            "tags": ["nightly"],
            "origin_run_id": "1",
        },
        {
            "run_id": "1",
            "status": "failed",
            "user": "ann",
            "created_at": 0.0,
            "duration": 1.0,
            "tags": [],
            "origin_run_id": None,
        },
    ]
    header, resumed, origin = format_runs("F", rows, 0, "ann").splitlines()
    assert header.split() == [
        "RUN",
        "STATUS",
        "STARTED",
        "DURATION",
        "USER",
        "RESUMED",
        "FROM",
        "TAGS",
    ]
    assert resumed.split()[-2:] == ["1", "nightly"] and origin.split()[-2:] == ["-", "-"]
    plain = format_runs("F", rows[1:], 0, "ann").splitlines()[0]
    assert "RESUMED" not in plain and plain.split()[-1] == "TAGS"
