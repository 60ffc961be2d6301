"""Traces and the recall question (moved from ``ledger/trace.py``; split into modules next)."""

from ledger.trace.tracer import (
    DEFAULT_DEPTH,
    MAX_DEPTH,
    Direction,
    Edge,
    Node,
    RecallScope,
    TraceGraph,
    Tracer,
    edge_label,
    identifier_type,
    recall_scope,
    render_svg,
    trace,
)

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
