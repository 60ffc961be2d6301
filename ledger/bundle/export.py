"""Export a bundle (:mod:`ledger.bundle.format`) of selected events from the ledger's database.

:func:`export_bundle` selects events by identifier (the events mentioning it, or items of its
lot; optionally every event of its trace), by lot, and/or by event-time range, and gives the
bundle in memory; :mod:`ledger.bundle.stream` writes the same bundle piece by piece.

A bundle is exported for a :class:`~ledger.visibility.Reader` and holds only the events it may
read (:func:`ledger.store.visibility.visible` is one of the selection's conditions; a trace
walks only through them). Its batches still list every leaf of theirs (opaque hashes, which
rebuild the anchored root and its count) but only the bundled events, and every bundled event
carries its own Merkle proof: a proof needs the siblings' hashes, never their contents, so a
filtered bundle verifies as a whole one does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.audit.chain_reader import ChainReader, to_hex
from ledger.bundle.format import (
    Bundle,
    BundledBatch,
    BundledEvent,
    ChainInfo,
    Member,
    Scope,
    Span,
)
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import InvalidInputError
from ledger.events.timestamps import parse_timestamp
from ledger.identifiers import IdentifierError, parse
from ledger.merkle import MerkleError, event_leaf
from ledger.store.indexing import index_identifier
from ledger.store.tables import ANCHOR_BATCH, EVENT, EVENT_IDENTIFIER, ORGANISATION
from ledger.store.visibility import visible
from ledger.trace import Direction, Tracer
from ledger.visibility import Reader

__all__ = [
    "MAX_BUNDLE_EVENTS",
    "Selection",
    "chain_info",
    "event_selection",
    "export_bundle",
    "known_event_anchors",
    "mined_batches",
]

#: Most events one bundle holds (narrow the range or the identifier beyond this).
MAX_BUNDLE_EVENTS: Final = 100_000
#: Values per ``IN (...)`` list.
_CHUNK: Final = 200


def _time(value: datetime | str | None, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidInputError("a time needs a UTC offset", field=name)
        return value
    parsed = parse_timestamp(value)
    if parsed is None:
        raise InvalidInputError(
            f"{value!r} is not an RFC 3339 timestamp with an offset", field=name
        )
    return parsed


def _canonical_lot(text: str) -> str:
    try:
        identifier = parse(text)
    except IdentifierError as exc:
        raise InvalidInputError(exc.reason, field="lot") from None
    if identifier.kind != "lgtin":
        raise InvalidInputError(
            f"{text!r} is a {identifier.kind}, not a lot (GTIN + lot: an LGTIN)", field="lot"
        )
    return identifier.canonical


@dataclass(frozen=True, slots=True)
class Selection:
    """What a bundle holds: conditions on stored events and the bundle's ``scope`` member."""

    conditions: list[sa.ColumnElement[bool]]
    scope: Scope


def event_selection(
    engine: Engine,
    *,
    identifier: str | None,
    lot: str | None,
    from_time: datetime | str | None,
    to_time: datetime | str | None,
    trace: Direction | None,
    reader: Reader,
) -> Selection:
    """The conditions on stored events of a bundle's selection (checked): events mentioning
    ``identifier`` or items of ``lot`` (with ``trace``, every event of its trace), and/or event
    times in ``[from_time, to_time)``, of those ``reader`` may read.

    Raises:
        InvalidInputError: no selection, both an identifier and a lot, or a bad one of them.
    """
    start, end = _time(from_time, "from"), _time(to_time, "to")
    if identifier is None and lot is None and start is None and end is None:
        raise InvalidInputError(
            "give an identifier, a lot or a time range (from/to)", field="identifier"
        )
    if identifier is not None and lot is not None:
        raise InvalidInputError("give an identifier or a lot, not both", field="lot")
    target = _canonical_lot(lot) if lot is not None else None
    if identifier is not None:
        if not identifier.strip():
            raise InvalidInputError("an identifier is needed", field="identifier")
        target = index_identifier(identifier.strip()).canonical
    conditions: list[sa.ColumnElement[bool]] = []
    if target is not None:
        mentions = sa.select(EVENT_IDENTIFIER.c.event_pk).where(
            sa.or_(
                EVENT_IDENTIFIER.c.canonical == target, EVENT_IDENTIFIER.c.class_canonical == target
            )
        )
        if trace is not None:
            pks = Tracer(engine).trace(target, trace, None, reader=reader).event_pks()
            conditions.append(sa.or_(EVENT.c.id.in_(mentions), EVENT.c.id.in_(pks)))
        else:
            conditions.append(EVENT.c.id.in_(mentions))
    if start is not None:
        conditions.append(EVENT.c.event_time >= start)
    if end is not None:
        conditions.append(EVENT.c.event_time < end)
    allowed = visible(reader)
    if allowed is not None:
        conditions.append(allowed)
    scope = Scope(
        identifier=target if lot is None else None,
        lot=target if lot is not None else None,
        from_time=None if start is None else start.isoformat(),
        to_time=None if end is None else end.isoformat(),
        trace=trace,
    )
    return Selection(conditions, scope)


def chain_info(deployment: Deployment) -> ChainInfo:
    """The bundle's ``chain`` member for a deployment."""
    contract = deployment.contracts["TraceAnchor"]
    return ChainInfo(
        chain_id=deployment.chain_id,
        genesis_hash=deployment.genesis_hash,
        contract=contract.address,
        code_hash=contract.code_hash,
        deployed_block=contract.block,
    )


def export_bundle(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    *,
    reader: Reader,
    identifier: str | None = None,
    lot: str | None = None,
    from_time: datetime | str | None = None,
    to_time: datetime | str | None = None,
    trace: Direction | None = None,
    max_events: int = MAX_BUNDLE_EVENTS,
) -> dict[str, Any]:
    """The bundle (a JSON-ready dict, :meth:`Bundle.dump`) of the selected events that
    ``reader`` may read (the operator's own tools pass :meth:`Reader.operator`).

    Give an ``identifier`` or a ``lot`` (events mentioning it or items of the lot; with
    ``trace``, every event of its backward or forward trace), and/or a time range
    ``[from_time, to_time)`` of event times.

    Raises:
        InvalidInputError: no selection, a bad identifier, lot or time, or more than
            ``max_events`` events.
    """
    selection = event_selection(
        engine,
        identifier=identifier,
        lot=lot,
        from_time=from_time,
        to_time=to_time,
        trace=trace,
        reader=reader,
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                EVENT.c.id,
                EVENT.c.hash_id,
                EVENT.c.event_hash,
                EVENT.c.captured_json,
                EVENT.c.primary_id_key,
                EVENT.c.recorder_address,
                EVENT.c.signature,
                EVENT.c.proof,
                EVENT.c.batch_id,
                EVENT.c.anchor_status,
                ORGANISATION.c.org_id,
                ORGANISATION.c.name,
            )
            .join(ORGANISATION, ORGANISATION.c.id == EVENT.c.organisation_id)
            .where(*selection.conditions)
            .order_by(EVENT.c.event_time, EVENT.c.id)
            .limit(max_events + 1)
        ).all()
        if len(rows) > max_events:
            raise InvalidInputError(
                f"more than {max_events} events: narrow the identifier or the time range",
                field="identifier",
            )
        batch_ids = sorted({row.batch_id for row in rows if row.batch_id is not None})
        batches = mined_batches(conn, batch_ids, deployment.chain_id)
        span = _span(conn, batches, deployment.chain_id)
    events: list[BundledEvent] = []
    members: dict[str, Member] = {}
    held: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        batch = batches.get(row.batch_id) if row.batch_id is not None else None
        anchored = batch is not None and row.anchor_status == "anchored"
        if batch is not None:
            held[row.batch_id].append(row.event_hash)
        members[row.org_id] = Member(row.name)
        events.append(bundled_event(row, batch.root if anchored and batch is not None else None))
    span = replace(
        span,
        event_anchors=tuple(
            known_event_anchors(chain, deployment, span.from_block, span.to_block, engine)
        ),
    )
    return Bundle(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        scope=selection.scope,
        chain=chain_info(deployment),
        members=members,
        events=tuple(events),
        batches={
            batch.root: replace(batch, events=tuple(held[pk]))
            for pk, batch in sorted(batches.items(), key=lambda item: item[1].block)
        },
        span=span,
    ).dump()


def bundled_event(row: Any, root: str | None) -> BundledEvent:
    """A stored event (a row with its organisation id) as bundled under ``root`` (None:
    not anchored, no proof)."""
    return BundledEvent(
        event=json.loads(row.captured_json),
        hash_id=row.hash_id,
        event_hash=row.event_hash,
        id_key=row.primary_id_key,
        org_id=row.org_id,
        recorder=row.recorder_address,
        signature=row.signature,
        root=root,
        proof=tuple(row.proof or ()) if root is not None else (),
    )


def mined_batches(
    conn: Connection, batch_ids: Sequence[int], chain_id: int
) -> dict[int, BundledBatch]:
    """Mined batches of this chain with their complete leaves (and no events yet), by pk."""
    out: dict[int, BundledBatch] = {}
    for start in range(0, len(batch_ids), _CHUNK):
        chunk = batch_ids[start : start + _CHUNK]
        found: dict[int, BundledBatch] = {}
        for row in conn.execute(
            sa.select(
                ANCHOR_BATCH.c.id,
                ANCHOR_BATCH.c.root,
                ANCHOR_BATCH.c.tx_hash,
                ANCHOR_BATCH.c.block_number,
                ANCHOR_BATCH.c.signer_address,
                ANCHOR_BATCH.c.event_count,
                ANCHOR_BATCH.c.leaf_version,
                ORGANISATION.c.org_id,
            )
            .join(ORGANISATION, ORGANISATION.c.id == ANCHOR_BATCH.c.organisation_id)
            .where(
                ANCHOR_BATCH.c.id.in_(chunk),
                ANCHOR_BATCH.c.status == "mined",
                ANCHOR_BATCH.c.chain_id == chain_id,
            )
        ):
            found[row.id] = BundledBatch(
                root=row.root,
                tx_hash=row.tx_hash,
                block=row.block_number,
                recorder=row.signer_address,
                org_id=row.org_id,
                event_count=row.event_count,
                leaf_version=row.leaf_version,
            )
        leaves = _leaves(conn, found)
        out.update((pk, replace(batch, leaves=leaves.get(pk, ()))) for pk, batch in found.items())
    return out


def _leaves(conn: Connection, batches: Mapping[int, BundledBatch]) -> dict[int, tuple[str, ...]]:
    """Every leaf of each batch, rebuilt from its stored events (0x-hex, sorted, once each)."""
    leaves: dict[int, list[bytes]] = defaultdict(list)
    for batch_id, digest, id_key, recorder, text, signature in conn.execute(
        sa.select(
            EVENT.c.batch_id,
            EVENT.c.event_hash,
            EVENT.c.primary_id_key,
            EVENT.c.recorder_address,
            EVENT.c.captured_json,
            EVENT.c.signature,
        ).where(EVENT.c.batch_id.in_(list(batches)))
    ):
        try:
            leaves[batch_id].append(
                event_leaf(
                    batches[batch_id].leaf_version,
                    bytes.fromhex(digest[2:]),
                    bytes.fromhex(id_key[2:]),
                    bytes.fromhex(str(recorder)[2:]),
                    text,
                    signature,
                )
            )
        except (ValueError, MerkleError):
            continue  # an unreadable row: the leaves will not rebuild the root
    return {pk: tuple(to_hex(leaf) for leaf in sorted(set(found))) for pk, found in leaves.items()}


def _span(conn: Connection, batches: Mapping[int, BundledBatch], chain_id: int) -> Span:
    """The block span of the bundled batches and every root the ledger anchored in it."""
    if not batches:
        return Span()
    low = min(b.block for b in batches.values())
    high = max(b.block for b in batches.values())
    roots = (
        conn.execute(
            sa.select(ANCHOR_BATCH.c.root)
            .where(
                ANCHOR_BATCH.c.chain_id == chain_id,
                ANCHOR_BATCH.c.block_number >= low,
                ANCHOR_BATCH.c.block_number <= high,
            )
            .order_by(ANCHOR_BATCH.c.block_number, ANCHOR_BATCH.c.id)
        )
        .scalars()
        .all()
    )
    return Span(from_block=low, to_block=high, roots=tuple(roots))


def known_event_anchors(
    chain: ChainClient,
    deployment: Deployment,
    from_block: int | None,
    to_block: int | None,
    engine: Engine,
) -> list[str]:
    """Event hashes anchored one by one in blocks [from_block, to_block] that are events of
    the ledger (none when there is no span)."""
    if from_block is None or to_block is None:
        return []
    contract = chain.contract("TraceAnchor", deployment.anchor_address)
    reader = ChainReader(chain, contract)
    hashes = [
        to_hex(log["args"]["eventHash"])
        for log in reader.logs(("EventAnchored",), from_block, to_block)
    ]
    known: list[str] = []
    with engine.connect() as conn:
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start : start + _CHUNK]
            known += (
                conn.execute(
                    sa.select(EVENT.c.event_hash).distinct().where(EVENT.c.event_hash.in_(chunk))
                )
                .scalars()
                .all()
            )
    return sorted(known)
