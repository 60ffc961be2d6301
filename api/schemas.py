"""Request and response bodies of the API (pydantic), separate from the store's table models."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ledger.disclosure import DisclosureScope, PublicField
from ledger.verify import AnchorJson, RecorderJson, VerificationJson
from ledger.visibility import Visibility

RoleName = Literal["recorder", "auditor"]

# ---------------------------------------------------------------- ISO 8601 inputs

#: An ISO 8601 / RFC 3339 date-time: date, ``T`` (or a space), hours and minutes, optional
#: seconds and fraction, optional offset (``Z`` or ``±hh:mm``).
_DATE_TIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(value: object, pattern: re.Pattern[str], what: str) -> object:
    """``value`` when it is an ISO 8601 string (or already parsed), else a ValueError: pydantic's
    lax mode would otherwise read a number (``0``, ``"0.5"``) as Unix time."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    shown = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    raise ValueError(f"an ISO 8601 {what} string is needed, not {shown}")


def iso_date_time(value: object) -> object:
    """Accept ISO 8601 date-time strings only (``2026-01-05T08:00:00Z``)."""
    return _iso_text(value, _DATE_TIME_RE, "date-time (such as 2026-01-05T08:00:00+08:00)")


def iso_date(value: object) -> object:
    """Accept ISO 8601 calendar dates only (``2026-01-05``)."""
    return _iso_text(value, _DATE_RE, "date (YYYY-MM-DD)")


#: A date-time given as an ISO 8601 string, never as a number (request bodies and queries).
IsoDateTime = Annotated[datetime, BeforeValidator(iso_date_time)]
#: A calendar date given as ``YYYY-MM-DD``, never as a number.
IsoDate = Annotated[date, BeforeValidator(iso_date)]


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- members


def _recorder_only() -> list[RoleName]:
    return ["recorder"]


class MemberIn(Strict):
    """Admit an organisation."""

    name: str = Field(min_length=1, max_length=200, examples=["Acme Pharma Ltd"])
    roles: list[RoleName] = Field(
        default_factory=_recorder_only, min_length=1, examples=[["recorder"]]
    )
    org_id: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="On-chain organisation id (bytes32); default keccak256 of the name.",
    )
    prefixes: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Identifier prefixes to assign: GS1 company prefixes, handle prefixes, OIDs.",
        examples=[["0614141", "handle:88.118.8"]],
    )


class MemberOut(BaseModel):
    """A member organisation."""

    org_id: str
    name: str
    roles: list[RoleName]
    active: bool
    signing_addresses: list[str]
    prefixes: list[str]


class PrefixIn(Strict):
    """Assign an identifier prefix."""

    prefix: str = Field(min_length=1, max_length=300, examples=["0614141", "88.118.8"])


class PrefixOut(BaseModel):
    """An assigned prefix, normalised."""

    prefix: str
    org_id: str


class ApiKeyIn(Strict):
    """Create an API key for a member."""

    role: RoleName = "recorder"
    label: str = Field(default="", max_length=200)


class ApiKeyOut(BaseModel):
    """An API key (never the key itself, except once when it is created)."""

    key_id: str
    role: str
    label: str
    org_id: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    """A new API key: ``key`` is shown this once and never again."""

    key: str


class SigningKeyOut(BaseModel):
    """The member's new signing address after a rotation."""

    org_id: str
    address: str
    signing_addresses: list[str]


class Me(BaseModel):
    """Who the API key belongs to."""

    key_id: str
    role: str
    org_id: str | None
    name: str | None
    prefixes: list[str]


# ---------------------------------------------------------------- capture


class CaptureErrorOut(BaseModel):
    """One problem of a failed capture (RFC 9457 shape)."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


class CaptureJobOut(BaseModel):
    """An EPCIS capture job (REST binding ``CaptureJob``)."""

    captureID: str  # noqa: N815 - the REST binding's names
    createdAt: datetime  # noqa: N815
    finishedAt: datetime | None = None  # noqa: N815
    running: bool
    success: bool
    captureErrorBehaviour: Literal["rollback", "proceed"] = "rollback"  # noqa: N815
    errors: list[CaptureErrorOut] = Field(default_factory=list)
    eventCount: int = 0  # noqa: N815
    eventIDs: list[str] = Field(default_factory=list)  # noqa: N815
    #: The visibility of the events the capture stored (none when it stored none).
    visibility: Visibility | None = None


# ---------------------------------------------------------------- batches


class BatchIn(Strict):
    """A supplier's new production lot: GTIN, lot, quantity, dates and site."""

    gtin: str = Field(min_length=8, max_length=14, pattern=r"^\d+$", examples=["09506000134352"])
    lot: str = Field(min_length=1, max_length=20, examples=["LOT-2025-001"])
    quantity: float = Field(gt=0, le=1e12, examples=[1200])
    uom: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{2,3}$",
        description="UN/ECE Rec 20 unit (KGM, LTR...); none for a count of items.",
    )
    production_date: IsoDate | None = Field(default=None, examples=["2025-11-20"])
    expiry_date: IsoDate | None = Field(default=None, examples=["2027-11-20"])
    site_gln: str = Field(
        min_length=13, max_length=13, pattern=r"^\d{13}$", examples=["0614141000012"]
    )
    event_time: IsoDateTime | None = Field(
        default=None,
        description="When the lot was produced (ISO 8601, with an offset); default now (UTC).",
        examples=["2025-11-20T08:00:00+08:00"],
    )

    @field_validator("lot")
    @classmethod
    def _lot_characters(cls, value: str) -> str:
        allowed = set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'()*+,-./:;<=>?_"
        )
        bad = next((c for c in value if c not in allowed), None)
        if bad is not None:
            raise ValueError(f"{bad!r} is not in GS1 AI encodable character set 82")
        return value


class BatchOut(BaseModel):
    """The commissioned lot."""

    identifier: str = Field(description="Canonical identifier (LGTIN Digital Link).")
    epc_class: str = Field(description="The LGTIN class as an EPC URI when known, else the DL.")
    digital_link: str = Field(description="GS1 Digital Link URI on this resolver.")
    qr_url: str
    qr_svg_url: str
    label_sheet_url: str
    event_id: str
    event_hash_id: str
    capture_id: str
    event: dict[str, Any]


# ---------------------------------------------------------------- recall


class RecallIn(Strict):
    """Recall a product or lot (or lift a recall)."""

    reason: str = Field(min_length=3, max_length=2000, examples=["Contamination found in QA"])


class RecallOut(BaseModel):
    """The on-chain recall state of an identifier."""

    identifier: str
    recalled: bool
    recalled_identifier: str | None = Field(
        default=None, description="What is recalled: the identifier or its lot/class."
    )
    org_id: str | None = None
    block: int | None = None
    reason_hash: str | None = None
    reason: str | None = None


# ---------------------------------------------------------------- trails (GET /identifiers/{id})


#: Who recorded an event, where it is anchored and how it verifies: the ledger's own shapes
#: (:mod:`ledger.verify`), served as they are.
RecorderOut = RecorderJson
AnchorOut = AnchorJson
VerificationOut = VerificationJson


class DeclaredInErrorOut(BaseModel):
    """The error declaration of an event (EPCIS 2.0 section 7.4.1.2) stored in the ledger."""

    declaration_time: str | None
    reason: str | None
    corrective_event_ids: list[str]


class TrailEventOut(BaseModel):
    """One event of a trail: in full (an event its reader may read), or its public projection
    (``disclosure`` ``public``: the always-public core and the field groups the brand owner
    discloses; see ``ledger.disclosure``)."""

    event_id: str | None
    hash_id: str
    event_type: str
    event_time: Annotated[
        datetime | None, Field(description="Null when the projection withholds the time.")
    ]
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    verification: VerificationOut
    event: dict[str, Any]
    #: Set on an event (and on its declaration) when the trail holds an error declaration of
    #: it (same hash ID); the verdict does not change.
    declared_in_error: DeclaredInErrorOut | None = None
    disclosure: Literal["full", "public"] = Field(
        default="full",
        description="full: the reader may read the event and ``event`` is as captured; public: "
        "the reader sees the brand owner's public projection of it (its anchor, proof and "
        "verification are the server's check of the whole stored event).",
    )
    withheld: list[PublicField] = Field(
        default_factory=list,
        description="The field groups a public projection does not disclose (whether or not "
        "the event had any); empty for an event shown in full.",
    )


class ProductOut(BaseModel):
    """What the trail says about the product."""

    gtin: str | None
    lot: str | None
    serial: str | None
    key: str | None
    production_date: str | None
    expiry_date: str | None
    made_by: str | None
    made_at: str | None


class RecallStateOut(BaseModel):
    """The on-chain recall state."""

    recalled: bool
    identifier: str | None = None
    org_id: str | None = None
    member: str | None = None
    block: int | None = None
    reason_hash: str | None = None
    reason: str | None = None


class OriginEvidenceOut(BaseModel):
    """One commissioning event of the brand owner and how it verified."""

    hash_id: str
    identifier: str
    status: Literal["verified", "pending", "tampered", "unknown"]


class OriginOut(BaseModel):
    """Whether the brand owner (the member owning the identifier's GS1 company prefix or Handle
    prefix, as the chain confirms) commissioned the product: ``confirmed`` by a verified
    commissioning of it or its lot/class; ``pending`` (not anchored yet); ``tampered`` /
    ``unknown``; ``unconfirmed`` (no such commissioning: the trail is ``unconfirmed_origin``);
    ``no_owner`` (no member owns its prefix: nobody can vouch for it)."""

    status: Literal["confirmed", "pending", "tampered", "unknown", "unconfirmed", "no_owner"]
    confirmed: bool
    owner: RecorderOut | None
    prefix: str | None
    commissioning: list[OriginEvidenceOut]
    reasons: list[str]


class IdentifierOut(BaseModel):
    """The identifier in its forms."""

    canonical: str
    scheme: str
    kind: str
    owner_prefix: str
    class_identifier: str | None
    epc_uri: str | None
    resolver_url: str
    trail_url: str
    qr_png: str
    qr_svg: str


class ChainOut(BaseModel):
    """Where to check the anchors independently."""

    chain_id: int
    anchor_contract: str


class TrailOut(BaseModel):
    """An identifier's trail with its verification (``GET /identifiers/{id}``)."""

    identifier: IdentifierOut
    verdict: Literal["verified", "pending", "tampered", "recalled", "unknown", "unconfirmed_origin"]
    reasons: list[str]
    recall: RecallStateOut
    owner: RecorderOut | None
    origin: OriginOut
    product: ProductOut
    events: list[TrailEventOut]
    chain: ChainOut


# ---------------------------------------------------------------- access: grants, links, visibility

#: What a grant or a capability link covers.
ScopeKindName = Literal["identifier", "lot", "prefix"]
#: Who besides its recorder may read an event (see ``ledger.visibility``).
VisibilityName = Literal["private", "restricted", "linked", "public"]
_ORG_ID_PATTERN: Final = r"^0x[0-9a-fA-F]{64}$"
_SCOPE_DESCRIPTION: Final = (
    "An identifier (any form: EPC URI, GS1 Digital Link, element string, handle, OID), a lot "
    "(an LGTIN, or an item of the lot), or a prefix (GS1 company prefix, handle prefix, OID "
    "arc), as scope_kind says."
)


class GrantIn(Strict):
    """Let another member read this member's events about one identifier, lot or prefix."""

    grantee: str = Field(pattern=_ORG_ID_PATTERN, description="The grantee's organisation id.")
    scope_kind: ScopeKindName
    scope: str = Field(
        min_length=1,
        max_length=300,
        description=_SCOPE_DESCRIPTION,
        examples=["urn:epc:class:lgtin:0614141.812345.LOT1", "0614141"],
    )


class GrantOut(BaseModel):
    """A read grant between two members."""

    id: str
    grantor: str = Field(description="The granting member's organisation id.")
    grantee: str = Field(description="The grantee's organisation id.")
    scope_kind: ScopeKindName
    scope: str = Field(description="The scope as the grantor wrote it.")
    scope_key: str = Field(description="What it matches: a canonical identifier, lot or prefix.")
    created_at: datetime
    revoked_at: datetime | None = None


class GrantsOut(BaseModel):
    """The grants a member gave and received."""

    given: list[GrantOut]
    received: list[GrantOut]


class LinkIn(Strict):
    """Issue a read-only capability link (for a regulator without an account)."""

    scope_kind: ScopeKindName
    scope: str = Field(min_length=1, max_length=300, description=_SCOPE_DESCRIPTION)
    since: IsoDateTime | None = Field(
        default=None, description="Only events whose eventTime is at or after this instant."
    )
    until: IsoDateTime | None = Field(
        default=None, description="Only events whose eventTime is before this instant."
    )
    expires_at: IsoDateTime | None = Field(
        default=None, description="When the link stops working (default 30 days, at most 366)."
    )
    label: str = Field(default="", max_length=200, examples=["SAMR inspection 2026-04"])


class LinkOut(BaseModel):
    """A capability link (never its token, except once when it is issued)."""

    id: str
    issuer: str | None = Field(description="The issuing member; null: the consortium admin.")
    issued_by: str = Field(description="The API key id that issued it.")
    label: str
    scope_kind: ScopeKindName
    scope: str
    scope_key: str
    since: datetime | None = None
    until: datetime | None = None
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None = None
    active: bool = Field(description="Neither expired nor revoked.")
    uses: int = Field(default=0, description="How often it was presented.")


class LinkCreated(LinkOut):
    """A new capability link: ``token`` and ``url`` are shown this once and never again."""

    token: str = Field(
        description="Send it as Authorization: Bearer tcl_..., or as the access query parameter."
    )
    url: str = Field(description="A URL that opens the link's events without an account.")


class LinkUseOut(BaseModel):
    """One use of a capability link."""

    used_at: datetime
    method: str
    path: str = Field(description="The path and query asked for (the token left out).")
    client: str | None = Field(description="The client's address.")
    status: int = Field(description="The HTTP status answered.")


class MemberSettingsIn(Strict):
    """Change a member's settings."""

    default_visibility: VisibilityName = Field(
        description="The visibility of its events captured without a choice."
    )


class MemberDetailOut(MemberOut):
    """A member organisation, with its settings."""

    default_visibility: VisibilityName


class MeOut(Me):
    """Who the API key belongs to, with its member's default visibility (null for the admin
    and the operator's auditors)."""

    default_visibility: VisibilityName | None = None


class OperatorKeyIn(Strict):
    """Create an operator's key: an auditor of no member, reading every event."""

    role: Literal["auditor"] = "auditor"
    label: str = Field(default="", max_length=200)


# ---------------------------------------------------------------- disclosure: the public projection

#: An EPCIS 2.0 event type (``ledger.disclosure.EVENT_TYPES``).
EventTypeName = Literal[
    "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"
]


class DisclosureIn(Strict):
    """A brand owner's rule: which field groups of which events on its products' trails the
    public sees (``ledger.disclosure``). Setting a rule for the same scope, recorder and event
    type replaces it."""

    scope_kind: DisclosureScope = Field(
        description="class: a GTIN (any identifier of it: the rule covers all its lots and "
        "items; an identifier of no class covers itself); prefix: one of the member's "
        "registered prefixes."
    )
    scope: str = Field(
        min_length=1,
        max_length=300,
        examples=["https://id.gs1.org/01/06141411234567", "0614141"],
    )
    recorder: str | None = Field(
        default=None,
        pattern=_ORG_ID_PATTERN,
        description="Only events recorded by this member (organisation id); null: any member.",
    )
    event_type: EventTypeName | None = Field(
        default=None, description="Only events of this type; null: any type."
    )
    fields: list[PublicField] = Field(
        default_factory=list,
        description="The field groups the public sees of these events (beyond the always-public "
        "core: type, recorder, hash ID, anchor, verdict, recall notices).",
        examples=[["when", "step"]],
    )
    commissioning: list[PublicField] = Field(
        default_factory=list,
        description="Groups shown besides on the brand owner's own commissioning events.",
        examples=[["place", "lot"]],
    )


class DisclosureOut(BaseModel):
    """A brand owner's disclosure rule."""

    id: str
    owner: str = Field(description="The brand owner's organisation id.")
    scope_kind: DisclosureScope
    scope: str = Field(description="The scope as the owner wrote it.")
    scope_key: str = Field(description="What it matches: a canonical class or a prefix.")
    recorder: str | None
    event_type: str | None
    fields: list[PublicField]
    commissioning: list[PublicField]
    created_at: datetime
    updated_at: datetime


class DisclosurePolicyOut(BaseModel):
    """What the public sees where no rule applies."""

    fields: list[PublicField]
    commissioning: list[PublicField]


class DisclosuresOut(BaseModel):
    """A brand owner's rules and the default projection."""

    rules: list[DisclosureOut]
    default: DisclosurePolicyOut
