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
(:func:`verify_identifier`) the trail is every event mentioning it (or its lot) that its reader
may read (:func:`ledger.store.visibility.visible`; an identifier none of whose events the
reader may read is answered as one never recorded), in time order, each verified, with the
on-chain recall status, whether its brand owner commissioned it (:mod:`ledger.origin`) and an
overall verdict: ``recalled``, else ``tampered``, else ``unknown``, else
``unconfirmed_origin`` (no verified commissioning by the prefix owner), else ``pending``, else
``verified``.

The brand owner's commissioning counts for the origin whoever reads: it is the owner's word
that it made the product, which is what a buyer's scan asks, and a verified anchor of it says
nothing more than that. Evidence the reader may not read is verified and counted like any
other but not listed (its hash ID, time and contents stay hidden); the origin's reasons say
how many such events there were. The trail has to show the reader at least one event of its
own before the origin is judged at all (otherwise nothing shows that anyone recorded it).

A buyer's trail (``public_projection``) also lists the events the public may read that its
reader may not, marked :attr:`TrailEntry.full` False: the API shows them as the brand owner's
public projection (:mod:`ledger.disclosure`), so a member's key never sees less of a trail than
a buyer without one. For the public reader itself no entry is full.

A trail reads the chain in one JSON-RPC batch (:meth:`ledger.chain.ChainClient.batch`): its
recalls, the prefix owner, the signing keys of signed events, and for each batch root either
``batchOf`` and the anchoring transaction or, when :mod:`ledger.anchor_facts` has the root's
record cached, only the hash of the block holding it (to confirm it is still canonical). Merkle
proofs are followed locally.

Every caller answers the same verification document (:class:`TrailJson`):
:meth:`TrailVerification.to_json` for a trail, :meth:`TrailEntry.document` for one event, built
from :meth:`TrailEntry.to_json` and :meth:`EventVerification.to_json`. The API's trail adds only
what its node knows (links, member names, the recall notice's text, a product summary); the
CLI prints the document as it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from hexbytes import HexBytes
from pydantic import Field
from sqlalchemy.engine import Engine
from typing_extensions import TypedDict
from web3.contract import Contract

from ledger import anchor_facts
from ledger.anchor_facts import AnchorRecord
from ledger.chain import ChainClient, RpcAnswer, RpcRequest
from ledger.deployment import Deployment
from ledger.errors import ChainError, InvalidInputError, LedgerError
from ledger.identifiers import Identifier, parse
from ledger.merkle import Coverage, MerkleError, coverage, leaf_hash, leaf_word, process_proof
from ledger.origin import (
    Evidence,
    Origin,
    OriginStatus,
    evidence_events,
    evidence_in,
    judge,
    owner_of,
)
from ledger.store.indexing import event_hash_of
from ledger.store.integrity import (
    DERIVED_COLUMNS,
    IndexRow,
    derivation,
    record_problems,
    stored_state_problems,
)
from ledger.store.tables import ANCHOR_BATCH, CAPTURE, EVENT, EVENT_IDENTIFIER, ORGANISATION
from ledger.store.visibility import visible
from ledger.visibility import Reader, ReaderKind
from wallets.eip712 import SignatureError, recover_event_signer

Status = Literal["verified", "pending", "tampered", "unknown"]
Verdict = Literal["verified", "pending", "tampered", "recalled", "unknown", "unconfirmed_origin"]

#: Event pks per ``IN (...)`` list.
_CHUNK = 500
_ZERO = b"\0" * 32
#: The reason every event of a version-1 batch carries, verified or not.
LEGACY_COVERAGE = (
    "anchored before records were covered (leaf version 1): the anchor covers the CBV 2.0 "
    "event hash only, not eventID, recordTime, errorDeclaration, @context, rdfs:comment or "
    "the signature"
)


class RecorderJson(TypedDict):
    """Who recorded an event (or owns an identifier's prefix)."""

    org_id: str | None
    name: str | None
    address: str | None


class AnchorJson(TypedDict):
    """Where an event is anchored, and what anyone needs to check it on chain themselves:
    ``TraceAnchor.verifyEvent(root, proof, leaf_word, id_key, recorder.address)``."""

    root: str | None
    tx_hash: str | None
    block_number: int | None
    id_key: str | None
    proof: list[str]
    coverage: Annotated[
        Coverage | None,
        Field(
            description="What the anchor covers: the whole stored record (the captured JSON as "
            "stored, its hash and signature) or, for batches anchored before leaf version 2, "
            "the CBV 2.0 event hash only; null until the event is in a batch."
        ),
    ]
    leaf_word: Annotated[
        str | None,
        Field(
            description="The Merkle leaf's first word (0x-hex), as TraceAnchor.verifyEvent "
            "takes it; null until the event is in a batch."
        ),
    ]


class VerificationJson(TypedDict):
    """One event's verification (:meth:`EventVerification.to_json`)."""

    status: Status
    reasons: list[str]
    recorder: RecorderJson
    anchor: AnchorJson
    signed: bool


class TrailEntryJson(TypedDict):
    """One event of a trail (:meth:`TrailEntry.to_json`)."""

    event_id: str | None
    hash_id: str
    event_type: str
    event_time: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    verification: VerificationJson
    event: dict[str, Any]


class IdentifierJson(TypedDict):
    """What is verified: an identifier in its forms (an event: its hash ID, ``kind`` event)."""

    canonical: str
    scheme: str
    kind: str
    owner_prefix: str | None
    class_identifier: str | None


class RecallJson(TypedDict):
    """The on-chain recall state: of the identifier, or of the lot/class it belongs to."""

    recalled: bool
    identifier: str | None
    org_id: str | None
    block: int | None
    reason_hash: str | None


class OriginEvidenceJson(TypedDict):
    """One commissioning event of the brand owner and how it verified."""

    hash_id: str
    identifier: str
    status: str


class OriginJson(TypedDict):
    """Whether the brand owner commissioned the identifier (:class:`ledger.origin.Origin`)."""

    status: OriginStatus
    confirmed: bool
    owner: RecorderJson | None
    prefix: str | None
    commissioning: list[OriginEvidenceJson]
    reasons: list[str]


class TrailJson(TypedDict):
    """A verification document (:meth:`TrailVerification.to_json`, :meth:`TrailEntry.document`).

    ``recall`` and ``origin`` are None where they were not judged (one event on its own).
    The API's trail document (``TrailOut``) is this one plus what the serving node knows
    (links, member names, the recall notice's text, a product summary, the chain).
    """

    identifier: IdentifierJson
    verdict: Verdict
    reasons: list[str]
    recall: RecallJson | None
    origin: OriginJson | None
    events: list[TrailEntryJson]


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
    #: The stored Merkle proof (0x-hex siblings) and identifier key, for that check.
    proof: tuple[str, ...] = ()
    id_key: str | None = None

    def to_json(self) -> VerificationJson:
        """The verification as every verification document spells it (the API's trail, the
        CLI's ``verify --json``)."""
        return {
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
                "id_key": self.id_key,
                "proof": list(self.proof),
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
    #: Whether the trail's reader may read the event in full; False for an event it lists only
    #: for its public projection (:meth:`Verifier.verify_identifier` ``public_projection``).
    full: bool = True

    @property
    def proof(self) -> tuple[str, ...]:
        """The stored Merkle proof (0x-hex siblings)."""
        return self.verification.proof

    @property
    def id_key(self) -> str | None:
        """The identifier key the event's leaf commits to (0x-hex)."""
        return self.verification.id_key

    def to_json(self) -> TrailEntryJson:
        """The event and its verification (see :class:`TrailEntryJson`)."""
        return {
            "event_id": self.captured.get("eventID"),
            "hash_id": self.verification.hash_id,
            "event_type": self.event_type,
            "event_time": self.event_time.isoformat(),
            "action": self.captured.get("action"),
            "biz_step": self.biz_step,
            "disposition": self.disposition,
            "read_point": self.read_point,
            "biz_location": self.biz_location,
            "verification": self.verification.to_json(),
            "event": self.captured,
        }

    def document(self) -> TrailJson:
        """This event on its own in the verification document's shape: the event is the
        trail, its status the verdict; recall and origin are not judged."""
        v = self.verification
        return {
            "identifier": {
                "canonical": v.hash_id,
                "scheme": "ni",
                "kind": "event",
                "owner_prefix": None,
                "class_identifier": None,
            },
            "verdict": v.status,
            "reasons": list(v.reasons),
            "recall": None,
            "origin": None,
            "events": [self.to_json()],
        }


@dataclass(frozen=True, slots=True)
class TrailVerification:
    """An identifier's whole trail and the verdict on it."""

    identifier: str
    verdict: Verdict
    events: tuple[TrailEntry, ...]
    recall: dict[str, Any] | None = None
    reasons: tuple[str, ...] = field(default=())
    #: Whether the brand owner (the prefix owner) commissioned the identifier.
    origin: Origin | None = None
    #: The identifier as asked for (a lot-qualified item keeps its lot: its class is the lot);
    #: None: parsed again from ``identifier``.
    subject: Identifier | None = field(default=None, compare=False)

    def to_json(self) -> TrailJson:
        """The trail as a verification document (see :class:`TrailJson`): the identifier,
        the verdict and why, the recall facts from the chain, the origin and every event."""
        subject = self.subject if self.subject is not None else parse(self.identifier)
        klass = subject.class_identifier()
        recall = self.recall or {}
        return {
            "identifier": {
                "canonical": self.identifier,
                "scheme": subject.scheme,
                "kind": subject.kind,
                "owner_prefix": subject.owner_prefix,
                "class_identifier": klass.canonical if klass else None,
            },
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "recall": {
                "recalled": self.recall is not None,
                "identifier": recall.get("identifier") or (self.identifier if recall else None),
                "org_id": recall.get("org_id"),
                "block": recall.get("block"),
                "reason_hash": recall.get("reason_hash"),
            },
            "origin": _origin_json(self.origin),
            "events": [entry.to_json() for entry in self.events],
        }


def _origin_json(origin: Origin | None) -> OriginJson:
    """The origin (not judged, as for a trail built elsewhere: ``unknown``, rather than claim
    anything)."""
    if origin is None:
        return {"status": "unknown", "confirmed": False, "owner": None, "prefix": None,
                "commissioning": [], "reasons": []}  # fmt: skip
    owner = origin.owner
    return {
        "status": origin.status,
        "confirmed": origin.confirmed,
        "owner": ({"org_id": owner.org_id, "name": owner.name, "address": None} if owner else None),
        "prefix": owner.prefix if owner else None,
        "commissioning": [
            {"hash_id": e.hash_id, "identifier": e.identifier, "status": e.status}
            for e in origin.evidence
        ],
        "reasons": list(origin.reasons),
    }


@dataclass(slots=True)
class _ChainReads:
    """What one batch read from the chain for a trail (or one event)."""

    #: Anchor records by (root, tx hash), lower-case.
    records: dict[tuple[str, str], AnchorRecord] = field(default_factory=dict)
    #: The member (0x-hex org id) each signing address belongs to.
    signers: dict[str, str] = field(default_factory=dict)
    #: The signer recovered from each signed event's signature (or why none), by event pk.
    recovered: dict[int, str | SignatureError | ValueError] = field(default_factory=dict)
    #: Why the chain could not be read (every chain check then says so).
    error: str | None = None


#: The chain reads of the trail being verified (set by :meth:`Verifier.verify_identifier`
#: around its events, so each event's chain check finds its batch already read).
_TRAIL_READS: ContextVar[_ChainReads | None] = ContextVar("tracechain_trail_reads", default=None)


def _verification_select(*extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """What verifying an event reads: the event, its recorder, its capture job and its batch
    (plus ``extra``)."""
    derived = [EVENT.c[name] for name in DERIVED_COLUMNS if name not in ("event_hash", "hash_id")]
    return (
        sa.select(
            EVENT.c.id,
            EVENT.c.hash_id,
            EVENT.c.event_hash,
            *derived,
            EVENT.c.captured_json,
            EVENT.c.organisation_id,
            EVENT.c.record_time,
            EVENT.c.recorder_address,
            EVENT.c.signature,
            EVENT.c.proof,
            EVENT.c.anchor_status,
            EVENT.c.batch_id,
            *extra,
            ORGANISATION.c.org_id,
            ORGANISATION.c.name,
            CAPTURE.c.created_at.label("capture_created_at"),
            CAPTURE.c.organisation_id.label("capture_org"),
            ANCHOR_BATCH.c.root,
            ANCHOR_BATCH.c.tx_hash,
            ANCHOR_BATCH.c.block_number,
            ANCHOR_BATCH.c.status.label("batch_status"),
            ANCHOR_BATCH.c.leaf_version,
            ANCHOR_BATCH.c.signer_address.label("batch_signer"),
            ANCHOR_BATCH.c.organisation_id.label("batch_org"),
            ANCHOR_BATCH.c.event_count.label("batch_count"),
            ANCHOR_BATCH.c.chain_id.label("batch_chain_id"),
        )
        .join(ORGANISATION, ORGANISATION.c.id == EVENT.c.organisation_id)
        .outerjoin(CAPTURE, CAPTURE.c.id == EVENT.c.capture_id)
        .outerjoin(ANCHOR_BATCH, ANCHOR_BATCH.c.id == EVENT.c.batch_id)
    )


#: What a trail reads of its events (built once: a select of ~40 columns is not free).
_TRAIL_SELECT = _verification_select()


#: The events of a trail: those naming the identifier ``canonical``, or naming it as their
#: class (a lot or GTIN), in time order. Statements built once run without being rebuilt and
#: re-keyed for SQLAlchemy's compiled cache on every page.
_TRAIL_EVENTS = _TRAIL_SELECT.where(
    EVENT.c.id.in_(
        sa.select(EVENT_IDENTIFIER.c.event_pk)
        .where(
            sa.or_(
                EVENT_IDENTIFIER.c.canonical == sa.bindparam("canonical"),
                EVENT_IDENTIFIER.c.class_canonical == sa.bindparam("canonical"),
            )
        )
        .distinct()
    )
).order_by(EVENT.c.event_time, EVENT.c.id)
_EVENTS_BY_PK = _TRAIL_SELECT.where(EVENT.c.id.in_(sa.bindparam("pks", expanding=True)))
_INDEX_ROWS = sa.select(
    EVENT_IDENTIFIER.c.event_pk,
    EVENT_IDENTIFIER.c.role,
    EVENT_IDENTIFIER.c.value,
    EVENT_IDENTIFIER.c.canonical,
    EVENT_IDENTIFIER.c.id_key,
    EVENT_IDENTIFIER.c.class_canonical,
).where(EVENT_IDENTIFIER.c.event_pk.in_(sa.bindparam("pks", expanding=True)))


def _index_rows(conn: sa.Connection, pks: Sequence[int]) -> dict[int, list[IndexRow]]:
    """The stored identifier index rows of events ``pks``."""
    out: dict[int, list[IndexRow]] = {pk: [] for pk in pks}
    for start in range(0, len(pks), _CHUNK):
        for row in conn.execute(_INDEX_ROWS, {"pks": list(pks[start : start + _CHUNK])}):
            out.setdefault(row.event_pk, []).append(IndexRow(*row[1:]))
    return out


class Verifier:
    """Verifies stored events against the chain (reads only)."""

    def __init__(self, engine: Engine, chain: ChainClient, deployment: Deployment) -> None:
        self.engine = engine
        self.chain = chain
        self.deployment = deployment
        self.anchor: Contract = chain.contract("TraceAnchor", deployment.anchor_address)
        #: The functions batched reads call (encoded with the ABI codec, no web3 round trip).
        self._views = {
            name: chain.view(self.anchor, name)
            for name in ("batchOf", "signerInfo", "recallOf", "prefixOwner", "anchorBatch")
        }

    # ------------------------------------------------------------------ one event

    def verify_event(self, event_pk: int) -> EventVerification:
        """Verify the stored event ``event_pk``."""
        return self.verify_entry(event_pk).verification

    def verify_entry(self, event_pk: int) -> TrailEntry:
        """The stored event ``event_pk`` as a trail entry: what it says and how it verifies
        (:meth:`TrailEntry.document` makes it a verification document)."""
        with self.engine.connect() as conn:
            row = conn.execute(_TRAIL_SELECT.where(EVENT.c.id == event_pk)).first()
            index = _index_rows(conn, [event_pk])
        if row is None:
            raise InvalidInputError(f"no stored event {event_pk}", field="event")
        return _entry(row, self._verify_row(row, index[event_pk]))

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
            "proof": _proof_of(row.proof),
            "id_key": row.primary_id_key,
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
            derived = derivation(row.captured_json)
        except (LedgerError, ValueError) as exc:
            return [f"the captured event no longer parses as an EPCIS event: {exc}"]
        if derived.hash_id != row.hash_id:
            return [
                f"the captured event hashes to {derived.hash_id}, but {row.hash_id} was recorded"
            ]
        if event_hash_of(row.hash_id) != row.event_hash:
            return ["the recorded event hash does not match the hash ID"]
        if derived.primary_id_key != row.primary_id_key:
            return ["the identifier key does not match the event's first identifier"]
        stored = row._mapping
        problems = record_problems(
            derived.columns, derived.rows, tuple(stored[name] for name in DERIVED_COLUMNS), index
        )
        return problems + stored_state_problems(
            row,
            batch_status=row.batch_status,
            batch_signer=row.batch_signer,
            batch_org=row.batch_org,
        )

    def _chain_problems(self, row: Any) -> list[str]:
        reads = _TRAIL_READS.get()
        key = (str(row.root).lower(), str(row.tx_hash).lower())
        if reads is None or (reads.error is None and key not in reads.records):
            reads = self._read_chain([row], [])[0]
        if reads.error is not None:
            raise ChainError(reads.error)
        if row.batch_chain_id != self.chain.chain_id:
            return [f"the batch was anchored on chain {row.batch_chain_id}, not on this one"]
        record = reads.records[key]
        if record.org == _ZERO:
            return [f"the batch root {row.root} is not anchored on the chain"]
        problems: list[str] = []
        if "0x" + record.org.hex() != row.org_id:
            problems.append(
                f"the root was anchored by member 0x{record.org.hex()}, "
                f"not by the recorder {row.org_id}"
            )
        if record.block != row.block_number:
            problems.append(
                f"the root is in block {record.block}, but block {row.block_number} was recorded"
            )
        if record.count != row.batch_count:
            problems.append(
                f"the root anchors {record.count} events, but the batch records {row.batch_count}"
            )
        problems.extend(self._transaction_problems(row, record))
        if row.signature is not None:
            problems.extend(self._signature_problems(row, reads))
        return problems

    def _transaction_problems(self, row: Any, record: AnchorRecord) -> list[str]:
        """The recorded transaction: ``anchorBatch(root, ...)`` to TraceAnchor, in the recorded
        block, from the recorded signing address."""
        if not record.tx_found:
            return [f"the anchoring transaction {row.tx_hash} is not on the chain"]
        problems = []
        if record.tx_from != row.recorder_address:
            problems.append(
                f"the root was sent by {record.tx_from}, "
                f"not by the recorded address {row.recorder_address}"
            )
        if record.tx_to != self.anchor.address or record.tx_block != row.block_number:
            problems.append(
                f"the transaction {row.tx_hash} went to {record.tx_to} in block "
                f"{record.tx_block}, not to TraceAnchor in block {row.block_number}"
            )
        if not record.anchors_root:
            problems.append(f"the transaction {row.tx_hash} does not anchor the root {row.root}")
        return problems

    def _event_signer(self, row: Any) -> str:
        """The address that signed the event (EIP-712); raises on a malformed signature."""
        return str(
            recover_event_signer(
                HexBytes(row.signature),
                self.chain.chain_id,
                self.deployment.anchor_address,
                HexBytes(row.event_hash),
                HexBytes(row.primary_id_key),
            )
        )

    def _signature_problems(self, row: Any, reads: _ChainReads) -> list[str]:
        signer = reads.recovered.get(row.id)
        if signer is None:
            try:
                signer = self._event_signer(row)
            except (SignatureError, ValueError) as exc:
                signer = exc
        if not isinstance(signer, str):
            return [f"the event signature is malformed: {signer}"]
        org = reads.signers.get(signer)
        if org is None:
            org = self._read_chain([row], [])[0].signers.get(signer)
        if org != row.org_id:
            return [f"the event was signed by {signer}, which is no key of the recorder"]
        return []

    # ------------------------------------------------------------------ chain reads

    def _read_chain(
        self, rows: Iterable[Any], extra: Sequence[RpcRequest]
    ) -> tuple[_ChainReads, list[RpcAnswer] | None]:
        """Everything the chain checks of ``rows`` need, and ``extra``, in one batch (plus one
        more only for cached roots whose block turned out no longer canonical).

        Returns the reads and the answers to ``extra`` (None when the chain did not answer).
        """
        reads = _ChainReads()
        chain_id = self.chain.chain_id
        anchor = self.deployment.anchor_address
        wanted: dict[tuple[str, str], str] = {}
        signers: set[str] = set()
        for row in rows:
            if row.batch_id is None or not row.root or not row.tx_hash:
                continue
            wanted[(str(row.root).lower(), str(row.tx_hash).lower())] = str(row.root)
            if row.signature is not None:
                try:
                    reads.recovered[row.id] = signer = self._event_signer(row)
                except (SignatureError, ValueError) as exc:
                    reads.recovered[row.id] = exc
                else:
                    signers.add(signer)
        cached: dict[tuple[str, str], AnchorRecord] = {}
        for key in wanted:
            record = anchor_facts.RECORDS.get(anchor_facts.cache_key(chain_id, anchor, *key))
            if record is not None:
                cached[key] = record
        blocks = sorted({r.block for r in cached.values()})
        missing = [k for k in wanted if k not in cached]
        signer_list = sorted(signers)
        batch_of = self._views["batchOf"]
        signer_info = self._views["signerInfo"]
        try:
            answers = self.chain.batch(
                [
                    *extra,
                    *(anchor_facts.block_request(b) for b in blocks),
                    *(r for k in missing for r in self._root_requests(batch_of, k)),
                    *(signer_info.request(s) for s in signer_list),
                ]
            )
            at = len(extra) + len(blocks)
            hashes = dict(zip(blocks, answers[len(extra) : at], strict=True))
            fresh = answers[at : at + 2 * len(missing)]
            for signer, answer in zip(signer_list, answers[at + 2 * len(missing) :], strict=True):
                reads.signers[signer] = "0x" + bytes(signer_info.decode(answer)[0]).hex()
            stale = []
            for key, record in cached.items():
                if anchor_facts.block_hash_of(hashes[record.block]) == record.tx_block_hash:
                    reads.records[key] = record
                else:  # the chain lost or replaced that block: read the root afresh
                    anchor_facts.RECORDS.drop(anchor_facts.cache_key(chain_id, anchor, *key))
                    stale.append(key)
            if stale:
                missing += stale
                fresh += self.chain.batch(
                    [r for k in stale for r in self._root_requests(batch_of, k)]
                )
            anchor_batch = self._views["anchorBatch"]
            for n, key in enumerate(missing):
                record = anchor_facts.anchor_record(
                    batch_of.decode(fresh[2 * n]),
                    fresh[2 * n + 1],
                    root=key[0],
                    anchor_batch=anchor_batch,
                )
                reads.records[key] = record
                anchor_facts.RECORDS.put(anchor_facts.cache_key(chain_id, anchor, *key), record)
        except ChainError as exc:
            reads.error = str(exc)
            return reads, None
        return reads, answers[: len(extra)]

    def _root_requests(self, batch_of: Any, key: tuple[str, str]) -> list[RpcRequest]:
        return [
            batch_of.request(HexBytes(key[0])),
            anchor_facts.transaction_request(key[1]),
        ]

    # ------------------------------------------------------------------ one identifier

    def verify_identifier(
        self, text: str, *, reader: Reader, public_projection: bool = False
    ) -> TrailVerification:
        """The trail of an identifier (the events mentioning it or its lot that ``reader``
        may read; with ``public_projection`` also those the public may read, marked not
        :attr:`~TrailEntry.full`) with verdict, recall and origin (whether its brand owner
        commissioned it; see the module docstring for evidence the reader may not read)."""
        ident = parse(text)
        canonical = ident.canonical
        classes = _classes(text)
        trail_events, listed = _trail_statement(reader, public_projection)
        hidden_evidence: set[int] = set()
        with self.engine.connect() as conn:
            rows = conn.execute(trail_events, {"canonical": canonical}).all()
            index = _index_rows(conn, [row.id for row in rows])
            full = _full(reader, rows, public_projection=public_projection)
            owner = owner_of(conn, ident) if rows else None
            # The owner's commissioning: in the trail itself, else of the item's lot/class
            # (whoever may read it: see the module docstring).
            found = evidence_in(rows, index, owner, canonical) if owner is not None else []
            extra_rows: Sequence[Any] = ()
            if owner is not None and not found:
                found = evidence_events(conn, owner, [canonical, *(c for c, _ in classes)])
                in_trail = {row.id for row in rows}
                outside = [pk for pk, _ in found if pk not in in_trail]
                if outside:
                    extra_rows = conn.execute(_EVENTS_BY_PK, {"pks": outside}).all()
                    index.update(_index_rows(conn, outside))
                    if listed is not None:
                        shown = {
                            int(pk)
                            for (pk,) in conn.execute(
                                sa.select(EVENT.c.id).where(EVENT.c.id.in_(outside), listed)
                            )
                        }
                        hidden_evidence = set(outside) - shown
        # One batch: recalls of the identifier and its classes, the prefix owner on chain,
        # then what the events' chain checks need.
        recall_of = self._views["recallOf"]
        prefix_owner = self._views["prefixOwner"]
        asks = [recall_of.request(key) for key in (ident.id_key, *(k for _, k in classes))]
        if owner is not None and rows:
            asks.append(prefix_owner.request(HexBytes(owner.prefix_key)))
        reads, answers = self._read_chain((*rows, *extra_rows), asks)
        token = _TRAIL_READS.set(reads)
        try:
            verified = {
                row.id: self._verify_row(row, index[row.id]) for row in (*rows, *extra_rows)
            }
        finally:
            _TRAIL_READS.reset(token)
        entries = tuple(
            _entry(row, verified[row.id], full=full is None or row.id in full) for row in rows
        )
        recall: dict[str, Any] | None = None
        reasons: list[str] = []
        chain_owner: str | None = None
        try:
            if answers is None:
                raise ChainError(reads.error or "no answer")
            recall = _recall_of(
                [("", ident.id_key), *classes],
                [recall_of.decode(a) for a in answers[: 1 + len(classes)]],
            )
            if len(answers) > 1 + len(classes):
                chain_owner = "0x" + bytes(prefix_owner.decode(answers[-1])[0]).hex()
        except ChainError as exc:
            reasons.append(f"recall status unknown: {exc}")
        origin = _shown(
            judge(
                canonical,
                owner,
                [
                    Evidence(pk, verified[pk].hash_id, commissioned, verified[pk].status)
                    for pk, commissioned in found
                ],
                chain_owner=chain_owner,
            ),
            hidden_evidence,
        )
        return TrailVerification(
            identifier=canonical,
            verdict=_verdict(entries, recall, unknown_recall=bool(reasons), origin=origin),
            events=entries,
            recall=recall,
            reasons=tuple(reasons),
            origin=origin,
            subject=ident,
        )


def _shown(origin: Origin, hidden: set[int]) -> Origin:
    """``origin`` as a reader sees it: judged on all the evidence, listing only the evidence
    events it may read (the others are counted in the reasons)."""
    if not hidden or not origin.evidence:
        return origin
    kept = tuple(e for e in origin.evidence if e.event_pk not in hidden)
    left_out = len(origin.evidence) - len(kept)
    if left_out == 0:
        return origin
    note = (
        f"{left_out} commissioning event{'s' if left_out != 1 else ''} of the brand owner "
        "counted but not shown: not visible to this reader"
    )
    return replace(origin, evidence=kept, reasons=(*origin.reasons, note))


@functools.lru_cache(maxsize=1024)
def _trail_statement(
    reader: Reader, public_projection: bool
) -> tuple[sa.Select[Any], sa.ColumnElement[bool] | None]:
    """The trail's events statement for ``reader`` and its listing condition (built once per
    reader: composing and keying a statement of this size costs more than running it).

    With ``public_projection`` a reader other than the operator and the public also lists the
    events the public may read, and a ``full_read`` column says which it reads in full."""
    allowed = visible(reader)
    if allowed is None:
        return _TRAIL_EVENTS, None
    if not public_projection or reader.kind is ReaderKind.PUBLIC:
        return _TRAIL_EVENTS.where(allowed), allowed
    public = visible(Reader.public())
    listed = allowed if public is None else sa.or_(allowed, public)
    full_read = sa.case((allowed, sa.true()), else_=sa.false()).label("full_read")
    return _TRAIL_EVENTS.where(listed).add_columns(full_read), listed


def _full(reader: Reader, rows: Sequence[Any], *, public_projection: bool) -> set[int] | None:
    """The pks among ``rows`` that ``reader`` reads in full (None: all of them)."""
    if not public_projection or reader.kind is ReaderKind.OPERATOR:
        return None
    if reader.kind is ReaderKind.PUBLIC:
        return set()
    return {row.id for row in rows if row.full_read}


def _entry(row: Any, verification: EventVerification, *, full: bool = True) -> TrailEntry:
    """The trail entry of an event's row (:data:`_TRAIL_SELECT`) and its verification."""
    return TrailEntry(
        event_type=row.event_type,
        event_time=row.event_time,
        biz_step=row.biz_step,
        disposition=row.disposition,
        read_point=row.read_point,
        biz_location=row.biz_location,
        captured=_loads(row.captured_json),
        verification=verification,
        full=full,
    )


def _recall_of(
    keys: Sequence[tuple[str, bytes]], states: Sequence[tuple[Any, ...]]
) -> dict[str, Any] | None:
    """The first active recall among the identifier's (``""``) and its classes'."""
    for (canonical, _), (active, org, since, why) in zip(keys, states, strict=True):
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


def _proof_of(stored: object) -> tuple[str, ...]:
    """The stored proof as shown (a stored value that is no list shows as none: the proof
    check says why it fails)."""
    return tuple(str(p) for p in stored) if isinstance(stored, list) else ()


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _verdict(
    entries: Sequence[TrailEntry],
    recall: dict[str, Any] | None,
    *,
    unknown_recall: bool,
    origin: Origin | None = None,
) -> Verdict:
    """Recalled, else tampered, else unknown, else unconfirmed origin, else pending, else
    verified (``origin`` None: not judged, as for a trail built elsewhere)."""
    statuses = {entry.verification.status for entry in entries}
    origin_status = origin.status if origin is not None else "confirmed"
    if recall is not None:
        return "recalled"
    if "tampered" in statuses or origin_status == "tampered":
        return "tampered"
    if not entries or "unknown" in statuses or unknown_recall or origin_status == "unknown":
        return "unknown"
    if origin_status in ("unconfirmed", "no_owner"):
        return "unconfirmed_origin"
    if "pending" in statuses or origin_status == "pending":
        return "pending"
    return "verified"
