"""All settings of tracechain in one pydantic-settings class, in groups.

:class:`Settings` holds what belongs to the node as a whole (the data directory, the public
URL, the keystores' work factor, the garbage collector) and one group per part of it:
``devnet`` (the local chain and its toolchain), ``chain`` (the JSON-RPC endpoint),
``anchoring`` (the anchor worker), ``api`` (the HTTP service) and ``database``.

Values come from the environment, then from a ``.env`` file in the working directory, then
from the defaults below. Every setting has one flat variable name (``TRACECHAIN_*``, plus the
conventional ``DATABASE_URL``, ``ANVIL_BIN`` and ``SOLC_BIN``), listed in :data:`VARIABLES`:
the names of the settings before they were grouped, so deployments, scripts and ``.env`` files
need no change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    SecretStr,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The repository root when running from a checkout (the parent of this package). Only tests
#: and development tools that are about the checkout use it; no setting's default does.
REPO_ROOT = Path(__file__).resolve().parent.parent


class Group(BaseModel):
    """A group of settings: frozen like :class:`Settings`, and strict about its names."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DevnetSettings(Group):
    """The local development chain (anvil) and the toolchain that builds and runs it."""

    host: str = "127.0.0.1"
    port: int = Field(default=8545, ge=1, le=65535)
    #: Chain id of the devnet (a private, permissioned network).
    chain_id: int = Field(default=46_802, ge=1)
    #: Seconds between anvil's state dumps; a kill -9 loses at most this much chain history.
    state_interval: int = Field(default=2, ge=1)
    hardfork: str = "prague"
    #: Base fee and gas price of the devnet in wei: 0 (a permissioned chain: members need no
    #: funding), or more to try a chain that charges gas (the devnet funds its admin itself;
    #: members' signers must then be funded).
    gas_price: int = Field(default=0, ge=0)
    #: The anvil executable; default the pinned npm package in ``node_modules``.
    anvil_bin: Path | None = None
    #: A native solc; default solc-js from ``node_modules``.
    solc_bin: Path | None = None
    node_modules: Path = Field(
        default_factory=lambda: Path.cwd() / "devnet" / "node_modules",
        description=(
            "The pinned npm toolchain (npm ci in devnet/); default devnet/node_modules under "
            "the working directory, so a checkout's root."
        ),
    )


#: How transactions are priced: ``"zero"`` (a permissioned chain with zero base fee, whose
#: members hold no balance), ``"node"`` (the node's ``eth_gasPrice``, for a chain that charges
#: gas and whose operator funds the members' signers) or a fixed number of wei.
GasPrice = Literal["zero", "node"] | NonNegativeInt


def _url_list(value: Any) -> Any:
    """A comma-separated list of URLs (as an environment variable gives it) as a tuple."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class ChainSettings(Group):
    """The chain the ledger anchors on: its endpoints and how transactions are priced."""

    rpc_url: str | None = Field(
        default=None,
        description="JSON-RPC endpoint of the chain; default the devnet on devnet.port.",
    )
    rpc_urls: Annotated[tuple[str, ...], BeforeValidator(_url_list)] = Field(
        default=(),
        description=(
            "Several JSON-RPC endpoints of the same chain (say, one per validator a member "
            "trusts), comma-separated; the client fails over between them. rpc_url, when "
            "set too, comes first."
        ),
    )
    max_lag_blocks: int = Field(
        default=5,
        ge=0,
        description=(
            "An endpoint whose head is this many blocks behind the highest head of the "
            "others is lagging: it is used only when no other answers."
        ),
    )
    #: Seconds between checks of every endpoint's identity and head when there are several.
    health_check_s: float = Field(default=5.0, ge=0)
    gas_price: GasPrice = Field(
        default="node",
        description=(
            "The gas price of every transaction: 'zero' (zero base fee, unfunded members), "
            "'node' (the node's eth_gasPrice; signers need a balance where it is not 0) or "
            "a number of wei."
        ),
    )
    #: Largest block range asked of eth_getLogs (Besu and anvil cap it).
    logs_block_range: int = Field(default=2_000, ge=1)


class AnchoringSettings(Group):
    """The anchor worker: how it batches events and how long it may lag."""

    #: A batch closes when it holds this many events ...
    batch_max_events: int = Field(default=2_000, ge=1, le=100_000)
    #: ... or when its oldest event has waited this long (seconds).
    batch_max_wait_s: float = Field(default=0.5, gt=0)
    #: How often an idle anchor worker looks at the outbox (seconds).
    poll_interval_s: float = Field(default=0.05, gt=0)
    #: How long a worker's lease on a member's anchoring lasts without renewal (seconds).
    lease_s: float = Field(default=15.0, gt=0)
    #: Anchoring lag (age of the oldest event waiting to be anchored) above which /readyz
    #: answers 503 and the audit reports ``anchoring_stalled`` (seconds).
    lag_bound_seconds: float = Field(default=60.0, gt=0)
    #: Run the anchor worker inside the API process (a background task).
    worker_in_api: bool = True


class ApiSettings(Group):
    """The HTTP service: where it listens, how much it takes at once, and its limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    threads: int = Field(
        default=16,
        ge=1,
        le=1000,
        description=(
            "Requests served at once (and worker threads for their blocking work); the "
            "database pool is sized to them. More requests wait in the admission queue."
        ),
    )
    queue_size: int = Field(
        default=256, ge=0, description="Requests that may wait for a turn; beyond, 503."
    )
    queue_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for a turn before a 503 + Retry-After."
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description=(
            "The consortium admin's API key. When unset, one is created on first start, "
            "printed once and stored hashed."
        ),
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest capture body accepted (413)."
    )
    max_capture_events: int = Field(
        default=10_000, ge=1, description="Most events in one capture document (413)."
    )
    trail_cache_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a rendered trail is served before it is verified afresh.",
    )
    recall_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the chain is polled for recalls made outside this service.",
    )


class DatabaseSettings(Group):
    """The ledger's database."""

    url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite (WAL) in the data dir."
    )
    pool_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for a database connection (then 503)."
    )


#: Every environment variable (and ``.env`` line) tracechain reads, and the setting it sets:
#: a top-level field, or a group and its field. Where two names set one setting, the first
#: wins.
VARIABLES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "TRACECHAIN_DATA_DIR": ("data_dir",),
        "TRACECHAIN_PUBLIC_URL": ("public_url",),
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": ("keystore_work_factor",),
        "TRACECHAIN_GC_GEN0_THRESHOLD": ("gc_gen0_threshold",),
        "TRACECHAIN_DEVNET_HOST": ("devnet", "host"),
        "TRACECHAIN_DEVNET_PORT": ("devnet", "port"),
        "TRACECHAIN_DEVNET_CHAIN_ID": ("devnet", "chain_id"),
        "TRACECHAIN_DEVNET_STATE_INTERVAL": ("devnet", "state_interval"),
        "TRACECHAIN_DEVNET_HARDFORK": ("devnet", "hardfork"),
        "TRACECHAIN_DEVNET_GAS_PRICE": ("devnet", "gas_price"),
        "ANVIL_BIN": ("devnet", "anvil_bin"),
        "TRACECHAIN_ANVIL_BIN": ("devnet", "anvil_bin"),
        "SOLC_BIN": ("devnet", "solc_bin"),
        "TRACECHAIN_SOLC_BIN": ("devnet", "solc_bin"),
        "TRACECHAIN_NODE_MODULES": ("devnet", "node_modules"),
        "TRACECHAIN_RPC_URL": ("chain", "rpc_url"),
        "TRACECHAIN_RPC_URLS": ("chain", "rpc_urls"),
        "TRACECHAIN_RPC_MAX_LAG_BLOCKS": ("chain", "max_lag_blocks"),
        "TRACECHAIN_RPC_HEALTH_CHECK_S": ("chain", "health_check_s"),
        "TRACECHAIN_GAS_PRICE": ("chain", "gas_price"),
        "TRACECHAIN_LOGS_BLOCK_RANGE": ("chain", "logs_block_range"),
        "TRACECHAIN_ANCHOR_BATCH_MAX_EVENTS": ("anchoring", "batch_max_events"),
        "TRACECHAIN_ANCHOR_BATCH_MAX_WAIT_S": ("anchoring", "batch_max_wait_s"),
        "TRACECHAIN_ANCHOR_POLL_INTERVAL_S": ("anchoring", "poll_interval_s"),
        "TRACECHAIN_ANCHOR_LEASE_S": ("anchoring", "lease_s"),
        "TRACECHAIN_ANCHOR_LAG_BOUND_SECONDS": ("anchoring", "lag_bound_seconds"),
        "TRACECHAIN_ANCHOR_WORKER_IN_API": ("anchoring", "worker_in_api"),
        "TRACECHAIN_API_HOST": ("api", "host"),
        "TRACECHAIN_API_PORT": ("api", "port"),
        "TRACECHAIN_API_THREADS": ("api", "threads"),
        "TRACECHAIN_API_QUEUE_SIZE": ("api", "queue_size"),
        "TRACECHAIN_API_QUEUE_TIMEOUT_S": ("api", "queue_timeout_s"),
        "TRACECHAIN_ADMIN_API_KEY": ("api", "admin_key"),
        "TRACECHAIN_MAX_BODY_BYTES": ("api", "max_body_bytes"),
        "TRACECHAIN_MAX_CAPTURE_EVENTS": ("api", "max_capture_events"),
        "TRACECHAIN_TRAIL_CACHE_SECONDS": ("api", "trail_cache_seconds"),
        "TRACECHAIN_RECALL_POLL_SECONDS": ("api", "recall_poll_seconds"),
        "DATABASE_URL": ("database", "url"),
        "TRACECHAIN_DATABASE_URL": ("database", "url"),
        "TRACECHAIN_DB_POOL_TIMEOUT_S": ("database", "pool_timeout_s"),
    }
)


def variable_of(location: Sequence[str | int]) -> str | None:
    """The environment variable that sets the setting at ``location`` (as a validation
    error of :class:`Settings` names it, e.g. ``("devnet", "port")``), or None."""
    path = tuple(str(part) for part in location)
    # A union's error adds the member that failed (``("chain", "gas_price", "int")``).
    for end in range(len(path), 0, -1):
        found = next((name for name, setting in VARIABLES.items() if setting == path[:end]), None)
        if found is not None:
            return found
    return None


class FlatVariables(PydanticBaseSettingsSource):
    """The variables of :data:`VARIABLES` among those ``variables`` read (the environment's,
    or the ``.env`` file's), each put where its setting lives."""

    def __init__(self, settings_cls: type[BaseSettings], variables: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self.variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: :meth:`__call__` reads the variables by name, not field by field."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The settings the variables set, nested by group (``{"devnet": {"port": "8546"}}``)."""
        found = self.variables.env_vars
        values: dict[str, Any] = {}
        for name, (*groups, field) in VARIABLES.items():
            value = found.get(name if self.variables.case_sensitive else name.lower())
            if value is None:
                continue
            place = values
            for group in groups:
                place = place.setdefault(group, {})
            place.setdefault(field, value)
        return values


class Settings(BaseSettings):
    """Every knob tracechain reads; :data:`VARIABLES` names its environment variable.

    No default depends on where tracechain is installed: ``data_dir`` defaults to ``.data``
    and ``devnet.node_modules`` to ``devnet/node_modules``, both under the working directory
    when the settings are read (absolute from then on), which for ``make run`` or
    ``tracechain devnet up`` in a checkout is the checkout's root. Elsewhere set
    ``TRACECHAIN_DATA_DIR`` (and ``ANVIL_BIN`` / ``SOLC_BIN`` for the devnet's tools).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: Path.cwd() / ".data",
        description=(
            "Where the devnet state, keys and the SQLite database live; default .data under "
            "the working directory."
        ),
    )
    public_url: str = Field(
        default="",
        description=(
            "Base URL the service is reached at; QR codes and Digital Links use it. "
            "Default: http://{api.host}:{api.port}."
        ),
    )
    #: scrypt work factor of newly created member keystores (2**18 is geth's standard).
    keystore_work_factor: int = Field(default=1 << 18, ge=1 << 10)
    #: Generation-0 threshold of the garbage collector (see ledger.runtime.tune_gc).
    gc_gen0_threshold: int = Field(default=50_000, ge=100)

    devnet: DevnetSettings = Field(default_factory=DevnetSettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)
    anchoring: AnchoringSettings = Field(default_factory=AnchoringSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then ``.env``, each read by the flat
        names of :data:`VARIABLES`."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return (
            init_settings,
            FlatVariables(settings_cls, env_settings),
            FlatVariables(settings_cls, dotenv_settings),
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _public_url_follows_the_listener(self) -> Settings:
        """Unless set, ``public_url`` is where the API listens, so QR codes point there."""
        if not self.public_url:
            host = self.api.host
            if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a comparison, not a binding
                host = "127.0.0.1"  # listening everywhere: loopback reaches it here
            elif ":" in host:
                host = f"[{host}]"
            object.__setattr__(self, "public_url", f"http://{host}:{self.api.port}")
        return self

    def updated(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like the original: a top-level setting by name,
        a group as a mapping of the fields to change (``devnet={"port": 8546}``; the group's
        other fields stay). ``public_url`` stays as it was unless changed."""
        values = self.model_dump()
        for name, change in changes.items():
            if isinstance(change, Mapping) and isinstance(values.get(name), dict):
                values[name] = {**values[name], **change}
            else:
                values[name] = change
        return type(self).model_validate(values)

    @property
    def effective_rpc_url(self) -> str:
        """The first RPC URL to use (see :attr:`effective_rpc_urls`)."""
        return self.effective_rpc_urls[0]

    @property
    def effective_rpc_urls(self) -> tuple[str, ...]:
        """The RPC URLs to use, in order of preference: ``chain.rpc_url``, then
        ``chain.rpc_urls`` (each once); the devnet's when neither is set."""
        urls = dict.fromkeys(
            ([self.chain.rpc_url] if self.chain.rpc_url else []) + [*self.chain.rpc_urls]
        )
        return tuple(urls) or (f"http://{self.devnet.host}:{self.devnet.port}",)

    @property
    def effective_database_url(self) -> str:
        """The database URL to use: the configured one, or SQLite in the data dir."""
        return self.database.url or f"sqlite:///{self.data_dir / 'tracechain.sqlite3'}"

    @property
    def deployment_file(self) -> Path:
        """The deployment record of the contracts on the configured chain."""
        return self.data_dir / "deployment.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
