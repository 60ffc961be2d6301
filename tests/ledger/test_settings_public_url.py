"""``public_url`` follows the API's host and port unless it is set (issue 10: QR codes pointed
at port 8000 while the server listened elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.settings import Settings


def settings(**values: Any) -> Settings:
    """Settings from ``values`` only (no .env file)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_default_public_url_is_the_default_listener() -> None:
    assert settings().public_url == "http://127.0.0.1:8000"


def test_public_url_follows_host_and_port() -> None:
    assert settings(api_port=9123).public_url == "http://127.0.0.1:9123"
    assert settings(api_host="10.1.2.3", api_port=81).public_url == "http://10.1.2.3:81"
    assert settings(api_host="::1", api_port=81).public_url == "http://[::1]:81"


@pytest.mark.parametrize("everywhere", ["0.0.0.0", "::"])  # noqa: S104 - test values
def test_a_wildcard_listener_is_reached_on_loopback(everywhere: str) -> None:
    assert settings(api_host=everywhere, api_port=8080).public_url == "http://127.0.0.1:8080"


def test_an_explicit_public_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        settings(api_port=9123, public_url="https://trace.example.com").public_url
        == "https://trace.example.com"
    )
    monkeypatch.setenv("TRACECHAIN_API_PORT", "9555")
    assert Settings(_env_file=None).public_url == "http://127.0.0.1:9555"  # type: ignore[call-arg]
    monkeypatch.setenv("TRACECHAIN_PUBLIC_URL", "https://scan.example.org")
    assert Settings(_env_file=None).public_url == "https://scan.example.org"  # type: ignore[call-arg]
