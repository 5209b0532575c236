"""A flow's graph as a small self-contained SVG: for the default card (this step highlighted)
and the card server (each step coloured by its status). Pure: IR in, markup out; every name is
escaped, nothing is fetched."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from flowc import graph
from flowc.ir import FlowIR, NodeKind, TransitionKind

ROW_H, COL_GAP, NODE_H, PAD = 64, 18, 30, 12
CHAR_W = 7.2  # px per character of the 12px monospace labels

STATUS_COLOURS = {
    "succeeded": ("#e6f4ea", "#2e7d32"),
    "running": ("#e3f2fd", "#1565c0"),
    "failed": ("#fdecea", "#c62828"),
    "cloned": ("#f1f8e9", "#689f38"),
    "pending": ("#f5f5f5", "#9e9e9e"),
}


def layers(ir: FlowIR) -> dict[str, int]:
    """Each step's row: the longest path from ``start`` to it (graph order is topological)."""
    succ = graph.successors(ir.steps)
    row: dict[str, int] = {}
    for name in graph.order(ir):
        row.setdefault(name, 0)
        for target in succ.get(name, ()):
            if target in row and row[target] <= row[name]:
                continue
            row[target] = max(row.get(target, 0), row[name] + 1)
    return row


def graph_svg(
    ir: FlowIR,
    status: Mapping[str, str] | None = None,
    highlight: str | None = None,
    link: str | None = None,
) -> str:
    """``status`` maps step -> succeeded/running/failed/cloned/pending; ``link`` is a URL
    pattern with ``{step}`` to make each box a link."""
    order = graph.order(ir)
    steps = ir.step_map()
    row = layers(ir)
    by_row: dict[int, list[str]] = {}
    for name in order:
        by_row.setdefault(row.get(name, 0), []).append(name)
    width_of = {n: max(70, int(len(n) * CHAR_W) + 24) for n in order}
    row_w = {r: sum(width_of[n] for n in ns) + COL_GAP * (len(ns) - 1) for r, ns in by_row.items()}
    total_w = max(row_w.values(), default=100) + 2 * PAD
    labels = [
        len(tr.foreach or "") + 8
        for s in ir.steps
        if (tr := s.transition) is not None and tr.kind is TransitionKind.FOREACH
    ]
    total_w += 2 * int(max(labels, default=0) * 6.6 + 18) if labels else 0  # room for the label
    pos: dict[str, tuple[float, float]] = {}  # centre of each box
    for r, names in by_row.items():
        x = (total_w - row_w[r]) / 2
        for n in names:
            pos[n] = (x + width_of[n] / 2, PAD + r * ROW_H + NODE_H / 2)
            x += width_of[n] + COL_GAP
    total_h = PAD * 2 + (max(by_row, default=0)) * ROW_H + NODE_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img" '
        f'aria-label="{escape(ir.name)} graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#78909c"/></marker></defs>',
    ]
    for name in order:
        tr = steps[name].transition
        if tr is None:
            continue
        for target in tr.targets:
            if target not in pos:
                continue
            (x1, y1), (x2, y2) = pos[name], pos[target]
            y1 += NODE_H / 2
            y2 -= NODE_H / 2
            mid = (y1 + y2) / 2
            dash = ' stroke-dasharray="4 3"' if tr.kind is TransitionKind.SWITCH else ""
            if tr.kind is TransitionKind.FOREACH:
                out.append(_fan_out(x1, y1, x2, y2, tr.foreach or ""))
                continue
            out.append(
                f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} '
                f'{x2:.1f},{y2:.1f}" fill="none" stroke="#78909c" stroke-width="1.4"{dash} '
                'marker-end="url(#arrow)"/>'
            )
    bodies = {
        t
        for n in order
        if (tr := steps[n].transition) is not None and tr.kind is TransitionKind.FOREACH
        for t in tr.targets
    }
    for name in order:
        x, y = pos[name]
        w = width_of[name]
        state = (status or {}).get(name)
        fill, stroke = STATUS_COLOURS.get(state or "", ("#ffffff", "#546e7a"))
        strong = name == highlight
        kind = steps[name].kind
        radius = 15 if kind in (NodeKind.START, NodeKind.END) else 5
        title = escape(name + (f": {state}" if state else ""))
        if name in bodies:  # one task per item: drawn as a stack of boxes
            for dx in (6, 3):
                out.append(
                    f'<rect class="foreach-stack" x="{x - w / 2 + dx:.1f}" '
                    f'y="{y - NODE_H / 2 - dx:.1f}" width="{w}" height="{NODE_H}" rx="{radius}" '
                    f'fill="{fill}" stroke="{stroke}" stroke-width="1"/>'
                )
        box = (
            f'<g class="step" data-step="{escape(name)}" data-status="{escape(state or "")}">'
            f"<title>{title}</title>"
            f'<rect x="{x - w / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{w}" height="{NODE_H}" '
            f'rx="{radius}" fill="{"#fff8e1" if strong and not state else fill}" '
            f'stroke="{"#f9a825" if strong else stroke}" stroke-width="{3 if strong else 1.5}"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-family="monospace" '
            f'font-size="12" font-weight="{"bold" if strong else "normal"}" fill="#263238">'
            f"{escape(name)}</text></g>"
        )
        if link:
            box = f'<a href="{escape(link.format(step=name))}">{box}</a>'
        out.append(box)
    out.append("</svg>")
    return "".join(out)


def _fan_out(x1: float, y1: float, x2: float, y2: float, over: str) -> str:
    """A foreach edge: three strands fanning out to the body, labelled with what it is over."""
    mid = (y1 + y2) / 2
    strands = []
    for dx in (-12, 12, 0):  # the middle one, with the arrow head, on top
        end = y2 if dx == 0 else y2 - 3
        arrow = ' marker-end="url(#arrow)"' if dx == 0 else ""
        strands.append(
            f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2 + dx:.1f},{mid:.1f} '
            f'{x2 + dx:.1f},{end:.1f}" fill="none" stroke="#78909c" stroke-width="1.4"{arrow}/>'
        )
    label = (
        f'<text x="{max(x1, x2) + 18:.1f}" y="{mid + 4:.1f}" font-family="monospace" '
        f'font-size="11" fill="#546e7a">foreach {escape(over)}</text>'
        if over
        else ""
    )
    return f'<g class="foreach-edge" data-foreach="{escape(over)}">{"".join(strands)}{label}</g>'
