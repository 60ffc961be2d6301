"""Settings of the API service (``TRACECHAIN_*``), beside the ledger's own settings.

These live here until they move into :class:`ledger.settings.Settings`; the names are final.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Every knob of the HTTP service, with its environment variable."""

    model_config = SettingsConfigDict(
        env_prefix="TRACECHAIN_", env_file=".env", extra="ignore", frozen=True
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL the service is reached at; QR codes and Digital Links use it.",
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
