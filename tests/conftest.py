"""Fixtures shared by the whole suite: a real anvil devnet with our contracts, databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from web3.contract import Contract

from devnet.launcher import Devnet
from devnet.network import ExternalChain
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.settings import REPO_ROOT, Settings
from tests.helpers import free_port
from wallets.keystore import SCRYPT_N_LIGHT

#: Property tests are deterministic: the same examples on every run and every machine, no example
#: database shared between runs (``.hypothesis/``). ``HYPOTHESIS_PROFILE=explore`` draws fresh
#: random examples for a developer hunting bugs by hand; CI and ``make test`` never use it.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile("explore", max_examples=500, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: GS1's conformance data lives beside the repository, never inside it.
CONFORMANCE_DIR = (REPO_ROOT / ".." / "shared" / "conformance").resolve()
#: Where tests may leave files for a human to look at (screenshots, reports).
TEST_OUTPUT_DIR = REPO_ROOT / "test-output"


#: Fixtures that start or use an anvil devnet; a test asking for one (directly or through
#: another fixture) is marked ``chain``.
CHAIN_FIXTURES = frozenset({"devnet", "own_devnet", "chain", "deployment", "admin", "anchor"})
#: Test folders (or modules) whose every test starts a devnet of its own (launcher, crash and
#: load runs); the Besu kit's tests (tests/devnet/test_network.py) need none.
CHAIN_FOLDERS = frozenset({"devnet/test_launcher.py", "reliability"})
#: A JSON-RPC URL of a chain the suite does not run (a Besu network: ``make test-besu``): the
#: session ``devnet`` is then that chain, with our contracts deployed on it once per session.
EXTERNAL_RPC_ENV = "TRACECHAIN_TEST_RPC_URL"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need an anvil devnet ``chain`` (``pytest -m "not chain"`` runs the
    rest: no node, no contracts); modules that start a devnet without these fixtures say so
    with ``pytestmark = pytest.mark.chain``."""
    tests_dir = Path(__file__).parent
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        parts = (
            item.path.relative_to(tests_dir).parts if item.path.is_relative_to(tests_dir) else ()
        )
        folders = {"/".join(parts[: i + 1]) for i in range(len(parts))}
        if fixtures & CHAIN_FIXTURES or folders & CHAIN_FOLDERS:
            item.add_marker(pytest.mark.chain)


def devnet_settings(data_dir: Path, port: int | None = None) -> Settings:
    """Settings for a throwaway devnet in ``data_dir``, with the checkout's npm toolchain
    (whatever the working directory)."""
    return Settings(_env_file=None).updated(  # type: ignore[call-arg]
        data_dir=data_dir,
        devnet={
            "port": port or free_port(),
            "state_interval": 1,
            "node_modules": REPO_ROOT / "devnet" / "node_modules",
        },
    )


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """GS1's conformance folder; skips where it is absent, except under CI=true."""
    if not CONFORMANCE_DIR.is_dir():
        reason = f"GS1 conformance data not found at {CONFORMANCE_DIR} (see README)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " and CI=true requires it")
        pytest.skip(reason)
    return CONFORMANCE_DIR


@pytest.fixture(scope="session")
def test_database_url() -> str:
    """The PostgreSQL server the suite uses (trust auth on this machine)."""
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A real anvil node with TraceAnchor deployed, shared by the session (or the chain at
    ``TRACECHAIN_TEST_RPC_URL``, with TraceAnchor deployed on it for this session)."""
    settings = devnet_settings(tmp_path_factory.mktemp("devnet"))
    external = os.environ.get(EXTERNAL_RPC_ENV)
    net = (
        ExternalChain(settings, external, key_work_factor=SCRYPT_N_LIGHT)
        if external
        else Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    )
    net.up()
    yield net
    net.down()


@pytest.fixture(scope="session")
def chain(devnet: Devnet) -> ChainClient:
    """A chain client on the session devnet."""
    return ChainClient(devnet.rpc_url)


@pytest.fixture(scope="session")
def deployment(devnet: Devnet) -> Deployment:
    """The session devnet's deployment record."""
    return Deployment.load(devnet.paths.deployment)


@pytest.fixture(scope="session")
def admin(devnet: Devnet) -> LocalAccount:
    """The consortium admin of the session devnet."""
    return devnet.admin_account()


@pytest.fixture(scope="session")
def anchor(chain: ChainClient, deployment: Deployment) -> Contract:
    """The deployed TraceAnchor contract."""
    return chain.contract("TraceAnchor", deployment.anchor_address)


@pytest.fixture
def new_account() -> LocalAccount:
    """A fresh, unfunded key (the chain has zero gas price)."""
    account: LocalAccount = Account.create()
    return account
