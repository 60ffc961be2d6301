"""The anchor worker: from the outbox to Merkle roots on the chain, exactly once.

For each recording member with pending events, the worker takes a lease (unexpired claims on
the member's outbox rows; one worker per member at a time, so one worker per signing address
and its nonces), then runs the member's batches through three durable states:

``prepared``
    One write transaction builds the Merkle tree of up to ``max_events`` pending events (leaf =
    :func:`ledger.merkle.event_leaf` of the current leaf version: the event hash, the captured
    JSON exactly as stored and the signature, the identifier key and the signing address),
    inserts the batch row (with its leaf version) and gives every event its batch and proof.
    Nothing has touched the chain yet.
``sent``
    The ``anchorBatch(root, count)`` transaction is signed, its hash stored and committed, and
    only then broadcast.
``mined``
    After the receipt, one write transaction marks the batch mined (tx hash, block), the events
    anchored, and deletes their outbox rows.

A crash (``kill -9``) between any two lines leaves a batch in one of these states; the next
worker to hold the lease first asks the chain whether the root is anchored (``batchOf``) and,
if so, finds the transaction by its ``BatchAnchored`` log and completes the batch instead of
sending it again; a ``sent`` transaction that is still pending is waited for; one that is
neither mined nor pending after ``tx_stuck_s`` (the node lost it in a restart, its nonce went to
another transaction, or it sits queued behind a nonce gap) is signed again with the nonce the
chain expects now. Nonces are never remembered between sends
(:meth:`ledger.chain.ChainClient.nonce_for` asks the node each time), so a chain that went back
(blocks lost when the devnet was killed before its state dump) cannot leave the worker sending
into the node's queued pool. A stale transaction left queued there runs once the nonces below
it are used, and then either anchors its root (the batch adopts it) or reverts with
``AlreadyAnchored``, at zero gas price. The contract itself rejects a root anchored twice, so
even two workers racing cannot anchor an event twice.

``reconcile`` compares mined batches with the chain (at start, every ``RECONCILE_INTERVAL_S``,
after an outage, and at once when the block the worker last saw is gone or changed): a root
that is no longer anchored (the chain was reset, or lost blocks when the devnet was killed
before its state dump) is logged and its events queued again: under the same root while its
signing key may still anchor (the batch goes back to ``prepared``), else in a new batch (the
old one is marked ``orphaned``).

Only standard ``eth_*`` JSON-RPC is used, so the worker runs against anvil or Besu.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from sqlalchemy.engine import Connection, Engine
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import Wei

from ledger.chain import (
    ChainClient,
    ContractRevertError,
    InsufficientFundsError,
    TxState,
    event_topics,
)
from ledger.deployment import Deployment
from ledger.errors import ChainError, LedgerError
from ledger.identifiers.hashing import keccak256
from ledger.merkle import CURRENT_LEAF_VERSION, MerkleTree, event_leaf
from ledger.settings import Settings
from ledger.store.db import write_transaction
from ledger.store.tables import ANCHOR_BATCH, EVENT, ORGANISATION, OUTBOX, SIGNING_KEY
from wallets.errors import WalletError
from wallets.signer import Signer

log = logging.getLogger("tracechain.anchoring")

#: Environment variable naming a crash point at which the worker kills itself with SIGKILL
#: (used by the crash-safety tests: ``before_send``, ``after_send``, ``after_receipt``).
CRASH_ENV = "TRACECHAIN_ANCHOR_CRASH_AT"
#: Reverts that mean "this member may not anchor now": back off and retry later.
_NOT_ALLOWED = frozenset({"UnknownMember", "SuspendedMember", "RevokedSigner", "MissingMemberRole"})
#: How long to leave a member alone after the chain refused its anchors (seconds).
REFUSED_BACKOFF_S = 10.0
#: How long a round waits for a pending transaction's receipt before moving on (seconds).
RECEIPT_WAIT_S = 30.0
#: How often a round looks at a transaction it waits for (seconds).
TX_POLL_S = 0.05
#: How many consecutive looks, ``TX_POLL_S`` apart, must find a transaction neither mined nor
#: known to the node before it is taken for dropped and signed again.
DROPPED_LOOKS = 2
#: Mined batches checked per JSON-RPC batch request while reconciling.
RECONCILE_CHUNK = 200
#: How often the running worker reconciles mined batches with the chain (seconds).
RECONCILE_INTERVAL_S = 60.0


class SignerSource(Protocol):
    """Where the worker gets a member's signer (the keyring, or an HSM-backed source)."""

    def signer(self, org_id: str, address: str) -> Signer:
        """The signer of ``address`` of member ``org_id``."""
        ...


@dataclass(frozen=True, slots=True)
class AnchorConfig:
    """When batches close and how the worker paces itself."""

    max_events: int = 2_000
    max_wait_s: float = 0.5
    poll_interval_s: float = 0.05
    lease_s: float = 15.0
    #: Largest block range asked of eth_getLogs (None: ``settings.chain.logs_block_range``).
    logs_block_range: int | None = None
    #: A sent transaction neither mined nor pending (queued behind a nonce gap, dropped, its
    #: nonce taken) for this long is sent again with the nonce the chain expects (seconds).
    tx_stuck_s: float = 5.0
    #: How often the worker checks that the last block it saw is still on the chain (seconds).
    rewind_check_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AnchorConfig:
        """The configuration in ``settings``."""
        return cls(
            max_events=settings.anchoring.batch_max_events,
            max_wait_s=settings.anchoring.batch_max_wait_s,
            poll_interval_s=settings.anchoring.poll_interval_s,
            lease_s=settings.anchoring.lease_s,
            logs_block_range=settings.chain.logs_block_range,
        )


@dataclass(frozen=True, slots=True)
class BatchRow:
    """The columns of an ``anchor_batch`` row the worker needs."""

    id: int
    organisation_id: int
    org_id: str
    signer_address: str
    root: str
    event_count: int
    status: str
    tx_hash: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _crash_point(name: str) -> None:
    """Die here with SIGKILL when the crash tests ask for it."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("crash point %s reached: killing this process with SIGKILL", name)
        os.kill(os.getpid(), signal.SIGKILL)


class AnchorWorker:
    """Anchors pending events of every member whose key it holds."""

    def __init__(
        self,
        engine: Engine,
        chain: ChainClient,
        deployment: Deployment,
        signers: SignerSource,
        config: AnchorConfig | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.deployment = deployment
        self.signers = signers
        self.config = config or AnchorConfig()
        self.worker_id = worker_id or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.anchor: Contract = chain.contract("TraceAnchor", deployment.anchor_address)
        self._batch_of = chain.view(self.anchor, "batchOf")
        self._refused_until: dict[int, float] = {}
        self._chain_was_down = False
        #: (number, hash) of the newest block seen, to notice a chain that went back.
        self._marker: tuple[int, str] | None = None
        #: Set when anchoring itself noticed that the chain went back (see _follow).
        self._rewound = False
        self._postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        """Anchor until ``stop`` is set; survive chain outages and database hiccups."""
        log.info("anchor worker %s started", self.worker_id)
        last_reconcile = -RECONCILE_INTERVAL_S
        last_check = 0.0
        while not stop.is_set():
            try:
                now = time.monotonic()
                rewound = False
                if now - last_check >= self.config.rewind_check_s or self._rewound:
                    rewound = self.chain_went_back() or self._rewound
                    self._rewound = False
                    last_check = now
                if now - last_reconcile > RECONCILE_INTERVAL_S or self._chain_was_down or rewound:
                    self.reconcile()
                    last_reconcile = time.monotonic()
                    self._chain_was_down = False
                anchored = self.run_once()
            except ChainError as exc:
                if not self._chain_was_down:
                    log.warning("chain unreachable, events stay queued: %s", exc.reason)
                self._chain_was_down = True
                stop.wait(1.0)
                continue
            except (LedgerError, WalletError, sa.exc.SQLAlchemyError) as exc:
                log.exception("anchor round failed: %s", exc)
                stop.wait(1.0)
                continue
            except Exception:  # the loop must outlive any bug or surprise of a dependency
                log.exception("anchor round failed unexpectedly; retrying")
                self._chain_was_down = True  # reconcile before anything else
                stop.wait(1.0)
                continue
            if anchored == 0:
                stop.wait(self.config.poll_interval_s)
        log.info("anchor worker %s stopped", self.worker_id)

    def chain_went_back(self) -> bool:
        """Whether the block last seen is gone or another now (the chain lost blocks or was
        reset since); moves the marker to the head."""
        went_back = False
        if self._marker is not None:
            number, seen = self._marker
            now = self.chain.block_hash(number)
            if now != seen:
                log.warning(
                    "block %d is %s now (was %s): the chain went back; reconciling",
                    number,
                    now or "gone",
                    seen,
                )
                went_back = True
        head = self.chain.block_number()
        head_hash = self.chain.block_hash(head)
        self._marker = None if head_hash is None else (head, head_hash)
        return went_back

    def run_once(self, *, force: bool = False) -> int:
        """One round: finish in-flight batches, then close and anchor due ones.

        ``force`` closes batches whatever their size and age. Returns how many events were
        anchored in this round.
        """
        anchored = 0
        for organisation_id in self._members_with_work(force=force):
            if self._refused_until.get(organisation_id, 0.0) > time.monotonic():
                continue
            anchored += self._anchor_member(organisation_id, force=force)
        return anchored

    def drain(self, *, timeout: float = 60.0) -> int:
        """Anchor everything pending now (closing partial batches); for tools and tests."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            total += self.run_once(force=True)
            if self.pending_count() == 0:
                return total
            time.sleep(self.config.poll_interval_s)
        raise LedgerError(f"events still pending after {timeout:.0f} s")

    def pending_count(self) -> int:
        """How many events wait in the outbox (those of refused members included)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar_one())

    # ------------------------------------------------------------------ one member

    def _members_with_work(self, *, force: bool) -> list[int]:
        """Members with an in-flight batch, or with a batch due to close."""
        now = _now()
        with self.engine.connect() as conn:
            inflight = conn.execute(
                sa.select(ANCHOR_BATCH.c.organisation_id)
                .where(ANCHOR_BATCH.c.status.in_(("prepared", "sent")))
                .distinct()
            ).scalars()
            due = conn.execute(
                sa.select(
                    OUTBOX.c.organisation_id,
                    sa.func.count().label("n"),
                    sa.func.min(OUTBOX.c.created_at).label("oldest"),
                )
                .join(EVENT, EVENT.c.id == OUTBOX.c.event_pk)
                .where(EVENT.c.batch_id.is_(None))
                .group_by(OUTBOX.c.organisation_id)
            ).all()
            members = set(inflight)
        cutoff = now - timedelta(seconds=self.config.max_wait_s)
        for organisation_id, count, oldest in due:
            if force or count >= self.config.max_events or oldest <= cutoff:
                members.add(organisation_id)
        return sorted(members)

    def _anchor_member(self, organisation_id: int, *, force: bool) -> int:
        anchored = 0
        for batch in self._inflight(organisation_id):
            anchored += self._advance(batch)
        while True:
            prepared = self._prepare(organisation_id, force=force)
            if prepared is None:
                return anchored
            done = self._advance(prepared)
            anchored += done
            if done == 0:
                return anchored

    def _inflight(self, organisation_id: int) -> list[BatchRow]:
        """Prepared or sent batches of a member, if this worker may take them over."""
        with write_transaction(self.engine) as conn:
            if not self._lease(conn, organisation_id):
                return []
            rows = conn.execute(
                self._batch_select().where(
                    ANCHOR_BATCH.c.organisation_id == organisation_id,
                    ANCHOR_BATCH.c.status.in_(("prepared", "sent")),
                )
            ).all()
            batches = [BatchRow(*row) for row in rows]
            for batch in batches:
                self._claim_batch(conn, batch.id)
        return batches

    def _lease(self, conn: Connection, organisation_id: int) -> bool:
        """Whether this worker may act for the member now (no other worker's live claim)."""
        if self._postgres:
            conn.execute(
                sa.select(ORGANISATION.c.id)
                .where(ORGANISATION.c.id == organisation_id)
                .with_for_update()
            )
        other = conn.execute(
            sa.select(OUTBOX.c.id)
            .where(
                OUTBOX.c.organisation_id == organisation_id,
                OUTBOX.c.claimed_by.is_not(None),
                OUTBOX.c.claimed_by != self.worker_id,
                OUTBOX.c.claimed_until > _now(),
            )
            .limit(1)
        ).first()
        return other is None

    def _claim_batch(self, conn: Connection, batch_id: int) -> None:
        conn.execute(
            OUTBOX.update()
            .where(OUTBOX.c.event_pk.in_(sa.select(EVENT.c.id).where(EVENT.c.batch_id == batch_id)))
            .values(claimed_by=self.worker_id, claimed_until=self._lease_end())
        )

    def _lease_end(self) -> datetime:
        return _now() + timedelta(seconds=self.config.lease_s)

    def _prepare(self, organisation_id: int, *, force: bool) -> BatchRow | None:
        """Close the member's next batch (durably, before anything goes to the chain)."""
        with write_transaction(self.engine) as conn:
            if not self._lease(conn, organisation_id):
                return None
            rows = conn.execute(
                sa.select(
                    EVENT.c.id,
                    EVENT.c.event_hash,
                    EVENT.c.primary_id_key,
                    EVENT.c.captured_json,
                    EVENT.c.signature,
                    OUTBOX.c.created_at,
                )
                .join(OUTBOX, OUTBOX.c.event_pk == EVENT.c.id)
                .where(OUTBOX.c.organisation_id == organisation_id, EVENT.c.batch_id.is_(None))
                .order_by(OUTBOX.c.id)
                .limit(self.config.max_events)
            ).all()
            if not rows:
                return None
            oldest = min(row.created_at for row in rows)
            age = (_now() - oldest).total_seconds()
            if not force and len(rows) < self.config.max_events and age < self.config.max_wait_s:
                return None
            member = conn.execute(
                sa.select(ORGANISATION.c.org_id).where(ORGANISATION.c.id == organisation_id)
            ).scalar_one()
            signer_address = conn.execute(
                sa.select(SIGNING_KEY.c.address)
                .where(
                    SIGNING_KEY.c.organisation_id == organisation_id, SIGNING_KEY.c.active.is_(True)
                )
                # Keys this server holds first: a non-custodial member's own key signs events.
                .order_by(
                    SIGNING_KEY.c.keystore_path.is_(None),
                    SIGNING_KEY.c.added_at.desc(),
                    SIGNING_KEY.c.id.desc(),
                )
                .limit(1)
            ).scalar_one_or_none()
            if signer_address is None:
                self._refuse(organisation_id, f"member {member} has no active signing key")
                return None
            leaves = [
                event_leaf(
                    CURRENT_LEAF_VERSION,
                    HexBytes(row.event_hash),
                    HexBytes(row.primary_id_key),
                    signer_address,
                    row.captured_json,
                    row.signature,
                )
                for row in rows
            ]
            tree = MerkleTree.build(leaves)
            root = "0x" + tree.root.hex()
            batch_id = conn.execute(
                ANCHOR_BATCH.insert()
                .values(
                    organisation_id=organisation_id,
                    signer_address=signer_address,
                    root=root,
                    event_count=len(rows),
                    status="prepared",
                    chain_id=self.chain.chain_id,
                    leaf_version=CURRENT_LEAF_VERSION,
                    created_at=_now(),
                )
                .returning(ANCHOR_BATCH.c.id)
            ).scalar_one()
            conn.execute(
                EVENT.update()
                .where(EVENT.c.id == sa.bindparam("pk"), EVENT.c.batch_id.is_(None))
                .values(
                    batch_id=sa.bindparam("b"),
                    proof=sa.bindparam("p"),
                    recorder_address=sa.bindparam("a"),
                ),
                [
                    {
                        "pk": row.id,
                        "b": batch_id,
                        "p": ["0x" + h.hex() for h in tree.proof(leaf)],
                        "a": signer_address,
                    }
                    for row, leaf in zip(rows, leaves, strict=True)
                ],
            )
            self._claim_batch(conn, batch_id)
        log.info("prepared batch %s of %d events, root %s", batch_id, len(rows), root)
        return BatchRow(
            batch_id, organisation_id, member, signer_address, root, len(rows), "prepared", None
        )

    # ------------------------------------------------------------------ chain

    def _advance(self, batch: BatchRow) -> int:
        """Bring one batch as far as it goes now; return its event count once mined."""
        root = HexBytes(batch.root)
        on_chain_org, block, _count = self.chain.call(self.anchor.functions.batchOf(root))
        if on_chain_org != b"\0" * 32:
            return self._adopt(batch, int(block))
        if batch.status == "sent" and batch.tx_hash:
            state, receipt = self._await(batch.tx_hash)
            if receipt is not None:
                if receipt["status"] == 1:
                    return self._confirm(batch, receipt)
                log.warning(
                    "batch %s: transaction %s reverted; will retry", batch.id, batch.tx_hash
                )
            elif state is TxState.PENDING:
                return 0  # the node will mine it; look again next round
            else:
                log.warning(
                    "batch %s: transaction %s is %s, neither mined nor pending; sending it "
                    "again with the nonce the chain expects",
                    batch.id,
                    batch.tx_hash,
                    state,
                )
        return self._send(batch)

    def _send(self, batch: BatchRow) -> int:
        try:
            signer = self.signers.signer(batch.org_id, batch.signer_address)
        except WalletError as exc:
            self._refuse(batch.organisation_id, f"no key for {batch.signer_address}: {exc}")
            return 0
        call = self.anchor.functions.anchorBatch(HexBytes(batch.root), batch.event_count)
        address: ChecksumAddress = signer.address
        gas_price = self.chain.gas_price()
        try:
            # On a chain that charges gas, an unfunded signer is refused by name before the
            # node's estimate (which would only say "gas required exceeds allowance").
            self.chain.require_funds(address, gas_price=gas_price)
            tx: dict[str, Any] = dict(
                call.build_transaction(
                    {"from": address, "chainId": self.chain.chain_id, "gasPrice": Wei(gas_price)}
                )
            )
            self.chain.require_funds(address, gas=int(tx["gas"]), gas_price=gas_price)
        except InsufficientFundsError as exc:
            self._refuse(batch.organisation_id, str(exc))
            return 0
        except OSError as exc:  # the node went away while the transaction was being built
            raise ChainError(f"cannot build the anchor transaction: {exc}") from None
        except (ValueError, Web3Exception) as exc:
            revert = self.chain.revert_of(self.anchor.abi, exc)
            if revert is None:
                raise ChainError(f"cannot build the anchor transaction: {exc}") from None
            return self._refused_send(batch, revert)
        with self.chain.nonce_for(address) as nonce:
            tx["nonce"] = nonce
            raw = signer.sign_transaction(tx)
            tx_hash = "0x" + keccak256(raw).hex()
            _crash_point("before_send")
            with write_transaction(self.engine) as conn:
                conn.execute(
                    ANCHOR_BATCH.update()
                    .where(ANCHOR_BATCH.c.id == batch.id)
                    .values(status="sent", tx_hash=tx_hash, sent_at=_now())
                )
            try:
                self.chain.broadcast(raw)
            except InsufficientFundsError as exc:  # spent meanwhile: the tx is never mined
                self._refuse(batch.organisation_id, str(exc))
                return 0
            except ChainError as exc:
                if not self.chain.reachable():
                    raise
                # Refused (say, a nonce the node no longer expects): the next round finds the
                # transaction dropped and signs it again with the nonce the chain gives then.
                log.warning("batch %s: sending failed (%s); will look again", batch.id, exc)
                return 0
        _crash_point("after_send")
        state, receipt = self._await(tx_hash)
        if receipt is None:
            log.info("batch %s: transaction %s is %s; will look again", batch.id, tx_hash, state)
            return 0
        if receipt["status"] != 1:
            log.warning("batch %s: transaction %s reverted; will retry", batch.id, tx_hash)
            return 0
        return self._confirm(replace(batch, status="sent", tx_hash=tx_hash), receipt)

    def _refused_send(self, batch: BatchRow, exc: ContractRevertError) -> int:
        if exc.name == "AlreadyAnchored":  # mined meanwhile (by us before a crash)
            on_chain_org, block, _count = self.chain.call(
                self.anchor.functions.batchOf(HexBytes(batch.root))
            )
            if on_chain_org == b"\0" * 32:
                raise ChainError(f"the node says {batch.root} is anchored but has no record of it")
            return self._adopt(batch, int(block))
        if exc.name in _NOT_ALLOWED:
            self._refuse(batch.organisation_id, f"the chain refuses {batch.signer_address}: {exc}")
            return 0
        raise exc

    def _refuse(self, organisation_id: int, why: str) -> None:
        log.warning(
            "not anchoring for member %s for %.0f s: %s", organisation_id, REFUSED_BACKOFF_S, why
        )
        self._refused_until[organisation_id] = time.monotonic() + REFUSED_BACKOFF_S

    def _await(self, tx_hash: str) -> tuple[TxState, Any | None]:
        """Wait for ``tx_hash`` to be mined: its state and receipt (None unless mined).

        Returns at once when the node does not know it or its nonce went to another
        transaction; gives up on a queued one after ``tx_stuck_s`` and on a pending one after
        ``RECEIPT_WAIT_S``.
        """
        start = time.monotonic()
        unknown = 0
        while True:
            receipt = self.chain.receipt(tx_hash)
            if receipt is not None:
                return TxState.MINED, receipt
            state = self.chain.tx_state(tx_hash)
            if state is TxState.MINED:
                continue  # mined between the two questions
            waited = time.monotonic() - start
            if state is TxState.DROPPED:
                # Believed on the second look only: while the node builds a block, the
                # transaction has left its pool and is not yet in a stored block, so it reads
                # as unknown for that moment (seen in a fresh-clone run: a round that anchored
                # nothing though its transaction was being mined).
                unknown += 1
                if unknown >= DROPPED_LOOKS:
                    return state, None
                time.sleep(TX_POLL_S)
                continue
            unknown = 0
            if state is TxState.QUEUED and waited >= self.config.tx_stuck_s:
                return state, None
            if waited >= RECEIPT_WAIT_S:
                return state, None
            time.sleep(TX_POLL_S)

    def _adopt(self, batch: BatchRow, block: int) -> int:
        """The root is on chain already (sent before a crash): find its transaction."""
        root = HexBytes(batch.root)
        topic = {name: t for t, name in event_topics(self.anchor.abi).items()}["BatchAnchored"]
        entry = next(
            self.chain.logs(
                self.anchor.address,
                [topic, root],
                block,
                block,
                block_range=self.config.logs_block_range,
            ),
            None,
        )
        if entry is None:
            raise ChainError(f"root {batch.root} is anchored in block {block} but has no log there")
        receipt = self.chain.receipt(entry["transactionHash"])
        if receipt is None:
            raise ChainError(f"the node has no receipt for the transaction anchoring {batch.root}")
        log.info("batch %s was already anchored in block %d; adopting it", batch.id, block)
        return self._confirm(batch, receipt)

    def _confirm(self, batch: BatchRow, receipt: Any) -> int:
        # Mined, not yet recorded: every path to "mined" passes here (the receipt awaited
        # after sending, one found in a later round, a root adopted from the chain).
        _crash_point("after_receipt")
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        with write_transaction(self.engine) as conn:
            conn.execute(
                ANCHOR_BATCH.update()
                .where(ANCHOR_BATCH.c.id == batch.id)
                .values(
                    status="mined",
                    tx_hash=tx_hash,
                    block_number=int(receipt["blockNumber"]),
                    mined_at=_now(),
                )
            )
            conn.execute(
                EVENT.update().where(EVENT.c.batch_id == batch.id).values(anchor_status="anchored")
            )
            conn.execute(
                OUTBOX.delete().where(
                    OUTBOX.c.event_pk.in_(sa.select(EVENT.c.id).where(EVENT.c.batch_id == batch.id))
                )
            )
        self._follow(int(receipt["blockNumber"]), HexBytes(receipt["blockHash"]).to_0x_hex())
        log.info(
            "anchored batch %s (%d events) in block %s, tx %s",
            batch.id,
            batch.event_count,
            receipt["blockNumber"],
            tx_hash,
        )
        return batch.event_count

    def _follow(self, number: int, block_hash: str) -> None:
        """Move the marker to a block this worker relies on (one it anchored in), so that
        losing that block is noticed at the next check even when the head it polled before
        survived the loss unchanged. The marked block is checked first: a new anchor may land
        in a block that replaced the marked one (same number, another hash)."""
        if self._marker is not None:
            try:
                if self.chain.block_hash(self._marker[0]) != self._marker[1]:
                    self._rewound = True
            except ChainError:
                self._rewound = True
        if self._marker is None or number >= self._marker[0] or self._rewound:
            self._marker = (number, block_hash)

    def _batch_select(self) -> sa.Select[Any]:
        return sa.select(
            ANCHOR_BATCH.c.id,
            ANCHOR_BATCH.c.organisation_id,
            ORGANISATION.c.org_id,
            ANCHOR_BATCH.c.signer_address,
            ANCHOR_BATCH.c.root,
            ANCHOR_BATCH.c.event_count,
            ANCHOR_BATCH.c.status,
            ANCHOR_BATCH.c.tx_hash,
        ).join(ORGANISATION, ORGANISATION.c.id == ANCHOR_BATCH.c.organisation_id)

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self) -> list[int]:
        """Queue again the events of mined batches whose root is no longer on chain.

        Returns the ids of the batches found orphaned.
        """
        chain_id = self.chain.chain_id
        orphaned: list[int] = []
        last_id = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(
                        ANCHOR_BATCH.c.id,
                        ANCHOR_BATCH.c.root,
                        ANCHOR_BATCH.c.event_count,
                        ANCHOR_BATCH.c.block_number,
                    )
                    .where(
                        ANCHOR_BATCH.c.status == "mined",
                        ANCHOR_BATCH.c.chain_id == chain_id,
                        ANCHOR_BATCH.c.id > last_id,
                    )
                    .order_by(ANCHOR_BATCH.c.id)
                    .limit(RECONCILE_CHUNK)
                ).all()
            if not rows:
                return orphaned
            last_id = rows[-1].id
            states = self._batch_states([HexBytes(row.root) for row in rows])
            for row, (org, _block, _count) in zip(rows, states, strict=True):
                if org == b"\0" * 32:
                    self._orphan(row.id, row.root, row.event_count, row.block_number)
                    orphaned.append(row.id)

    def _batch_states(self, roots: Sequence[bytes]) -> list[tuple[bytes, int, int]]:
        results = self.chain.calls(self._batch_of, [(root,) for root in roots])
        return [(bytes(r[0]), int(r[1]), int(r[2])) for r in results]

    def _orphan(self, batch_id: int, root: str, count: int, block: int | None) -> None:
        """Queue a lost batch again: the same root when its key may still anchor, else anew."""
        now = _now()
        with write_transaction(self.engine) as conn:
            batch = conn.execute(
                sa.select(ANCHOR_BATCH.c.organisation_id, ANCHOR_BATCH.c.signer_address).where(
                    ANCHOR_BATCH.c.id == batch_id
                )
            ).one()
            key_active = conn.execute(
                sa.select(SIGNING_KEY.c.active).where(SIGNING_KEY.c.address == batch.signer_address)
            ).scalar_one_or_none()
            reuse = bool(key_active)
            log.warning(
                "batch %s (root %s, %d events, block %s) is no longer on the chain: the chain "
                "was reset or lost blocks; re-anchoring its events %s",
                batch_id,
                root,
                count,
                block,
                "under the same root" if reuse else "in a new batch (its key was revoked)",
            )
            conn.execute(
                OUTBOX.insert().from_select(
                    ["event_pk", "organisation_id", "created_at"],
                    sa.select(
                        EVENT.c.id,
                        EVENT.c.organisation_id,
                        sa.literal(now, OUTBOX.c.created_at.type),
                    ).where(EVENT.c.batch_id == batch_id),
                )
            )
            if reuse:
                conn.execute(
                    ANCHOR_BATCH.update()
                    .where(ANCHOR_BATCH.c.id == batch_id)
                    .values(
                        status="prepared",
                        tx_hash=None,
                        block_number=None,
                        sent_at=None,
                        mined_at=None,
                    )
                )
                conn.execute(
                    EVENT.update()
                    .where(EVENT.c.batch_id == batch_id)
                    .values(anchor_status="pending")
                )
                return
            conn.execute(
                ANCHOR_BATCH.update().where(ANCHOR_BATCH.c.id == batch_id).values(status="orphaned")
            )
            conn.execute(
                EVENT.update()
                .where(EVENT.c.batch_id == batch_id)
                .values(batch_id=None, proof=None, recorder_address=None, anchor_status="pending")
            )


def start_in_thread(worker: AnchorWorker) -> tuple[threading.Thread, threading.Event]:
    """Run ``worker`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="anchor-worker", daemon=True)
    thread.start()
    return thread, stop
