"""An identifier's trail as the API answers it: JSON for machines, the buyer's page for people.

:func:`trail_json` adds what this node knows to the ledger's verification document of a trail
(:meth:`ledger.verify.TrailVerification.to_json`);
:func:`render` turns it into JSON or HTML and keeps the result in the trail cache when every
event's verification is final (verified or tampered) and the recall state was read, so a
popular product's page costs a dictionary lookup until something about it changes.

Every trail is read for one :class:`~ledger.visibility.Reader`: the events it may read are
shown in full, and the other events the public may read as their public projection under the
brand owner's disclosure rules (:mod:`ledger.disclosure`; for the public itself every event is
projected). A projected entry keeps its hash ID, anchor, proof and the server's verdict, says
``"disclosure": "public"`` and lists the field groups it ``withheld``; the recall notice whose
reason it shows and the product summary come from what the reader sees. Only the public and
the operator's views are cached (:func:`api.cache.cached_view`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from api import i18n
from api.cache import CachedTrail, cached_view, trail_variant
from api.identity import describe, resolver_url, trail_url
from api.schemas import TrailOut as TrailOut  # the routes and the OpenAPI import it from here
from api.services import Services
from ledger import disclosure
from ledger.disclosure import PublicField, disclosed, project
from ledger.identifiers import GS1Identifier, Identifier, IdentifierError, epc_uri_at, parse
from ledger.identifiers.hashing import keccak256
from ledger.store.disclosure import trail_rules
from ledger.store.records import ErrorDeclaration
from ledger.store.repository import display_epc_uri, events_by_identifier
from ledger.verify import EventVerification, RecallJson, TrailEntry, TrailVerification
from ledger.visibility import Reader

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
RECALL_REASON_KEY: Final = disclosure.RECALL_REASON_KEY
LIFT_REASON_KEY: Final = disclosure.LIFT_REASON_KEY
#: What a projected entry says instead of the reasons a tampered event failed with (they may
#: quote its stored contents).
WITHHELD_REASON: Final = "the stored event does not match what was anchored (details withheld)"

Format = Literal["json", "html"]

_NOT_JUDGED: Final[RecallJson] = {
    "recalled": False, "identifier": None, "org_id": None, "block": None, "reason_hash": None
}  # fmt: skip


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
    reader: Reader,
) -> str | None:
    """The reason of the recall notice whose keccak256 is on chain: in the trail, or (for an
    item whose lot is recalled) among the recalled identifier's own events ``reader`` may
    read."""
    if not reason_hash:
        return None
    notices = [entry.captured for entry in entries]
    if recalled:
        notices += [
            stored.event
            for stored in events_by_identifier(services.engine, recalled, reader=reader)
        ]
    for captured in reversed(notices):
        reason = captured.get(RECALL_REASON_KEY)
        if isinstance(reason, str) and "0x" + keccak256(reason.encode()).hex() == reason_hash:
            return reason
    return None


def _projected_verification(verification: EventVerification) -> EventVerification:
    """A projected event's verification: its verdict, recorder and anchor as they are; the
    reasons a tampered event failed with are replaced (they may quote its contents)."""
    if verification.status != "tampered":
        return verification
    return replace(verification, reasons=(WITHHELD_REASON,))


def _project_entry(entry: TrailEntry, fields: frozenset[PublicField]) -> TrailEntry:
    """``entry`` as the public sees it: its captured event projected on ``fields``, the
    columns of withheld groups blanked."""
    step = PublicField.STEP in fields
    place = PublicField.PLACE in fields
    return replace(
        entry,
        captured=project(entry.captured, fields),
        biz_step=entry.biz_step if step else None,
        disposition=entry.disposition if step else None,
        read_point=entry.read_point if place else None,
        biz_location=entry.biz_location if place else None,
        verification=_projected_verification(entry.verification),
    )


def disclose(
    services: Services, identifier: Identifier, trail: TrailVerification
) -> tuple[TrailVerification, list[frozenset[PublicField] | None]]:
    """The trail with every entry its reader may not read in full (:attr:`TrailEntry.full`)
    replaced by its public projection under the brand owner's rules, and per entry the
    groups disclosed (None: shown in full)."""
    if all(entry.full for entry in trail.events):
        return trail, [None] * len(trail.events)
    rules = trail_rules(services.engine, identifier)
    entries: list[TrailEntry] = []
    shown: list[frozenset[PublicField] | None] = []
    for entry in trail.events:
        if entry.full:
            entries.append(entry)
            shown.append(None)
            continue
        fields = disclosed(
            rules.rules,
            rules.keys,
            entry.captured,
            recorder=entry.verification.recorder_org_id,
            owner=rules.owner,
        )
        entries.append(_project_entry(entry, fields))
        shown.append(fields)
    return replace(trail, events=tuple(entries)), shown


def _disclosure_json(
    event: dict[str, Any], fields: frozenset[PublicField] | None
) -> dict[str, Any]:
    """A trail event with what was disclosed of it: ``full``, or ``public`` with the groups
    withheld (and no time when the time is one of them)."""
    if fields is None:
        return {**event, "disclosure": "full", "withheld": []}
    return {
        **event,
        "event_time": event["event_time"] if PublicField.WHEN in fields else None,
        "disclosure": "public",
        "withheld": [group.value for group in disclosure.withheld(fields)],
    }


def trail_json(
    services: Services, identifier: Identifier, trail: TrailVerification, reader: Reader
) -> dict[str, Any]:
    """The JSON trail (see :class:`TrailOut`): the ledger's verification document
    (:meth:`TrailVerification.to_json`, read for ``reader``, its events the reader may not
    read in full projected: :func:`disclose`) and what this node adds: its links and QR
    codes, the EPC URI it displays, member names, the recall notice's text (of a notice
    ``reader`` may read), a product summary, where each event was declared in error, and the
    chain to check the anchors on."""
    trail, shown = disclose(services, identifier, trail)
    doc = trail.to_json()
    public = services.public_url
    link = resolver_url(identifier, public)
    origin = trail.origin
    owner = origin.owner if origin is not None else None
    members = services.membership_reader()
    owner_org = owner.org_id if owner else members.owner_of(identifier)
    recall = doc["recall"] or _NOT_JUDGED  # a trail's recall is always judged
    known = {owner.org_id: owner.name} if owner else {}
    names = known | members.names(o for o in (owner_org, recall["org_id"]) if o and o not in known)
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
    raw_recall = trail.recall or {}
    return {
        "identifier": {
            **doc["identifier"],
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
        "verdict": doc["verdict"],
        "reasons": doc["reasons"],
        "recall": {
            "recalled": recall["recalled"],
            "identifier": recall["identifier"],
            "org_id": recall["org_id"],
            "member": names.get(str(recall["org_id"])),
            "block": recall["block"],
            "reason_hash": recall["reason_hash"],
            "reason": _recall_reason(
                services,
                trail.events,
                raw_recall.get("identifier"),
                recall["reason_hash"],
                reader,
            ),
        },
        "owner": (
            {"org_id": owner_org, "name": names.get(owner_org), "address": None}
            if owner_org
            else None
        ),
        "origin": doc["origin"],
        "product": {
            **info,
            "lot": info["lot"] or _str(ilmd.get("lotNumber")),
            "production_date": _str(ilmd.get("productionDate")),
            "expiry_date": _str(ilmd.get("itemExpirationDate")),
            "made_by": commissioning.verification.recorder_name if commissioning else None,
            "made_at": _place(site),
        },
        "events": [
            _disclosure_json({**event, "declared_in_error": declared.get(event["hash_id"])}, fields)
            for event, fields in zip(doc["events"], shown, strict=True)
        ],
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
        projected = event.get("disclosure") == "public"
        rows.append(
            {
                "what": label,
                "action": i18n.t(f"action_{event['action']}", lang) if event["action"] else "",
                "when": _when(event["event_time"]) if event["event_time"] else "—",
                "where": _place(event["biz_location"] or event["read_point"]) or "—",
                "projected": projected,
                "withheld": _withheld_text(event.get("withheld") or [], lang) if projected else "",
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
        projected=any(row["projected"] for row in rows),
        verdict=data["verdict"],
        tampered=any(r["status"] == "tampered" for r in rows),
        origin=data["origin"],
        other_langs=[(code, i18n.NAMES[code]) for code in i18n.LANGUAGES if code != lang],
    )


def _withheld_text(groups: list[str], lang: str) -> str:
    """The field groups a projected event withheld, named in ``lang``."""
    separator = "、" if lang == "zh" else ", "
    return separator.join(i18n.t(f"field_{group}", lang) for group in groups)


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
    reader: Reader,
    fresh: bool = False,
) -> CachedTrail:
    """The trail of ``identifier`` (``text`` as given, so a lot-qualified item keeps its lot
    for recall checks) in ``fmt`` as ``reader`` may read it, from the cache or (always when
    ``fresh``, and for views that are not cached) freshly verified."""
    klass = identifier.class_identifier()
    view = cached_view(reader)
    variant = (
        None if view is None else trail_variant(view, fmt, lang, klass.canonical if klass else None)
    )
    cached = (
        None if fresh or variant is None else services.trails.get(identifier.canonical, variant)
    )
    if cached is not None:
        return cached
    generation = services.trails.generation
    trail = services.verifier().verify_identifier(text, reader=reader, public_projection=True)
    data = trail_json(services, identifier, trail, reader)
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
    if variant is not None and is_final(trail):
        services.trails.put(identifier.canonical, variant, entry, generation)
    return entry
