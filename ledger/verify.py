"""Verification: is a stored event exactly what its recorder anchored on the chain?

For one event (:func:`verify_event`):

1. recompute the CBV 2.0 hash from the captured JSON and compare it with the recorded hash;
2. recompute the identifier key of the event's first identifier;
3. rebuild the Merkle leaf (event hash, identifier key, signing address) and follow the proof to
   the batch root;
4. ask the chain who anchored that root and in which block (``batchOf``): it must be the
   recording member (the contract only accepts roots from an active RECORDER's address, so this
   proves the address was one at that block) and the transaction must come from the recorded
   signing address;
5. check an EIP-712 signature, if the member signed the event itself, against the chain's
   signer registry.

The result is ``verified``, ``pending`` (not anchored yet), ``tampered`` (with the check that
failed and why) or ``unknown`` (the chain could not be asked). For one identifier
(:func:`verify_identifier`) the trail is every event mentioning it (or its lot), in time order,
each verified, with the on-chain recall status and an overall verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import ChainError, InvalidInputError, LedgerError
from ledger.events import parse_document
from ledger.identifiers import parse
from ledger.merkle import MerkleError, leaf_hash, process_proof
from ledger.signing import event_keys
from ledger.store.indexing import event_hash_of
from ledger.store.models import AnchorBatch, Event, EventIdentifier, Organisation, metadata
from wallets.eip712 import SignatureError, recover_event_signer

Status = Literal["verified", "pending", "tampered", "unknown"]
Verdict = Literal["verified", "pending", "tampered", "recalled", "unknown"]

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_org = metadata.tables[Organisation.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]
_ZERO = b"\0" * 32


@dataclass(frozen=True, slots=True)
class EventVerification:
    """The verification of one stored event."""

    event_pk: int
    hash_id: str
    status: Status
    reasons: tuple[str, ...] = ()
    recorder_org_id: str | None = None
    recorder_name: str | None = None
    recorder_address: str | None = None
    root: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    signed: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "event_pk": self.event_pk,
            "hash_id": self.hash_id,
            "status": self.status,
            "reasons": list(self.reasons),
            "recorder": {
                "org_id": self.recorder_org_id,
                "name": self.recorder_name,
                "address": self.recorder_address,
            },
            "anchor": {
                "root": self.root,
                "tx_hash": self.tx_hash,
                "block_number": self.block_number,
            },
            "signed": self.signed,
        }


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One event of a trail: what it says and how it verifies."""

    event_type: str
    event_time: datetime
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    captured: dict[str, Any]
    verification: EventVerification


@dataclass(frozen=True, slots=True)
class TrailVerification:
    """An identifier's whole trail and the verdict on it."""

    identifier: str
    verdict: Verdict
    events: tuple[TrailEntry, ...]
    recall: dict[str, Any] | None = None
    reasons: tuple[str, ...] = field(default=())


def _verification_select(*extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """What verifying an event reads: the event, its recorder and its batch (plus ``extra``)."""
    return (
        sa.select(
            _event.c.id,
            _event.c.hash_id,
            _event.c.event_hash,
            _event.c.captured_json,
            _event.c.primary_id_key,
            _event.c.recorder_address,
            _event.c.signature,
            _event.c.proof,
            _event.c.anchor_status,
            *extra,
            _org.c.org_id,
            _org.c.name,
            _batch.c.root,
            _batch.c.tx_hash,
            _batch.c.block_number,
            _batch.c.status.label("batch_status"),
        )
        .join(_org, _org.c.id == _event.c.organisation_id)
        .outerjoin(_batch, _batch.c.id == _event.c.batch_id)
    )


class Verifier:
    """Verifies stored events against the chain (reads only)."""

    def __init__(self, engine: Engine, chain: ChainClient, deployment: Deployment) -> None:
        self.engine = engine
        self.chain = chain
        self.deployment = deployment
        self.anchor: Contract = chain.contract("TraceAnchor", deployment.anchor_address)

    # ------------------------------------------------------------------ one event

    def verify_event(self, event_pk: int) -> EventVerification:
        """Verify the stored event ``event_pk``."""
        with self.engine.connect() as conn:
            row = conn.execute(_verification_select().where(_event.c.id == event_pk)).first()
        if row is None:
            raise InvalidInputError(f"no stored event {event_pk}", field="event")
        return self._verify_row(row)

    def _verify_row(self, row: Any) -> EventVerification:
        base: dict[str, Any] = {
            "event_pk": row.id,
            "hash_id": row.hash_id,
            "recorder_org_id": row.org_id,
            "recorder_name": row.name,
            "recorder_address": row.recorder_address,
            "root": row.root,
            "tx_hash": row.tx_hash,
            "block_number": row.block_number,
            "signed": row.signature is not None,
        }
        # 1-2. The stored event against its recorded hash and identifier key.
        problems = list(self._content_problems(row))
        if problems:
            return EventVerification(status="tampered", reasons=tuple(problems), **base)
        if row.anchor_status != "anchored" or row.batch_status != "mined":
            return EventVerification(status="pending", reasons=("not anchored yet",), **base)
        # 3. The proof from the leaf to the root.
        try:
            leaf = leaf_hash(
                HexBytes(row.event_hash), HexBytes(row.primary_id_key), row.recorder_address
            )
            reached = process_proof(leaf, [HexBytes(p) for p in row.proof or []])
        except (MerkleError, ValueError, TypeError) as exc:
            return EventVerification(
                status="tampered", reasons=(f"malformed proof: {exc}",), **base
            )
        if "0x" + reached.hex() != row.root:
            return EventVerification(
                status="tampered",
                reasons=("the Merkle proof does not lead from the event to its batch root",),
                **base,
            )
        # 4-5. The chain.
        try:
            problems = self._chain_problems(row)
        except (ChainError, OSError) as exc:
            return EventVerification(
                status="unknown", reasons=(f"chain unreachable: {exc}",), **base
            )
        if problems:
            return EventVerification(status="tampered", reasons=tuple(problems), **base)
        return EventVerification(status="verified", **base)

    def _content_problems(self, row: Any) -> list[str]:
        try:
            (captured,) = parse_document(row.captured_json.encode(), "application/json")
        except (LedgerError, ValueError) as exc:
            return [f"the captured event no longer parses as an EPCIS event: {exc}"]
        if captured.hash_id != row.hash_id:
            return [
                f"the captured event hashes to {captured.hash_id}, but {row.hash_id} was recorded"
            ]
        if event_hash_of(row.hash_id) != row.event_hash:
            return ["the recorded event hash does not match the hash ID"]
        if "0x" + event_keys(captured)[1].hex() != row.primary_id_key:
            return ["the identifier key does not match the event's first identifier"]
        return []

    def _chain_problems(self, row: Any) -> list[str]:
        problems: list[str] = []
        org, block, _count = self.chain.call(self.anchor.functions.batchOf(HexBytes(row.root)))
        if bytes(org) == _ZERO:
            return [f"the batch root {row.root} is not anchored on the chain"]
        if "0x" + bytes(org).hex() != row.org_id:
            problems.append(
                f"the root was anchored by member 0x{bytes(org).hex()}, "
                f"not by the recorder {row.org_id}"
            )
        if int(block) != row.block_number:
            problems.append(
                f"the root is in block {block}, but block {row.block_number} was recorded"
            )
        try:
            tx = self.chain.w3.eth.get_transaction(HexBytes(row.tx_hash))
        except Exception:
            problems.append(f"the anchoring transaction {row.tx_hash} is not on the chain")
        else:
            if tx["from"] != row.recorder_address:
                problems.append(
                    f"the root was sent by {tx['from']}, "
                    f"not by the recorded address {row.recorder_address}"
                )
        if row.signature is not None:
            problems.extend(self._signature_problems(row))
        return problems

    def _signature_problems(self, row: Any) -> list[str]:
        try:
            signer = recover_event_signer(
                HexBytes(row.signature),
                self.chain.chain_id,
                self.deployment.anchor_address,
                HexBytes(row.event_hash),
                HexBytes(row.primary_id_key),
            )
        except (SignatureError, ValueError) as exc:
            return [f"the event signature is malformed: {exc}"]
        org, _roles, _active, _since = self.chain.call(self.anchor.functions.signerInfo(signer))
        if "0x" + bytes(org).hex() != row.org_id:
            return [f"the event was signed by {signer}, which is no key of the recorder"]
        return []

    # ------------------------------------------------------------------ one identifier

    def verify_identifier(self, text: str) -> TrailVerification:
        """The trail of an identifier (events mentioning it or its lot) with verdict and recall."""
        ident = parse(text)
        canonical = ident.canonical
        with self.engine.connect() as conn:
            pks = (
                sa.select(_ident.c.event_pk)
                .where(
                    sa.or_(
                        _ident.c.canonical == canonical,
                        _ident.c.class_canonical == canonical,
                    )
                )
                .distinct()
            )
            rows = conn.execute(
                _verification_select(
                    _event.c.event_type,
                    _event.c.event_time,
                    _event.c.biz_step,
                    _event.c.disposition,
                    _event.c.read_point,
                    _event.c.biz_location,
                )
                .where(_event.c.id.in_(pks))
                .order_by(_event.c.event_time, _event.c.id)
            ).all()
        entries = tuple(
            TrailEntry(
                event_type=row.event_type,
                event_time=row.event_time,
                biz_step=row.biz_step,
                disposition=row.disposition,
                read_point=row.read_point,
                biz_location=row.biz_location,
                captured=_loads(row.captured_json),
                verification=self._verify_row(row),
            )
            for row in rows
        )
        recall: dict[str, Any] | None = None
        reasons: list[str] = []
        try:
            recall = self._recall(ident.id_key, _classes(text))
        except (ChainError, OSError) as exc:
            reasons.append(f"recall status unknown: {exc}")
        return TrailVerification(
            identifier=canonical,
            verdict=_verdict(entries, recall, unknown_recall=bool(reasons)),
            events=entries,
            recall=recall,
            reasons=tuple(reasons),
        )

    def _recall(self, id_key: bytes, classes: Sequence[tuple[str, bytes]]) -> dict[str, Any] | None:
        for canonical, key in [("", id_key), *classes]:
            active, org, since, why = self.chain.call(self.anchor.functions.recallOf(key))
            if active:
                return {
                    "identifier": canonical or None,
                    "org_id": "0x" + bytes(org).hex(),
                    "block": int(since),
                    "reason_hash": "0x" + bytes(why).hex(),
                }
        return None


def _classes(text: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    cls = parse(text).class_identifier()
    while cls is not None and all(cls.canonical != c for c, _ in out):
        out.append((cls.canonical, cls.id_key))
        cls = cls.class_identifier()
    return out


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _verdict(
    entries: Sequence[TrailEntry], recall: dict[str, Any] | None, *, unknown_recall: bool
) -> Verdict:
    statuses = {entry.verification.status for entry in entries}
    if recall is not None:
        return "recalled"
    if "tampered" in statuses:
        return "tampered"
    if not entries or "unknown" in statuses or unknown_recall:
        return "unknown"
    if "pending" in statuses:
        return "pending"
    return "verified"
