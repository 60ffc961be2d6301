"""Where a command's data comes from: the database and the chain (``DATABASE_URL``,
``TRACECHAIN_RPC_URL``, the deployment record in ``TRACECHAIN_DATA_DIR``), or a running API
(``--api URL --api-key KEY``, or ``TRACECHAIN_API_URL`` / ``TRACECHAIN_API_KEY``).

Everything heavy is imported when it is first used, so ``tracechain --help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.errors import ExitCode, die
from ledger.settings import get_settings

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine

    from ledger.chain import ChainClient
    from ledger.deployment import Deployment
    from ledger.membership import Membership

ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="TRACECHAIN_API_URL",
        help="Ask this tracechain API instead of the database and chain.",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="TRACECHAIN_API_KEY", help="API key for --api."),
]


def engine(*, migrate: bool = False) -> Engine:
    """The database of ``DATABASE_URL`` (its schema brought up to date with ``migrate``)."""
    from ledger.store.db import make_engine
    from ledger.store.db import migrate as run_migrations

    made = make_engine(get_settings().effective_database_url)
    if migrate:
        run_migrations(made)
    return made


def chain() -> ChainClient:
    """The chain of ``TRACECHAIN_RPC_URL`` (or the devnet)."""
    from ledger.chain import ChainClient

    return ChainClient(get_settings().effective_rpc_urls)


def deployment() -> Deployment:
    """The contracts' deployment record in the data dir."""
    from ledger.deployment import Deployment

    return Deployment.load(get_settings().deployment_file)


def membership(*, admin: bool) -> Membership:
    """Membership operations; with ``admin``, signed by the consortium admin's keystore
    (``{data_dir}/keys/admin.json``, its passphrase from ``TRACECHAIN_ADMIN_PASSPHRASE`` or
    ``admin.passphrase`` beside it).

    Raises:
        ConfigurationError: ``admin`` and there is no admin keystore.
        wallets.errors.WalletError: the keystore or its passphrase cannot be read.
    """
    from ledger.errors import ConfigurationError
    from ledger.membership import Membership
    from wallets.admin import AdminKey
    from wallets.keyring import Keyring
    from wallets.signer import KeystoreSigner

    settings = get_settings()
    signer: KeystoreSigner | None = None
    if admin:
        key = AdminKey(settings.data_dir)
        if not key.exists():
            raise ConfigurationError(
                f"no consortium admin keystore at {key.keystore} "
                "(`tracechain devnet up` creates one)"
            )
        signer = key.signer()
    keyring = Keyring(settings.data_dir, work_factor=settings.keystore_work_factor)
    return Membership(engine(migrate=True), chain(), deployment(), keyring, signer)


class Remote:
    """A tracechain API reached over HTTP (httpx)."""

    def __init__(self, url: str, key: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; problems become exit codes (4xx: 1, 5xx and no answer: 2)."""
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            die(f"the API at {self.client.base_url} did not answer: {exc}")
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = f"{problem.get('title')}: {problem.get('detail')}"
            except ValueError:
                detail = response.text[:500]
            die(
                f"the API answered {response.status_code}: {detail}",
                ExitCode.FAILED if response.status_code < 500 else ExitCode.ERROR,
            )
        return response


def remote(api: str | None, key: str | None) -> Remote | None:
    """The API of ``--api``, or ``None`` to work on the database and chain."""
    return None if api is None else Remote(api, key)


def quote(identifier: str) -> str:
    """``identifier`` as one URL path segment."""
    from urllib.parse import quote as url_quote

    return url_quote(identifier, safe="")


def read_file(path: Path) -> bytes:
    """The bytes of ``path``; exit 1 when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        die(f"cannot read {path}: {exc}", ExitCode.FAILED)
