"""The recall question: every finished product, logistic unit, site, party and member an input
lot reached (:func:`recall_scope`, a forward trace read for what a recall must cover)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ledger.trace.graph import TraceGraph
from ledger.trace.tracer import Tracer
from ledger.visibility import Reader

__all__ = ["RecallScope", "recall_scope"]


@dataclass(frozen=True, slots=True)
class RecallScope:
    """Everything an input lot reached: the answer to "what must we recall, and where?"."""

    identifier: str
    #: Trade items, lots and products downstream that no further transformation consumed.
    products: tuple[str, ...]
    #: Cases, pallets and other logistic units that carried them.
    logistic_units: tuple[str, ...]
    sites: tuple[str, ...]
    #: Owning and possessing parties it was shipped from or to (buyers, carriers...).
    parties: tuple[str, ...]
    members: tuple[str, ...]
    graph: TraceGraph

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (without the graph)."""
        return {
            "identifier": self.identifier,
            "products": list(self.products),
            "logistic_units": list(self.logistic_units),
            "sites": list(self.sites),
            "parties": list(self.parties),
            "members": list(self.members),
            "truncated": self.graph.truncated,
            "hidden": self.graph.hidden,
        }


def recall_scope(
    engine: Engine, identifier: str, depth: int | None = None, *, reader: Reader
) -> RecallScope:
    """Every finished product, logistic unit, site and member reached forward from
    ``identifier`` (an input lot, usually) through the events ``reader`` may read (the
    answer's ``hidden`` counts those it met and may not)."""
    graph = Tracer(engine).trace(identifier, "forward", depth, reader=reader)
    consumed = {e.source for e in graph.edges if e.relation == "transformation"}
    products = tuple(
        node
        for node in graph.identifiers("item", "lot", "product")
        if node != graph.root and node not in consumed
    )
    return RecallScope(
        identifier=graph.root,
        products=products,
        logistic_units=tuple(graph.identifiers("logistic_unit", "asset")),
        sites=tuple(graph.sites()),
        parties=tuple(graph.parties()),
        members=tuple(graph.members()),
        graph=graph,
    )
