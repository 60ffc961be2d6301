"""Gas price by settings (``TRACECHAIN_GAS_PRICE``): ``zero`` for a zero-fee permissioned
chain whose members hold nothing, ``node`` or a number of wei for a chain that charges gas,
where an unfunded signer is refused by name (:class:`InsufficientFundsError`) and the anchor
worker backs off for its member.

The chain that charges gas is the real anvil devnet started with a base fee and gas price of
1 gwei (``TRACECHAIN_DEVNET_GAS_PRICE``), whose admin the devnet funds; members' signers are
funded in the tests with ``anvil_setBalance``, as an operator would send them ether.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from api.problems import problem_from_ledger_error
from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient, InsufficientFundsError, RpcRequest
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.settings import Settings, variable_of
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from ledger.verify import Verifier
from ledger.visibility import Reader
from tests.conftest import devnet_settings
from tests.helpers import document_bytes, sgtin_event, unique_prefix
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

GWEI = 10**9


@dataclass
class GasChain:
    """A devnet that charges gas, its deployment, a database and a member's keyring."""

    net: Devnet
    engine: Engine
    keyring: Keyring
    admin: LocalAccount

    @property
    def deployment(self) -> Deployment:
        return Deployment.load(self.net.paths.deployment)

    def client(self, **kw: object) -> ChainClient:
        return ChainClient(self.net.rpc_url, **kw)  # type: ignore[arg-type]

    def fund(self, address: str, wei: int) -> None:
        (answer,) = self.client().batch([RpcRequest("anvil_setBalance", (address, hex(wei)))])
        assert answer.error is None


@pytest.fixture(scope="module")
def gas_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GasChain]:
    data = tmp_path_factory.mktemp("gas")
    settings = devnet_settings(data).updated(devnet={"gas_price": GWEI})
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    try:
        url = f"sqlite:///{data / 'ledger.sqlite3'}"
        migrate(url)
        engine = make_engine(url)
        yield GasChain(net, engine, Keyring(data, work_factor=SCRYPT_N_LIGHT), net.admin_account())
        engine.dispose()
    finally:
        net.down()


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("value", "expected"), [("zero", "zero"), ("node", "node"), ("2500000000", 2_500_000_000)]
)
def test_the_setting_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: object
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACECHAIN_GAS_PRICE", value)
    assert Settings(_env_file=None).chain.gas_price == expected  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["cheap", "-1", "1.5"])
def test_a_bad_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACECHAIN_GAS_PRICE", value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert variable_of(caught.value.errors()[0]["loc"]) == "TRACECHAIN_GAS_PRICE"


# ---------------------------------------------------------------------- a zero-fee chain


@pytest.mark.chain
def test_zero_needs_no_balance(chain: ChainClient, new_account: LocalAccount) -> None:
    """The session devnet has zero base fee: an unfunded key deploys at price 0, asking the
    node neither its gas price nor the key's balance."""
    client = ChainClient(chain.rpc_url, gas_price="zero")
    assert client.gas_price() == 0
    receipt = client.deploy(new_account, "TraceAnchor", new_account.address)
    assert receipt["status"] == 1
    assert receipt["effectiveGasPrice"] == 0
    assert client.balance(new_account.address) == 0


# ---------------------------------------------------------------------- a chain that charges gas


@pytest.mark.chain
@pytest.mark.parametrize("policy", ["node", 2 * GWEI])
def test_an_unfunded_signer_is_named(gas_chain: GasChain, policy: object) -> None:
    client = gas_chain.client(gas_price=policy)
    assert client.gas_price() > 0
    stranger: LocalAccount = Account.create()
    with pytest.raises(InsufficientFundsError) as caught:
        client.deploy(stranger, "TraceAnchor", stranger.address)
    error = caught.value
    assert error.address == stranger.address
    assert stranger.address in str(error)
    assert "TRACECHAIN_GAS_PRICE" in str(error)
    # The edges: the API answers a 503 problem saying what is wrong; the CLI prints it (exit 2).
    problem = problem_from_ledger_error(error)
    assert (problem.status, problem.slug) == (503, "insufficient-funds")
    assert stranger.address in problem.detail
    assert not error.client_error
    # Nothing was sent.
    assert client.w3.eth.get_transaction_count(stranger.address, "pending") == 0


@pytest.mark.chain
def test_the_node_refusing_for_funds_is_named_too(gas_chain: GasChain) -> None:
    """A transaction signed past the check (the balance spent meanwhile) is refused by the node
    for want of funds: the error still names its sender."""
    client = gas_chain.client()
    stranger: LocalAccount = Account.create()
    tx = {
        "to": stranger.address,
        "value": 0,
        "gas": 21_000,
        "gasPrice": 2 * GWEI,
        "nonce": 0,
        "chainId": client.chain_id,
    }
    raw = stranger.sign_transaction(tx).raw_transaction
    with pytest.raises(InsufficientFundsError, match=stranger.address):
        client.broadcast(bytes(raw))


@pytest.mark.chain
def test_a_fixed_price_is_what_transactions_pay(gas_chain: GasChain) -> None:
    client = gas_chain.client(gas_price=3 * GWEI)
    before = client.balance(gas_chain.admin.address)
    receipt = client.deploy(gas_chain.admin, "TraceAnchor", gas_chain.admin.address)
    assert receipt["effectiveGasPrice"] == 3 * GWEI
    paid = before - client.balance(gas_chain.admin.address)
    assert paid == receipt["gasUsed"] * 3 * GWEI


@pytest.mark.chain
def test_zero_on_a_chain_that_charges_gas_is_refused_by_the_node(gas_chain: GasChain) -> None:
    client = gas_chain.client(gas_price="zero")
    with pytest.raises(ChainError, match="base fee"):
        client.deploy(gas_chain.admin, "TraceAnchor", gas_chain.admin.address)


@pytest.mark.chain
def test_the_worker_backs_off_for_an_unfunded_member_then_anchors_once_funded(
    gas_chain: GasChain, caplog: pytest.LogCaptureFixture
) -> None:
    client = gas_chain.client()
    deployment = gas_chain.deployment
    membership = Membership(
        gas_chain.engine, client, deployment, gas_chain.keyring, gas_chain.admin
    )
    gcp = unique_prefix("05")
    member: Member = membership.admit("Gas Paying Pumps", OrgRole.RECORDER, prefixes=(gcp,))
    signer = member.signing_addresses[0]
    assert client.balance(signer) == 0
    events = [sgtin_event(f"GAS-{n}", company_prefix=gcp, offset_minutes=n) for n in range(3)]
    parsed = parse_document(document_bytes(*events), "application/ld+json")
    capture_events(gas_chain.engine, parsed, organisation_id=member.id)

    worker = AnchorWorker(
        gas_chain.engine, client, deployment, gas_chain.keyring, AnchorConfig(max_events=10)
    )
    with caplog.at_level(logging.WARNING, logger="tracechain.anchoring"):
        assert worker.run_once(force=True) == 0
        assert worker.run_once(force=True) == 0  # backing off: not even tried again
    refusals = [r.getMessage() for r in caplog.records if "not anchoring" in r.getMessage()]
    assert len(refusals) == 1
    assert signer in refusals[0]
    assert "wei" in refusals[0]
    assert worker.pending_count() == 3
    assert client.w3.eth.get_transaction_count(signer, "pending") == 0

    gas_chain.fund(signer, 10**18)  # the operator funds the member's signer
    fresh = AnchorWorker(
        gas_chain.engine, client, deployment, gas_chain.keyring, AnchorConfig(max_events=10)
    )
    assert fresh.drain() == 3
    assert client.balance(signer) < 10**18
    verifier = Verifier(gas_chain.engine, client, deployment)
    epc = f"urn:epc:id:sgtin:{gcp}.812345.GAS-0"
    assert verifier.verify_identifier(epc, reader=Reader.operator()).verdict == "verified"
    tx = client.transaction(HexBytes(client.w3.eth.get_block("latest")["transactions"][0]))
    assert tx is not None
    assert tx.sender == signer
