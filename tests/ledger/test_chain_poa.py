"""Proof-of-authority headers: a chain whose blocks carry Clique or QBFT ``extraData`` (longer
than the 32 bytes of Ethereum's yellow paper) is read everywhere through :class:`ChainClient`.

A real anvil devnet is deployed, a member anchors and recalls on it, then it is stopped and its
dumped blocks are rewritten as Clique (97 bytes per sealed block, 177 in the genesis) or Besu
QBFT (RLP) headers (:mod:`tests.ledger.poa`); the restarted anvil serves them over JSON-RPC. The
devnet start (the deployment check), block hashes, verification, the audit, bundles, the API's
chain-reset watcher and the anchor worker then run against it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3 import Web3
from web3.exceptions import ExtraDataLengthError

from api.background import _chain_was_reset
from api.services import Services
from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor
from ledger.bundle import dump_bundle, export_bundle, load_bundle, verify_bundle
from ledger.chain import ChainClient, RpcRequest
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from ledger.verify import Verifier
from ledger.visibility import Reader
from tests.conftest import devnet_settings
from tests.helpers import document_bytes, sgtin_event, unique_prefix
from tests.ledger.poa import SHAPES, VALIDATORS, VANITY, decode_qbft, make_poa_shaped
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

pytestmark = pytest.mark.chain

OPERATOR = Reader.operator()


@dataclass
class PoaLedger:
    """A devnet restarted as a PoA-shaped chain, with a member's anchored, recalled trail."""

    shape: str
    net: Devnet
    engine: Engine
    keyring: Keyring
    member: Member
    gcp: str
    epcs: list[str]
    first_block: int

    @property
    def deployment(self) -> Deployment:
        return Deployment.load(self.net.paths.deployment)

    def client(self) -> ChainClient:
        return ChainClient(self.net.rpc_url)

    def capture(self, *serials: str) -> None:
        events = [
            sgtin_event(serial, company_prefix=self.gcp, offset_minutes=n)
            for n, serial in enumerate(serials)
        ]
        parsed = parse_document(document_bytes(*events), "application/ld+json")
        capture_events(self.engine, parsed, organisation_id=self.member.id)
        self.epcs += [f"urn:epc:id:sgtin:{self.gcp}.812345.{s}" for s in serials]

    def drain(self) -> int:
        worker = AnchorWorker(
            self.engine, self.client(), self.deployment, self.keyring, AnchorConfig(max_events=2)
        )
        return worker.drain()


@pytest.fixture(scope="module", params=sorted(SHAPES))
def poa(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PoaLedger]:
    shape = str(request.param)
    data = tmp_path_factory.mktemp(f"poa-{shape}")
    net = Devnet(devnet_settings(data), key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    try:
        url = f"sqlite:///{data / 'ledger.sqlite3'}"
        migrate(url)
        engine = make_engine(url)
        keyring = Keyring(data, work_factor=SCRYPT_N_LIGHT)
        client = ChainClient(net.rpc_url)
        first_block = client.block_number() + 1
        deployment = Deployment.load(net.paths.deployment)
        membership = Membership(engine, client, deployment, keyring, net.admin_account())
        gcp = unique_prefix("07")
        member = membership.admit(f"PoA {shape} Pumps", OrgRole.RECORDER, prefixes=(gcp,))
        ledger = PoaLedger(shape, net, engine, keyring, member, gcp, [], first_block)
        ledger.capture("POA-1", "POA-2", "POA-3")
        assert ledger.drain() == 3
        membership.recall(member.org_id, ledger.epcs[2], "seals leak")
        net.down()
        make_poa_shaped(net.paths.state, net.paths.deployment, SHAPES[shape])
        net.up()  # the deployment check reads block 1's header and the receipts
        yield ledger
        engine.dispose()
    finally:
        net.down()


def _raw_block(client: ChainClient, number: int) -> dict[str, str]:
    (answer,) = client.batch([RpcRequest("eth_getBlockByNumber", (hex(number), False))])
    assert answer.error is None
    assert isinstance(answer.result, dict)
    return answer.result


def test_the_node_serves_poa_headers(poa: PoaLedger) -> None:
    """The fixture is what broke: every header has the engine's extraData, longer than 32
    bytes, and web3 without the PoA middleware refuses it ("extraData is N bytes")."""
    client = poa.client()
    head = client.block_number()
    assert head >= 3
    for number in range(head + 1):
        extra = bytes(HexBytes(_raw_block(client, number)["extraData"]))
        assert len(extra) > 32
        if poa.shape == "clique":
            assert len(extra) == (32 + 20 * len(VALIDATORS) + 65 if number == 0 else 97)
            assert extra[:32] == VANITY
        else:
            vanity, validators, vote, round_, seals = decode_qbft(extra)
            assert (vanity, validators, vote, round_) == (VANITY, list(VALIDATORS), [], 0)
            assert len(seals) == (0 if number == 0 else 3)
            assert all(len(seal) == 65 for seal in seals)
    bare = Web3(Web3.HTTPProvider(poa.net.rpc_url))
    with pytest.raises(ExtraDataLengthError, match="extraData is"):
        bare.eth.get_block(1)


def test_deployment_check_and_block_hashes(poa: PoaLedger) -> None:
    client = poa.client()
    assert client.genesis_hash() == poa.deployment.genesis_hash
    assert poa.deployment.mismatches(client) == []
    for number in range(client.block_number() + 1):
        assert client.block_hash(number) == _raw_block(client, number)["hash"]
        assert client.w3.eth.get_block(number)["hash"] == HexBytes(
            _raw_block(client, number)["hash"]
        )
    assert poa.net.status().block_number == client.block_number()


def test_verification_audit_and_bundle(poa: PoaLedger) -> None:
    client = poa.client()
    verifier = Verifier(poa.engine, client, poa.deployment)
    assert verifier.verify_identifier(poa.epcs[0], reader=OPERATOR).verdict == "verified"
    assert verifier.verify_identifier(poa.epcs[2], reader=OPERATOR).verdict == "recalled"
    report = Auditor(poa.engine, client, poa.deployment, workers=1).run(from_block=poa.first_block)
    assert report.ok, [f.to_json() for f in report.findings]
    bundle = export_bundle(
        poa.engine, client, poa.deployment, reader=OPERATOR, from_time="2026-01-01T00:00:00Z"
    )
    assert len(bundle["events"]) == len(poa.epcs)
    checked = verify_bundle(load_bundle(dump_bundle(bundle)), ChainClient(poa.net.rpc_url))
    assert checked.ok, [f.to_json() for f in checked.findings]


def test_api_watcher_sees_no_reset(poa: PoaLedger) -> None:
    settings = poa.net.settings.updated(database={"url": str(poa.engine.url)})
    services = Services(settings)
    try:
        assert _chain_was_reset(services) is False
    finally:
        services.engine.dispose()


def test_anchoring_continues(poa: PoaLedger) -> None:
    """The worker reconciles against the PoA blocks it anchored in, and anchors more."""
    poa.capture("POA-4", "POA-5")
    assert poa.drain() == 2
    verifier = Verifier(poa.engine, poa.client(), poa.deployment)
    assert verifier.verify_identifier(poa.epcs[-1], reader=OPERATOR).verdict == "verified"
