"""The Vega, Vega-Lite and Vega-Embed libraries a card with a chart inlines, so the card draws
its charts offline. They come from ``vl-convert-python`` (the ``charts`` extra), which bundles
them; bundling takes seconds, so the bundle is kept in flowc's cache, once per version."""

from __future__ import annotations

import os

from flowc.atomic import write_atomic

# draws every chart of the page from the JSON spec beside it
DRAW = """
for (const box of document.querySelectorAll('.vega-chart')) {
  const spec = JSON.parse(box.querySelector('.vega-spec').textContent);
  const actions = box.querySelector('.vega-actions').dataset.actions === 'true';
  vegaEmbed(box.querySelector('.vega-target'), spec, {actions: actions, renderer: 'svg'})
    .catch(err => { box.querySelector('.vega-target').textContent = 'chart error: ' + err; });
}
"""

MISSING = (
    "charts need the Vega libraries from vl-convert-python: pip install 'flowc[charts]'; "
    "the chart's spec is shown instead"
)


def bundle() -> str | None:
    """The libraries as one script, or None when vl-convert-python is not installed."""
    try:
        import vl_convert
    except ImportError:
        return None
    version = getattr(vl_convert, "__version__", None) or vl_convert.get_vega_embed_version()
    path = os.path.join(_assets_dir(), f"vega-bundle-{version}.js")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    import sys

    print(  # the first chart card of a machine is slow: say why
        f"flowc: bundling the Vega chart libraries once into {path} (about 10 s; later cards "
        "reuse it)",
        file=sys.stderr,
        flush=True,
    )
    js = vl_convert.javascript_bundle()
    try:
        write_atomic(path, [js.encode("utf-8")])
    except OSError:
        pass  # an unwritable home: bundle again next time
    return js


def _assets_dir() -> str:
    """Beside the analysis cache but not inside it: FLOWC_CACHE_DIR (which tests point at a
    fresh folder) must not make every process bundle again."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flowc-assets")
