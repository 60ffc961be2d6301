"""The ledger's tables as SQLModel table models (the API's schemas live elsewhere).

Conventions: 32-byte values (organisation ids, hashes, identifier keys, Merkle roots) are
``0x``-prefixed lower-case hex strings; addresses are EIP-55 checksummed; every instant is an
aware UTC datetime (:class:`~ledger.store.types.UTCDateTime`). Constraint and index names
follow :data:`NAMING_CONVENTION`, so Alembic (batch mode on SQLite included) can address them.

``(event.event_hash, event.error_declaration)`` is the idempotency key of capture: the SHA-256
digest inside the event's CBV 2.0 Event Hash ID, and whether the record is an error declaration
(which has the hash of the event it declares in error, and is stored beside it).
``event_identifier`` indexes every identifier an event mentions (its canonical form, on-chain
key and class), ``outbox`` is the durable queue of events waiting to
be anchored, ``anchor_batch`` one Merkle root sent (or to be sent) to the chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntFlag
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from ledger.store.types import BIG_ID, BINARY_TEXT, UTCDateTime

__all__ = [
    "ANCHOR_STATUSES",
    "API_KEY_ROLES",
    "BATCH_STATUSES",
    "CAPTURE_STATUSES",
    "DISCLOSURE_SCOPES",
    "NAMING_CONVENTION",
    "ROLES",
    "SCOPE_KINDS",
    "UNIQUE_EVENT_ID_WHERE",
    "VISIBILITIES",
    "AccessGrant",
    "AnchorBatch",
    "ApiKey",
    "CapabilityLink",
    "CapabilityUse",
    "Capture",
    "DisclosurePolicyRow",
    "Event",
    "EventIdentifier",
    "EventReader",
    "EventScope",
    "MemberLink",
    "OrgRole",
    "Organisation",
    "Outbox",
    "Prefix",
    "SigningKey",
    "StoreModel",
    "metadata",
    "utc_now",
]

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Roles of ``event_identifier.role``: how an event mentions an identifier.
ROLES: Final = (
    "epc",
    "parent",
    "child",
    "input",
    "output",
    "quantity",
    "child_quantity",
    "input_quantity",
    "output_quantity",
)
CAPTURE_STATUSES: Final = ("accepted", "failed")
ANCHOR_STATUSES: Final = ("pending", "anchored")
BATCH_STATUSES: Final = ("prepared", "sent", "mined", "orphaned")
#: Values of ``event.visibility`` and ``organisation.default_visibility``
#: (:class:`ledger.visibility.Visibility`).
VISIBILITIES: Final = ("private", "restricted", "linked", "public")
#: Kinds of what a grant or a capability link covers (:class:`ledger.visibility.ScopeKind`).
SCOPE_KINDS: Final = ("identifier", "lot", "prefix")
#: What a brand owner's disclosure rule covers (``disclosure_policy.scope_kind``).
DISCLOSURE_SCOPES: Final = ("class", "prefix")
#: Roles of ``api_key.role``.
API_KEY_ROLES: Final = ("admin", "recorder", "auditor")
#: The rows of ``event`` whose ``event_id`` is unique (index ``uq_event_event_id``).
UNIQUE_EVENT_ID_WHERE: Final = "event_id IS NOT NULL AND NOT error_declaration"

metadata: Final = sa.MetaData(naming_convention=NAMING_CONVENTION)


class OrgRole(IntFlag):
    """Roles of a member organisation (``organisation.roles``), as on chain."""

    RECORDER = 1
    AUDITOR = 2


def utc_now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class StoreModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of the store's table models; their own metadata, with a naming convention."""


class Organisation(StoreModel, table=True):
    """A consortium member."""

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    #: The on-chain organisation id, bytes32 as 0x-hex.
    org_id: str = Field(sa_type=sa.String(66), unique=True)
    name: str = Field(sa_type=sa.Text)
    #: :class:`OrgRole` flags.
    roles: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    #: The visibility of the member's events captured without a choice (one of
    #: :data:`VISIBILITIES`).
    default_visibility: str = Field(
        default="linked", sa_type=sa.String(16), sa_column_kwargs={"server_default": "linked"}
    )


class SigningKey(StoreModel, table=True):
    """An address a member signs events and anchors with; never the key material itself."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    address: str = Field(sa_type=sa.String(42), unique=True)
    #: Where the encrypted keystore lives, if this server holds one.
    keystore_path: str | None = Field(default=None, sa_type=sa.Text)
    active: bool = Field(default=True)
    added_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Prefix(StoreModel, table=True):
    """An identifier prefix assigned to a member (``gs1:0614141``, ``handle:88.118.8``)."""

    __tablename__ = "prefix"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(sa_type=sa.String(200), unique=True)
    #: keccak256 of the normalised prefix, 0x-hex (the on-chain key).
    prefix_key: str = Field(sa_type=sa.String(66), index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    assigned_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class Capture(StoreModel, table=True):
    """One capture request (an EPCIS document), accepted whole or failed whole."""

    __tablename__ = "capture"
    __table_args__ = (sa.CheckConstraint(_in("status", CAPTURE_STATUSES), name="status"),)

    id: str = Field(sa_type=sa.String(36), primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    status: str = Field(sa_type=sa.String(16))
    event_count: int = Field(default=0)
    #: The validation errors of a failed capture (``[{"field": ..., "reason": ...}]``).
    errors: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    #: Of an accepted capture: the ``event.id`` of each input event, in input order (the job
    #: lists their eventIDs); ``None`` for captures recorded before this column existed.
    event_pks: list[int] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))


class AnchorBatch(StoreModel, table=True):
    """One Merkle root of a member's events, and where it is on its way to the chain."""

    __tablename__ = "anchor_batch"
    __table_args__ = (
        sa.CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
        sa.Index("ix_anchor_batch_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BIG_ID, primary_key=True))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    signer_address: str = Field(sa_type=sa.String(42))
    root: str = Field(sa_type=sa.String(66), unique=True)
    event_count: int
    status: str = Field(sa_type=sa.String(16))
    tx_hash: str | None = Field(default=None, sa_type=sa.String(66))
    block_number: int | None = Field(default=None, sa_type=sa.BigInteger)
    chain_id: int = Field(sa_type=sa.BigInteger)
    #: What the batch's Merkle leaves commit to (:func:`ledger.merkle.event_leaf`): 1 the event
    #: hash (batches anchored before leaves covered records), 2 also the captured JSON as
    #: stored and the signature.
    leaf_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Event(StoreModel, table=True):
    """One captured EPCIS event, stored once however often it is captured (an error
    declaration of it is a record of its own)."""

    __tablename__ = "event"
    __table_args__ = (
        sa.CheckConstraint(_in("anchor_status", ANCHOR_STATUSES), name="anchor_status"),
        # Keyset pagination and time-range filters.
        sa.Index("ix_event_event_time_id", "event_time", "id"),
        sa.Index("ix_event_record_time_id", "record_time", "id"),
        # A business step within a time window (GET /events?EQ_bizStep=..&GE_eventTime=..):
        # reads the window's events only (migration 0008).
        sa.Index("ix_event_biz_step_event_time_id", "biz_step", "event_time", "id"),
        # One record per event hash, and one error declaration of it (EPCIS 2.0 section
        # 7.4.1.2: the declaration has the hash of the event it declares in error).
        sa.UniqueConstraint("event_hash", "error_declaration"),
        # One eventID names one event; an error declaration repeats the eventID of the event
        # it declares in error (EPCIS 2.0 section 7.4.1.2), so declarations are left out.
        sa.Index(
            "uq_event_event_id",
            "event_id",
            unique=True,
            sqlite_where=sa.text(UNIQUE_EVENT_ID_WHERE),
            postgresql_where=sa.text(UNIQUE_EVENT_ID_WHERE),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(BIG_ID, primary_key=True, autoincrement=True)
    )
    #: 0x-hex SHA-256 digest of the CBV 2.0 pre-hash string: with ``error_declaration``, the
    #: idempotency key (``uq_event_event_hash_error_declaration``).
    event_hash: str = Field(sa_type=sa.String(66))
    #: ``ni:///sha-256;{hex}?ver=CBV2.0``.
    hash_id: str = Field(sa_type=sa.Text)
    event_id: str | None = Field(default=None, sa_type=sa.Text, index=True)
    #: Whether the event is an error declaration (has ``errorDeclaration``).
    error_declaration: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    event_type: str = Field(sa_type=sa.String(64), index=True)
    action: str | None = Field(default=None, sa_type=sa.String(8), index=True)
    event_time: datetime = Field(sa_type=UTCDateTime)
    event_time_zone_offset: str = Field(sa_type=sa.String(6))
    record_time: datetime = Field(sa_type=UTCDateTime)
    #: Canonical GS1 Web URI or the user URI.
    biz_step: str | None = Field(default=None, sa_type=sa.Text, index=True)
    disposition: str | None = Field(default=None, sa_type=sa.Text, index=True)
    #: Canonical identifier form (GS1 Digital Link of a GLN/SGLN) or the URI as received.
    read_point: str | None = Field(default=None, sa_type=sa.Text, index=True)
    biz_location: str | None = Field(default=None, sa_type=sa.Text, index=True)
    #: The event exactly as received (its JSON, serialised once at capture).
    captured_json: str = Field(sa_type=sa.Text)
    prehash: str = Field(sa_type=sa.Text)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    recorder_address: str | None = Field(default=None, sa_type=sa.String(42))
    #: id_key of the event's first identifier (32 zero bytes when it has none).
    primary_id_key: str = Field(sa_type=sa.String(66))
    signature: str | None = Field(default=None, sa_type=sa.Text)
    capture_id: str = Field(sa_type=sa.String(36), foreign_key="capture.id", index=True)
    anchor_status: str = Field(default="pending", sa_type=sa.String(16))
    batch_id: int | None = Field(
        default=None, sa_type=BIG_ID, foreign_key="anchor_batch.id", index=True
    )
    #: Merkle proof of the event in its batch (list of 0x-hex siblings).
    proof: list[str] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    #: Who besides its recorder may read the event (one of :data:`VISIBILITIES`; see
    #: :mod:`ledger.visibility`). Not part of the event hash: who may read an event is the
    #: ledger's business, not the event's content.
    visibility: str = Field(
        default="linked", sa_type=sa.String(16), sa_column_kwargs={"server_default": "linked"}
    )


class EventIdentifier(StoreModel, table=True):
    """One identifier one event mentions, in one role (the index behind EPC queries)."""

    __tablename__ = "event_identifier"
    __table_args__ = (
        sa.Index("ix_event_identifier_canonical_role", "canonical", "role"),
        sa.Index("ix_event_identifier_class_canonical_role", "class_canonical", "role"),
        sa.Index("ix_event_identifier_id_key", "id_key"),
    )

    event_pk: int = Field(
        sa_type=BIG_ID, foreign_key="event.id", primary_key=True, ondelete="CASCADE"
    )
    #: One of :data:`ROLES`.
    role: str = Field(sa_type=sa.String(16), primary_key=True)
    #: As received.
    value: str = Field(sa_type=sa.Text, primary_key=True)
    #: Canonical form (GS1 Digital Link on id.gs1.org, handle, urn:oid), else the value.
    canonical: str = Field(sa_type=BINARY_TEXT)
    #: keccak256 of the canonical form, 0x-hex.
    id_key: str = Field(sa_type=sa.String(66))
    #: The class of the identifier (the LGTIN of a serialised item with a lot...), if any.
    class_canonical: str | None = Field(default=None, sa_type=BINARY_TEXT)


class Outbox(StoreModel, table=True):
    """An event waiting to be anchored; deleted once its event is anchored."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_organisation_id_id", "organisation_id", "id"),)

    id: int | None = Field(default=None, sa_column=sa.Column(BIG_ID, primary_key=True))
    event_pk: int = Field(sa_type=BIG_ID, foreign_key="event.id", unique=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, sa_type=sa.String(100))
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(StoreModel, table=True):
    """An API key of a member (or of the consortium admin), stored hashed.

    A key is shown once, when created: ``tc_{key_id}_{secret}``. Only ``key_id`` (public, for
    look-up) and the SHA-256 of the whole key are kept; the secret has 256 bits of entropy, so
    a fast hash is enough.
    """

    __tablename__ = "api_key"
    __table_args__ = (sa.CheckConstraint(_in("role", API_KEY_ROLES), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(sa_type=sa.String(32), unique=True)
    #: SHA-256 of the whole key, hex.
    key_hash: str = Field(sa_type=sa.String(64))
    #: ``None`` for the consortium admin's keys.
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    role: str = Field(sa_type=sa.String(16))
    label: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EventReader(StoreModel, table=True):
    """A member named a reader of an event by its capture (explicitly, or as an owning or
    possessing party of its source or destination lists), or that captured it again."""

    __tablename__ = "event_reader"
    __table_args__ = (
        sa.Index("ix_event_reader_organisation_id_event_pk", "organisation_id", "event_pk"),
    )

    event_pk: int = Field(
        sa_type=BIG_ID, foreign_key="event.id", primary_key=True, ondelete="CASCADE"
    )
    organisation_id: int = Field(foreign_key="organisation.id", primary_key=True)


class EventScope(StoreModel, table=True):
    """One key an event is about, for the visibility rule: the canonical form of an identifier
    it mentions, that identifier's classes (its lot, its GTIN), or a prefix that may own it
    (:func:`ledger.identifiers.prefix_candidates`)."""

    __tablename__ = "event_scope"
    __table_args__ = (sa.Index("ix_event_scope_key_event_pk", "key", "event_pk"),)

    event_pk: int = Field(
        sa_type=BIG_ID, foreign_key="event.id", primary_key=True, ondelete="CASCADE"
    )
    key: str = Field(sa_type=BINARY_TEXT, primary_key=True)
    #: Whether the ``linked`` rule matches this key: an identifier the event mentions or its
    #: lot (not a product-wide class, not a prefix: grants and capability links only).
    link: bool = Field(default=True)


class MemberLink(StoreModel, table=True):
    """A key (canonical identifier or class) a member is linked to: it recorded an event about
    it (``direct``), or about one of its aggregation/transformation neighbours."""

    __tablename__ = "member_link"
    __table_args__ = (sa.Index("ix_member_link_key_organisation_id", "key", "organisation_id"),)

    organisation_id: int = Field(foreign_key="organisation.id", primary_key=True)
    key: str = Field(sa_type=BINARY_TEXT, primary_key=True)
    direct: bool = Field(default=True)


class AccessGrant(StoreModel, table=True):
    """A member's grant of read access to its events about one identifier, lot or prefix."""

    __tablename__ = "access_grant"
    __table_args__ = (
        sa.CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),
        sa.Index("ix_access_grant_grantee_id_grantor_id", "grantee_id", "grantor_id"),
    )

    id: str = Field(sa_type=sa.String(36), primary_key=True)
    grantor_id: int = Field(foreign_key="organisation.id", index=True)
    grantee_id: int = Field(foreign_key="organisation.id")
    scope_kind: str = Field(sa_type=sa.String(16))
    #: The scope as the grantor wrote it.
    scope_value: str = Field(sa_type=sa.Text)
    #: The ``event_scope.key`` it matches (canonical identifier or lot, normalised prefix).
    scope_key: str = Field(sa_type=BINARY_TEXT)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CapabilityLink(StoreModel, table=True):
    """A regulator's read-only capability link: scoped, expiring, revocable; the secret part of
    its token is stored hashed."""

    __tablename__ = "capability_link"
    __table_args__ = (sa.CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),)

    id: str = Field(sa_type=sa.String(36), primary_key=True)
    #: The issuing member; ``None`` when the consortium admin issued it.
    issuer_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    #: The API key id that issued it.
    issued_by: str = Field(sa_type=sa.String(32))
    label: str = Field(default="", sa_type=sa.Text)
    scope_kind: str = Field(sa_type=sa.String(16))
    scope_value: str = Field(sa_type=sa.Text)
    scope_key: str = Field(sa_type=BINARY_TEXT)
    #: Event-time range the link covers (either end open).
    since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    #: SHA-256 hex of the token's secret.
    secret_hash: str = Field(sa_type=sa.String(64))
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CapabilityUse(StoreModel, table=True):
    """One use of a capability link (who, what, when), kept for its issuer."""

    __tablename__ = "capability_use"

    id: int | None = Field(default=None, sa_column=sa.Column(BIG_ID, primary_key=True))
    link_id: str = Field(sa_type=sa.String(36), foreign_key="capability_link.id", index=True)
    used_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    method: str = Field(sa_type=sa.String(8))
    path: str = Field(sa_type=sa.Text)
    client: str | None = Field(default=None, sa_type=sa.String(64))
    status: int = Field(default=0)


class DisclosurePolicyRow(StoreModel, table=True):
    """A brand owner's choice of what the public sees of the events on its products' trails
    (:mod:`ledger.disclosure`), for a class or a prefix, optionally only for one recording
    member (``recorder``, an on-chain organisation id; ``""``: every member) and one event type
    (``""``: every type). ``fields`` and ``commissioning`` are comma-separated field groups."""

    __tablename__ = "disclosure_policy"
    __table_args__ = (
        sa.CheckConstraint(_in("scope_kind", DISCLOSURE_SCOPES), name="scope_kind"),
        sa.UniqueConstraint(
            "organisation_id",
            "scope_key",
            "recorder",
            "event_type",
            name="uq_disclosure_policy_rule",
        ),
    )

    id: str = Field(sa_type=sa.String(36), primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    scope_kind: str = Field(sa_type=sa.String(16))
    scope_value: str = Field(sa_type=sa.Text)
    scope_key: str = Field(sa_type=BINARY_TEXT)
    recorder: str = Field(default="", sa_type=sa.String(66))
    event_type: str = Field(default="", sa_type=sa.String(32))
    fields: str = Field(default="", sa_type=sa.Text)
    commissioning: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
