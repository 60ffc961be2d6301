"""Trace graphs drawn as SVG: layered left to right, wide layers summarised, text escaped,
each link labelled with the events that make it."""

from __future__ import annotations

from defusedxml.ElementTree import fromstring
from sqlalchemy.engine import Engine

from ledger.trace import render_svg, trace
from ledger.visibility import Reader
from tests.ledger.trace.supply_chain import SupplyChain

#: Traces read as the operator (every event) unless a test says otherwise.
OPERATOR = Reader.operator()

SVG = "{http://www.w3.org/2000/svg}"


def test_svg_is_layered_left_to_right(engine: Engine, supply_chain: SupplyChain) -> None:
    chain = supply_chain
    graph = trace(engine, chain.lots["flour_1"], "forward", depth=None, reader=OPERATOR)
    svg = render_svg(graph)
    root = fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f"{SVG}g[@class]")
    nodes = [g for g in boxes if g.get("class", "").startswith("node")]
    assert len(nodes) == len(graph.nodes)
    x_of: dict[str, float] = {}
    for g in nodes:
        title = g.find(f"{SVG}title")
        rect = g.find(f"{SVG}rect")
        assert title is not None
        assert rect is not None
        x_of[str(title.text)] = float(rect.get("x", "0"))
    lot, cake = chain.lots["flour_1"], chain.items["cake"][0]
    case, pallet = chain.cases["case_1"], chain.pallets["pallet_1"]
    assert x_of[lot] < x_of[cake] < x_of[case] < x_of[pallet]
    edges = [g for g in boxes if g.get("class", "").startswith("edge")]
    assert edges
    assert all(g.find(f"{SVG}path") is not None for g in edges)
    assert "packing" in svg
    # Backward: upstream still on the left.
    back = trace(engine, pallet, "backward", depth=None, reader=OPERATOR)
    x_back = {}
    for g in fromstring(render_svg(back).encode()).findall(f"{SVG}g[@class]"):
        title, rect = g.find(f"{SVG}title"), g.find(f"{SVG}rect")
        if rect is not None and title is not None:
            x_back[str(title.text)] = float(rect.get("x", "0"))
    assert x_back[lot] < x_back[cake] < x_back[case] < x_back[pallet]


def test_svg_summarises_wide_layers_and_escapes(engine: Engine, supply_chain: SupplyChain) -> None:
    graph = trace(engine, supply_chain.lots["flour_1"], "forward", depth=None, reader=OPERATOR)
    svg = render_svg(graph, max_per_layer=3)
    columns: dict[str, int] = {}
    for g in fromstring(svg.encode()).findall(f"{SVG}g[@class]"):
        rect = g.find(f"{SVG}rect")
        if g.get("class", "").startswith("node") and rect is not None:
            columns[rect.get("x", "")] = columns.get(rect.get("x", ""), 0) + 1
    assert max(columns.values()) == 3
    depth_1 = [n for n in graph.nodes.values() if n.depth == 1]
    assert f"+{len(depth_1) - 2} more (" in svg
    weird = trace(engine, 'urn:x:<b a="1">&', "forward", reader=OPERATOR)
    text = render_svg(weird)
    fromstring(text.encode())
    assert "&lt;b a=&quot;1&quot;&gt;&amp;" in text


def svg_edge_labels(svg: str) -> list[str]:
    """The label text of every edge group of an SVG trace drawing."""
    out = []
    for g in fromstring(svg.encode()).findall(f"{SVG}g[@class]"):
        text = g.find(f"{SVG}text")
        if g.get("class", "").startswith("edge") and text is not None:
            out.append(str(text.text))
    return out


def test_svg_edge_labels_name_the_events_of_each_link(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    """A link made by several events names each of them, not the first one N times."""
    graph = trace(engine, supply_chain.lots["flour_1"], "forward", depth=None, reader=OPERATOR)
    labels = svg_edge_labels(render_svg(graph))
    # case -> pallet: packed at the factory, unpacked at the distribution centre.
    assert "packing ADD, unpacking DELETE" in labels
    # case -> retailer site: shipped there, then received there.
    assert "shipping, receiving" in labels
    # lot -> supplier site: commissioned there (readPoint and bizLocation: one event), shipped.
    assert "commissioning, shipping" in labels
    # cake -> factory site: made there, packed there.
    assert "commissioning, packing" in labels
    assert "packing ADD ×2" not in labels
    # case -> factory site: two packing events (its items into it, it onto the pallet).
    assert "packing ×2" in labels
