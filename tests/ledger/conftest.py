"""Fixtures for the ledger's end-to-end tests: a migrated database, members, EPCIS events."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.store.capture import CaptureResult, capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

_serials = itertools.count(1)
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database (WAL) in a temp dir."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    """Member keys in the temp data dir (light scrypt: test keys only)."""
    return Keyring(tmp_path, work_factor=SCRYPT_N_LIGHT)


@pytest.fixture
def membership(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    admin: LocalAccount,
) -> Membership:
    """Membership on the session devnet and the test database."""
    return Membership(engine, chain, deployment, keyring, admin)


MakeMember = Callable[..., Member]


@pytest.fixture
def make_member(membership: Membership) -> MakeMember:
    """Admit a fresh recording member (unique org id per test)."""

    def _make(name: str = "Acme Pumps", prefixes: tuple[str, ...] = ()) -> Member:
        unique = f"{name} {next(_serials)} {datetime.now(UTC).timestamp()}"
        return membership.admit(unique, OrgRole.RECORDER, prefixes=prefixes)

    return _make


def object_event(
    serial: str | None = None,
    *,
    company_prefix: str = "0614141",
    item_reference: str = "812345",
    biz_step: str = "commissioning",
    offset_minutes: int = 0,
) -> dict[str, Any]:
    """An ObjectEvent commissioning one SGTIN."""
    serial = serial or f"S{next(_serials)}"
    when = START + timedelta(minutes=offset_minutes)
    return {
        "type": "ObjectEvent",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"urn:epc:id:sgtin:{company_prefix}.{item_reference}.{serial}"],
        "action": "ADD",
        "bizStep": biz_step,
        "disposition": "active",
        "readPoint": {"id": f"urn:epc:id:sgln:{company_prefix}.00777.0"},
    }


def document(events: list[dict[str, Any]]) -> bytes:
    """An EPCIS 2.0 JSON-LD document."""
    return json.dumps(
        {
            "@context": [EPCIS_CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T09:00:00Z",
            "epcisBody": {"eventList": events},
        }
    ).encode()


Capture = Callable[..., CaptureResult]


@pytest.fixture
def capture(engine: Engine) -> Capture:
    """Capture events for a member (through the real parser and store)."""

    def _capture(member: Member, events: list[dict[str, Any]]) -> CaptureResult:
        parsed = parse_document(document(events), "application/ld+json")
        return capture_events(engine, parsed, organisation_id=member.id)

    return _capture
