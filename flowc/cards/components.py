"""What a card is made of. Each component renders itself to an HTML fragment in which every
piece of user data is escaped (``markupsafe``), so a value holding ``<script>`` shows as text.

Markdown is rendered by markdown-it with raw HTML disabled; images are inlined as data URIs;
a VegaChart carries its spec and draws itself with the Vega libraries inlined into the card
(see :mod:`flowc.cards.vega`), so a card is one file that works offline.
"""

from __future__ import annotations

import base64
import inspect
import json
import pprint
import reprlib
import textwrap
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

MAX_ROWS = 100  # a table shows the first and last rows beyond this, and says how many it hid
MAX_TEXT = 20_000  # characters of an Artifact's pretty view before it is cut


class Component:
    """A piece of a card. ``render`` returns safe HTML."""

    def render(self) -> Markup:
        raise NotImplementedError

    def __html__(self) -> str:  # so a component can sit in a template or a table cell
        return str(self.render())


class Markdown(Component):
    def __init__(self, text: str):
        self.text = str(text)

    def update(self, text: str) -> None:
        self.text = str(text)

    def render(self) -> Markup:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
        return Markup(f'<div class="md">{md.render(self.text)}</div>')


class Table(Component):
    """Rows of cells (values or components) under optional headers; long tables keep their
    head and tail and say how many rows are not shown."""

    def __init__(
        self,
        data: Sequence[Sequence[Any]] | None = None,
        headers: Sequence[str] | None = None,
        max_rows: int = MAX_ROWS,
        title: str | None = None,
    ):
        self.rows = [list(r) for r in (data or [])]
        self.headers = list(headers or [])
        self.max_rows = max(2, max_rows)
        self.title = title

    @classmethod
    def from_dataframe(cls, df: Any, max_rows: int = MAX_ROWS, index: bool = True) -> Table:
        headers = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
        n = len(df)
        keep = df if n <= max_rows else _head_tail(df, max_rows)
        rows = []
        for idx, row in zip(keep.index, keep.itertuples(index=False), strict=True):
            rows.append(([idx] if index else []) + list(row))
        table = cls(rows, headers, max_rows=max(max_rows, len(rows)))
        table.hidden = n - len(rows)
        return table

    hidden = 0

    def render(self) -> Markup:
        rows, hidden = self.rows, self.hidden
        if len(rows) > self.max_rows:
            half = self.max_rows // 2
            hidden += len(rows) - 2 * half
            rows = [*rows[:half], None, *rows[-half:]]
        elif hidden:
            half = len(rows) // 2
            rows = [*rows[:half], None, *rows[half:]]
        width = max([len(self.headers)] + [len(r) for r in rows if r is not None] + [1])
        out = ['<div class="table-wrap"><table class="data">']
        if self.title:
            out.append(f"<caption>{escape(self.title)}</caption>")
        if self.headers:
            cells = "".join(f"<th>{escape(h)}</th>" for h in self.headers)
            out.append(f"<thead><tr>{cells}</tr></thead>")
        out.append("<tbody>")
        for row in rows:
            if row is None:
                note = f"… {hidden:,} more row{'s' if hidden != 1 else ''} not shown …"
                out.append(f'<tr class="gap"><td colspan="{width}">{note}</td></tr>')
                continue
            out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
        out.append("</tbody></table></div>")
        return Markup("".join(out))


def _head_tail(df: Any, max_rows: int) -> Any:
    import pandas as pd

    half = max_rows // 2
    return pd.concat([df.iloc[:half], df.iloc[-half:]])


def _cell(value: Any) -> Markup:
    if isinstance(value, Component):
        return value.render()
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    return escape(_short(value, 200))


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 200
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 20


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else _safe_repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_repr(value: Any) -> str:
    try:
        return _repr.repr(value)
    except Exception as e:  # noqa: BLE001 - a user's __repr__ may raise anything
        return f"<{type(value).__name__}: repr failed: {e}>"


class Image(Component):
    """PNG, JPEG, GIF, SVG or WebP bytes, inlined."""

    def __init__(self, src: bytes, label: str | None = None):
        if not isinstance(src, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"Image takes the image file's bytes, not {type(src).__name__}; use "
                "Image.from_matplotlib(fig) or Image.from_pil_image(img) for those"
            )
        self.src = bytes(src)
        self.label = label

    @classmethod
    def from_matplotlib(cls, figure: Any, label: str | None = None) -> Image:
        import io

        buf = io.BytesIO()
        figure.savefig(buf, format="png", bbox_inches="tight")
        return cls(buf.getvalue(), label)

    @classmethod
    def from_pil_image(cls, image: Any, label: str | None = None) -> Image:
        import io

        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return cls(buf.getvalue(), label)

    def mime(self) -> str:
        head = self.src[:16]
        if head.startswith(b"\x89PNG"):
            return "image/png"
        if head.startswith(b"\xff\xd8"):
            return "image/jpeg"
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return "image/gif"
        if head.startswith(b"RIFF") and self.src[8:12] == b"WEBP":
            return "image/webp"
        if self.src.lstrip()[:5] in (b"<?xml", b"<svg "):
            return "image/svg+xml"
        raise ValueError("Image: the bytes are not a PNG, JPEG, GIF, WebP or SVG file")

    def render(self) -> Markup:
        data = base64.b64encode(self.src).decode("ascii")
        label = escape(self.label or "")
        caption = f"<figcaption>{label}</figcaption>" if self.label else ""
        return Markup(
            f'<figure class="image"><img alt="{label}" src="data:{self.mime()};base64,{data}">'
            f"{caption}</figure>"
        )


class Artifact(Component):
    """A readable view of any value: its type and a pretty, bounded text of it."""

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True):
        self.value = artifact
        self.name = name
        self.compressed = compressed

    def render(self) -> Markup:
        value = self.value
        t = type(value)
        type_name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"
        shape = getattr(value, "shape", None)
        extra = f" shape {tuple(shape)}" if isinstance(shape, tuple) else ""
        dtype = getattr(value, "dtype", None)
        extra += f" dtype {dtype}" if dtype is not None and not callable(dtype) else ""
        try:
            text = pprint.pformat(value, width=96, compact=self.compressed, sort_dicts=False)
        except Exception:  # noqa: BLE001
            text = _safe_repr(value)
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT:,} more characters)"
        name = f'<span class="name">{escape(self.name)}</span> ' if self.name else ""
        return Markup(
            f'<div class="artifact">{name}<span class="type">{escape(type_name)}'
            f"{escape(extra)}</span><pre>{escape(text)}</pre></div>"
        )


class VegaChart(Component):
    """A Vega-Lite chart from its spec (a dict, or an Altair chart)."""

    def __init__(self, spec: dict | Any, show_controls: bool = False):
        if hasattr(spec, "to_dict"):
            spec = spec.to_dict()
        if not isinstance(spec, dict):
            raise TypeError(f"VegaChart takes a Vega-Lite spec (a dict), not {type(spec).__name__}")
        self.spec = spec
        self.show_controls = show_controls

    def update(self, spec: dict) -> None:
        self.spec = spec

    def render(self) -> Markup:
        # JSON inside <script> must not close the tag or open a comment: escape <, >, &
        data = json.dumps(self.spec, default=str)
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        actions = "true" if self.show_controls else "false"
        return Markup(
            '<div class="vega-chart"><div class="vega-target"></div>'
            f'<script type="application/json" class="vega-spec">{data}</script>'
            f"<noscript><pre>{escape(json.dumps(self.spec, indent=1, default=str))}</pre>"
            f'</noscript><span class="vega-actions" data-actions="{actions}"></span></div>'
        )


class ProgressBar(Component):
    def __init__(
        self,
        max: float = 100,  # noqa: A002 - Metaflow's keyword
        label: str | None = None,
        value: float = 0,
        unit: str | None = None,
        metadata: str | None = None,
    ):
        self.max, self.label, self.value, self.unit, self.metadata = (
            max,
            label,
            value,
            unit,
            metadata,
        )

    def update(self, new_value: float, metadata: str | None = None) -> None:
        self.value = new_value
        if metadata is not None:
            self.metadata = metadata

    def render(self) -> Markup:
        top = float(self.max) or 1.0
        pct = max(0.0, min(100.0, 100.0 * float(self.value) / top))
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.value:g}{unit} / {self.max:g}{unit} ({pct:.0f}%)"
        meta = f'<div class="meta">{escape(self.metadata)}</div>' if self.metadata else ""
        label = f'<div class="label">{escape(self.label)}</div>' if self.label else ""
        return Markup(
            f'<div class="progress">{label}<progress max="{top:g}" value="{float(self.value):g}">'
            f"</progress><span>{escape(text)}</span>{meta}</div>"
        )


class ValueBox(Component):
    """A headline number: ``ValueBox("test R²", 0.452, change="+0.03 vs last run")``."""

    def __init__(
        self, title: str, value: Any, subtitle: str | None = None, change: str | None = None
    ):
        self.title, self.value, self.subtitle, self.change = title, value, subtitle, change

    def update(self, value: Any) -> None:
        self.value = value

    def render(self) -> Markup:
        value = f"{self.value:.4g}" if isinstance(self.value, float) else _short(self.value, 60)
        parts = [
            f'<div class="vb-title">{escape(self.title)}</div>',
            f'<div class="vb-value">{escape(value)}</div>',
        ]
        if self.change:
            parts.append(f'<div class="vb-change">{escape(self.change)}</div>')
        if self.subtitle:
            parts.append(f'<div class="vb-sub">{escape(self.subtitle)}</div>')
        return Markup(f'<div class="valuebox">{"".join(parts)}</div>')


class PythonCode(Component):
    """Source code: a string, or a function whose source is shown."""

    def __init__(self, code_string: str | None = None, code_func: Callable | None = None):
        if code_func is not None:
            try:
                code_string = inspect.getsource(code_func)
            except (OSError, TypeError) as e:
                code_string = f"# source of {code_func!r} is not available: {e}"
        if code_string is None:
            raise TypeError("PythonCode needs code_string= or code_func=")
        self.code = textwrap.dedent(code_string)

    def render(self) -> Markup:
        return Markup(f'<pre class="code"><code>{escape(self.code)}</code></pre>')


class Error(Component):
    """An exception (with its traceback) shown on the card."""

    def __init__(self, exception: BaseException | str, title: str | None = None):
        if isinstance(exception, BaseException):
            tb = "".join(traceback.format_exception(exception))
            self.message = f"{type(exception).__name__}: {exception}"
        else:
            tb, self.message = "", str(exception)
        self.trace = tb
        self.title = title or "Error"

    def render(self) -> Markup:
        trace = f"<pre>{escape(self.trace)}</pre>" if self.trace else ""
        return Markup(
            f'<div class="error"><strong>{escape(self.title)}</strong>'
            f"<div>{escape(self.message)}</div>{trace}</div>"
        )


def as_component(value: Any) -> Component:
    """What ``current.card.append`` accepts: a component, or any value (shown as Artifact)."""
    if isinstance(value, Component):
        return value
    if isinstance(value, str):
        return Markdown(value)
    return Artifact(value)


def render_all(components: Iterable[Component]) -> Markup:
    """Each component in turn; one that fails to render shows its error instead."""
    out = []
    for c in components:
        try:
            out.append(c.render())
        except Exception as e:  # noqa: BLE001 - a broken component must not lose the card
            out.append(Error(e, f"{type(c).__name__} could not be rendered").render())
    return Markup("\n".join(out))
