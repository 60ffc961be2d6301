"""Verification: is a stored event exactly what its recorder anchored on the chain?

For one event (:func:`verify_event`):

1. recompute the CBV 2.0 hash from the captured JSON and compare it with the recorded hash;
2. recompute the identifier key of the event's first identifier, every other column capture
   derives from the captured JSON (``event_id``, ``event_time``, ``biz_step``...) and the
   event's identifier index rows (:mod:`ledger.store.integrity`), and check the record time and
   member against the capture job and the anchoring state against the batch;
3. rebuild the Merkle leaf (:func:`ledger.merkle.event_leaf`: for the batch's leaf version, the
   event hash, the captured JSON exactly as stored and the signature, the identifier key and
   the signing address) and follow the proof to the batch root;
4. ask the chain who anchored that root, in which block and with how many events
   (``batchOf``): it must be the recording member (the contract only accepts roots from an
   active RECORDER's address, so this proves the address was one at that block); the recorded
   transaction must be an ``anchorBatch`` of that root to TraceAnchor, in that block, from the
   recorded signing address;
5. check an EIP-712 signature, if the member signed the event itself, against the chain's
   signer registry.

An event of a batch anchored before leaves covered the stored record (leaf version 1) verifies
with ``coverage == "event_hash"``: its members outside the CBV 2.0 hash (``eventID``,
``recordTime``, ``errorDeclaration``, ``@context``, ``rdfs:comment``) and its signature are not
covered by the anchor, and its reasons say so.

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
from ledger.merkle import Coverage, MerkleError, coverage, leaf_hash, leaf_word, process_proof
from ledger.signing import event_keys
from ledger.store.indexing import event_hash_of
from ledger.store.integrity import (
    DERIVED_COLUMNS,
    IndexRow,
    anchor_state_problems,
    capture_problems,
    derived_problems,
)
from ledger.store.models import (
    AnchorBatch,
    Capture,
    Event,
    EventIdentifier,
    Organisation,
    metadata,
)
from wallets.eip712 import SignatureError, recover_event_signer

Status = Literal["verified", "pending", "tampered", "unknown"]
Verdict = Literal["verified", "pending", "tampered", "recalled", "unknown"]

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_org = metadata.tables[Organisation.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]
_capture = metadata.tables[Capture.__tablename__]
#: Event pks per ``IN (...)`` list.
_CHUNK = 500
_ZERO = b"\0" * 32
#: The reason every event of a version-1 batch carries, verified or not.
LEGACY_COVERAGE = (
    "anchored before records were covered (leaf version 1): the anchor covers the CBV 2.0 "
    "event hash only, not eventID, recordTime, errorDeclaration, @context, rdfs:comment or "
    "the signature"
)


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
    #: What the anchor covers: the whole stored record, or (leaf version 1) the event hash.
    coverage: Coverage | None = None
    #: The leaf's first word (0x-hex): ``TraceAnchor.verifyEvent(root, proof, leaf_word,
    #: id_key, recorder)`` checks the event on chain with no code of ours.
    leaf_word: str | None = None

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
                "coverage": self.coverage,
                "leaf_word": self.leaf_word,
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
    """What verifying an event reads: the event, its recorder, its capture job and its batch
    (plus ``extra``)."""
    derived = [_event.c[name] for name in DERIVED_COLUMNS if name not in ("event_hash", "hash_id")]
    return (
        sa.select(
            _event.c.id,
            _event.c.hash_id,
            _event.c.event_hash,
            *derived,
            _event.c.captured_json,
            _event.c.organisation_id,
            _event.c.record_time,
            _event.c.recorder_address,
            _event.c.signature,
            _event.c.proof,
            _event.c.anchor_status,
            _event.c.batch_id,
            *extra,
            _org.c.org_id,
            _org.c.name,
            _capture.c.created_at.label("capture_created_at"),
            _capture.c.organisation_id.label("capture_org"),
            _batch.c.root,
            _batch.c.tx_hash,
            _batch.c.block_number,
            _batch.c.status.label("batch_status"),
            _batch.c.leaf_version,
            _batch.c.signer_address.label("batch_signer"),
            _batch.c.organisation_id.label("batch_org"),
            _batch.c.event_count.label("batch_count"),
            _batch.c.chain_id.label("batch_chain_id"),
        )
        .join(_org, _org.c.id == _event.c.organisation_id)
        .outerjoin(_capture, _capture.c.id == _event.c.capture_id)
        .outerjoin(_batch, _batch.c.id == _event.c.batch_id)
    )


def _index_rows(conn: sa.Connection, pks: Sequence[int]) -> dict[int, list[IndexRow]]:
    """The stored identifier index rows of events ``pks``."""
    out: dict[int, list[IndexRow]] = {pk: [] for pk in pks}
    for start in range(0, len(pks), _CHUNK):
        for row in conn.execute(
            sa.select(
                _ident.c.event_pk,
                _ident.c.role,
                _ident.c.value,
                _ident.c.canonical,
                _ident.c.id_key,
                _ident.c.class_canonical,
            ).where(_ident.c.event_pk.in_(pks[start : start + _CHUNK]))
        ):
            out.setdefault(row.event_pk, []).append(IndexRow(*row[1:]))
    return out


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
            index = _index_rows(conn, [event_pk])
        if row is None:
            raise InvalidInputError(f"no stored event {event_pk}", field="event")
        return self._verify_row(row, index[event_pk])

    def _verify_row(self, row: Any, index: Sequence[IndexRow]) -> EventVerification:
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
        # 1-2. The stored event against its captured JSON, capture job and batch.
        problems = list(self._content_problems(row, index))
        if problems:
            return EventVerification(status="tampered", reasons=tuple(problems), **base)
        if row.batch_id is None:
            return EventVerification(status="pending", reasons=("not anchored yet",), **base)
        # 3. The proof from the leaf to the root (of a batch on its way to the chain too).
        version = int(row.leaf_version)
        try:
            word = leaf_word(version, HexBytes(row.event_hash), row.captured_json, row.signature)
            leaf = leaf_hash(word, HexBytes(row.primary_id_key), row.recorder_address)
            reached = process_proof(leaf, [HexBytes(p) for p in row.proof or []])
        except (MerkleError, ValueError, TypeError) as exc:
            return EventVerification(
                status="tampered", reasons=(f"malformed proof: {exc}",), **base
            )
        base["coverage"] = coverage(version)
        base["leaf_word"] = "0x" + word.hex()
        if "0x" + reached.hex() != row.root:
            return EventVerification(
                status="tampered",
                # The leaf covers the event as stored: its hash, captured JSON, signature,
                # identifier key and recorder (the wording is translated in api/i18n.py).
                reasons=("the Merkle proof does not lead from the event to its batch root",),
                **base,
            )
        if row.anchor_status != "anchored":
            return EventVerification(status="pending", reasons=("not anchored yet",), **base)
        # 4-5. The chain.
        try:
            problems = self._chain_problems(row)
        except (ChainError, OSError) as exc:
            return EventVerification(
                status="unknown", reasons=(f"chain unreachable: {exc}",), **base
            )
        if problems:
            return EventVerification(status="tampered", reasons=tuple(problems), **base)
        legacy = (LEGACY_COVERAGE,) if base["coverage"] != "record" else ()
        return EventVerification(status="verified", reasons=legacy, **base)

    def _content_problems(self, row: Any, index: Sequence[IndexRow]) -> list[str]:
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
        problems = derived_problems(captured, row._mapping, index)
        problems += capture_problems(
            record_time=row.record_time,
            organisation_id=row.organisation_id,
            capture_created_at=row.capture_created_at,
            capture_org=row.capture_org,
        )
        problems += anchor_state_problems(
            anchor_status=row.anchor_status,
            batch_id=row.batch_id,
            batch_status=row.batch_status,
            proof=row.proof,
            recorder_address=row.recorder_address,
            batch_signer=row.batch_signer,
            event_org=row.organisation_id,
            batch_org=row.batch_org,
        )
        return problems

    def _chain_problems(self, row: Any) -> list[str]:
        problems: list[str] = []
        if row.batch_chain_id != self.chain.chain_id:
            return [f"the batch was anchored on chain {row.batch_chain_id}, not on this one"]
        org, block, count = self.chain.call(self.anchor.functions.batchOf(HexBytes(row.root)))
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
        if int(count) != row.batch_count:
            problems.append(
                f"the root anchors {count} events, but the batch records {row.batch_count}"
            )
        problems.extend(self._transaction_problems(row))
        if row.signature is not None:
            problems.extend(self._signature_problems(row))
        return problems

    def _transaction_problems(self, row: Any) -> list[str]:
        """The recorded transaction: ``anchorBatch(root, ...)`` to TraceAnchor, in the recorded
        block, from the recorded signing address."""
        try:
            tx = self.chain.w3.eth.get_transaction(HexBytes(row.tx_hash))
        except OSError:
            raise
        except Exception:
            return [f"the anchoring transaction {row.tx_hash} is not on the chain"]
        problems = []
        if tx["from"] != row.recorder_address:
            problems.append(
                f"the root was sent by {tx['from']}, "
                f"not by the recorded address {row.recorder_address}"
            )
        if tx.get("to") != self.anchor.address or tx.get("blockNumber") != row.block_number:
            problems.append(
                f"the transaction {row.tx_hash} went to {tx.get('to')} in block "
                f"{tx.get('blockNumber')}, not to TraceAnchor in block {row.block_number}"
            )
        try:
            function, args = self.anchor.decode_function_input(tx["input"])
            anchors_root = (
                function.fn_name == "anchorBatch" and "0x" + bytes(args["root"]).hex() == row.root
            )
        except (ValueError, KeyError, TypeError):
            anchors_root = False
        if not anchors_root:
            problems.append(f"the transaction {row.tx_hash} does not anchor the root {row.root}")
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
                _verification_select()
                .where(_event.c.id.in_(pks))
                .order_by(_event.c.event_time, _event.c.id)
            ).all()
            index = _index_rows(conn, [row.id for row in rows])
        entries = tuple(
            TrailEntry(
                event_type=row.event_type,
                event_time=row.event_time,
                biz_step=row.biz_step,
                disposition=row.disposition,
                read_point=row.read_point,
                biz_location=row.biz_location,
                captured=_loads(row.captured_json),
                verification=self._verify_row(row, index[row.id]),
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
