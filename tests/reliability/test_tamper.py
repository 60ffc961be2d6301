"""Tamper suite: random single-field mutations of a small anchored ledger (every stored column
of ``event``, every member of the captured JSON, proofs, batches, identifier index rows), each
of which verification AND the audit must see (``bench/tamperrun.py``; seeded, so repeatable).

Prints ``table: detected M/M by verify, M/M by the audit`` per table; fails on any mutation one
of them did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from bench.tamperrun import ACCESS_COLUMNS, TABLES, TamperLedger, build_ledger, tamper
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Membership
from ledger.store.db import make_engine, migrate
from ledger.store.models import Event, metadata
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT
from wallets.signer import as_signer

#: The run's seed (a failure names the mutation; the same seed repeats it).
SEED = 11
#: Members of the captured JSON the CBV 2.0 hash leaves out: each must be mutated.
OUTSIDE_THE_HASH = ("eventID", "recordTime", "errorDeclaration", "@context", "rdfs:comment")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'tamper.sqlite3'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def ledger(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    admin: LocalAccount,
    tmp_path: Path,
) -> TamperLedger:
    keyring = Keyring(tmp_path, work_factor=SCRYPT_N_LIGHT)
    membership = Membership(engine, chain, deployment, keyring, as_signer(admin))
    return build_ledger(engine, chain, deployment, membership, keyring)


def test_every_single_field_mutation_is_seen_by_verify_and_by_the_audit(
    ledger: TamperLedger,
) -> None:
    result = tamper(ledger, seed=SEED, per_column=1)
    for line in result.lines():
        print(line)
    print(json.dumps(result.to_json()))
    assert set(result.by_table) == set(TABLES)
    labels = {label.split()[0] for label in result.labels}
    # Every column but the access-control ones (who may read an event: not the record, see
    # ACCESS_COLUMNS), which are exactly those the README says are not covered.
    every_column = {
        f"event.{c.name}"
        for c in metadata.tables[Event.__tablename__].c
        if c.name not in ACCESS_COLUMNS
    }
    assert {"visibility"} == ACCESS_COLUMNS
    assert every_column <= labels, every_column - labels
    assert {f"captured_json.{name}" for name in OUTSIDE_THE_HASH} <= labels
    assert result.undetected == [], "\n".join(result.undetected)
    assert result.detected_by_verify == result.detected_by_audit == result.mutations
