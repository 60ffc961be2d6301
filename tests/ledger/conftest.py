"""Fixtures for the ledger's end-to-end tests: a migrated database, members, captures."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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
from tests.helpers import document_bytes
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

_serials = itertools.count(1)


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


Capture = Callable[..., CaptureResult]


@pytest.fixture
def capture(engine: Engine) -> Capture:
    """Capture events for a member (through the real parser and store)."""

    def _capture(member: Member, events: list[dict[str, Any]]) -> CaptureResult:
        parsed = parse_document(document_bytes(*events), "application/ld+json")
        return capture_events(engine, parsed, organisation_id=member.id)

    return _capture
