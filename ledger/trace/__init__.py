"""Backward and forward traces through the ledger, and the recall question.

A trace starts at one identifier (any form :mod:`ledger.identifiers` reads, or any URI) and
follows the events that link identifiers to each other, breadth-first, level by level:

* **transformation** (``TransformationEvent``): inputs -> outputs, by instance
  (``inputEPCList`` / ``outputEPCList``) and by class (``inputQuantityList`` /
  ``outputQuantityList``); an item whose lot (LGTIN) is an input or output class matches the
  event too, so a lot consumed by quantity carries its items forward;
* **aggregation** (``AggregationEvent`` and ``AssociationEvent``): child -> parent; packing
  (``ADD``), observing and unpacking (``DELETE``) all link the two;
* **class**: a lot contains the items that carry it (``event_identifier.class_canonical``);
  forward a lot reaches its items, backward an item reaches its lot;
* **location**: every event puts the identifiers it mentions at its ``readPoint`` and
  ``bizLocation`` and, for shipping and receiving, at the locations of its ``sourceList`` and
  ``destinationList``; its recording **member** is reached too;
* **party**: the ``owning_party`` and ``possessing_party`` entries of a shipping or receiving
  event's ``sourceList`` and ``destinationList`` (the seller, the buyer, the carrier) are
  **party** nodes, the edge's role saying which (``destination:owning_party``...). Sites,
  parties and members end a path.

Forward is downstream (what an input became, where it went); backward is upstream (what went
into something, where it came from). Edges always point downstream, so a graph reads left to
right in both directions. Each level costs a handful of index-backed queries over
``event_identifier`` with batched ``IN`` lists (never one query per node), so the recall
question (:func:`recall_scope`: every finished product, container, site and member an input
lot reached) stays in the tens of milliseconds on a ledger of 100,000 events.

Modules: :mod:`~ledger.trace.graph` (nodes, edges, the graph), :mod:`~ledger.trace.tracer`
(the :class:`Tracer`), :mod:`~ledger.trace.recall` (the recall question) and
:mod:`~ledger.trace.svg` (:func:`render_svg` draws a graph as a self-contained SVG, layered
left to right, pure string building).
"""

from ledger.trace.graph import Direction, Edge, Node, TraceGraph, identifier_type
from ledger.trace.recall import RecallScope, recall_scope
from ledger.trace.svg import edge_label, render_svg
from ledger.trace.tracer import DEFAULT_DEPTH, MAX_DEPTH, Tracer, trace

__all__ = [
    "DEFAULT_DEPTH",
    "MAX_DEPTH",
    "Direction",
    "Edge",
    "Node",
    "RecallScope",
    "TraceGraph",
    "Tracer",
    "edge_label",
    "identifier_type",
    "recall_scope",
    "render_svg",
    "trace",
]
