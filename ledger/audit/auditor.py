"""The :class:`Auditor`: one database against the chain of one deployment.

It plans :class:`~ledger.audit.workers.Unit` s of whole batches (keyset pages over
``anchor_batch``), has a process pool check them (:mod:`ledger.audit.workers`) while the main
process reads the chain (:mod:`ledger.audit.chain_reader`), then reconciles the two: every mined
batch's root must be anchored by its member, from its signing address, in its transaction and
block, with its event count; every anchor and single-event anchor in the range must be one the
database accounts for; every recall is listed with what the database knows of its identifier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from web3.contract import Contract

from ledger.audit.chain_reader import (
    NO_ORG_ID,
    RPC_CHUNK,
    Anchor,
    ChainReader,
    ChainView,
    EventAnchor,
)
from ledger.audit.findings import Finding, FindingKind
from ledger.audit.report import AuditReport
from ledger.audit.workers import (
    SAMPLE,
    BatchSummary,
    Unit,
    UnitResult,
    audit_unit,
    init_worker,
    pool_context,
    run_unit,
)
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.identifiers import IdentifierError, parse, prefix_candidates
from ledger.merkle import LEAF_VERSIONS
from ledger.settings import get_settings
from ledger.store.tables import (
    ANCHOR_BATCH,
    EVENT,
    EVENT_IDENTIFIER,
    ORGANISATION,
    OUTBOX,
    PREFIX,
    SIGNING_KEY,
)

__all__ = ["UNIT_EVENTS", "Auditor", "Progress"]

_NO_RECORD: Final = ("0x" + "00" * 32, 0, 0)


def _record_text(record: tuple[str, int, int]) -> str:
    """A ``batchOf`` answer in words."""
    if record == _NO_RECORD:
        return "not anchored"
    org, block, count = record
    return f"anchored by {org} in block {block} ({count} events)"


def _record_json(record: tuple[str, int, int]) -> dict[str, Any] | None:
    """A ``batchOf`` answer as evidence (None: not anchored)."""
    if record == _NO_RECORD:
        return None
    org, block, count = record
    return {"member": org, "block": block, "event_count": count}


#: Events per unit of work handed to a worker process (whole batches; one batch may exceed it).
UNIT_EVENTS: Final = 4_000
#: Batches read per keyset page while planning units.
_PAGE: Final = 1_000

#: Called with (events audited so far, events in the database).
Progress = Callable[[int, int], None]


class Auditor:
    """Audits one database against the chain of one deployment."""

    def __init__(
        self,
        engine: Engine,
        chain: ChainClient,
        deployment: Deployment,
        *,
        logs_block_range: int | None = None,
        workers: int | None = None,
        unit_events: int = UNIT_EVENTS,
        anchor_lag_bound_s: float | None = None,
        compare_endpoints: Sequence[str] | None = None,
    ) -> None:
        self.engine = engine
        #: RPC endpoints asked for the same anchors (default: the client's, when several).
        self.compare_endpoints: tuple[str, ...] = (
            tuple(dict.fromkeys(compare_endpoints))
            if compare_endpoints is not None
            else (chain.rpc_urls if len(chain.rpc_urls) > 1 else ())
        )
        self.anchor_lag_bound_s = (
            get_settings().anchoring.lag_bound_seconds
            if anchor_lag_bound_s is None
            else anchor_lag_bound_s
        )
        self.unit_events = max(1, unit_events)
        self.chain = chain
        self.deployment = deployment
        self.contract: Contract = chain.contract("TraceAnchor", deployment.anchor_address)
        self.reader = ChainReader(chain, self.contract, logs_block_range)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._view = ChainView()

    # ------------------------------------------------------------------ run

    def run(
        self,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        progress: Progress | None = None,
    ) -> AuditReport:
        """Audit everything; ``from_block`` / ``to_block`` bound the chain scan for orphan
        anchors and recalls (default: from the contract's deployment to the head). Batches
        anchored outside the range are still looked up one by one."""
        started = time.perf_counter()
        deploy_block = self.deployment.contracts["TraceAnchor"].block
        head = self.chain.block_number()
        start = deploy_block if from_block is None else max(0, from_block)
        end = head if to_block is None else min(head, to_block)
        report = AuditReport(
            chain_id=self.deployment.chain_id,
            genesis_hash=self.deployment.genesis_hash,
            contract=self.deployment.anchor_address,
            from_block=start,
            to_block=end,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database=self.engine.url.render_as_string(hide_password=True),
            anchor_lag_bound_s=self.anchor_lag_bound_s,
        )
        self._anchoring_lag(report)
        wrong_chain = self.deployment.mismatches(self.chain)
        for problem in wrong_chain:
            report.findings.append(
                Finding(
                    FindingKind.WRONG_CHAIN,
                    problem,
                    {"rpc_url": self.chain.rpc_url, "deployment_chain_id": report.chain_id},
                )
            )
        units, total = self._plan()
        batches: dict[int, BatchSummary] = {}
        done = 0
        for result in self._results(units, report, wrong_chain, deploy_block, start, end):
            report.events += result.events
            report.pending_events += result.pending
            report.findings.extend(result.findings)
            for summary in result.batches:
                batches[summary.id] = summary
            done += result.events
            if progress is not None:
                progress(done, total)
        report.batches = len(batches)
        self._orphan_index_rows(report)
        if not wrong_chain:
            self._reconcile(report, batches)
        if len(self.compare_endpoints) > 1:
            self._compare_endpoints(report, batches)
        report.elapsed_s = time.perf_counter() - started
        return report

    def _compare_endpoints(self, report: AuditReport, batches: Mapping[int, BatchSummary]) -> None:
        """Ask every endpoint of :attr:`compare_endpoints` for the on-chain record
        (``batchOf``: member, block, count) of every mined batch root of this chain, at the
        lowest head among them (a lagging endpoint is not a disagreeing one), and report each
        root on which two answer differently. An endpoint that is not this deployment's chain
        is a ``wrong_chain`` finding naming it; one that does not answer is a disagreement."""
        clients: list[ChainClient] = []
        for url in self.compare_endpoints:
            client = ChainClient(url)
            try:
                problems = self.deployment.mismatches(client)
                if not problems:
                    client.block_number()
            except ChainError as exc:
                report.findings.append(
                    Finding(
                        FindingKind.ENDPOINT_DISAGREEMENT,
                        f"RPC endpoint {url} could not be compared: {exc.reason}",
                        {"rpc_url": url},
                    )
                )
                continue
            for problem in problems:
                report.findings.append(
                    Finding(
                        FindingKind.WRONG_CHAIN, f"RPC endpoint {url}: {problem}", {"rpc_url": url}
                    )
                )
            if not problems:
                clients.append(client)
        roots = sorted(
            {
                s.root
                for s in batches.values()
                if s.status == "mined" and s.chain_id == report.chain_id
            }
        )
        if len(clients) < 2 or not roots:
            return
        try:
            at = min(client.block_number() for client in clients)
            answers = {client.rpc_url: self._batch_records(client, roots, at) for client in clients}
        except ChainError as exc:
            report.findings.append(
                Finding(
                    FindingKind.ENDPOINT_DISAGREEMENT,
                    f"the RPC endpoints could not be compared: {exc.reason}",
                    {"rpc_urls": list(self.compare_endpoints)},
                )
            )
            return
        first, *others = clients
        for other in others:
            for root, mine, theirs in zip(
                roots, answers[first.rpc_url], answers[other.rpc_url], strict=True
            ):
                if mine != theirs:
                    report.findings.append(
                        Finding(
                            FindingKind.ENDPOINT_DISAGREEMENT,
                            f"RPC endpoints {first.rpc_url} and {other.rpc_url} disagree at "
                            f"block {at} on root {root}: {_record_text(mine)} against "
                            f"{_record_text(theirs)}",
                            {
                                "root": root,
                                "block": at,
                                first.rpc_url: _record_json(mine),
                                other.rpc_url: _record_json(theirs),
                            },
                        )
                    )

    def _batch_records(
        self, client: ChainClient, roots: Sequence[str], block: int
    ) -> list[tuple[str, int, int]]:
        """``batchOf`` of each root at ``block`` on one endpoint: (member, block, count)."""
        view = client.view(self.contract, "batchOf")
        out: list[tuple[str, int, int]] = []
        for low in range(0, len(roots), RPC_CHUNK):
            chunk = roots[low : low + RPC_CHUNK]
            for org, mined, count in client.calls(
                view, [(bytes.fromhex(r.removeprefix("0x")),) for r in chunk], block=block
            ):
                out.append(("0x" + bytes(org).hex(), int(mined), int(count)))
        return out

    def _orphan_index_rows(self, report: AuditReport) -> None:
        """Identifier index rows that name no stored event."""
        orphan = (
            sa.select(
                EVENT_IDENTIFIER.c.event_pk, EVENT_IDENTIFIER.c.role, EVENT_IDENTIFIER.c.value
            )
            .outerjoin(EVENT, EVENT.c.id == EVENT_IDENTIFIER.c.event_pk)
            .where(EVENT.c.id.is_(None))
        )
        with self.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(orphan.subquery())
            ).scalar_one()
            if not count:
                return
            sample = conn.execute(orphan.limit(SAMPLE)).all()
        report.findings.append(
            Finding(
                FindingKind.TAMPERED_INDEX,
                f"{count} identifier index rows name no stored event",
                {"rows": int(count), "sample": [list(row) for row in sample]},
            )
        )

    def _anchoring_lag(self, report: AuditReport) -> None:
        """The age of the oldest event waiting to be anchored; a finding above the bound."""
        with self.engine.connect() as conn:
            waiting, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(OUTBOX.c.created_at)).select_from(OUTBOX)
            ).one()
            if oldest is None:
                return
            event_pk = conn.execute(
                sa.select(OUTBOX.c.event_pk)
                .where(OUTBOX.c.created_at == oldest)
                .order_by(OUTBOX.c.id)
                .limit(1)
            ).scalar()
        report.anchor_lag_s = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        if report.anchor_lag_s > self.anchor_lag_bound_s:
            report.findings.append(
                Finding(
                    FindingKind.ANCHORING_STALLED,
                    f"{waiting} events wait to be anchored, the oldest for "
                    f"{report.anchor_lag_s:.0f} s (bound {self.anchor_lag_bound_s:g} s): the "
                    "anchor worker is stopped or stuck",
                    {
                        "waiting_events": int(waiting),
                        "oldest_event_pk": event_pk,
                        "oldest_queued_at": oldest.isoformat(),
                        "lag_s": round(report.anchor_lag_s, 3),
                        "bound_s": self.anchor_lag_bound_s,
                    },
                )
            )

    def _plan(self) -> tuple[list[Unit], int]:
        """Units of whole batches (keyset pages over anchor_batch), then of unbatched events."""
        units: list[Unit] = []
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(EVENT)).scalar_one())
            last = 0
            group: list[int] = []
            size = 0
            while True:
                page = conn.execute(
                    sa.select(ANCHOR_BATCH.c.id, ANCHOR_BATCH.c.event_count)
                    .where(ANCHOR_BATCH.c.id > last)
                    .order_by(ANCHOR_BATCH.c.id)
                    .limit(_PAGE)
                ).all()
                if not page:
                    break
                for batch_id, count in page:
                    if group and size + count > self.unit_events:
                        units.append(Unit(batch_ids=tuple(group)))
                        group, size = [], 0
                    group.append(batch_id)
                    size += count
                last = page[-1][0]
            if group:
                units.append(Unit(batch_ids=tuple(group)))
            units.extend(self._pending_units(conn))
        return units, total

    def _pending_units(self, conn: Connection) -> Iterator[Unit]:
        last = 0
        while True:
            ids = (
                conn.execute(
                    sa.select(EVENT.c.id)
                    .where(EVENT.c.batch_id.is_(None), EVENT.c.id > last)
                    .order_by(EVENT.c.id)
                    .limit(self.unit_events)
                )
                .scalars()
                .all()
            )
            if not ids:
                return
            yield Unit(pending=(last, ids[-1]))
            last = ids[-1]

    def _results(
        self,
        units: list[Unit],
        report: AuditReport,
        wrong_chain: list[str],
        deploy_block: int,
        start: int,
        end: int,
    ) -> Iterator[UnitResult]:
        """Unit results, computed in a process pool while the main process reads the chain."""
        url = self.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        workers = min(self.workers, len(units))
        if workers <= 1 or in_memory:
            self._scan_chain(report, wrong_chain, deploy_block, start, end)
            for unit in units:
                yield audit_unit(self.engine, unit)
            return
        with pool_context().Pool(
            workers, initializer=init_worker, initargs=(url.render_as_string(hide_password=False),)
        ) as pool:
            pending = pool.imap_unordered(run_unit, units)
            self._scan_chain(report, wrong_chain, deploy_block, start, end)
            yield from pending

    def _scan_chain(
        self, report: AuditReport, wrong_chain: list[str], deploy_block: int, start: int, end: int
    ) -> None:
        self._view = ChainView()
        if wrong_chain:
            return
        self._view = self.reader.scan(deploy_block, start, end)
        report.blocks_scanned = self._view.blocks
        report.anchors_on_chain = len(self._view.anchors)
        report.event_anchors_on_chain = len(self._view.event_anchors)

    # ------------------------------------------------------------------ chain vs database

    def _reconcile(self, report: AuditReport, batches: Mapping[int, BatchSummary]) -> None:
        view = self._view
        with self.engine.connect() as conn:
            orgs = {
                pk: org_id
                for pk, org_id in conn.execute(sa.select(ORGANISATION.c.id, ORGANISATION.c.org_id))
            }
            keys: dict[str, int] = {
                address: org
                for address, org in conn.execute(
                    sa.select(SIGNING_KEY.c.address, SIGNING_KEY.c.organisation_id)
                )
            }
        accounted: set[str] = set()
        lookups: list[BatchSummary] = []
        for summary in batches.values():
            accounted.add(summary.root)
            if summary.rebuilt is not None:
                accounted.add(summary.rebuilt)
            self._batch_findings(report, summary, orgs)
            if summary.chain_id != report.chain_id:
                report.other_chain_batches += 1
                if summary.root in view.anchors:
                    report.findings.append(
                        Finding(
                            FindingKind.ANCHOR_MISMATCH,
                            f"the batch says it was anchored on chain {summary.chain_id}, but "
                            "its root is anchored on this chain",
                            {"batch_id": summary.id, "root": summary.root},
                        )
                    )
            elif summary.status in ("prepared", "sent"):
                report.in_flight_batches += 1
            elif summary.status == "mined":
                report.mined_batches += 1
                lookups.append(summary)
        senders = self.reader.senders(a.tx_hash for a in view.anchors.values())
        for summary in lookups:
            anchor = view.anchors.get(summary.root)
            if anchor is None:
                anchor = self._lookup(summary)
                if anchor is None:
                    report.findings.append(self._missing(summary, view))
                    continue
                senders.update(self.reader.senders([anchor.tx_hash]))
            self._anchor_findings(report, summary, anchor, senders.get(anchor.tx_hash), orgs, keys)
        for root, anchor in sorted(view.anchors.items(), key=lambda kv: kv[1].block):
            if root not in accounted:
                report.findings.append(
                    Finding(
                        FindingKind.ORPHAN_ANCHOR,
                        "a batch root is anchored on the chain but no batch of the database "
                        "accounts for it",
                        {
                            "root": root,
                            "member_org_id": self.reader.org_id(anchor.member),
                            "count": anchor.count,
                            "tx_hash": anchor.tx_hash,
                            "block": anchor.block,
                            "sender": senders.get(anchor.tx_hash),
                        },
                    )
                )
        self._event_anchors(report, view.event_anchors, orgs)
        self._recalls(report, view.recalls)

    def _batch_findings(
        self, report: AuditReport, summary: BatchSummary, orgs: Mapping[int, str]
    ) -> None:
        """Findings the database shows on its own: root, count, recorders of the events."""
        evidence = {
            "batch_id": summary.id,
            "root": summary.root,
            "tx_hash": summary.tx_hash,
            "block": summary.block_number,
        }
        if summary.rebuilt is not None and summary.rebuilt != summary.root:
            report.findings.append(
                Finding(
                    FindingKind.ROOT_MISMATCH,
                    "the batch's events rebuild another Merkle root than the recorded one",
                    {
                        **evidence,
                        "rebuilt_root": summary.rebuilt,
                        "rebuilt_root_anchored": summary.rebuilt in self._view.anchors,
                        "events": summary.found,
                    },
                )
            )
        if summary.leaf_version not in LEAF_VERSIONS:
            report.findings.append(
                Finding(
                    FindingKind.ROOT_MISMATCH,
                    f"the batch's leaf version {summary.leaf_version!r} is unknown: its "
                    "leaves cannot be rebuilt",
                    {**evidence, "leaf_version": summary.leaf_version},
                )
            )
        if summary.found != summary.event_count:
            report.findings.append(
                Finding(
                    FindingKind.MISSING_EVENTS,
                    f"the batch records {summary.event_count} events but the database holds "
                    f"{summary.found}",
                    {**evidence, "recorded_count": summary.event_count, "found": summary.found},
                )
            )
        batch_org = orgs.get(summary.organisation_id)
        for (org_pk, address), (count, sample) in summary.recorders.items():
            if org_pk != summary.organisation_id or address != summary.signer_address:
                report.findings.append(
                    Finding(
                        FindingKind.WRONG_RECORDER,
                        "events of the batch name another recorder than the batch",
                        {
                            **evidence,
                            "batch_org_id": batch_org,
                            "batch_signer": summary.signer_address,
                            "events_org_id": orgs.get(org_pk),
                            "events_recorder": address,
                            "events": count,
                            "event_pks": sample,
                        },
                    )
                )

    def _lookup(self, summary: BatchSummary) -> Anchor | None:
        """A mined batch's anchor outside the scanned range, by ``batchOf`` then its block."""
        if len(summary.root) != 66:
            return None
        org, block, _count = self.reader.batch_of(summary.root)
        if org == NO_ORG_ID:
            return None
        return self.reader.anchor_at(summary.root, block)

    @staticmethod
    def _missing(summary: BatchSummary, view: ChainView) -> Finding:
        return Finding(
            FindingKind.MISSING_ANCHOR,
            "the batch is recorded as mined but its root is not anchored on the chain",
            {
                "batch_id": summary.id,
                "root": summary.root,
                "tx_hash": summary.tx_hash,
                "block": summary.block_number,
                "rebuilt_root": summary.rebuilt,
                "rebuilt_root_anchored": summary.rebuilt in view.anchors,
                "events": summary.found,
            },
        )

    def _anchor_findings(
        self,
        report: AuditReport,
        summary: BatchSummary,
        anchor: Anchor,
        sender: str | None,
        orgs: Mapping[int, str],
        keys: Mapping[str, int],
    ) -> None:
        evidence = {
            "batch_id": summary.id,
            "root": summary.root,
            "tx_hash": anchor.tx_hash,
            "block": anchor.block,
        }
        if anchor.tx_hash != summary.tx_hash or anchor.block != summary.block_number:
            report.findings.append(
                Finding(
                    FindingKind.ANCHOR_MISMATCH,
                    "the root is anchored in another transaction or block than recorded",
                    {
                        **evidence,
                        "recorded_tx_hash": summary.tx_hash,
                        "recorded_block": summary.block_number,
                    },
                )
            )
        if anchor.count != summary.event_count:
            report.findings.append(
                Finding(
                    FindingKind.MISSING_EVENTS,
                    f"the chain says the batch holds {anchor.count} events, the database "
                    f"records {summary.event_count} and holds {summary.found}",
                    {
                        **evidence,
                        "anchored_count": anchor.count,
                        "recorded_count": summary.event_count,
                        "found": summary.found,
                    },
                )
            )
        on_chain_org = self.reader.org_id(anchor.member)
        batch_org = orgs.get(summary.organisation_id)
        problems = []
        if on_chain_org != batch_org:
            problems.append(f"the root was anchored by member {on_chain_org}, not {batch_org}")
        if sender != summary.signer_address:
            problems.append(
                f"the anchoring transaction was sent by {sender}, not by the batch's signing "
                f"address {summary.signer_address}"
            )
        if keys.get(summary.signer_address) != summary.organisation_id:
            problems.append(
                f"the database does not list {summary.signer_address} as a key of {batch_org}"
            )
        if sender is not None and not self._view.signer_at(sender, anchor.member, anchor.block):
            problems.append(
                f"{sender} was not a signing address of member {on_chain_org} at block "
                f"{anchor.block}"
            )
        if problems:
            report.findings.append(
                Finding(
                    FindingKind.WRONG_RECORDER,
                    "; ".join(problems),
                    {
                        **evidence,
                        "anchored_by_org_id": on_chain_org,
                        "sender": sender,
                        "batch_org_id": batch_org,
                        "batch_signer": summary.signer_address,
                    },
                )
            )

    def _event_anchors(
        self, report: AuditReport, anchors: Sequence[EventAnchor], orgs: Mapping[int, str]
    ) -> None:
        """Single-event anchors must be events of the database, by the same member."""
        for start in range(0, len(anchors), RPC_CHUNK):
            chunk = anchors[start : start + RPC_CHUNK]
            # An event and its error declaration share an event hash: either may be anchored.
            known: dict[str, list[Any]] = {}
            with self.engine.connect() as conn:
                for stored in conn.execute(
                    sa.select(
                        EVENT.c.id,
                        EVENT.c.event_hash,
                        EVENT.c.primary_id_key,
                        EVENT.c.organisation_id,
                    )
                    .where(EVENT.c.event_hash.in_([a.event_hash for a in chunk]))
                    .order_by(EVENT.c.id)
                ):
                    known.setdefault(stored.event_hash, []).append(stored)
            for anchor in chunk:
                evidence = {
                    "event_hash": anchor.event_hash,
                    "id_key": anchor.id_key,
                    "member_org_id": self.reader.org_id(anchor.member),
                    "tx_hash": anchor.tx_hash,
                    "block": anchor.block,
                }
                rows = known.get(anchor.event_hash, [])
                row = next(
                    (
                        r
                        for r in rows
                        if r.primary_id_key == anchor.id_key
                        and orgs.get(r.organisation_id) == evidence["member_org_id"]
                    ),
                    rows[0] if rows else None,
                )
                if row is None:
                    report.findings.append(
                        Finding(
                            FindingKind.ORPHAN_ANCHOR,
                            "an event is anchored on the chain but the database has no such event",
                            evidence,
                        )
                    )
                elif (
                    row.primary_id_key != anchor.id_key
                    or orgs.get(row.organisation_id) != evidence["member_org_id"]
                ):
                    report.findings.append(
                        Finding(
                            FindingKind.WRONG_RECORDER,
                            "an event anchored on its own names another identifier key or "
                            "member on the chain than in the database",
                            {
                                **evidence,
                                "event_pk": row.id,
                                "db_id_key": row.primary_id_key,
                                "db_org_id": orgs.get(row.organisation_id),
                            },
                        )
                    )

    def _recalls(self, report: AuditReport, recalls: Sequence[dict[str, Any]]) -> None:
        """List the chain's recalls with what the database knows of each identifier."""
        named = {r["id_key"]: r["identifier"] for r in recalls if r["identifier"]}
        with self.engine.connect() as conn:
            for recall in recalls:
                identifier = recall["identifier"] or named.get(recall["id_key"])
                if identifier is None:
                    identifier = conn.execute(
                        sa.select(EVENT_IDENTIFIER.c.canonical)
                        .where(EVENT_IDENTIFIER.c.id_key == recall["id_key"])
                        .limit(1)
                    ).scalar_one_or_none()
                condition = EVENT_IDENTIFIER.c.id_key == recall["id_key"]
                if identifier is not None:
                    condition = sa.or_(condition, EVENT_IDENTIFIER.c.class_canonical == identifier)
                mentions = sa.select(EVENT_IDENTIFIER.c.event_pk).where(condition).distinct()
                db_events = int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(mentions.subquery())
                    ).scalar_one()
                )
                owner = self._db_owner(conn, identifier)
                member = self.reader.org_id(recall["member"])
                entry = {
                    **{k: v for k, v in recall.items() if k != "member"},
                    "identifier": identifier,
                    "member_org_id": member,
                    "db_events": db_events,
                    "db_prefix_owner": owner,
                }
                report.recalls.append(entry)
                if owner != member:
                    did = "recalled" if recall["action"] == "recall" else "lifted the recall of"
                    report.findings.append(
                        Finding(
                            FindingKind.RECALL_BY_NON_OWNER,
                            f"member {member} {did} {identifier}, whose prefix the database "
                            f"gives to {owner}",
                            entry,
                        )
                    )

    @staticmethod
    def _db_owner(conn: Connection, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        try:
            candidates = list(prefix_candidates(parse(identifier)))
        except IdentifierError:
            return None
        row = conn.execute(
            sa.select(ORGANISATION.c.org_id)
            .join(PREFIX, PREFIX.c.organisation_id == ORGANISATION.c.id)
            .where(PREFIX.c.prefix.in_(candidates))
            .order_by(sa.func.length(PREFIX.c.prefix).desc())
            .limit(1)
        ).first()
        return None if row is None else str(row[0])
