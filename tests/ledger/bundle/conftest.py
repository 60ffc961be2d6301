"""Fixtures of the bundle tests: a supply chain captured for members of the real devnet, anchored,
ready to be exported (:class:`Exported`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.bundle import BundleVerification, dump_bundle, export_bundle, load_bundle, verify_bundle
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.visibility import Reader
from tests.ledger.conftest import MakeMember
from tests.ledger.trace.supply_chain import ROLES, SupplyChain, build_supply_chain
from wallets.keyring import Keyring


@dataclass
class Exported:
    engine: Engine
    chain: ChainClient
    deployment: Deployment
    supply: SupplyChain
    member_ids: dict[str, int]
    org_ids: dict[str, str]

    def export(self, reader: Reader | None = None, **scope: Any) -> dict[str, Any]:
        """The bundle of ``scope`` as ``reader`` reads it (default: the operator, every
        event)."""
        who = Reader.operator() if reader is None else reader
        return export_bundle(self.engine, self.chain, self.deployment, reader=who, **scope)

    def verify(self, bundle: dict[str, Any]) -> BundleVerification:
        # Only an RPC URL: no database, no API.
        return verify_bundle(load_bundle(dump_bundle(bundle)), ChainClient(self.chain.rpc_url))


def drain(engine: Engine, chain: ChainClient, deployment: Deployment, keyring: Keyring) -> int:
    worker = AnchorWorker(
        engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig(max_events=4)
    )
    return worker.drain()


@pytest.fixture
def exported(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
) -> Exported:
    members = {role: make_member(role.replace("_", " ").title()) for role in ROLES}
    supply = build_supply_chain(engine, {role: m.id for role, m in members.items()})
    assert drain(engine, chain, deployment, keyring) == supply.event_count
    return Exported(
        engine,
        chain,
        deployment,
        supply,
        {role: m.id for role, m in members.items()},
        {role: m.org_id for role, m in members.items()},
    )


def kinds(result: BundleVerification) -> set[str]:
    return {f.kind for f in result.findings}
