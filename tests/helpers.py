"""Helpers the whole suite shares (fixtures stay in the ``conftest.py`` files and call these):
free ports, unique GS1 company and handle prefixes, GS1 keys and EPC URIs, EPCIS 2.0 events and
documents in the JSON-LD binding.

The GS1 keys take their check digit from the ledger's own
:func:`ledger.identifiers.gs1.check_digit`; the independent oracle for check digits is biip's,
in ``tests/ledger/identifiers/test_gs1.py``.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from eth_account import Account
from sqlalchemy.engine import Engine

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.identifiers.gs1 import check_digit
from wallets.keyring import Keyring

#: The EPCIS 2.0 JSON-LD context.
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
#: GS1's Digital Link resolver, the host of canonical Digital Link URIs.
DL: Final = "https://id.gs1.org"
#: The ``creationDate`` of the documents built here.
CREATION_DATE: Final = "2026-03-01T09:00:00Z"

# ------------------------------------------------------------------------------------ ports


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------- prefixes

#: One count for every prefix handed out in this process, so no two are alike.
_prefix_serials = itertools.count()


def unique_prefix(lead: str = "69") -> str:
    """A 7-digit GS1 company prefix starting with ``lead`` that no other call in this test
    process returned, so no two tests' members claim the same prefix on the session devnet.

    ``lead`` keeps a test in the range it was written against: GS1's company-prefix table (which
    the ledger reads when a key does not say how long its prefix is) knows no prefix of
    ``04``, ``05``, ``09``, mostly 7-digit ones of ``07``, and prefixes of every length in
    ``08`` and in China's ``69``.
    """
    width = 7 - len(lead)
    return f"{lead}{next(_prefix_serials) % 10**width:0{width}d}"


def unique_handle_prefix() -> str:
    """A Handle System prefix ``88.x.y`` no other call in this test process returned."""
    serial = next(_prefix_serials)
    return f"88.{100 + serial % 900}.{100_000 + serial}"


# ---------------------------------------------------------------------------------- GS1 keys


def _key(body_start: str, reference: int, length: int) -> str:
    """``body_start`` and ``reference`` zero-padded to ``length`` - 1 digits, with the check
    digit (the ledger's own)."""
    width = length - 1 - len(body_start)
    body = f"{body_start}{reference:0{width}d}"
    if len(body) != length - 1:
        raise ValueError(f"{reference} does not fit in a {length}-digit key of {body_start}")
    return body + check_digit(body)


def gtin(prefix: str, item: int = 1) -> str:
    """A GTIN-14 (indicator digit 0) of item reference ``item`` under company prefix ``prefix``."""
    return _key("0" + prefix, item, 14)


def gln(prefix: str, location: int = 1) -> str:
    """A GLN of location reference ``location`` under company prefix ``prefix``."""
    return _key(prefix, location, 13)


def sscc(prefix: str, serial: int) -> str:
    """An SSCC (extension digit 0) of serial reference ``serial`` under ``prefix``."""
    return _key("0" + prefix, serial, 18)


def sgtin_uri(prefix: str, item_reference: str, serial: str | int) -> str:
    """An SGTIN EPC URI (``urn:epc:id:sgtin:``); ``item_reference`` with its indicator digit."""
    return f"urn:epc:id:sgtin:{prefix}.{item_reference}.{serial}"


def sgln_uri(prefix: str, location_reference: str, extension: str = "0") -> str:
    """An SGLN EPC URI (``urn:epc:id:sgln:``), a location of ``prefix``."""
    return f"urn:epc:id:sgln:{prefix}.{location_reference}.{extension}"


# ------------------------------------------------------------------------------------ times

_clock = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_ticks = itertools.count()


def moment() -> str:
    """A fresh event time (one minute after the last one, so every event is distinct)."""
    return (_clock + timedelta(minutes=next(_ticks))).isoformat(timespec="milliseconds")


def timestamp(when: datetime, *, milliseconds: bool = True) -> str:
    """An EPCIS timestamp of ``when`` in UTC (``Z``), with milliseconds unless told not to."""
    spec = "milliseconds" if milliseconds else "seconds"
    return when.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


# ----------------------------------------------------------------------------------- events


def object_event(
    *,
    epcs: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    action: str = "OBSERVE",
    biz_step: str | None = "shipping",
    disposition: str | None = "in_transit",
    location: str | None = None,
    read_point: str | None = None,
    event_time: str | None = None,
    time_zone_offset: str = "+08:00",
    **extra: Any,
) -> dict[str, Any]:
    """An ObjectEvent (JSON-LD, without @context: put it in a :func:`document`).

    ``classes`` become a quantity list (10 of each); ``location`` is the read point and the
    business location, ``read_point`` the read point alone; the time is a fresh
    :func:`moment` unless ``event_time`` is given; ``extra`` fields are set last, as given.
    """
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": event_time or moment(),
        "eventTimeZoneOffset": time_zone_offset,
        "epcList": list(epcs or []),
        "action": action,
    }
    if classes:
        event["quantityList"] = [{"epcClass": c, "quantity": 10} for c in classes]
    if biz_step:
        event["bizStep"] = biz_step
    if disposition:
        event["disposition"] = disposition
    if location:
        event["readPoint"] = {"id": location}
        event["bizLocation"] = {"id": location}
    if read_point:
        event["readPoint"] = {"id": read_point}
    event.update(extra)
    return event


#: The time of :func:`sgtin_event`'s events (plus their offset).
SGTIN_EVENT_START: Final = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
_serials = itertools.count(1)


def sgtin_event(
    serial: str | None = None,
    *,
    company_prefix: str = "0614141",
    item_reference: str = "812345",
    biz_step: str = "commissioning",
    offset_minutes: int = 0,
) -> dict[str, Any]:
    """An ObjectEvent adding one SGTIN (a fresh serial unless one is given) at a site of
    ``company_prefix``: commissioning unless ``biz_step`` says otherwise, ``offset_minutes``
    after 2026-03-01 08:00 UTC."""
    serial = serial or f"S{next(_serials)}"
    when = SGTIN_EVENT_START + timedelta(minutes=offset_minutes)
    return object_event(
        epcs=[sgtin_uri(company_prefix, item_reference, serial)],
        action="ADD",
        biz_step=biz_step,
        disposition="active",
        read_point=sgln_uri(company_prefix, "00777"),
        event_time=timestamp(when, milliseconds=False),
        time_zone_offset="+01:00",
    )


#: The time of :func:`sgtin_observation`'s events (plus their minute).
OBSERVATION_START: Final = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def sgtin_observation(
    serials: Iterable[str | int],
    *,
    minute: int = 0,
    gtin_ref: str = "812345",
    biz_step: str = "shipping",
    **extra: Any,
) -> dict[str, Any]:
    """An ObjectEvent observing SGTINs of company prefix 0614141, ``minute`` minutes after
    2024-03-01 08:00 UTC (no disposition; ``extra`` fields set last)."""
    return object_event(
        epcs=[sgtin_uri("0614141", gtin_ref, s) for s in serials],
        biz_step=biz_step,
        disposition=None,
        event_time=timestamp(OBSERVATION_START + timedelta(minutes=minute)),
        time_zone_offset="+00:00",
        **extra,
    )


def single(event: dict[str, Any]) -> dict[str, Any]:
    """A single event with its @context (for ``POST /events``)."""
    return {"@context": [EPCIS_CONTEXT], **event}


# -------------------------------------------------------------------------------- documents


def document(
    *events: dict[str, Any],
    context: Sequence[str | dict[str, str]] = (EPCIS_CONTEXT,),
    creation_date: str = CREATION_DATE,
) -> dict[str, Any]:
    """An EPCISDocument holding ``events``, as JSON."""
    return {
        "@context": list(context),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date,
        "epcisBody": {"eventList": list(events)},
    }


def document_bytes(
    *events: dict[str, Any],
    context: Sequence[str | dict[str, str]] = (EPCIS_CONTEXT,),
    creation_date: str = CREATION_DATE,
) -> bytes:
    """:func:`document` as the bytes of a capture body."""
    return json.dumps(document(*events, context=context, creation_date=creation_date)).encode()


def supply_document(prefix: str) -> tuple[str, list[str], str, str]:
    """Commissioning of 4 items of a lot of ``prefix``, packing them in a case, shipping the
    case: the document (JSON text), the items, the case and the lot (Digital Links)."""
    lot = f"{DL}/01/{gtin(prefix, 1)}/10/L1"
    items = [f"{lot}/21/{n}" for n in range(4)]
    case = f"{DL}/00/{sscc(prefix, 1)}"
    site = f"{DL}/414/{gln(prefix, 1)}"
    shop = f"{DL}/414/{gln(prefix, 2)}"
    doc = document_bytes(
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:00:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": items,
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": site},
        },
        {
            "type": "AggregationEvent",
            "eventTime": "2026-03-01T08:05:00Z",
            "eventTimeZoneOffset": "+01:00",
            "parentID": case,
            "childEPCs": items,
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": {"id": site},
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:10:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [case],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "readPoint": {"id": site},
            "destinationList": [{"type": "location", "destination": shop}],
        },
    )
    return doc.decode(), items, case, lot


def anchor_all(engine: Engine, rpc_url: str, deployment: Deployment, keyring: Keyring) -> int:
    """Anchor every pending event of ``engine`` on the chain at ``rpc_url`` with a worker of
    its own (closing partial batches); how many were anchored."""
    worker = AnchorWorker(engine, ChainClient(rpc_url), deployment, keyring, AnchorConfig())
    return worker.drain()


def signed_transfer(chain_id: int) -> bytes:
    """A new account's first transaction, signed (raw bytes): a zero-value transfer to itself
    at gas price 0, which the devnet takes from an unfunded sender."""
    account = Account.create()
    tx = {
        "to": account.address,
        "value": 0,
        "gas": 21_000,
        "gasPrice": 0,
        "nonce": 0,
        "chainId": chain_id,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)
