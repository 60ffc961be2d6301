"""A trace graph drawn as a self-contained SVG document (:func:`render_svg`): layered left to
right, one column per level, pure string building."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from ledger.errors import InvalidInputError
from ledger.trace.graph import Edge, Node, TraceGraph

__all__ = ["edge_label", "render_svg"]

_NODE_W: Final = 230
_NODE_H: Final = 34
_GAP_X: Final = 90
_GAP_Y: Final = 12
_MARGIN: Final = 24
_FILL: Final = {
    "item": "#dbeafe",
    "lot": "#fde68a",
    "product": "#fef3c7",
    "logistic_unit": "#e9d5ff",
    "asset": "#f5d0fe",
    "location": "#dcfce7",
    "member": "#fee2e2",
    "party": "#fae8ff",
    "other": "#e5e7eb",
    "more": "#f3f4f6",
}


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(graph: TraceGraph, *, max_per_layer: int = 40) -> str:
    """The graph as a standalone SVG document: one column per level, downstream to the right,
    layers longer than ``max_per_layer`` summarised by a "+N more" box."""
    if max_per_layer < 2:
        raise InvalidInputError("at least 2 nodes per layer", field="max_per_layer")
    nodes = list(graph.nodes.values())
    top = max((n.depth for n in nodes), default=0)

    def column(node: Node) -> int:
        return node.depth if graph.direction == "forward" else top - node.depth

    layers: dict[int, list[Node]] = defaultdict(list)
    for node in nodes:
        layers[column(node)].append(node)
    neighbours: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        neighbours[edge.source].append(edge.target)
        neighbours[edge.target].append(edge.source)
    position: dict[str, float] = {}
    shown: dict[str, tuple[float, float]] = {}
    boxes: list[str] = []
    height = 0.0
    for col in sorted(layers):
        members = layers[col]

        def barycentre(node: Node) -> tuple[float, str, str]:
            placed = [position[n] for n in neighbours[node.id] if n in position]
            centre = sum(placed) / len(placed) if placed else float("inf")
            return (centre, node.type, node.label)

        members.sort(key=barycentre)
        hidden = members[max_per_layer - 1 :] if len(members) > max_per_layer else []
        visible = members[: max_per_layer - 1] if hidden else members
        x = _MARGIN + col * (_NODE_W + _GAP_X)
        for index, node in enumerate(visible):
            y = _MARGIN + index * (_NODE_H + _GAP_Y)
            position[node.id] = index
            shown[node.id] = (x, y)
            boxes.append(_box(x, y, node.type, node.label, node.id))
        if hidden:
            y = _MARGIN + len(visible) * (_NODE_H + _GAP_Y)
            kinds = sorted({n.type for n in hidden})
            boxes.append(
                _box(x, y, "more", f"+{len(hidden)} more ({', '.join(kinds)})", "not drawn")
            )
            for node in hidden:
                position[node.id] = len(visible)
            visible = [*visible, hidden[0]]
        height = max(height, _MARGIN + len(visible) * (_NODE_H + _GAP_Y))
    paths = _edge_paths(graph.edges, shown)
    width = _MARGIN * 2 + (max(layers, default=0) + 1) * (_NODE_W + _GAP_X) - _GAP_X
    total_h = int(height + _MARGIN)
    title = f"{graph.direction} trace of {graph.root}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" font-family="sans-serif" font-size="11">\n'
        f"<title>{_esc(title)}</title>\n"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#6b7280"/>'
        "</marker></defs>\n"
        f'<rect width="{width}" height="{total_h}" fill="#ffffff"/>\n'
        + "".join(paths)
        + "".join(boxes)
        + "</svg>\n"
    )


def _box(x: float, y: float, node_type: str, label: str, tooltip: str) -> str:
    fill = _FILL.get(node_type, _FILL["other"])
    return (
        f'<g class="node {_esc(node_type)}"><title>{_esc(tooltip)}</title>'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{_NODE_W}" height="{_NODE_H}" rx="5" '
        f'fill="{fill}" stroke="#374151"/>'
        f'<text x="{x + 8:.0f}" y="{y + 14:.0f}" font-weight="bold">{_esc(_clip(label))}</text>'
        f'<text x="{x + 8:.0f}" y="{y + 27:.0f}" fill="#4b5563">{_esc(node_type)}</text></g>\n'
    )


def _edge_paths(edges: Sequence[Edge], shown: Mapping[str, tuple[float, float]]) -> list[str]:
    grouped: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        if edge.source in shown and edge.target in shown:
            grouped[(edge.source, edge.target)].append(edge)
    labelled = len(grouped) <= 150
    out = []
    for (source, target), group in grouped.items():
        (sx, sy), (tx, ty) = shown[source], shown[target]
        if tx >= sx:
            x1, x2 = sx + _NODE_W, tx
        else:
            x1, x2 = sx, tx + _NODE_W
        y1, y2 = sy + _NODE_H / 2, ty + _NODE_H / 2
        bend = max(30.0, abs(x2 - x1) / 2)
        c1 = x1 + bend if tx >= sx else x1 - bend
        c2 = x2 - bend if tx >= sx else x2 + bend
        events = _by_event(group)
        tip = "; ".join(_edge_text(e, long=True) for e in events)
        colour = "#9ca3af" if group[0].relation in _CONTEXT_RELATIONS else "#374151"
        out.append(
            f'<g class="edge {group[0].relation}"><title>{_esc(tip)}</title>'
            f'<path d="M{x1:.0f},{y1:.0f} C{c1:.0f},{y1:.0f} {c2:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
            f'fill="none" stroke="{colour}" marker-end="url(#arrow)"/>'
        )
        if labelled:
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - 3
            text = _clip(edge_label(events), 34)
            out.append(
                f'<text x="{mx:.0f}" y="{my:.0f}" text-anchor="middle" fill="#6b7280" '
                f'font-size="9">{_esc(text)}</text>'
            )
        out.append("</g>\n")
    return out


#: Relations drawn in grey: where things were and who recorded it, not what they became.
_CONTEXT_RELATIONS: Final = frozenset({"location", "party", "recorded"})


def _by_event(edges: Sequence[Edge]) -> list[Edge]:
    """One edge per event (an event can link two nodes in several roles: a site that is
    both its readPoint and its bizLocation), in event-time order."""
    seen: dict[tuple[Any, ...], Edge] = {}
    for edge in edges:
        key = (edge.relation, edge.event_pk) if edge.event_pk is not None else (edge.relation,)
        seen.setdefault(key, edge)
    return sorted(
        seen.values(),
        key=lambda e: (e.event_time is None, e.event_time or datetime.min, e.event_pk or 0),
    )


def edge_label(edges: Sequence[Edge]) -> str:
    """The label of a drawn link: what each event making it did (``shipping, receiving``,
    ``packing ADD, unpacking DELETE``), in time order; an action repeated by several events
    is named once with its count (``packing ×3``)."""
    counts: dict[str, int] = {}
    for edge in _by_event(edges):
        what = _edge_text(edge, long=False)
        counts[what] = counts.get(what, 0) + 1
    return ", ".join(what if n == 1 else f"{what} ×{n}" for what, n in counts.items())


def _edge_text(edge: Edge, *, long: bool) -> str:
    what = edge.biz_step or edge.relation
    if edge.action and edge.relation == "aggregation":
        what = f"{what} {edge.action}"
    if not long:
        return what
    when = "" if edge.event_time is None else f" at {edge.event_time.isoformat()}"
    kind = f" ({edge.event_type})" if edge.event_type else ""
    return f"{what}{kind}{when}"
