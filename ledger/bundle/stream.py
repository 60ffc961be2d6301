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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.bundle.verify import (
    BUNDLE_FORMAT,
    MAX_BUNDLE_EVENTS,
    _batch,
    _batches,
    _event,
    _event_anchors,
    _org,
    event_selection,
)
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import InvalidInputError
from ledger.trace import Direction

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
        members: dict[str, dict[str, str]] = {}
        first = True
        for page in self._event_pages():
            entries = [self._entry(row, members) for row in page]
            text = ",".join(_dumps(entry) for entry in entries)
            yield text if first else "," + text
            first = False
        yield '],"members":' + _dumps(members) + ',"batches":{'
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
            _event.c.id, _event.c.event_time, _event.c.hash_id, _event.c.event_hash,
            _event.c.captured_json, _event.c.primary_id_key, _event.c.recorder_address,
            _event.c.signature, _event.c.proof, _event.c.batch_id, _event.c.anchor_status,
            _org.c.org_id, _org.c.name,
        )  # fmt: skip
        while True:
            query = (
                sa.select(*columns)
                .join(_org, _org.c.id == _event.c.organisation_id)
                .where(*self.conditions)
                .order_by(_event.c.event_time, _event.c.id)
                .limit(self.page)
            )
            if after is not None:
                time, pk = after
                query = query.where(
                    sa.or_(
                        _event.c.event_time > time,
                        sa.and_(_event.c.event_time == time, _event.c.id > pk),
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
                sa.select(_batch.c.id, _batch.c.root).where(
                    _batch.c.id.in_(unknown),
                    _batch.c.status == "mined",
                    _batch.c.chain_id == self.chain_id,
                )
            ).all()
        )
        for pk in unknown:
            self._roots[pk] = found.get(pk)
        while len(self._roots) > _ROOT_CACHE:
            self._roots.popitem(last=False)

    def _entry(self, row: Any, members: dict[str, dict[str, str]]) -> dict[str, Any]:
        root = self._roots.get(row.batch_id) if row.batch_id is not None else None
        anchored = root is not None and row.anchor_status == "anchored"
        members[row.org_id] = {"name": row.name}
        return {
            "event": json.loads(row.captured_json),
            "hash_id": row.hash_id,
            "event_hash": row.event_hash,
            "id_key": row.primary_id_key,
            "org_id": row.org_id,
            "recorder": row.recorder_address,
            "signature": row.signature,
            "root": root if anchored else None,
            "proof": list(row.proof or []) if anchored else [],
        }

    # ------------------------------------------------------------------ batches and span

    def _selected_batches(self) -> sa.Select[Any]:
        selected = sa.select(_event.c.batch_id).where(*self.conditions)
        return sa.select(_batch.c.id, _batch.c.block_number).where(
            _batch.c.id.in_(selected),
            _batch.c.status == "mined",
            _batch.c.chain_id == self.chain_id,
        )

    def _batch_groups(self) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        after: tuple[int, int] | None = None
        while True:
            query = self._selected_batches().order_by(_batch.c.block_number, _batch.c.id)
            if after is not None:
                block, pk = after
                query = query.where(
                    sa.or_(
                        _batch.c.block_number > block,
                        sa.and_(_batch.c.block_number == block, _batch.c.id > pk),
                    )
                )
            with self.engine.connect() as conn:
                keys = conn.execute(query.limit(_BATCHES_PER_QUERY)).all()
                if not keys:
                    return
                ids = [int(pk) for pk, _ in keys]
                batches = _batches(conn, ids, self.chain_id)
                for batch_id, digest in conn.execute(
                    sa.select(_event.c.batch_id, _event.c.event_hash)
                    .where(*self.conditions, _event.c.batch_id.in_(ids))
                    .order_by(_event.c.event_time, _event.c.id)
                ):
                    batches[batch_id]["events"].append(digest)
            yield [
                (batches[pk]["root"], {k: v for k, v in batches[pk].items() if k != "id"})
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
            query = sa.select(_batch.c.block_number, _batch.c.id, _batch.c.root).where(
                _batch.c.chain_id == self.chain_id,
                _batch.c.block_number >= low,
                _batch.c.block_number <= high,
            )
            if after is not None:
                block, pk = after
                query = query.where(
                    sa.or_(
                        _batch.c.block_number > block,
                        sa.and_(_batch.c.block_number == block, _batch.c.id > pk),
                    )
                )
            query = query.order_by(_batch.c.block_number, _batch.c.id).limit(_ROOTS_PER_PAGE)
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
    identifier: str | None = None,
    lot: str | None = None,
    from_time: datetime | str | None = None,
    to_time: datetime | str | None = None,
    trace: Direction | None = None,
    max_events: int = MAX_BUNDLE_EVENTS,
) -> BundlePlan:
    """Check a selection (as :func:`ledger.bundle.export_bundle` does) and plan its bundle.

    Raises:
        InvalidInputError: no selection, a bad identifier, lot or time, or more than
            ``max_events`` events.
        ChainError: the chain could not be read.
    """
    selection = event_selection(
        engine, identifier=identifier, lot=lot, from_time=from_time, to_time=to_time, trace=trace
    )
    conditions = selection.conditions
    chain_id = deployment.chain_id
    plan = BundlePlan(engine, chain_id, conditions, {}, 0, (None, None), [])
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(_event).where(*conditions)
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
    span = {"from_block": low, "to_block": high}
    contract = deployment.contracts["TraceAnchor"]
    plan.event_count = int(count)
    plan.span_blocks = (low, high)
    plan.event_anchors = _event_anchors(chain, deployment, span, engine)
    plan.head = {
        "format": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scope": selection.scope,
        "chain": {
            "chain_id": chain_id,
            "genesis_hash": deployment.genesis_hash,
            "contract": contract.address,
            "code_hash": contract.code_hash,
            "deployed_block": contract.block,
        },
    }
    return plan
