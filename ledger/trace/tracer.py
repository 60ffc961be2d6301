"""The :class:`Tracer`: backward and forward traces through the events of one database.

A trace starts at one identifier (any form :mod:`ledger.identifiers` reads, or any URI) and
follows the events that link identifiers to each other, breadth-first, level by level
(:class:`_Level`), on a :class:`_Walk` that carries what the trace has learned so far. Each
level costs a handful of index-backed queries over ``event_identifier`` with batched ``IN``
lists (never one query per node).

A trace reads for one :class:`~ledger.visibility.Reader`: it follows only the events the
reader may read (:func:`ledger.store.visibility.visible`, evaluated in the same query that
reads each level's events) and counts the others it met (``TraceGraph.hidden``) without reading
anything of them but their number: a hidden event's identifiers, sites and parties are not
reached through it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.errors import InvalidInputError
from ledger.events import shorten
from ledger.events.vocabulary import term_of
from ledger.store.indexing import QUANTITY_ROLES, index_identifier, location_key
from ledger.store.tables import EVENT, EVENT_IDENTIFIER, ORGANISATION
from ledger.store.visibility import visible
from ledger.trace.graph import (
    Direction,
    Edge,
    Node,
    NodeKind,
    Relation,
    TraceGraph,
    identifier_type,
    label_of,
)
from ledger.visibility import Reader

__all__ = ["DEFAULT_DEPTH", "MAX_DEPTH", "MAX_NODES", "Tracer", "trace"]


#: Levels followed when no depth is given (the CLI and the API default).
DEFAULT_DEPTH: Final = 12
#: The deepest trace anyone may ask for.
MAX_DEPTH: Final = 64
#: Most nodes a trace collects before it stops expanding (a guard, reported as truncated).
MAX_NODES: Final = 200_000
#: Values per ``IN (...)`` list (well under every database's parameter limit).
_CHUNK: Final = 500

_SHIP_STEPS: Final = frozenset({"shipping", "receiving"})
#: CBV source/destination types followed, as bare terms (any form of them is read).
_SDT_FOLLOWED: Final = frozenset({"location", "owning_party", "possessing_party"})
_LINKING_TYPES: Final = frozenset({"AggregationEvent", "AssociationEvent"})
_QUANTITY_ROLES: Final = frozenset(QUANTITY_ROLES.values())
_INPUTS: Final = ("input", QUANTITY_ROLES["input"])
_OUTPUTS: Final = ("output", QUANTITY_ROLES["output"])
_CHILDREN: Final = ("child", QUANTITY_ROLES["child"])

#: How an event concerns a frontier node: as itself, as an item of a lot in the frontier
#: (``lot-item``), or (forward) by the node's lot's quantity (``item-lot``).
_How = Literal["self", "lot-item", "item-lot"]


@lru_cache(maxsize=1024)
def _short_step(biz_step: str) -> str:
    """A business step as a bare CBV term (``shipping``), or the user URI as it is."""
    return shorten("bizStep", biz_step)


@lru_cache(maxsize=64)
def _sdt_term(kind: str) -> str | None:
    """The followed CBV source/destination type ``kind`` names, in any of its forms."""
    term = term_of("sourceDestType", kind)
    return term if term in _SDT_FOLLOWED else None


def _lot_of(class_canonical: str | None) -> str | None:
    """The class of an item when it is a lot (LGTIN); product classes are not followed."""
    if class_canonical is not None and identifier_type(class_canonical) == "lot":
        return class_canonical
    return None


@dataclass(frozen=True, slots=True)
class _Row:
    event_pk: int
    role: str
    canonical: str
    class_canonical: str | None


@dataclass(slots=True)
class _EventInfo:
    pk: int
    event_type: str
    action: str | None
    biz_step: str | None
    event_time: datetime
    read_point: str | None
    biz_location: str | None
    organisation_id: int
    hash_id: str
    rows: list[_Row] = field(default_factory=list)

    def canonicals(self, roles: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(r.canonical for r in self.rows if r.role in roles))

    def row_of(self, canonical: str) -> _Row | None:
        for row in self.rows:
            if row.canonical == canonical:
                return row
        return None


def _item_lots(
    frontier: Iterable[str], lots: Mapping[str, str], known: Mapping[str, Node]
) -> set[str]:
    """Lots of frontier items that are not in the graph themselves (forward, an item follows
    its lot's quantity only when the lot is not followed as a node of its own)."""
    return {lots[node] for node in frontier if node in lots and lots[node] not in known}


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# ---------------------------------------------------------------------- tracer


class Tracer:
    """Traces identifiers through the events of one database (reads only)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def trace(
        self,
        identifier: str,
        direction: Direction = "forward",
        depth: int | None = DEFAULT_DEPTH,
        *,
        reader: Reader,
        max_nodes: int = MAX_NODES,
    ) -> TraceGraph:
        """The graph reached from ``identifier`` in ``direction`` within ``depth`` levels
        (``None``: until nothing new is reached), through the events ``reader`` may read
        (the graph's ``hidden`` counts the events it met and may not read).

        Raises:
            InvalidInputError: an empty identifier, an unknown direction or a bad depth.
        """
        if direction not in ("forward", "backward"):
            raise InvalidInputError("direction is forward or backward", field="direction")
        if depth is not None and not 0 <= depth <= MAX_DEPTH:
            raise InvalidInputError(f"depth is 0 to {MAX_DEPTH}", field="depth")
        text = identifier.strip()
        if not text:
            raise InvalidInputError("an identifier is needed", field="identifier")
        indexed = index_identifier(text)
        root = indexed.canonical
        limit = MAX_DEPTH if depth is None else depth
        graph = TraceGraph(root=root, direction=direction, depth=limit)
        graph.nodes[root] = Node(root, "identifier", identifier_type(root), label_of(root), 0)
        walk = _Walk(graph, allowed=visible(reader))
        lot = _lot_of(indexed.class_canonical)
        if lot is not None:
            walk.lots[root] = lot
        frontier = [root]
        with self.engine.connect() as conn:
            while frontier:
                if walk.level >= limit or len(graph.nodes) >= max_nodes:
                    graph.truncated = True
                    break
                events = self._events(conn, frontier, walk)
                frontier = _Level(walk, frontier, events).expand(conn)
                walk.level += 1
            self._name_members(conn, graph, walk.members, walk.edges)
        graph.edges = list(walk.edges.values())
        graph.hidden = len(walk.hidden)
        return graph

    # ------------------------------------------------------------------ queries

    def _events(self, conn: Connection, frontier: list[str], walk: _Walk) -> dict[int, _EventInfo]:
        """Every event mentioning a frontier identifier (or, for lots, their items; forward,
        for items, their lot by quantity), with all of its identifier rows."""
        lots, known = walk.lots, walk.graph.nodes
        forward = walk.graph.direction == "forward"
        exact = set(frontier)
        if forward:
            exact.update(_item_lots(frontier, lots, known))
        lot_nodes = [node for node in frontier if identifier_type(node) == "lot"]
        out: dict[int, _EventInfo] = {}
        selected: list[sa.Select[Any]] = [
            sa.select(EVENT_IDENTIFIER.c.event_pk).where(EVENT_IDENTIFIER.c.canonical.in_(chunk))
            for chunk in _chunks(sorted(exact))
        ]
        selected += [
            sa.select(EVENT_IDENTIFIER.c.event_pk).where(
                EVENT_IDENTIFIER.c.class_canonical.in_(chunk)
            )
            for chunk in _chunks(sorted(lot_nodes))
        ]
        _fetch(conn, selected, out, walk)
        if forward:
            # Items whose lot only their own rows tell (the start, or an item named without
            # its lot where it was reached): their lot's quantities, in the same level.
            learned = {
                lot
                for info in out.values()
                for row in info.rows
                if row.canonical in exact
                and (lot := _lot_of(row.class_canonical)) is not None
                and lot not in exact
                and lot not in known
                and row.canonical not in lots
            }
            if learned:
                _fetch(
                    conn,
                    [
                        sa.select(EVENT_IDENTIFIER.c.event_pk).where(
                            EVENT_IDENTIFIER.c.canonical.in_(chunk)
                        )
                        for chunk in _chunks(sorted(learned))
                    ],
                    out,
                    walk,
                )
        return out

    @staticmethod
    def _name_members(
        conn: Connection,
        graph: TraceGraph,
        members: Mapping[int, int],
        edges: dict[tuple[Any, ...], Edge],
    ) -> None:
        """Member nodes by organisation id (0x-hex), with their names."""
        names: dict[int, tuple[str, str]] = {}
        ids = sorted(members)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for pk, org_id, name in conn.execute(
                sa.select(ORGANISATION.c.id, ORGANISATION.c.org_id, ORGANISATION.c.name).where(
                    ORGANISATION.c.id.in_(chunk)
                )
            ):
                names[pk] = (org_id, name)
        for pk, depth in members.items():
            org_id, name = names.get(pk, (f"organisation:{pk}", f"organisation {pk}"))
            if org_id not in graph.nodes:
                graph.nodes[org_id] = Node(org_id, "member", "member", name, depth)
        for key, edge in list(edges.items()):
            if edge.relation == "recorded":
                pk = int(edge.target.split(":", 1)[1])
                org_id = names.get(pk, (f"organisation:{pk}", ""))[0]
                edges[key] = Edge(
                    edge.source,
                    org_id,
                    "recorded",
                    event_pk=edge.event_pk,
                    event_type=edge.event_type,
                    action=edge.action,
                    biz_step=edge.biz_step,
                    event_time=edge.event_time,
                    hash_id=edge.hash_id,
                )


def _fetch(
    conn: Connection,
    selected: Sequence[sa.Select[Any]],
    out: dict[int, _EventInfo],
    walk: _Walk,
) -> None:
    """Add the events each statement selects that the walk's reader may read, with all their
    identifier rows, to ``out``: one row per event (whether the reader may read it is asked in
    the same query; the others are only counted, in ``walk.hidden``), then the identifier rows
    of events this trace has not read yet (``walk.cache`` keeps those of earlier levels)."""
    cache, allowed = walk.cache, walk.allowed
    readable = sa.true() if allowed is None else sa.case((allowed, sa.true()), else_=sa.false())
    for matching in selected:
        fresh: list[int] = []
        for pk, kind, action, step, when, point, place, org, hash_id, may in conn.execute(
            sa.select(
                EVENT.c.id,
                EVENT.c.event_type,
                EVENT.c.action,
                EVENT.c.biz_step,
                EVENT.c.event_time,
                EVENT.c.read_point,
                EVENT.c.biz_location,
                EVENT.c.organisation_id,
                EVENT.c.hash_id,
                readable.label("readable"),
            ).where(EVENT.c.id.in_(matching))
        ):
            if not may:
                walk.hidden.add(pk)
                continue
            if pk in out:
                continue  # selected by an earlier statement of this level
            known = cache.get(pk)
            if known is not None:
                out[pk] = known
                continue
            step = None if step is None else _short_step(step)
            out[pk] = cache[pk] = _EventInfo(
                pk, kind, action, step, when, point, place, org, hash_id
            )
            fresh.append(pk)
        for start in range(0, len(fresh), _CHUNK):
            for pk, role, canonical, klass in conn.execute(
                sa.select(
                    EVENT_IDENTIFIER.c.event_pk,
                    EVENT_IDENTIFIER.c.role,
                    EVENT_IDENTIFIER.c.canonical,
                    EVENT_IDENTIFIER.c.class_canonical,
                ).where(EVENT_IDENTIFIER.c.event_pk.in_(fresh[start : start + _CHUNK]))
            ):
                out[pk].rows.append(_Row(pk, role, canonical, klass))


def _sources_and_destinations(
    conn: Connection, pks: Iterable[int]
) -> dict[int, list[tuple[str, str, str]]]:
    """(role, CBV type, canonical value) of the sourceList / destinationList entries of
    shipping and receiving events whose type is location, owning_party or
    possessing_party."""
    wanted = sorted(set(pks))
    out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(EVENT.c.id, EVENT.c.captured_json).where(EVENT.c.id.in_(chunk))
        )
        for pk, text in rows:
            try:
                raw = json.loads(text)
            except ValueError:
                continue
            for key, role in (("sourceList", "source"), ("destinationList", "destination")):
                for entry in raw.get(key) or ():
                    if not isinstance(entry, dict):
                        continue
                    value, kind = entry.get(role), entry.get("type")
                    if not (isinstance(value, str) and isinstance(kind, str)):
                        continue
                    term = _sdt_term(kind)
                    if term is not None:
                        out[pk].append((role, term, str(location_key(value))))
    return out


# ---------------------------------------------------------------------- one level


@dataclass(slots=True)
class _Walk:
    """What a trace has learned so far, level after level."""

    graph: TraceGraph
    #: The reader's visibility condition on ``event`` (None: it reads every event).
    allowed: sa.ColumnElement[bool] | None = None
    #: Events the trace met that the reader may not read (their pks; only counted).
    hidden: set[int] = field(default_factory=set)
    #: The level being expanded (0: the start's events).
    level: int = 0
    #: Item -> its lot (LGTIN), as the rows naming the item tell.
    lots: dict[str, str] = field(default_factory=dict)
    #: Edges by (source, target, relation, event pk, role): one edge per event and role.
    edges: dict[tuple[Any, ...], Edge] = field(default_factory=dict)
    #: Organisation pk of each recording member -> the depth it was first reached at.
    members: dict[int, int] = field(default_factory=dict)
    #: Events (with their identifier rows) read at earlier levels.
    cache: dict[int, _EventInfo] = field(default_factory=dict)


class _Level:
    """One level of a trace: the links of the events that concern the frontier, and the
    identifiers they reach, which are the next frontier."""

    __slots__ = ("direction", "events", "frontier", "graph", "in_frontier", "next", "walk")

    def __init__(self, walk: _Walk, frontier: list[str], events: Mapping[int, _EventInfo]) -> None:
        self.walk = walk
        self.graph = walk.graph
        self.direction: Direction = walk.graph.direction
        self.frontier = frontier
        self.in_frontier = set(frontier)
        self.events = events
        #: The next frontier, in the order it was reached.
        self.next: dict[str, None] = {}

    def expand(self, conn: Connection) -> list[str]:
        """Follow this level; return the next frontier."""
        self._learn_lots()
        mentions = self._mentions()
        shipping = _sources_and_destinations(
            conn, (pk for pk in mentions if self.events[pk].biz_step in _SHIP_STEPS)
        )
        for pk, found in mentions.items():
            info = self.events[pk]
            for node, row, how in found:
                if how == "lot-item":
                    self._lot_item(info, node, row)
                else:
                    self._follow(info, node, row, how)
                    self._locate(info, node, shipping.get(pk, ()))
        if self.direction == "backward":
            self._items_to_lots()
        return list(self.next)

    # ------------------------------------------------------------------ what concerns whom

    def _learn_lots(self) -> None:
        """The lots of frontier items, as the rows of this level's events name them."""
        lots = self.walk.lots
        for info in self.events.values():
            for row in info.rows:
                if row.canonical in self.in_frontier:
                    lot = _lot_of(row.class_canonical)
                    if lot is not None:
                        lots.setdefault(row.canonical, lot)

    def _mentions(self) -> dict[int, list[tuple[str, _Row, _How]]]:
        """Which frontier nodes each event concerns, with the row, and how."""
        by_lot: dict[str, list[str]] = defaultdict(list)
        if self.direction == "forward":
            lots, known = self.walk.lots, self.graph.nodes
            for node in self.frontier:
                if node in lots and lots[node] not in known:
                    by_lot[lots[node]].append(node)
        in_frontier = self.in_frontier
        mentions: dict[int, list[tuple[str, _Row, _How]]] = defaultdict(list)
        for info in self.events.values():
            for row in info.rows:
                if row.canonical in in_frontier:
                    mentions[info.pk].append((row.canonical, row, "self"))
                if row.class_canonical in in_frontier and row.canonical not in in_frontier:
                    mentions[info.pk].append((row.class_canonical, row, "lot-item"))
                if row.role in _QUANTITY_ROLES and row.canonical in by_lot:
                    for item in by_lot[row.canonical]:
                        mentions[info.pk].append((item, row, "item-lot"))
        return mentions

    # ------------------------------------------------------------------ growing the graph

    def _reach(self, node: str, kind: NodeKind, node_type: str) -> bool:
        """Add a node of any kind at the next depth; False when it was there already."""
        if node in self.graph.nodes:
            return False
        self.graph.nodes[node] = Node(node, kind, node_type, label_of(node), self.walk.level + 1)
        return True

    def _identifier(self, node: str, row: _Row | None = None) -> None:
        """Add an identifier node (learning its lot from the row that named it) to the next
        frontier."""
        if row is not None:
            lot = _lot_of(row.class_canonical)
            if lot is not None:
                self.walk.lots.setdefault(node, lot)
        if node not in self.graph.nodes and self._reach(node, "identifier", identifier_type(node)):
            self.next[node] = None

    def _link(
        self,
        source: str,
        target: str,
        relation: Relation,
        info: _EventInfo | None,
        role: str | None = None,
    ) -> None:
        """Add an edge for an event (None: a lot holding an item), once per event and role."""
        edges = self.walk.edges
        key = (source, target, relation, info.pk if info else None, role)
        if key in edges:
            return
        if info is None:
            edges[key] = Edge(source, target, relation, role=role)
            return
        edges[key] = Edge(
            source,
            target,
            relation,
            event_pk=info.pk,
            event_type=info.event_type,
            action=info.action,
            biz_step=info.biz_step,
            event_time=info.event_time,
            hash_id=info.hash_id,
            role=role,
        )

    # ------------------------------------------------------------------ following links

    def _lot_item(self, info: _EventInfo, lot: str, row: _Row) -> None:
        """A lot in the frontier and one of its items: forward, the item; backward, the
        inputs of a transformation that output the item."""
        if self.direction == "forward":
            self._identifier(row.canonical, row)
            self._link(lot, row.canonical, "class", None)
        elif info.event_type == "TransformationEvent" and row.role in _OUTPUTS:
            self._upstream(info, lot, _INPUTS)

    def _items_to_lots(self) -> None:
        """Backward, an item of the frontier reaches its lot."""
        for node in self.frontier:
            lot = self.walk.lots.get(node)
            if lot is not None and identifier_type(node) == "item":
                self._identifier(lot)
                self._link(lot, node, "class", None)

    def _upstream(self, info: _EventInfo, node: str, roles: Sequence[str]) -> None:
        """The identifiers of ``roles`` in the event, linked down to ``node``."""
        relation: Relation = "transformation" if roles == _INPUTS else "aggregation"
        for other in info.canonicals(roles):
            if other != node:
                self._identifier(other, info.row_of(other))
                self._link(other, node, relation, info)

    def _downstream(self, info: _EventInfo, node: str, roles: Sequence[str]) -> None:
        """The identifiers of ``roles`` in the event, linked down from ``node``."""
        relation: Relation = "transformation" if roles == _OUTPUTS else "aggregation"
        for other in info.canonicals(roles):
            if other != node:
                self._identifier(other, info.row_of(other))
                self._link(node, other, relation, info)

    def _follow(self, info: _EventInfo, node: str, row: _Row, how: _How) -> None:
        """Identifier-to-identifier links of one event for one frontier node."""
        forward = self.direction == "forward"
        if info.event_type == "TransformationEvent":
            if forward and row.role in _INPUTS:
                self._downstream(info, node, _OUTPUTS)
            elif not forward and row.role in _OUTPUTS and how == "self":
                self._upstream(info, node, _INPUTS)
        elif info.event_type in _LINKING_TYPES:
            if forward and row.role in _CHILDREN:
                self._downstream(info, node, ("parent",))
            elif not forward and row.role == "parent" and how == "self":
                self._upstream(info, node, _CHILDREN)

    def _locate(
        self, info: _EventInfo, node: str, shipping: Iterable[tuple[str, str, str]]
    ) -> None:
        """The sites an event puts ``node`` at, the parties it moves between, and the member
        that recorded it."""
        for role, site in (("readPoint", info.read_point), ("bizLocation", info.biz_location)):
            if site is None:
                continue
            self._reach(site, "site", "location")
            self._link(node, site, "location", info, role=role)
        for role, kind, value in shipping:
            if kind == "location":
                self._reach(value, "site", "location")
                self._link(node, value, "location", info, role=role)
            else:
                self._reach(value, "party", "party")
                self._link(node, value, "party", info, role=f"{role}:{kind}")
        self.walk.members.setdefault(info.organisation_id, self.walk.level + 1)
        self._link(node, f"member:{info.organisation_id}", "recorded", info)


def trace(
    engine: Engine,
    identifier: str,
    direction: Direction = "forward",
    depth: int | None = DEFAULT_DEPTH,
    *,
    reader: Reader,
) -> TraceGraph:
    """Shorthand for ``Tracer(engine).trace(...)``."""
    return Tracer(engine).trace(identifier, direction, depth, reader=reader)
