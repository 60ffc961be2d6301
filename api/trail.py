"""An identifier's trail as the API answers it: JSON for machines, the buyer's page for people.

:func:`build_trail` verifies the trail (:class:`ledger.verify.Verifier`) and shapes it;
:func:`render` turns it into JSON or HTML and keeps the result in the trail cache when every
event's verification is final (verified or tampered) and the recall state was read, so a
popular product's page costs a dictionary lookup until something about it changes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel

from api import i18n
from api.cache import CachedTrail
from api.identity import describe, resolver_url, trail_url
from api.services import Services
from ledger.identifiers import GS1Identifier, Identifier, IdentifierError, epc_uri_at, parse
from ledger.identifiers.hashing import keccak256
from ledger.store.models import Organisation
from ledger.store.records import ErrorDeclaration
from ledger.store.repository import display_epc_uri, events_by_identifier
from ledger.verify import TrailEntry, TrailVerification

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
TEMPLATE_ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the package: no stat() of the file on every page.
    auto_reload=False,
)
TEMPLATE_ENV.globals["t"] = i18n.t

#: The JSON-LD context extension our recall notices use: ``tracechain:recallReason``.
RECALL_NAMESPACE: Final = {"tracechain": "urn:tracechain:"}
RECALL_REASON_KEY: Final = "tracechain:recallReason"
LIFT_REASON_KEY: Final = "tracechain:recallLiftReason"

Format = Literal["json", "html"]


# ---------------------------------------------------------------- JSON shape (for OpenAPI)


class RecorderOut(BaseModel):
    """Who recorded an event."""

    org_id: str | None
    name: str | None
    address: str | None


class AnchorOut(BaseModel):
    """Where an event is anchored, and what anyone needs to check it on chain themselves:
    ``TraceAnchor.verifyEvent(root, proof, eventHash, id_key, recorder.address)``."""

    root: str | None
    tx_hash: str | None
    block_number: int | None
    id_key: str | None
    proof: list[str]


class VerificationOut(BaseModel):
    """One event's verification."""

    status: Literal["verified", "pending", "tampered", "unknown"]
    reasons: list[str]
    recorder: RecorderOut
    anchor: AnchorOut
    signed: bool


class DeclaredInErrorOut(BaseModel):
    """The error declaration of an event (EPCIS 2.0 section 7.4.1.2) stored in the ledger."""

    declaration_time: str | None
    reason: str | None
    corrective_event_ids: list[str]


class TrailEventOut(BaseModel):
    """One event of a trail."""

    event_id: str | None
    hash_id: str
    event_type: str
    event_time: datetime
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


# ---------------------------------------------------------------- building


def _local(key: str) -> str:
    for separator in ("}", "#", ":", "/"):
        key = key.rsplit(separator, 1)[-1]
    return key


def _ilmd(entry: TrailEntry) -> dict[str, Any]:
    ilmd = entry.captured.get("ilmd")
    if not isinstance(ilmd, Mapping):
        return {}
    return {_local(str(k)): v for k, v in ilmd.items()}


def _is_commissioning(entry: TrailEntry) -> bool:
    step = (entry.biz_step or "").rsplit("-", 1)[-1]
    return step == "commissioning" or (
        entry.event_type == "ObjectEvent" and entry.captured.get("action") == "ADD"
    )


def _place(value: str | None) -> str | None:
    if not value:
        return None
    try:
        ident = parse(value)
    except IdentifierError:
        return value
    if isinstance(ident, GS1Identifier) and ident.key is not None and ident.key.ai == "414":
        extension = dict(ident.key.qualifiers).get("254")
        return f"GLN {ident.key.value}" + (f" ({extension})" if extension else "")
    return ident.canonical


def _recall_reason(
    services: Services,
    entries: tuple[TrailEntry, ...],
    recalled: str | None,
    reason_hash: str | None,
) -> str | None:
    """The reason of the recall notice whose keccak256 is on chain: in the trail, or (for an
    item whose lot is recalled) among the recalled identifier's own events."""
    if not reason_hash:
        return None
    notices = [entry.captured for entry in entries]
    if recalled:
        notices += [stored.event for stored in events_by_identifier(services.engine, recalled)]
    for captured in reversed(notices):
        reason = captured.get(RECALL_REASON_KEY)
        if isinstance(reason, str) and "0x" + keccak256(reason.encode()).hex() == reason_hash:
            return reason
    return None


def _member_names(services: Services, org_ids: set[str]) -> dict[str, str]:
    if not org_ids:
        return {}
    table = Organisation.__table__  # type: ignore[attr-defined]
    with services.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.org_id, table.c.name).where(table.c.org_id.in_(sorted(org_ids)))
        ).all()
    return {str(org): str(name) for org, name in rows}


def trail_json(
    services: Services, identifier: Identifier, trail: TrailVerification
) -> dict[str, Any]:
    """The JSON trail (see :class:`TrailOut`)."""
    public = services.public_url
    link = resolver_url(identifier, public)
    klass = identifier.class_identifier()
    origin = trail.origin
    owner = origin.owner if origin is not None else None
    owner_org = owner.org_id if owner else services.membership().owner_of(identifier)
    recall = trail.recall or {}
    known = {owner.org_id: owner.name} if owner else {}
    names = known | _member_names(
        services, {o for o in (owner_org, recall.get("org_id")) if o and o not in known}
    )
    info = describe(identifier)
    commissionings = [e for e in trail.events if _is_commissioning(e)]
    commissioning = commissionings[0] if commissionings else None
    ilmd: dict[str, Any] = {}
    for entry in commissionings:
        for key, value in _ilmd(entry).items():
            ilmd.setdefault(key, value)
    site = next((e.biz_location or e.read_point for e in commissionings
                 if e.biz_location or e.read_point), None)  # fmt: skip
    deployment = services.deployment()
    encoded = _quote_all(link)
    declared = _declared_in_error(trail)
    events = []
    for entry in trail.events:
        v = entry.verification
        proof, id_key = list(entry.proof), entry.id_key
        events.append(
            {
                "event_id": entry.captured.get("eventID"),
                "hash_id": v.hash_id,
                "event_type": entry.event_type,
                "event_time": entry.event_time.isoformat(),
                "action": entry.captured.get("action"),
                "biz_step": entry.biz_step,
                "disposition": entry.disposition,
                "read_point": entry.read_point,
                "biz_location": entry.biz_location,
                "verification": {
                    "status": v.status,
                    "reasons": list(v.reasons),
                    "recorder": {
                        "org_id": v.recorder_org_id,
                        "name": v.recorder_name,
                        "address": v.recorder_address,
                    },
                    "anchor": {
                        "root": v.root,
                        "tx_hash": v.tx_hash,
                        "block_number": v.block_number,
                        "id_key": id_key,
                        "proof": proof,
                    },
                    "signed": v.signed,
                },
                "event": entry.captured,
                "declared_in_error": declared.get(v.hash_id),
            }
        )
    return {
        "identifier": {
            "canonical": identifier.canonical,
            "scheme": identifier.scheme,
            "kind": identifier.kind,
            "owner_prefix": identifier.owner_prefix,
            "class_identifier": klass.canonical if klass else None,
            "epc_uri": (
                epc_uri_at(identifier, owner.prefix if owner else None)
                if origin is not None
                else display_epc_uri(services.engine, identifier)
            ),
            "resolver_url": link,
            "trail_url": trail_url(identifier, public),
            "qr_png": f"{public}/qr/{encoded}.png",
            "qr_svg": f"{public}/qr/{encoded}.svg",
        },
        "verdict": trail.verdict,
        "reasons": list(trail.reasons),
        "recall": {
            "recalled": trail.recall is not None,
            "identifier": recall.get("identifier") or (identifier.canonical if recall else None),
            "org_id": recall.get("org_id"),
            "member": names.get(str(recall.get("org_id"))),
            "block": recall.get("block"),
            "reason_hash": recall.get("reason_hash"),
            "reason": _recall_reason(
                services, trail.events, recall.get("identifier"), recall.get("reason_hash")
            ),
        },
        "owner": (
            {"org_id": owner_org, "name": names.get(owner_org), "address": None}
            if owner_org
            else None
        ),
        "origin": _origin_json(trail, names),
        "product": {
            **info,
            "lot": info["lot"] or _str(ilmd.get("lotNumber")),
            "production_date": _str(ilmd.get("productionDate")),
            "expiry_date": _str(ilmd.get("itemExpirationDate")),
            "made_by": commissioning.verification.recorder_name if commissioning else None,
            "made_at": _place(site),
        },
        "events": events,
        "chain": {"chain_id": deployment.chain_id, "anchor_contract": deployment.anchor_address},
    }


def _declared_in_error(trail: TrailVerification) -> dict[str, dict[str, Any]]:
    """Hash ID -> the error declaration of that event among the trail's records."""
    declared: dict[str, dict[str, Any]] = {}
    for entry in trail.events:
        declaration = ErrorDeclaration.of(entry.captured)
        if declaration is not None:
            declared.setdefault(
                entry.verification.hash_id,
                {
                    "declaration_time": declaration.declaration_time,
                    "reason": declaration.reason,
                    "corrective_event_ids": list(declaration.corrective_event_ids),
                },
            )
    return declared


def _declared_text(declared: Mapping[str, Any] | None, lang: str) -> str | None:
    """The page's line about an event declared in error (time, reason, corrective events)."""
    if declared is None:
        return None
    parts = [_when(declared["declaration_time"])] if declared["declaration_time"] else []
    if declared["reason"]:
        key = f"error_reason_{declared['reason']}"
        parts.append(i18n.t(key, lang) if key in i18n.MESSAGES else declared["reason"])
    if declared["corrective_event_ids"]:
        ids = ", ".join(declared["corrective_event_ids"])
        parts.append(f"{i18n.t('corrective_events', lang)}: {ids}")
    return " · ".join(parts)


def _origin_json(trail: TrailVerification, names: Mapping[str, str]) -> dict[str, Any]:
    """The trail's origin (see :class:`OriginOut`)."""
    origin = trail.origin
    if origin is None:  # not judged: say so rather than claim anything
        return {"status": "unknown", "confirmed": False, "owner": None, "prefix": None,
                "commissioning": [], "reasons": []}  # fmt: skip
    owner = origin.owner
    return {
        "status": origin.status,
        "confirmed": origin.confirmed,
        "owner": (
            {"org_id": owner.org_id, "name": names.get(owner.org_id, owner.name), "address": None}
            if owner
            else None
        ),
        "prefix": owner.prefix if owner else None,
        "commissioning": [
            {"hash_id": e.hash_id, "identifier": e.identifier, "status": e.status}
            for e in origin.evidence
        ],
        "reasons": list(origin.reasons),
    }


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _quote_all(text: str) -> str:
    return quote(text, safe="")


def is_final(trail: TrailVerification) -> bool:
    """Whether the trail cannot change until something new happens to the identifier."""
    if trail.reasons or not trail.events:
        return False
    if trail.origin is None or trail.origin.status in ("pending", "unknown"):
        return False
    return all(e.verification.status in ("verified", "tampered") for e in trail.events)


# ---------------------------------------------------------------- rendering


def render_html(data: dict[str, Any], lang: str) -> str:
    """The buyer's verification page."""
    rows = []
    for event in data["events"]:
        verification = event["verification"]
        label = i18n.biz_step_label(event["biz_step"], event["event_type"], lang)
        if RECALL_REASON_KEY in event["event"]:
            label = i18n.t("event_recalled", lang)
        elif LIFT_REASON_KEY in event["event"]:
            label = i18n.t("event_recall_lifted", lang)
        rows.append(
            {
                "what": label,
                "action": i18n.t(f"action_{event['action']}", lang) if event["action"] else "",
                "when": _when(event["event_time"]),
                "where": _place(event["biz_location"] or event["read_point"]) or "—",
                "who": verification["recorder"]["name"] or i18n.t("unknown_member", lang),
                "status": verification["status"],
                "status_text": i18n.t(f"status_{verification['status']}", lang),
                "block": verification["anchor"]["block_number"],
                "tx": verification["anchor"]["tx_hash"],
                "root": verification["anchor"]["root"],
                "reasons": [
                    {"original": reason, "segments": i18n.reason_segments(reason, lang)}
                    for reason in verification["reasons"]
                ],
                "produced": _production_date(event["event"]),
                "note": event["event"].get(RECALL_REASON_KEY)
                or event["event"].get(LIFT_REASON_KEY),
                "declared": _declared_text(event.get("declared_in_error"), lang),
            }
        )
    template = TEMPLATE_ENV.get_template("verify.html")
    return template.render(
        lang=lang,
        html_lang=i18n.TAGS[lang],
        data=data,
        rows=rows,
        verdict=data["verdict"],
        tampered=any(r["status"] == "tampered" for r in rows),
        origin=data["origin"],
        other_langs=[(code, i18n.NAMES[code]) for code in i18n.LANGUAGES if code != lang],
    )


def _production_date(captured: dict[str, Any]) -> str | None:
    """The production date a commissioning event's ILMD gives (the card's, for its row)."""
    ilmd = captured.get("ilmd")
    if not isinstance(ilmd, Mapping):
        return None
    for key, value in ilmd.items():
        if _local(str(key)) == "productionDate":
            return _str(value)
    return None


def _when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def render(
    services: Services,
    identifier: Identifier,
    text: str,
    fmt: Format,
    lang: str,
    *,
    fresh: bool = False,
) -> CachedTrail:
    """The trail of ``identifier`` (``text`` as given, so a lot-qualified item keeps its lot
    for recall checks) in ``fmt``, from the cache or (always when ``fresh``) freshly
    verified."""
    klass = identifier.class_identifier()
    variant = f"{fmt}:{lang}:{klass.canonical if klass else ''}"
    cached = None if fresh else services.trails.get(identifier.canonical, variant)
    if cached is not None:
        return cached
    generation = services.trails.generation
    trail = services.verifier().verify_identifier(text)
    data = trail_json(services, identifier, trail)
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        media_type = "application/json"
        headers: tuple[tuple[str, str], ...] = ()
    else:
        body = render_html(data, lang).encode()
        media_type = "text/html; charset=utf-8"
        headers = (("Content-Language", i18n.TAGS[lang]),)
    entry = CachedTrail(
        body=body,
        media_type=media_type,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        headers=(("X-Trail-Verdict", trail.verdict), *headers),
        stored_at=time.monotonic(),
    )
    if is_final(trail):
        services.trails.put(identifier.canonical, variant, entry, generation)
    return entry
