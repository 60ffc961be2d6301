"""Several RPC endpoints (``TRACECHAIN_RPC_URLS``): the client fails over from one that is down,
passes over one that lags, refuses one that serves another chain (naming it), and the audit
asks two endpoints for the same anchors and reports where they disagree.

Everything runs on real anvil nodes: the session devnet, a port where nothing listens, a
devnet with another chain id, and a "fork": a devnet stopped after a first batch, its data
copied to a second devnet (the same chain: same chain id, genesis and deployment), then a
second batch anchored on the first node only while the second mines empty blocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from devnet.launcher import Devnet
from ledger.anchoring import AnchorWorker
from ledger.audit import Auditor, FindingKind
from ledger.chain import (
    ChainClient,
    EndpointMismatchError,
    EndpointState,
    RpcRequest,
)
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.settings import Settings
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from tests.conftest import devnet_settings
from tests.helpers import document_bytes, free_port, sgtin_event, unique_prefix
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

pytestmark = pytest.mark.chain


def mine(url: str, blocks: int) -> None:
    (answer,) = ChainClient(url).batch([RpcRequest("anvil_mine", (hex(blocks),))])
    assert answer.error is None


def states(client: ChainClient) -> dict[str, EndpointState]:
    return {status.url: status.state for status in client.check_endpoints()}


@pytest.fixture(scope="module")
def other_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet with another chain id (31337) and its own deployment."""
    settings = devnet_settings(tmp_path_factory.mktemp("other")).updated(devnet={"chain_id": 31337})
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    yield net
    net.down()


@dataclass
class Fork:
    """Two nodes of one chain: ``ahead`` holds a batch ``behind`` never saw."""

    ahead: Devnet
    behind: Devnet
    engine: Engine
    member: Member

    @property
    def deployment(self) -> Deployment:
        return Deployment.load(self.ahead.paths.deployment)


@pytest.fixture
def fork(tmp_path: Path) -> Iterator[Fork]:
    first = Devnet(devnet_settings(tmp_path / "a"), key_work_factor=SCRYPT_N_LIGHT)
    second: Devnet | None = None
    first.up()
    try:
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        migrate(url)
        engine = make_engine(url)
        keyring = Keyring(tmp_path / "a", work_factor=SCRYPT_N_LIGHT)
        deployment = Deployment.load(first.paths.deployment)
        client = ChainClient(first.rpc_url)
        membership = Membership(engine, client, deployment, keyring, first.admin_account())
        gcp = unique_prefix("04")
        member = membership.admit("Forked Pumps", OrgRole.RECORDER, prefixes=(gcp,))

        def anchor(serial: str) -> None:
            event = sgtin_event(serial, company_prefix=gcp)
            parsed = parse_document(document_bytes(event), "application/ld+json")
            capture_events(engine, parsed, organisation_id=member.id)
            worker = AnchorWorker(engine, ChainClient(first.rpc_url), deployment, keyring)
            assert worker.drain() == 1

        anchor("FORK-1")
        first.down()
        shutil.copytree(
            tmp_path / "a",
            tmp_path / "b",
            ignore=shutil.ignore_patterns("anvil.pid", "anvil.log", "*.sqlite3*"),
        )
        second = Devnet(devnet_settings(tmp_path / "b"), key_work_factor=SCRYPT_N_LIGHT)
        first.up()
        second.up()  # the same chain: its deployment record matches
        anchor("FORK-2")  # on the first node only
        yield Fork(first, second, engine, member)
        engine.dispose()
    finally:
        first.down()
        if second is not None:
            second.down()


# ---------------------------------------------------------------------- failover


def test_settings_list_the_endpoints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACECHAIN_RPC_URL", raising=False)
    monkeypatch.setenv("TRACECHAIN_RPC_URLS", "http://10.0.0.1:8545,http://10.0.0.2:8545")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_rpc_urls == ("http://10.0.0.1:8545", "http://10.0.0.2:8545")
    monkeypatch.setenv("TRACECHAIN_RPC_URL", "http://10.0.0.2:8545")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_rpc_urls == ("http://10.0.0.2:8545", "http://10.0.0.1:8545")
    assert settings.effective_rpc_url == "http://10.0.0.2:8545"


def test_fails_over_from_a_closed_port(
    chain: ChainClient, deployment: Deployment, new_account: LocalAccount
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    client = ChainClient([closed, chain.rpc_url])
    assert deployment.mismatches(client) == []
    assert deployment.endpoint_problems(client) == []
    found = {s.url: s for s in client.endpoints()}
    assert found[closed].state is EndpointState.DOWN
    assert "did not answer" in (found[closed].reason or "")
    assert found[chain.rpc_url].state is EndpointState.OK
    assert client.rpc_url == chain.rpc_url
    # Reads through web3 and through raw batches, and a transaction, all reach the live node.
    assert client.block_number() >= chain.block_number() - 1
    anchor = client.contract("TraceAnchor", deployment.anchor_address)
    (admin_role,) = client.calls(client.view(anchor, "DEFAULT_ADMIN_ROLE"), [()])
    assert len(admin_role[0]) == 32
    receipt = client.deploy(new_account, "TraceAnchor", new_account.address)
    assert receipt["status"] == 1


def test_fails_over_when_the_preferred_endpoint_dies(fork: Fork) -> None:
    client = ChainClient([fork.ahead.rpc_url, fork.behind.rpc_url], health_check_s=3600)
    assert states(client) == {
        fork.ahead.rpc_url: EndpointState.OK,
        fork.behind.rpc_url: EndpointState.OK,
    }
    assert client.rpc_url == fork.ahead.rpc_url
    ahead_head = client.block_number()
    fork.ahead.down()
    # No check in between: the request itself finds the node gone and goes to the next one.
    assert client.block_number() == ChainClient(fork.behind.rpc_url).block_number()
    assert client.block_number() < ahead_head
    assert {s.url: s.state for s in client.endpoints()}[fork.ahead.rpc_url] is EndpointState.DOWN


def test_no_endpoint_answering_names_each() -> None:
    urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    client = ChainClient(urls)
    with pytest.raises(ChainError) as caught:
        client.block_number()
    assert all(url in str(caught.value) for url in urls)
    assert client.reachable() is False


def test_a_lagging_endpoint_is_passed_over(fork: Fork) -> None:
    mine(fork.ahead.rpc_url, 6)  # the second node is now 7 blocks behind
    client = ChainClient([fork.behind.rpc_url, fork.ahead.rpc_url], max_lag_blocks=5)
    found = {s.url: s for s in client.check_endpoints()}
    assert found[fork.behind.rpc_url].state is EndpointState.LAGGING
    assert "7 blocks behind" in (found[fork.behind.rpc_url].reason or "")
    assert found[fork.ahead.rpc_url].state is EndpointState.OK
    assert client.rpc_url == fork.ahead.rpc_url
    assert client.block_number() == ChainClient(fork.ahead.rpc_url).block_number()
    # Within the bound it is an equal again.
    relaxed = ChainClient([fork.behind.rpc_url, fork.ahead.rpc_url], max_lag_blocks=7)
    assert set(states(relaxed).values()) == {EndpointState.OK}
    assert relaxed.rpc_url == fork.behind.rpc_url


# ---------------------------------------------------------------------- another chain


def test_another_chain_is_refused_by_name(
    chain: ChainClient, deployment: Deployment, other_chain: Devnet
) -> None:
    # Without a record, the first endpoint that answers sets what "the chain" is.
    client = ChainClient([chain.rpc_url, other_chain.rpc_url])
    found = {s.url: s for s in client.check_endpoints()}
    assert found[other_chain.rpc_url].state is EndpointState.REFUSED
    assert found[other_chain.rpc_url].reason == (
        f"it serves chain id 31337, {chain.rpc_url} says {deployment.chain_id}"
    )
    # With the deployment record, even an endpoint listed first is refused by name.
    client = ChainClient([other_chain.rpc_url, chain.rpc_url])
    (problem,) = deployment.endpoint_problems(client)
    assert problem == (
        f"RPC endpoint {other_chain.rpc_url} is refused: it serves chain id 31337, "
        f"the deployment record says {deployment.chain_id}"
    )
    assert deployment.mismatches(client) == []
    assert client.rpc_url == chain.rpc_url
    assert client.chain_id == deployment.chain_id
    # When only the other chain answers, nothing is asked of it.
    closed = f"http://127.0.0.1:{free_port()}"
    client = ChainClient([closed, other_chain.rpc_url])
    client.expect(deployment.identity())
    with pytest.raises(EndpointMismatchError) as caught:
        client.block_number()
    assert caught.value.url == other_chain.rpc_url
    assert other_chain.rpc_url in str(caught.value)
    assert caught.value.problem == "endpoint-mismatch"


def test_another_deployment_is_refused(
    chain: ChainClient, deployment: Deployment, other_chain: Devnet
) -> None:
    """Same chain, another contract code at our address: refused as well."""
    record = Deployment.load(other_chain.paths.deployment)
    client = ChainClient([other_chain.rpc_url, chain.rpc_url])
    client.expect(
        type(record.identity())(record.chain_id, record.genesis_hash, (("0x" + "ab" * 20, "0x0"),))
    )
    found = {s.url: s for s in client.check_endpoints()}
    assert found[other_chain.rpc_url].state is EndpointState.REFUSED
    assert "the code at 0x" + "ab" * 20 in (found[other_chain.rpc_url].reason or "")


# ---------------------------------------------------------------------- the audit


def test_the_audit_reports_endpoints_that_disagree(fork: Fork) -> None:
    ahead, behind = fork.ahead.rpc_url, fork.behind.rpc_url
    # The second node mines past the first: not lagging, but without the second batch.
    mine(behind, ChainClient(ahead).block_number() - ChainClient(behind).block_number() + 2)
    alone = Auditor(fork.engine, ChainClient(ahead), fork.deployment, workers=1).run()
    assert alone.ok, [f.to_json() for f in alone.findings]

    report = Auditor(fork.engine, ChainClient([ahead, behind]), fork.deployment, workers=1).run()
    (finding,) = report.findings
    assert finding.kind is FindingKind.ENDPOINT_DISAGREEMENT
    assert ahead in finding.message
    assert behind in finding.message
    assert "not anchored" in finding.message
    assert finding.evidence[behind] is None
    assert finding.evidence[ahead]["event_count"] == 1
    assert finding.evidence[ahead]["block"] <= finding.evidence["block"]

    # Asked explicitly, an endpoint of another chain is a wrong_chain finding naming it.
    closed = f"http://127.0.0.1:{free_port()}"
    report = Auditor(
        fork.engine,
        ChainClient(ahead),
        fork.deployment,
        workers=1,
        compare_endpoints=[ahead, closed],
    ).run()
    (finding,) = report.findings
    assert finding.kind is FindingKind.ENDPOINT_DISAGREEMENT
    assert closed in finding.message
