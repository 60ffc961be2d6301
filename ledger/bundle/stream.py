"""Export bundles written piece by piece, in constant memory, for ``GET /export``.

:func:`plan_bundle` checks the selection (the same arguments and errors as
:func:`ledger.bundle.export_bundle`), counts the events and reads what needs the chain, so that
every refusal and every chain failure happens before the first byte is sent. The plan's
:meth:`BundlePlan.chunks` then yields the JSON text of the bundle: the events in keyset-paged
queries (``event_time, id``), then the members, then each batch with its leaves a few batches
at a time, then the span's roots, each query on a connection of its own held only for that
query. The text parses to the same bundle as :func:`~ledger.bundle.export_bundle` gives (only
``created_at`` differs), so :func:`~ledger.bundle.verify_bundle` and
``tracechain verify-bundle`` read it unchanged.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.bundle.export import (
    MAX_BUNDLE_EVENTS,
    bundled_event,
    chain_info,
    event_selection,
    known_event_anchors,
    mined_batches,
)
from ledger.bundle.format import BUNDLE_FORMAT, Member
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import InvalidInputError
from ledger.store.tables import ANCHOR_BATCH, EVENT, ORGANISATION
from ledger.trace import Direction
from ledger.visibility import Reader

__all__ = ["EVENTS_PER_PAGE", "BundlePlan", "plan_bundle"]

#: Events per query while streaming.
EVENTS_PER_PAGE: Final = 500
#: Batches per query while streaming (their leaves are rebuilt from every event of theirs,
#: captured JSON included, so a few at a time keeps memory flat).
_BATCHES_PER_QUERY: Final = 2
#: Roots per query while streaming the span.
_ROOTS_PER_PAGE: Final = 2_000
#: Batch roots remembered while streaming events (events come in time order, batches too).
_ROOT_CACHE: Final = 4_096


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class BundlePlan:
    """A checked selection, ready to be written (see the module docstring)."""

    engine: Engine
    chain_id: int
    conditions: list[sa.ColumnElement[bool]]
    head: dict[str, Any]
    event_count: int
    span_blocks: tuple[int | None, int | None]
    event_anchors: list[str]
    page: int = EVENTS_PER_PAGE
    _roots: OrderedDict[int, str | None] = field(default_factory=OrderedDict)

    def chunks(self) -> Iterator[str]:
        """The bundle's JSON text, piece by piece (each piece at most a page of events)."""
        opening = _dumps(self.head)
        yield opening[:-1] + ',"events":['
        members: dict[str, Member] = {}
        first = True
        for page in self._event_pages():
            entries = [self._entry(row, members) for row in page]
            text = ",".join(_dumps(entry) for entry in entries)
            yield text if first else "," + text
            first = False
        named = {org_id: member.dump() for org_id, member in members.items()}
        yield '],"members":' + _dumps(named) + ',"batches":{'
        first = True
        for batches in self._batch_groups():
            text = ",".join(_dumps(root) + ":" + _dumps(batch) for root, batch in batches)
            if text:
                yield text if first else "," + text
                first = False
        low, high = self.span_blocks
        yield f'}},"span":{{"from_block":{_dumps(low)},"to_block":{_dumps(high)},"roots":['
        first = True
        for roots in self._span_roots():
            text = ",".join(_dumps(root) for root in roots)
            yield text if first else "," + text
            first = False
        yield '],"event_anchors":' + _dumps(self.event_anchors) + "}}\n"

    # ------------------------------------------------------------------ events

    def _event_pages(self) -> Iterator[Sequence[Any]]:
        after: tuple[datetime, int] | None = None
        columns = (
            EVENT.c.id, EVENT.c.event_time, EVENT.c.hash_id, EVENT.c.event_hash,
            EVENT.c.captured_json, EVENT.c.primary_id_key, EVENT.c.recorder_address,
            EVENT.c.signature, EVENT.c.proof, EVENT.c.batch_id, EVENT.c.anchor_status,
            ORGANISATION.c.org_id, ORGANISATION.c.name,
        )  # fmt: skip
        while True:
            query = (
                sa.select(*columns)
                .join(ORGANISATION, ORGANISATION.c.id == EVENT.c.organisation_id)
                .where(*self.conditions)
                .order_by(EVENT.c.event_time, EVENT.c.id)
                .limit(self.page)
            )
            if after is not None:
                time, pk = after
                query = query.where(
                    sa.or_(
                        EVENT.c.event_time > time,
                        sa.and_(EVENT.c.event_time == time, EVENT.c.id > pk),
                    )
                )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
                self._learn_roots(conn, {r.batch_id for r in rows if r.batch_id is not None})
            if not rows:
                return
            yield rows
            if len(rows) < self.page:
                return
            after = (rows[-1].event_time, rows[-1].id)

    def _learn_roots(self, conn: sa.Connection, batch_ids: set[int]) -> None:
        unknown = sorted(b for b in batch_ids if b not in self._roots)
        for pk in batch_ids & self._roots.keys():
            self._roots.move_to_end(pk)
        if not unknown:
            return
        found = dict(
            conn.execute(
                sa.select(ANCHOR_BATCH.c.id, ANCHOR_BATCH.c.root).where(
                    ANCHOR_BATCH.c.id.in_(unknown),
                    ANCHOR_BATCH.c.status == "mined",
                    ANCHOR_BATCH.c.chain_id == self.chain_id,
                )
            ).all()
        )
        for pk in unknown:
            self._roots[pk] = found.get(pk)
        while len(self._roots) > _ROOT_CACHE:
            self._roots.popitem(last=False)

    def _entry(self, row: Any, members: dict[str, Member]) -> dict[str, Any]:
        root = self._roots.get(row.batch_id) if row.batch_id is not None else None
        anchored = root is not None and row.anchor_status == "anchored"
        members[row.org_id] = Member(row.name)
        return bundled_event(row, root if anchored else None).dump()

    # ------------------------------------------------------------------ batches and span

    def _selected_batches(self) -> sa.Select[Any]:
        selected = sa.select(EVENT.c.batch_id).where(*self.conditions)
        return sa.select(ANCHOR_BATCH.c.id, ANCHOR_BATCH.c.block_number).where(
            ANCHOR_BATCH.c.id.in_(selected),
            ANCHOR_BATCH.c.status == "mined",
            ANCHOR_BATCH.c.chain_id == self.chain_id,
        )

    def _batch_groups(self) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        after: tuple[int, int] | None = None
        while True:
            query = self._selected_batches().order_by(
                ANCHOR_BATCH.c.block_number, ANCHOR_BATCH.c.id
            )
            if after is not None:
                block, pk = after
                query = query.where(
                    sa.or_(
                        ANCHOR_BATCH.c.block_number > block,
                        sa.and_(ANCHOR_BATCH.c.block_number == block, ANCHOR_BATCH.c.id > pk),
                    )
                )
            with self.engine.connect() as conn:
                keys = conn.execute(query.limit(_BATCHES_PER_QUERY)).all()
                if not keys:
                    return
                ids = [int(pk) for pk, _ in keys]
                batches = mined_batches(conn, ids, self.chain_id)
                held: dict[int, list[str]] = {pk: [] for pk in batches}
                for batch_id, digest in conn.execute(
                    sa.select(EVENT.c.batch_id, EVENT.c.event_hash)
                    .where(*self.conditions, EVENT.c.batch_id.in_(ids))
                    .order_by(EVENT.c.event_time, EVENT.c.id)
                ):
                    held[batch_id].append(digest)
            yield [
                (batches[pk].root, replace(batches[pk], events=tuple(held[pk])).dump())
                for pk in ids
                if pk in batches
            ]
            last_pk, last_block = keys[-1]
            after = (int(last_block), int(last_pk))

    def _span_roots(self) -> Iterator[list[str]]:
        low, high = self.span_blocks
        if low is None or high is None:
            return
        after: tuple[int, int] | None = None
        while True:
            query = sa.select(
                ANCHOR_BATCH.c.block_number, ANCHOR_BATCH.c.id, ANCHOR_BATCH.c.root
            ).where(
                ANCHOR_BATCH.c.chain_id == self.chain_id,
                ANCHOR_BATCH.c.block_number >= low,
                ANCHOR_BATCH.c.block_number <= high,
            )
            if after is not None:
                block, pk = after
                query = query.where(
                    sa.or_(
                        ANCHOR_BATCH.c.block_number > block,
                        sa.and_(ANCHOR_BATCH.c.block_number == block, ANCHOR_BATCH.c.id > pk),
                    )
                )
            query = query.order_by(ANCHOR_BATCH.c.block_number, ANCHOR_BATCH.c.id).limit(
                _ROOTS_PER_PAGE
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield [str(row.root) for row in rows]
            if len(rows) < _ROOTS_PER_PAGE:
                return
            after = (int(rows[-1].block_number), int(rows[-1].id))


def plan_bundle(
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
) -> BundlePlan:
    """Check a selection (as :func:`ledger.bundle.export_bundle` does) and plan the bundle of
    the selected events ``reader`` may read (the selection's conditions hold the visibility
    rule, so every page, batch and count of the plan is of those events only).

    Raises:
        InvalidInputError: no selection, a bad identifier, lot or time, or more than
            ``max_events`` events.
        ChainError: the chain could not be read.
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
    conditions = selection.conditions
    chain_id = deployment.chain_id
    plan = BundlePlan(engine, chain_id, conditions, {}, 0, (None, None), [])
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(EVENT).where(*conditions)
        ).scalar_one()
        if count > max_events:
            raise InvalidInputError(
                f"more than {max_events} events: narrow the identifier or the time range",
                field="identifier",
            )
        blocks = plan._selected_batches().subquery()
        low, high = conn.execute(
            sa.select(sa.func.min(blocks.c.block_number), sa.func.max(blocks.c.block_number))
        ).one()
    plan.event_count = int(count)
    plan.span_blocks = (low, high)
    plan.event_anchors = known_event_anchors(chain, deployment, low, high, engine)
    plan.head = {
        "format": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scope": selection.scope.dump(),
        "chain": chain_info(deployment).dump(),
    }
    return plan
