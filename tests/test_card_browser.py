"""The card server in a real browser: Debian's headless chromium, driven by playwright, opens
the runs list, a run's graph (also while the run is live, through the page's own polling
script), a task page and the card in its sandboxed iframe, and fails on any script error or
console error (a CSP violation included). ``.ci/run`` installs chromium; this test never skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.cardserver_util import FLOW_FILE, Server, make_runs

CHROMIUM = os.environ.get("FLOWC_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package "
            "(apt-get install -y chromium); install it the same way to run this test"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("cardbrowser")
    runs = make_runs(work)
    server = Server(work, "--port", "0")
    yield {**runs, "url": server.url, "work": work}
    assert server.stop() == 0, server.stderr()
    assert "Traceback" not in server.stderr()


@pytest.fixture
def page(browser):
    """A fresh page that records every script error and console error."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(f"page error: {e}"))
    pg.on(
        "console",
        lambda m: (
            pg.errors.append(f"console: {m.text} at {m.location}") if m.type == "error" else None
        ),
    )
    yield pg
    context.close()
    assert pg.errors == [], pg.errors


def test_runs_graph_and_card_render_in_chromium(site, page, tmp_path):
    url, ok, failed = site["url"], site["ok"], site["failed"]
    page.goto(url + "/")
    rows = page.locator("#runs tr.run")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-run") == failed  # newest first
    assert rows.nth(0).locator(".status").inner_text() == "failed"
    assert rows.nth(1).locator(".status").inner_text() == "succeeded"

    rows.nth(1).locator("a").click()  # to the run page, as a user would
    page.wait_for_url(f"{url}/runs/{ok}")
    steps = page.locator("svg.flow-graph g.step")
    assert steps.count() == 5
    states = {
        steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-status")
        for i in range(5)
    }
    assert states == dict.fromkeys(["start", "square", "join", "hold", "end"], "succeeded")
    box = page.locator('svg.flow-graph g.step[data-step="square"] rect').bounding_box()
    assert box and box["width"] > 40 and box["height"] > 20  # the SVG is laid out, not blank

    page.locator('svg.flow-graph a:has(g.step[data-step="end"])').click()
    page.wait_for_url(f"{url}/runs/{ok}/end")
    page.locator('#tasks a:text-is("0")').click()
    page.wait_for_url(f"{url}/runs/{ok}/end/0")
    frame = page.frame_locator('iframe.card[data-key="default-0"]')
    assert frame.locator("#metrics th").all_inner_texts() == ["metric", "value"]
    assert frame.locator("#total").inner_text() == "14"
    # the card's own inline script ran inside the sandbox
    assert frame.locator("#js-cell").inner_text() == "rendered by script"

    # a card the flow made with @card: its table, and its Vega chart drawn as SVG
    page.goto(f"{url}/runs/{ok}/join/0")
    real = page.frame_locator('iframe.card[data-key="squares"]')
    assert real.locator("table td").all_inner_texts()[:6] == ["1", "1", "2", "4", "3", "9"]
    real.locator(".vega-target svg").wait_for(timeout=30_000)
    assert real.locator(".vega-target svg .mark-rect path").count() == 3  # one bar per item
    assert "chart error" not in real.locator(".vega-target").inner_text()

    page.goto(f"{url}/runs/{ok}/start/0")
    evil = page.locator('#artifacts tr[data-artifact="evil"] td').nth(3)
    assert evil.inner_text() == "'<script>alert(1)</script>'"  # shown as text, not run

    shot = tmp_path / "card-server.png"
    page.goto(f"{url}/runs/{ok}/end/0")
    frame.locator("#total").wait_for()
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_live_run_graph_updates_in_the_browser(site, page):
    """The run page's polling script recolours the graph as the held step is released; the
    task page reloads a card that the running task rewrites."""
    work = site["work"]
    marker, id_file = work / "release-browser", work / "browser-run-id"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowc", "run", str(FLOW_FILE), "--datastore", str(work / "ds")]
        + ["--run-id-file", str(id_file), "--wait-for", str(marker)],
        cwd=work,
        env={**os.environ, **site["env"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (id_file.exists() and id_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        run_id = id_file.read_text()
        page.goto(f"{site['url']}/runs/{run_id}")
        page.locator('g.step[data-step="hold"][data-status="running"]').wait_for(timeout=60_000)
        # a card the running task refreshes: the task page reloads its frame when it changes
        from flowc.cards.store import write_card
        from flowc.datastore import Datastore

        ds, where = Datastore(str(work / "ds")), ("CardServerFlow", run_id, "hold", "0")
        meta = {"key": "live", "type": "blank", "id": "live", "n": 0, "attempt": 0, "error": None}
        write_card(ds, where, meta, "<p id='v'>step 1 of 2</p>")
        page.goto(f"{site['url']}/runs/{run_id}/hold/0")
        assert page.locator("#task-status").inner_text() == "running"
        frame = page.frame_locator('iframe.card[data-key="live"]')
        assert frame.locator("#v").inner_text() == "step 1 of 2"
        write_card(ds, where, meta, "<p id='v'>step 2 of 2</p>")
        frame.locator('#v:text-is("step 2 of 2")').wait_for(timeout=20_000)
        page.goto(f"{site['url']}/runs/{run_id}")
        page.locator('g.step[data-step="hold"][data-status="running"]').wait_for(timeout=60_000)
        assert page.locator("#run-status").inner_text() == "running"
        runs = page.context.new_page()  # the runs list follows the live run too
        runs.on("pageerror", lambda e: page.errors.append(f"runs page error: {e}"))
        runs.goto(f"{site['url']}/")
        badge = runs.locator(f'#runs tr.run[data-run="{run_id}"] .status')
        assert badge.inner_text() == "running"
        marker.write_text("go")
        page.locator('g.step[data-step="end"][data-status="succeeded"]').wait_for(timeout=60_000)
        page.locator('#run-status:text-is("succeeded")').wait_for(timeout=10_000)
        row = page.locator('#steps tr[data-step="end"] [data-role="state"]')
        assert row.inner_text() == "succeeded"
        runs.locator(f'#runs tr.run[data-run="{run_id}"][data-status="succeeded"]').wait_for(
            timeout=20_000
        )
        assert badge.inner_text() == "succeeded"
    finally:
        marker.write_text("go")
        proc.wait(60)
