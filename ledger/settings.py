"""All settings of tracechain in one pydantic-settings class.

Values come from the environment (``TRACECHAIN_*``, plus the conventional ``DATABASE_URL``,
``ANVIL_BIN`` and ``SOLC_BIN``), then from a ``.env`` file in the working directory, then from
the defaults below, which suit a developer's checkout (`make run`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root when running from a checkout (the parent of this package).
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob tracechain reads, with its environment variable."""

    model_config = SettingsConfigDict(
        env_prefix="TRACECHAIN_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default=REPO_ROOT / ".data",
        description="Where the devnet state, keys and the SQLite database live.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "TRACECHAIN_DATABASE_URL"),
        description="SQLAlchemy URL; default SQLite (WAL) in the data dir.",
    )
    rpc_url: str | None = Field(
        default=None,
        description="JSON-RPC endpoint of the chain; default the devnet on devnet_port.",
    )
    devnet_host: str = "127.0.0.1"
    devnet_port: int = Field(default=8545, ge=1, le=65535)
    #: Chain id of the devnet (a private, permissioned network).
    devnet_chain_id: int = Field(default=46_802, ge=1)
    #: Seconds between anvil's state dumps; a kill -9 loses at most this much chain history.
    devnet_state_interval: int = Field(default=2, ge=1)
    devnet_hardfork: str = "prague"
    anvil_bin: Path | None = Field(
        default=None, validation_alias=AliasChoices("ANVIL_BIN", "TRACECHAIN_ANVIL_BIN")
    )
    solc_bin: Path | None = Field(
        default=None, validation_alias=AliasChoices("SOLC_BIN", "TRACECHAIN_SOLC_BIN")
    )
    node_modules: Path = Field(
        default=REPO_ROOT / "devnet" / "node_modules",
        description="The pinned npm toolchain (npm ci in devnet/).",
    )

    #: A batch closes when it holds this many events ...
    anchor_batch_max_events: int = Field(default=2_000, ge=1, le=100_000)
    #: ... or when its oldest event has waited this long (seconds).
    anchor_batch_max_wait_s: float = Field(default=0.5, gt=0)
    #: How often an idle anchor worker looks at the outbox (seconds).
    anchor_poll_interval_s: float = Field(default=0.05, gt=0)
    #: How long a worker's lease on a member's anchoring lasts without renewal (seconds).
    anchor_lease_s: float = Field(default=15.0, gt=0)
    #: Anchoring lag (age of the oldest event waiting to be anchored) above which /readyz
    #: answers 503 and the audit reports ``anchoring_stalled`` (seconds).
    anchor_lag_bound_seconds: float = Field(default=60.0, gt=0)
    #: Run the anchor worker inside the API process (a background task).
    anchor_worker_in_api: bool = True
    #: Largest block range asked of eth_getLogs (Besu and anvil cap it).
    logs_block_range: int = Field(default=2_000, ge=1)
    #: scrypt work factor of newly created member keystores (2**18 is geth's standard).
    keystore_work_factor: int = Field(default=1 << 18, ge=1 << 10)

    #: Generation-0 threshold of the garbage collector (see ledger.runtime.tune_gc).
    gc_gen0_threshold: int = Field(default=50_000, ge=100)

    # ------------------------------------------------------------------ the HTTP service
    public_url: str = Field(
        default="",
        description=(
            "Base URL the service is reached at; QR codes and Digital Links use it. "
            "Default: http://{api_host}:{api_port}."
        ),
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_threads: int = Field(
        default=16,
        ge=1,
        le=1000,
        description=(
            "Requests served at once (and worker threads for their blocking work); the "
            "database pool is sized to them. More requests wait in the admission queue."
        ),
    )
    api_queue_size: int = Field(
        default=256, ge=0, description="Requests that may wait for a turn; beyond, 503."
    )
    api_queue_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for a turn before a 503 + Retry-After."
    )
    db_pool_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for a database connection (then 503)."
    )
    admin_api_key: SecretStr | None = Field(
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

    @model_validator(mode="after")
    def _public_url_follows_the_listener(self) -> Settings:
        """Unless set, ``public_url`` is where the API listens, so QR codes point there."""
        if not self.public_url:
            host = self.api_host
            if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a comparison, not a binding
                host = "127.0.0.1"  # listening everywhere: loopback reaches it here
            elif ":" in host:
                host = f"[{host}]"
            object.__setattr__(self, "public_url", f"http://{host}:{self.api_port}")
        return self

    @property
    def effective_rpc_url(self) -> str:
        """The RPC URL to use: the configured one, or the devnet's."""
        return self.rpc_url or f"http://{self.devnet_host}:{self.devnet_port}"

    @property
    def effective_database_url(self) -> str:
        """The database URL to use: the configured one, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'tracechain.sqlite3'}"

    @property
    def deployment_file(self) -> Path:
        """The deployment record of the contracts on the configured chain."""
        return self.data_dir / "deployment.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
