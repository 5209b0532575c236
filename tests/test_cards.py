"""Cards: each component's content, escaping, the default card, several cards, live refresh,
render failures, and `flowc card view/get/list`, on real runs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.cards import (
    Artifact,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)
from flowc.cards.components import render_all
from tests.conftest import EXAMPLES, FLOWS, run_flow, run_flowc, run_python

FLOW = FLOWS / "card_flow.py"
EVIL = "<script>alert(1)</script>"


# --- components -------------------------------------------------------------------------------


def test_markdown_renders_and_escapes_raw_html():
    html = str(Markdown(f"# Title\n\nSome **bold** and `code`. {EVIL}").render())
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_table_headers_cells_components_and_escaping():
    html = str(Table([[1, EVIL], [2.5, Markdown("*x*")]], headers=["a", "<b>h</b>"]).render())
    assert "<th>a</th><th>&lt;b&gt;h&lt;/b&gt;</th>" in html
    assert "<td>1</td>" in html and "<td>2.5</td>" in html
    assert "<em>x</em>" in html  # a component in a cell renders as markup
    assert EVIL not in html and "&lt;script&gt;" in html


def test_long_tables_keep_head_and_tail_and_say_what_is_hidden():
    rows = [[i, i * i] for i in range(250)]
    html = str(Table(rows, headers=["i", "sq"]).render())
    assert html.count("<tr>") == 1 + 100  # header row + 50 head + 50 tail
    assert "<td>0</td>" in html and "<td>249</td>" in html and "<td>120</td>" not in html
    assert "150 more rows not shown" in html


def test_table_from_a_dataframe():
    import pandas as pd

    df = pd.DataFrame({"x": range(1000), "y": [f"v{i}" for i in range(1000)]})
    df.index.name = "row"
    html = str(Table.from_dataframe(df).render())
    assert "<th>row</th><th>x</th><th>y</th>" in html
    assert "<td>v0</td>" in html and "<td>v999</td>" in html and "<td>v500</td>" not in html
    assert "900 more rows not shown" in html


def _png(color=(255, 0, 0)) -> bytes:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.new("RGB", (4, 3), color).save(buf, format="PNG")
    return buf.getvalue()


def test_images_from_bytes_pil_and_matplotlib():
    import base64

    from PIL import Image as PILImage

    png = _png()
    html = str(Image(png, label=EVIL).render())
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html
    assert EVIL not in html and "&lt;script&gt;" in html
    pil = str(Image.from_pil_image(PILImage.new("RGB", (2, 2))).render())
    assert "data:image/png;base64," in pil
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    data = re.search(r"base64,([^\"]+)", str(Image.from_matplotlib(fig).render())).group(1)
    assert base64.b64decode(data).startswith(b"\x89PNG")
    with pytest.raises(TypeError, match="Image.from_matplotlib"):
        Image(fig)


def test_a_component_that_cannot_render_shows_its_error_and_the_rest_still_renders():
    html = str(render_all([Image(b"not an image"), Markdown("after")]))
    assert "Image could not be rendered" in html and "not a PNG, JPEG" in html
    assert "<p>after</p>" in html


def test_artifact_view():
    import numpy as np

    html = str(Artifact({"k": [1, 2, 3], "s": EVIL}, name="thing").render())
    assert "thing" in html and "dict" in html and "&#39;k&#39;: [1, 2, 3]" in html
    assert EVIL not in html
    arr = str(Artifact(np.zeros((3, 4), dtype="float32")).render())
    assert "numpy.ndarray shape (3, 4) dtype float32" in arr
    long = str(Artifact("x" * 50_000).render())
    assert "more characters" in long and len(long) < 30_000


def test_vega_chart_carries_its_spec_safely():
    spec = {"mark": "point", "title": "</script><script>alert(1)</script>", "data": {"values": []}}
    html = str(VegaChart(spec).render())
    assert 'class="vega-spec"' in html
    payload = re.search(r'class="vega-spec">(.*?)</script>', html).group(1)
    assert "</script" not in payload and json.loads(payload) == spec


def test_progress_value_box_code_and_error():
    bar = ProgressBar(max=4, label="steps", unit="files")
    bar.update(2, metadata="half way")
    html = str(bar.render())
    assert 'value="2"' in html and "2 files / 4 files (50%)" in html and "half way" in html
    box = str(ValueBox("R²", 0.45238, change="+0.01").render())
    assert "R²" in box and "0.4524" in box and "+0.01" in box

    def sample(x):
        return x < 1

    code = str(PythonCode(code_func=sample).render())
    assert "def sample(x):" in code and "return x &lt; 1" in code
    try:
        raise ValueError("bad <value>")
    except ValueError as e:
        err = str(Error(e, "Oops").render())
    assert "Oops" in err and "ValueError: bad &lt;value&gt;" in err and "Traceback" in err


# --- cards of real runs -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def card_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    env = {"FLOWC_USER": "carla", "FLOWC_CACHE_DIR": str(root / "cache")}
    proc, run_id = run_flow(FLOW, cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, env, run_id


def card_files(root, run_id, step, task="0"):
    return root / "ds" / "runs" / "CardFlow" / run_id / step / task / "cards"


def test_the_default_card_shows_the_task(card_run):
    root, _, run_id = card_run
    html = (card_files(root, run_id, "start") / "default-0.html").read_text()
    assert f"CardFlow/{run_id}/start/0" in html
    assert '<span class="badge ok">ok</span>' in html
    # parameters, artifacts (name, type, size, short view), the graph with this step marked
    assert "<td>label</td>" in html
    assert "<td>numbers</td><td>list</td>" in html and "[0, 1, 2, 3, 4]" in html
    assert 'data-step="start"' in html and 'data-step="end"' in html
    start_box = re.search(r'data-step="start".*?</g>', html).group(0)
    assert 'stroke="#f9a825"' in start_box  # highlighted
    # the components the step appended, in order, after the default sections
    assert html.index("Artifacts (2)") < html.index("<h1>Report</h1>") < html.index("bold?")
    # nothing the user wrote became markup
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # artifact, param, markdown
    record = json.loads((card_files(root, run_id, "start").parent / "task.json").read_text())
    assert record["cards"][0]["key"] == "default-0" and record["cards"][0]["error"] is None


def test_several_cards_by_id_and_a_blank_card(card_run):
    root, _, run_id = card_run
    folder = card_files(root, run_id, "ids")
    summary = (folder / "summary.html").read_text()
    details = (folder / "details.html").read_text()
    assert "vb-value" in summary and ">10<" in summary  # sum(range(5))
    assert "Artifacts (" not in summary  # blank: only what the step appended
    assert "thing" in details and "Artifacts (" in details  # a default card with its extra
    record = json.loads((folder.parent / "task.json").read_text())
    assert sorted(c["key"] for c in record["cards"]) == ["details", "summary"]


def test_a_card_too_slow_to_render_shows_the_error_and_the_step_succeeds(card_run):
    root, _, run_id = card_run
    html = (card_files(root, run_id, "slow") / "blank-0.html").read_text()
    assert "took longer than its timeout of 1 s" in html
    record = json.loads((card_files(root, run_id, "slow").parent / "task.json").read_text())
    assert record["status"] == "ok"


def test_a_failed_step_still_gets_its_card(tmp_path):
    proc, run_id = run_flow(FLOW, cwd=tmp_path, env={"CARD_FAIL": "1"})
    assert proc.returncode == 1
    folder = card_files(tmp_path, run_id, "end")
    html = (folder / "default-0.html").read_text()
    assert '<span class="badge failed">failed</span>' in html
    assert "RuntimeError: failing &lt;on purpose&gt;" in html
    attempt = json.loads((folder.parent / "0.attempt.json").read_text())
    assert attempt["cards"][0]["key"] == "default-0"


def test_refresh_updates_the_card_while_the_step_runs(tmp_path):
    marker = tmp_path / "go"
    env = {**os.environ, "CARD_WAIT_FOR": str(marker), "FLOWC_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowc",
            "run",
            str(FLOW),
            "--datastore",
            str(tmp_path / "ds"),
            "--run-id-file",
            str(tmp_path / "id"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        live = None
        while time.time() < deadline:
            if (tmp_path / "id").exists():
                path = card_files(tmp_path, (tmp_path / "id").read_text(), "live") / "blank-0.html"
                if path.exists():
                    live = path.read_text()
                    break
            time.sleep(0.05)
        assert live is not None, "no live card appeared"
        assert '<span class="badge running">running</span>' in live
        assert 'value="1"' in live and "1 / 2 (50%)" in live
        marker.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    final = path.read_text()
    assert '<span class="badge ok">ok</span>' in final and "2 / 2 (100%)" in final


def test_with_card_adds_a_default_card_to_every_step(tmp_path):
    proc, run_id = run_flow(EXAMPLES / "branch_flow.py", "--with", "card", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "ds" / "runs" / "BranchFlow" / run_id
    steps = [p.name for p in run_dir.iterdir() if p.is_dir()]
    assert steps and all((run_dir / s / "0" / "cards" / "default-0.html").exists() for s in steps)


def test_lr_flow_card_has_metrics_and_a_chart(tmp_path):
    proc, run_id = run_flow(EXAMPLES / "lr_flow.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    html = (
        tmp_path / "ds" / "runs" / "LRFlow" / run_id / "choose" / "0" / "cards" / "default-0.html"
    ).read_text()
    assert "<td>test R^2</td>" in html and "<td>test MSE</td>" in html
    spec = json.loads(re.search(r'class="vega-spec">(.*?)</script>', html).group(1))
    assert spec["layer"][0]["encoding"]["x"]["field"] == "true"
    assert len(spec["layer"][0]["data"]["values"]) == 89  # the test set
    assert "window.vegaEmbed" in html  # the libraries are inline: no CDN
    assert "https://cdn" not in html and "<script src=" not in html


# --- commands ---------------------------------------------------------------------------------


def test_card_list_get_and_view(card_run, tmp_path):
    root, env, run_id = card_run
    ds = ["--datastore", str(root / "ds")]
    listed = run_flowc("card", "list", str(FLOW), "--json", *ds, cwd=root, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    keys = [(r["task"].split("/")[2], r["key"]) for r in rows]
    assert ("start", "default-0") in keys and ("ids", "summary") in keys
    out = tmp_path / "card.html"
    got = run_flowc("card", "get", "CardFlow", "ids", str(out), "--id", "summary", *ds, env=env)
    assert got.returncode == 0, got.stderr
    assert "vb-value" in out.read_text()
    view_env = {k: v for k, v in {**os.environ, **env}.items() if k not in ("DISPLAY",)}
    view = subprocess.run(
        [sys.executable, "-m", "flowc", "card", "view", str(FLOW), "start", *ds],
        capture_output=True,
        text=True,
        env=view_env,
        cwd=root,
    )
    assert view.returncode == 0, view.stderr
    path = view.stdout.split(": ", 1)[1].strip()
    assert path.endswith("start/0/cards/default-0.html") and Path(path).exists()
    by_python = run_python(str(FLOW), "card", "view", f"{run_id}/start/0", *ds, cwd=root)
    assert by_python.returncode == 0, by_python.stderr
    assert path in by_python.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["card", "view", "CardFlow", "nosuch"], "has no task of step 'nosuch'"),
        (["card", "view", "NoFlow", "start"], "flow 'NoFlow' has never run"),
        (["card", "view", "CardFlow", "start", "--id", "zzz"], "has no card with id 'zzz'"),
        (["card", "view", "CardFlow", "start", "--run-id", "123"], "CardFlow has no run '123'"),
    ],
)
def test_card_commands_bad_input(card_run, args, message):
    root, env, _ = card_run
    proc = run_flowc(*args, "--datastore", str(root / "ds"), cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr
