"""What a trace gives: a :class:`TraceGraph` of :class:`Node` s (identifiers, sites, parties,
members) and downstream :class:`Edge` s (events, or a lot holding an item), and what a
canonical identifier names (:func:`identifier_type`, :func:`label_of`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, Literal

__all__ = [
    "Direction",
    "Edge",
    "Node",
    "NodeKind",
    "Relation",
    "TraceGraph",
    "identifier_type",
    "label_of",
]

Direction = Literal["forward", "backward"]
NodeKind = Literal["identifier", "site", "party", "member"]
Relation = Literal["transformation", "aggregation", "class", "location", "party", "recorded"]

_GS1: Final = "https://id.gs1.org/"


@lru_cache(maxsize=262_144)
def identifier_type(canonical: str) -> str:
    """What a canonical identifier names: ``item``, ``lot``, ``product``, ``logistic_unit``,
    ``location``, ``party``, ``asset`` or ``other`` (read from its GS1 Digital Link path)."""
    if not canonical.startswith(_GS1):
        return "other"
    parts = canonical[len(_GS1) :].split("/")
    ai = parts[0]
    if ai == "01":
        qualifiers = parts[2::2]
        if "21" in qualifiers:
            return "item"
        return "lot" if "10" in qualifiers else "product"
    return {
        "00": "logistic_unit",
        "414": "location",
        "417": "party",
        "8003": "asset",
        "8004": "asset",
    }.get(ai, "other")


def label_of(canonical: str) -> str:
    """A short human label for a canonical identifier (``GTIN 09506000134352 lot L1``)."""
    if not canonical.startswith(_GS1):
        return canonical
    parts = canonical[len(_GS1) :].split("/")
    pairs = dict(zip(parts[::2], parts[1::2], strict=False))
    if "01" in pairs:
        text = f"GTIN {pairs['01']}"
        if "10" in pairs:
            text += f" lot {pairs['10']}"
        if "21" in pairs:
            text += f" #{pairs['21']}"
        return text
    names = {"00": "SSCC", "414": "GLN", "417": "PGLN", "8003": "GRAI", "8004": "GIAI"}
    ai = parts[0]
    text = f"{names.get(ai, '(' + ai + ')')} {parts[1] if len(parts) > 1 else ''}".strip()
    if "254" in pairs:
        text += f" ext {pairs['254']}"
    return text


@dataclass(frozen=True, slots=True)
class Node:
    """An identifier, a site, a party or a member reached by a trace."""

    id: str
    kind: NodeKind
    #: :func:`identifier_type` of an identifier; ``location`` for a site; ``party``;
    #: ``member``.
    type: str
    label: str
    #: Levels from the start (0 for the start itself).
    depth: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "label": self.label,
            "depth": self.depth,
        }


@dataclass(frozen=True, slots=True)
class Edge:
    """One link, pointing downstream: an event (or a lot holding an item)."""

    source: str
    target: str
    relation: Relation
    event_pk: int | None = None
    event_type: str | None = None
    action: str | None = None
    #: The business step as a bare CBV term (``shipping``) or the user URI.
    biz_step: str | None = None
    event_time: datetime | None = None
    hash_id: str | None = None
    #: For location edges: ``readPoint``, ``bizLocation``, ``source`` or ``destination``;
    #: for party edges ``source:`` or ``destination:`` and the CBV type
    #: (``destination:owning_party``, ``source:possessing_party``...).
    role: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "source": self.source,
            "target": self.target,
            "relation": self.relation,
            "event_pk": self.event_pk,
            "event_type": self.event_type,
            "action": self.action,
            "biz_step": self.biz_step,
            "event_time": None if self.event_time is None else self.event_time.isoformat(),
            "hash_id": self.hash_id,
            "role": self.role,
        }


@dataclass(slots=True)
class TraceGraph:
    """The result of a trace: nodes by id and downstream edges."""

    root: str
    direction: Direction
    depth: int
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    #: Whether the depth limit (or :data:`~ledger.trace.tracer.MAX_NODES`) left identifiers
    #: unexpanded.
    truncated: bool = False
    #: Events the trace met but did not follow: its reader may not read them
    #: (:func:`ledger.store.visibility.visible`), so neither do their links appear.
    hidden: int = 0

    def identifiers(self, *types: str) -> list[str]:
        """Identifier nodes (of ``types`` when given), in depth then id order."""
        return [
            n.id
            for n in sorted(self.nodes.values(), key=lambda n: (n.depth, n.id))
            if n.kind == "identifier" and (not types or n.type in types)
        ]

    def sites(self) -> list[str]:
        """Every site reached."""
        return sorted(n.id for n in self.nodes.values() if n.kind == "site")

    def parties(self) -> list[str]:
        """Every party reached (owning or possessing, from source and destination lists)."""
        return sorted(n.id for n in self.nodes.values() if n.kind == "party")

    def members(self) -> list[str]:
        """Every member (organisation id) reached."""
        return sorted(n.id for n in self.nodes.values() if n.kind == "member")

    def event_pks(self) -> list[int]:
        """Every event on the graph's edges."""
        return sorted({e.event_pk for e in self.edges if e.event_pk is not None})

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": self.depth,
            "truncated": self.truncated,
            "hidden": self.hidden,
            "nodes": [n.to_json() for n in sorted(self.nodes.values(), key=_node_order)],
            "edges": [e.to_json() for e in self.edges],
        }


def _node_order(node: Node) -> tuple[int, str, str]:
    return (node.depth, node.kind, node.id)
