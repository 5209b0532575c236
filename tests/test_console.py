"""The console: prefixed task output assembled into whole lines, and a live progress line that
is redrawn under the output on a terminal and never written when output is not a terminal."""

from __future__ import annotations

import io

from flowc.runtime.console import Console


def test_output_is_split_into_prefixed_lines_across_chunks():
    out = io.StringIO()
    c = Console("F", "42", out=out, live=False)
    c.output(1, "[42/a/0]", "out", b"hel")
    assert out.getvalue() == ""  # no partial line yet
    c.output(1, "[42/a/0]", "out", b"lo\nwor")
    c.output(2, "[42/b/0]", "out", b"other\n")
    c.flush_output(1, "[42/a/0]")
    assert out.getvalue() == "[42/a/0] hello\n[42/b/0] other\n[42/a/0] wor\n"


def test_plain_mode_prints_task_outcomes_without_control_codes():
    out = io.StringIO()
    c = Console("F", "42", out=out, live=False)
    c.started("train")
    c.finished("train", "[42/train/0]", True, 0.012)
    c.started("train")
    c.finished("train", "[42/train/1]", False, 1.5, ": boom")
    text = out.getvalue()
    assert "[42/train/0] done in 12 ms" in text
    assert "[42/train/1] failed after 1.50 s: boom" in text
    assert "\x1b" not in text and "\r" not in text


def test_live_mode_draws_a_progress_line_and_clears_it():
    out = io.StringIO()
    c = Console("F", "42", out=out, live=True)
    c.expect("train", 3)
    c.started("train")
    c.started("train")
    c.finished("train", "[42/train/0]", True, 0.01)
    c.redraw(force=True)
    text = out.getvalue()
    assert "F/42  1 done  1 running (train)  0 failed  train 1/3" in text
    assert "done in" not in text  # successes only move the counter on a terminal
    c.clear()
    assert out.getvalue().endswith("\r\x1b[K")
