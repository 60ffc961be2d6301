"""The visibility rule in SQL, and the rows capture keeps for it.

:func:`visible` is the one place that says which events a :class:`~ledger.visibility.Reader`
may read: every read of an event (EPCIS queries, single events, capture jobs, trails, traces,
exports) adds its condition to its own statement, so the database filters with its indexes
rather than Python filtering rows. The model is in :mod:`ledger.visibility`.

Capture keeps three tables for it, in the capture's own transaction
(:func:`record_audience`):

- ``event_scope``: what each event is about (each identifier's canonical form, its class, and
  every prefix that may own it), the keys grants, capability links and links match;
- ``event_reader``: the members a capture names (explicitly or as owning/possessing parties),
  and members that captured a stored event again;
- ``member_link``: the keys each member is linked to: directly (it recorded an event about
  the identifier or its lot) or as a neighbour (an aggregation/transformation event puts the
  identifier across from one the member is directly linked to: a case and its contents,
  inputs and outputs; never siblings on one side). Only direct links spread to neighbours, so
  linking is one hop: "one up, one down".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ledger.errors import LedgerError
from ledger.identifiers import IdentifierError, prefix_candidates
from ledger.store.tables import (
    ACCESS_GRANT,
    EVENT,
    EVENT_IDENTIFIER,
    EVENT_READER,
    EVENT_SCOPE,
    MEMBER_LINK,
    ORGANISATION,
    PREFIX,
)
from ledger.visibility import (
    RELATIONSHIP_EVENT_TYPES,
    RELATIONSHIP_SIDES,
    Audience,
    Reader,
    ReaderKind,
    Visibility,
    class_facts,
    link_keys,
    neighbour_sides,
)

__all__ = [
    "NewRecord",
    "backfill",
    "can_read",
    "default_visibility",
    "party_members",
    "record_audience",
    "scope_keys",
    "visible",
]

#: Most values in one SQL ``IN`` list.
_CHUNK: Final = 500
#: Visibilities a buyer (no key) reads.
_PUBLIC: Final = (Visibility.LINKED.value, Visibility.PUBLIC.value)
_NAMED: Final = (Visibility.RESTRICTED.value, Visibility.LINKED.value)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert(connection: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT (SQLite and PostgreSQL both have ON CONFLICT)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise LedgerError(f"unsupported database {connection.dialect.name!r}")


# --- the rule ---------------------------------------------------------------------------


def _member_condition(organisation_id: int, event: sa.TableClause) -> sa.ColumnElement[bool]:
    """What member ``organisation_id`` reads, cheapest branch first."""
    e = event.c
    named = (
        sa.select(sa.literal(1))
        .where(EVENT_READER.c.event_pk == e.id, EVENT_READER.c.organisation_id == organisation_id)
        .exists()
    )
    linked = (
        sa.select(sa.literal(1))
        .select_from(EVENT_SCOPE.join(MEMBER_LINK, MEMBER_LINK.c.key == EVENT_SCOPE.c.key))
        .where(
            EVENT_SCOPE.c.event_pk == e.id,
            EVENT_SCOPE.c.link,
            MEMBER_LINK.c.organisation_id == organisation_id,
        )
        .exists()
    )
    granted = (
        sa.select(sa.literal(1))
        .select_from(ACCESS_GRANT.join(EVENT_SCOPE, EVENT_SCOPE.c.key == ACCESS_GRANT.c.scope_key))
        .where(
            EVENT_SCOPE.c.event_pk == e.id,
            ACCESS_GRANT.c.grantee_id == organisation_id,
            ACCESS_GRANT.c.grantor_id == e.organisation_id,
            ACCESS_GRANT.c.revoked_at.is_(None),
        )
        .exists()
    )
    return sa.or_(
        e.organisation_id == organisation_id,
        e.visibility == Visibility.PUBLIC.value,
        sa.and_(e.visibility.in_(_NAMED), named),
        sa.and_(e.visibility == Visibility.LINKED.value, linked),
        granted,
    )


@functools.lru_cache(maxsize=4096)
def visible(reader: Reader, event: sa.TableClause = EVENT) -> sa.ColumnElement[bool] | None:
    """The condition on ``event`` (the ``event`` table or an alias of it) of the events
    ``reader`` may read; ``None`` when it may read every event.

    Add it to the ``WHERE`` of any statement over ``event``: its subqueries correlate with
    ``event`` and use the indexes of ``event_reader``, ``event_scope``, ``member_link`` and
    ``access_grant``. One reader's condition is built once and reused (a pure function of the
    reader; SQL expressions are immutable), so statements built from it can be reused too.
    """
    if reader.kind is ReaderKind.OPERATOR:
        return None
    if reader.kind is ReaderKind.PUBLIC:
        return event.c.visibility.in_(_PUBLIC)
    if reader.kind is ReaderKind.MEMBER:
        if reader.organisation_id is None:
            raise LedgerError("a member reader needs its organisation")
        return _member_condition(reader.organisation_id, event)
    scope = reader.scope
    if scope is None:
        raise LedgerError("a capability reader needs its scope")
    conditions: list[sa.ColumnElement[bool]] = [
        sa.select(sa.literal(1))
        .where(EVENT_SCOPE.c.event_pk == event.c.id, EVENT_SCOPE.c.key.in_(sorted(scope.keys)))
        .exists()
    ]
    if scope.since is not None:
        conditions.append(event.c.event_time >= scope.since)
    if scope.until is not None:
        conditions.append(event.c.event_time < scope.until)
    if reader.organisation_id is not None:
        conditions.append(_member_condition(reader.organisation_id, event))
    return sa.and_(*conditions)


def can_read(bind: Engine | Connection, reader: Reader, event_pk: int) -> bool:
    """Whether ``reader`` may read the stored record ``event_pk`` (False if there is none)."""
    statement = sa.select(EVENT.c.id).where(EVENT.c.id == event_pk)
    condition = visible(reader)
    if condition is not None:
        statement = statement.where(condition)
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return connection.execute(statement).first() is not None
    return bind.execute(statement).first() is not None


def default_visibility(bind: Engine | Connection, organisation_id: int) -> Visibility:
    """The visibility of member ``organisation_id``'s events captured without a choice."""
    statement = sa.select(ORGANISATION.c.default_visibility).where(
        ORGANISATION.c.id == organisation_id
    )
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            value = connection.execute(statement).scalar()
    else:
        value = bind.execute(statement).scalar()
    return Visibility(value) if value else Visibility.LINKED


# --- what capture keeps -------------------------------------------------------------------


@functools.lru_cache(maxsize=16_384)
def _prefixes(canonical: str) -> tuple[str, ...]:
    """Every prefix that may own the identifier ``canonical`` (none if it does not parse)."""
    try:
        return prefix_candidates(canonical)
    except (IdentifierError, ValueError):
        return ()


@functools.lru_cache(maxsize=65_536)
def _identifier_keys(
    canonical: str, klass: str | None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What one identifier index row adds to its event's keys: its link keys (itself and its
    lot, :func:`ledger.visibility.link_keys`), its classes up to the product, and the prefixes
    that may own it (its class's where it has one). Capture asks this of every identifier of
    every event it stores; an identifier recurs in every event about it and a class in every
    event about its items and lots, so the answers are kept."""
    links = tuple(link_keys([{"canonical": canonical, "class_canonical": klass}]))
    classes: list[str] = []
    outer = klass
    while outer and outer not in classes:
        classes.append(outer)
        outer = class_facts(outer)[1]
    return links, tuple(classes), _prefixes(klass or canonical)


def scope_keys(rows: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """The ``event_scope`` keys of an event with these identifier index rows, each with
    whether the ``linked`` rule matches it (``event_scope.link``): each identifier's canonical
    form and its lot (linked), its classes up to the product (an item's LGTIN and GTIN: grants
    and capability links only), and every prefix that may own it (taken from the class where
    there is one: an item's prefixes are its class's); in order, without repeats."""
    keys: dict[str, bool] = {}
    for row in rows:
        links, classes, prefixes = _identifier_keys(row["canonical"], row.get("class_canonical"))
        for key in links:
            keys[key] = True
        for klass in classes:
            if klass in keys:
                break
            keys[klass] = False
        for prefix in prefixes:
            keys.setdefault(prefix, False)
    return keys


def _direct_keys(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """:func:`ledger.visibility.link_keys` of ``rows`` (with repeats), from the kept answers."""
    for row in rows:
        yield from _identifier_keys(row["canonical"], row.get("class_canonical"))[0]


def _party_owners(bind: Connection, parties: Iterable[str]) -> dict[str, int]:
    """The member owning the prefix of each of ``parties`` (identifiers as written) that a
    member's prefix owns, by the longest prefix held (one query per 500 prefixes)."""
    candidates: dict[str, tuple[str, ...]] = {}
    for party in parties:
        if party in candidates:
            continue
        try:
            candidates[party] = prefix_candidates(party)
        except (IdentifierError, ValueError):
            continue
    wanted = sorted({prefix for found in candidates.values() for prefix in found})
    if not wanted:
        return {}
    owners: dict[str, int] = {}
    for chunk in _chunks(wanted):
        statement = sa.select(PREFIX.c.prefix, PREFIX.c.organisation_id).where(
            PREFIX.c.prefix.in_(chunk)
        )
        owners.update((str(p), int(o)) for p, o in bind.execute(statement))
    found_owners: dict[str, int] = {}
    for party, found in candidates.items():
        held = [prefix for prefix in found if prefix in owners]
        if held:
            found_owners[party] = owners[max(held, key=len)]
    return found_owners


def party_members(bind: Connection, parties: Sequence[str]) -> set[int]:
    """The members owning the prefixes of ``parties`` (identifiers as written; those that do
    not parse or whose prefix no member holds are left out)."""
    return set(_party_owners(bind, parties).values())


class NewRecord:
    """A record a capture stored: its pk, event type, identifier index rows and the parties
    its source and destination lists name."""

    __slots__ = ("event_type", "parties", "pk", "rows")

    def __init__(
        self,
        pk: int,
        event_type: str,
        rows: Sequence[Mapping[str, Any]],
        parties: Sequence[str] = (),
    ) -> None:
        self.pk = pk
        self.event_type = event_type
        self.rows = rows
        self.parties = parties


@functools.lru_cache(maxsize=32)
def _sqlite_insert(table: str, columns: tuple[str, ...], update: tuple[str, ...]) -> str:
    """SQLite's ``INSERT INTO table (columns) VALUES (?, ...) ON CONFLICT ...`` (do nothing, or
    set ``update`` to the excluded row's values), for the driver's ``executemany``."""
    statement = _conflict(sqlite.insert(_TABLES[table]), update)
    compiled = statement.compile(dialect=sqlite.dialect(), column_keys=list(columns))
    if tuple(compiled.positiontup or ()) != columns:
        raise LedgerError(f"unexpected parameter order inserting into {table}")
    return str(compiled)


def _conflict(insert: Any, update: tuple[str, ...]) -> Any:
    if not update:
        return insert.on_conflict_do_nothing()
    return insert.on_conflict_do_update(
        index_elements=[column.name for column in insert.table.primary_key.columns],
        set_={name: insert.excluded[name] for name in update},
    )


#: The tables :func:`_insert_rows` writes, by name.
_TABLES: Final = {table.name: table for table in (EVENT_SCOPE, EVENT_READER, MEMBER_LINK)}


def _insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    update: tuple[str, ...] = (),
) -> None:
    """Insert ``rows`` (values of ``columns``) into ``table``, skipping (or, with ``update``,
    updating those columns of) rows whose primary key is stored. On SQLite the driver's
    ``executemany`` runs the statement without SQLAlchemy's per-row parameter processing
    (capture writes about ten ``event_scope`` rows per event); its values need none (texts,
    integers, booleans stored as 0/1 as SQLAlchemy stores them)."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_sqlite_insert(table.name, columns, update), list(rows))
        return
    statement = _conflict(_insert(connection, table), update)
    connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


_LINK_COLUMNS: Final = ("organisation_id", "key", "direct")


def _link(connection: Connection, organisation_id: int, keys: Iterable[str], direct: bool) -> None:
    """Link member ``organisation_id`` to ``keys``: directly (a stored neighbour link becomes
    direct) or as a neighbour (a stored link stays as it is)."""
    _insert_rows(
        connection,
        MEMBER_LINK,
        _LINK_COLUMNS,
        [(organisation_id, key, direct) for key in keys],
        update=("direct",) if direct else (),
    )


def _across(mine: sa.ColumnElement[str], theirs: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """Whether index role ``theirs`` is across a relationship from role ``mine``."""
    return sa.or_(
        *(
            sa.or_(
                sa.and_(mine.in_(sorted(a)), theirs.in_(sorted(b))),
                sa.and_(mine.in_(sorted(b)), theirs.in_(sorted(a))),
            )
            for a, b in RELATIONSHIP_SIDES
        )
    )


def _neighbours_of(connection: Connection, keys: Sequence[str]) -> set[str]:
    """The link keys across stored aggregation and transformation events from ``keys``
    (identifiers and lots): an identifier row there matches when it is one of ``keys`` or its
    lot is, and its neighbours are the rows on the other side of the relationship (as
    :func:`ledger.visibility.neighbour_sides` reads a new event's rows)."""
    found: set[str] = set()
    near = EVENT_IDENTIFIER.alias("near")
    for chunk in _chunks(keys):
        lots = [key for key in chunk if class_facts(key)[0]]
        matches: sa.ColumnElement[bool] = EVENT_IDENTIFIER.c.canonical.in_(chunk)
        if lots:
            matches = sa.or_(matches, EVENT_IDENTIFIER.c.class_canonical.in_(lots))
        statement = (
            sa.select(near.c.canonical, near.c.class_canonical)
            .select_from(
                EVENT_IDENTIFIER.join(EVENT, EVENT.c.id == EVENT_IDENTIFIER.c.event_pk).join(
                    near, near.c.event_pk == EVENT_IDENTIFIER.c.event_pk
                )
            )
            .where(
                matches,
                EVENT.c.event_type.in_(sorted(RELATIONSHIP_EVENT_TYPES)),
                _across(EVENT_IDENTIFIER.c.role, near.c.role),
            )
            .distinct()
        )
        for canonical, klass in connection.execute(statement):
            found.update(link_keys([{"canonical": canonical, "class_canonical": klass}]))
    return found


def record_audience(
    connection: Connection,
    organisation_id: int,
    audience: Audience,
    new: Sequence[NewRecord],
    existing: Sequence[int],
    rows_of_existing: Sequence[Sequence[Mapping[str, Any]]] = (),
) -> None:
    """Keep the visibility rows of one capture by member ``organisation_id``, inside its
    transaction: scope rows and named readers of the records it stored (``new``), reader rows
    for the records it captured again that another member stored (``existing``), and the
    member's links (direct, and one hop through aggregation/transformation neighbours)."""
    _insert_rows(
        connection,
        EVENT_SCOPE,
        ("event_pk", "key", "link"),
        [(r.pk, key, link) for r in new for key, link in scope_keys(r.rows).items()],
    )
    readers: list[tuple[int, int]] = []
    owners: dict[str, int] = {}
    if audience.visibility is not Visibility.PRIVATE:
        # Every party of the capture at once (a shipment document names a few, many times).
        owners = _party_owners(connection, {party for r in new for party in r.parties})
    for record in new:
        named = set(audience.readers)
        named.update(owners[party] for party in record.parties if party in owners)
        named.discard(organisation_id)
        readers.extend((record.pk, org) for org in sorted(named))
    _insert_rows(connection, EVENT_READER, ("event_pk", "organisation_id"), readers)
    for chunk in _chunks(list(existing)):
        connection.execute(
            _insert(connection, EVENT_READER)
            .from_select(
                ["event_pk", "organisation_id"],
                sa.select(EVENT.c.id, sa.literal(organisation_id)).where(
                    EVENT.c.id.in_(chunk), EVENT.c.organisation_id != organisation_id
                ),
            )
            .on_conflict_do_nothing()
        )
    direct: dict[str, None] = {}
    for rows in [*(r.rows for r in new), *rows_of_existing]:
        direct.update(dict.fromkeys(_direct_keys(rows)))
    if not direct:
        return
    _link(connection, organisation_id, direct, direct=True)
    if not _holds_relationships(connection):
        # No stored event relates identifiers (this capture's are stored already): no
        # neighbours to look up.
        return
    # One hop: this member's new direct keys reach their stored neighbours ...
    beside = _neighbours_of(connection, list(direct)) - direct.keys()
    _link(connection, organisation_id, sorted(beside), direct=False)
    # ... and a new aggregation/transformation event links every member directly linked to
    # an identifier on one side of it to those on the other side. (Those links are never
    # direct, so which members are directly linked to what is read once for all of them.)
    crossings = [
        crossing
        for record in new
        if record.event_type in RELATIONSHIP_EVENT_TYPES
        for side_a, side_b in neighbour_sides(record.rows)
        for crossing in ((side_a, side_b), (side_b, side_a))
    ]
    linked = _direct_members(connection, sorted({key for here, _ in crossings for key in here}))
    spread: dict[int, dict[str, None]] = {}
    for here, there in crossings:
        for member in {member for key in here for member in linked.get(key, ())}:
            if member != organisation_id:
                spread.setdefault(member, {}).update(dict.fromkeys(there))
    for member in sorted(spread):
        _link(connection, member, spread[member], direct=False)


def _holds_relationships(connection: Connection) -> bool:
    """Whether any stored event is an aggregation, association, transformation or transaction
    event (one index lookup)."""
    statement = (
        sa.select(sa.literal(1))
        .where(EVENT.c.event_type.in_(sorted(RELATIONSHIP_EVENT_TYPES)))
        .limit(1)
    )
    return connection.execute(statement).first() is not None


def _direct_members(connection: Connection, keys: Sequence[str]) -> dict[str, set[int]]:
    """The members directly linked to each of ``keys`` (those no member is linked to are left
    out)."""
    members: dict[str, set[int]] = {}
    for chunk in _chunks(keys):
        statement = sa.select(MEMBER_LINK.c.key, MEMBER_LINK.c.organisation_id).where(
            MEMBER_LINK.c.key.in_(chunk), MEMBER_LINK.c.direct
        )
        for key, org in connection.execute(statement):
            members.setdefault(str(key), set()).add(int(org))
    return members


def backfill(connection: Connection) -> None:
    """Fill ``event_scope`` and the direct ``member_link`` rows of every stored event from the
    identifier index (the migration that adds them runs it; neighbours and named readers of
    events stored before are not known and are not made up)."""
    last = 0
    while True:
        pks = [
            int(pk)
            for (pk,) in connection.execute(
                sa.select(EVENT.c.id).where(EVENT.c.id > last).order_by(EVENT.c.id).limit(_CHUNK)
            )
        ]
        if not pks:
            return
        last = pks[-1]
        rows: dict[int, list[dict[str, Any]]] = {pk: [] for pk in pks}
        owner: dict[int, int] = {}
        statement = (
            sa.select(
                EVENT_IDENTIFIER.c.event_pk,
                EVENT_IDENTIFIER.c.canonical,
                EVENT_IDENTIFIER.c.class_canonical,
                EVENT.c.organisation_id,
            )
            .join(EVENT, EVENT.c.id == EVENT_IDENTIFIER.c.event_pk)
            .where(EVENT_IDENTIFIER.c.event_pk.in_(pks))
        )
        for pk, canonical, klass, organisation_id in connection.execute(statement):
            rows[pk].append({"canonical": canonical, "class_canonical": klass})
            owner[pk] = int(organisation_id)
        scope = [
            {"event_pk": pk, "key": key, "link": link}
            for pk in pks
            for key, link in scope_keys(rows[pk]).items()
        ]
        if scope:
            connection.execute(_insert(connection, EVENT_SCOPE).on_conflict_do_nothing(), scope)
        by_member: dict[int, dict[str, None]] = {}
        for pk, org in owner.items():
            by_member.setdefault(org, {}).update(dict.fromkeys(link_keys(rows[pk])))
        for org, keys in by_member.items():
            _link(connection, org, keys, direct=True)
