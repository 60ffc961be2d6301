"""The settings: every environment variable name that ever worked still sets the same setting,
now in its group (issue 12), from the environment and from ``.env``; defaults that depend on
the working directory, not on where tracechain is installed; and ``public_url`` follows the
API's host and port unless it is set (issue 10: QR codes pointed at port 8000 while the server
listened elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from ledger.settings import REPO_ROOT, VARIABLES, Settings, variable_of

#: Each variable of the flat settings class before issue 12, a value for it, the setting it
#: sets now and that setting's value.
LEGACY: list[tuple[str, str, tuple[str, ...], object]] = [
    ("TRACECHAIN_DATA_DIR", "/srv/tracechain", ("data_dir",), Path("/srv/tracechain")),
    ("TRACECHAIN_PUBLIC_URL", "https://trace.example.com", ("public_url",), None),
    ("TRACECHAIN_KEYSTORE_WORK_FACTOR", "2048", ("keystore_work_factor",), 2048),
    ("TRACECHAIN_GC_GEN0_THRESHOLD", "700", ("gc_gen0_threshold",), 700),
    ("TRACECHAIN_DEVNET_HOST", "127.0.0.2", ("devnet", "host"), None),
    ("TRACECHAIN_DEVNET_PORT", "8546", ("devnet", "port"), 8546),
    ("TRACECHAIN_DEVNET_CHAIN_ID", "1337", ("devnet", "chain_id"), 1337),
    ("TRACECHAIN_DEVNET_STATE_INTERVAL", "5", ("devnet", "state_interval"), 5),
    ("TRACECHAIN_DEVNET_HARDFORK", "cancun", ("devnet", "hardfork"), None),
    ("TRACECHAIN_DEVNET_GAS_PRICE", "7", ("devnet", "gas_price"), 7),
    ("ANVIL_BIN", "/opt/foundry/anvil", ("devnet", "anvil_bin"), Path("/opt/foundry/anvil")),
    ("TRACECHAIN_ANVIL_BIN", "/opt/anvil", ("devnet", "anvil_bin"), Path("/opt/anvil")),
    ("SOLC_BIN", "/usr/bin/solc", ("devnet", "solc_bin"), Path("/usr/bin/solc")),
    ("TRACECHAIN_SOLC_BIN", "/opt/solc", ("devnet", "solc_bin"), Path("/opt/solc")),
    ("TRACECHAIN_NODE_MODULES", "/opt/npm", ("devnet", "node_modules"), Path("/opt/npm")),
    ("TRACECHAIN_RPC_URL", "http://10.0.0.5:8545", ("chain", "rpc_url"), None),
    (
        "TRACECHAIN_RPC_URLS",
        "http://10.0.0.6:8545, http://10.0.0.7:8545",
        ("chain", "rpc_urls"),
        ("http://10.0.0.6:8545", "http://10.0.0.7:8545"),
    ),
    ("TRACECHAIN_RPC_MAX_LAG_BLOCKS", "3", ("chain", "max_lag_blocks"), 3),
    ("TRACECHAIN_RPC_HEALTH_CHECK_S", "2.5", ("chain", "health_check_s"), 2.5),
    ("TRACECHAIN_GAS_PRICE", "1000000000", ("chain", "gas_price"), 1_000_000_000),
    ("TRACECHAIN_LOGS_BLOCK_RANGE", "500", ("chain", "logs_block_range"), 500),
    ("TRACECHAIN_ANCHOR_BATCH_MAX_EVENTS", "10", ("anchoring", "batch_max_events"), 10),
    ("TRACECHAIN_ANCHOR_BATCH_MAX_WAIT_S", "0.2", ("anchoring", "batch_max_wait_s"), 0.2),
    ("TRACECHAIN_ANCHOR_POLL_INTERVAL_S", "0.5", ("anchoring", "poll_interval_s"), 0.5),
    ("TRACECHAIN_ANCHOR_LEASE_S", "30", ("anchoring", "lease_s"), 30.0),
    ("TRACECHAIN_ANCHOR_LAG_BOUND_SECONDS", "120", ("anchoring", "lag_bound_seconds"), 120.0),
    ("TRACECHAIN_ANCHOR_WORKER_IN_API", "false", ("anchoring", "worker_in_api"), False),
    ("TRACECHAIN_API_HOST", "0.0.0.0", ("api", "host"), None),  # noqa: S104 - a test value
    ("TRACECHAIN_API_PORT", "8080", ("api", "port"), 8080),
    ("TRACECHAIN_API_THREADS", "4", ("api", "threads"), 4),
    ("TRACECHAIN_API_QUEUE_SIZE", "8", ("api", "queue_size"), 8),
    ("TRACECHAIN_API_QUEUE_TIMEOUT_S", "1.5", ("api", "queue_timeout_s"), 1.5),
    ("TRACECHAIN_ADMIN_API_KEY", "tc_a1b2c3d4e5f6_" + "s" * 43, ("api", "admin_key"), None),
    ("TRACECHAIN_MAX_BODY_BYTES", "4096", ("api", "max_body_bytes"), 4096),
    ("TRACECHAIN_MAX_CAPTURE_EVENTS", "2", ("api", "max_capture_events"), 2),
    ("TRACECHAIN_TRAIL_CACHE_SECONDS", "5", ("api", "trail_cache_seconds"), 5.0),
    ("TRACECHAIN_RECALL_POLL_SECONDS", "0.25", ("api", "recall_poll_seconds"), 0.25),
    ("DATABASE_URL", "postgresql://a@db/ledger", ("database", "url"), None),
    ("TRACECHAIN_DATABASE_URL", "postgresql://b@db/ledger", ("database", "url"), None),
    ("TRACECHAIN_DB_POOL_TIMEOUT_S", "0.3", ("database", "pool_timeout_s"), 0.3),
]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No tracechain variable set and a working directory without ``.env``."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings(**values: Any) -> Settings:
    """Settings from ``values`` only (no .env file)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def setting(settings: Settings, path: tuple[str, ...]) -> object:
    """The value at ``path`` (a secret revealed)."""
    value: object = settings
    for name in path:
        value = getattr(value, name)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_every_variable_is_in_the_table_and_every_setting_has_one() -> None:
    assert [name for name, *_ in LEGACY] == list(VARIABLES)
    fields: set[tuple[str, ...]] = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            fields |= {(name, inner) for inner in group.model_fields}
        else:
            fields.add((name,))
    assert set(VARIABLES.values()) == fields


@pytest.mark.parametrize(("name", "raw", "path", "value"), LEGACY, ids=[v[0] for v in LEGACY])
def test_each_variable_sets_its_setting_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, path: tuple[str, ...], value: object
) -> None:
    default = setting(settings(), path)
    monkeypatch.setenv(name, raw)
    expected = raw if value is None else value
    assert setting(settings(), path) == expected != default
    first = next(other for other, _, at, _ in LEGACY if at == path)
    assert variable_of(path) == first  # the name an error message gives


@pytest.mark.parametrize(("name", "raw", "path", "value"), LEGACY, ids=[v[0] for v in LEGACY])
def test_each_variable_sets_its_setting_from_the_env_file(
    clean: Path, name: str, raw: str, path: tuple[str, ...], value: object
) -> None:
    (clean / ".env").write_text(f"# a deployment's settings\n{name}={raw}\n")
    expected = raw if value is None else value
    assert setting(Settings(), path) == expected
    assert setting(Settings(_env_file=None), path) != expected  # type: ignore[call-arg]


def test_the_conventional_names_win_over_the_prefixed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACECHAIN_DATABASE_URL", "postgresql://prefixed@db/ledger")
    monkeypatch.setenv("DATABASE_URL", "postgresql://conventional@db/ledger")
    monkeypatch.setenv("TRACECHAIN_ANVIL_BIN", "/opt/prefixed/anvil")
    monkeypatch.setenv("ANVIL_BIN", "/opt/conventional/anvil")
    monkeypatch.setenv("TRACECHAIN_SOLC_BIN", "/opt/prefixed/solc")
    monkeypatch.setenv("SOLC_BIN", "/opt/conventional/solc")
    read = settings()
    assert read.database.url == "postgresql://conventional@db/ledger"
    assert read.devnet.anvil_bin == Path("/opt/conventional/anvil")
    assert read.devnet.solc_bin == Path("/opt/conventional/solc")
    assert [variable_of(("database", "url")), variable_of(("devnet", "solc_bin"))] == [
        "DATABASE_URL",
        "SOLC_BIN",
    ]


def test_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("tracechain_devnet_port", "8547")
    assert settings().devnet.port == 8547


def test_keywords_beat_the_environment_which_beats_the_env_file(
    monkeypatch: pytest.MonkeyPatch, clean: Path
) -> None:
    (clean / ".env").write_text(
        "TRACECHAIN_API_PORT=8081\nTRACECHAIN_API_THREADS=3\nTRACECHAIN_API_QUEUE_SIZE=7\n"
    )
    monkeypatch.setenv("TRACECHAIN_API_PORT", "8082")
    monkeypatch.setenv("TRACECHAIN_API_THREADS", "5")
    keywords: dict[str, Any] = {"api": {"threads": 9}}  # a group's fields merge with the rest
    read = Settings(**keywords)
    assert (read.api.port, read.api.threads, read.api.queue_size) == (8082, 9, 7)
    assert read.public_url == "http://127.0.0.1:8082"


def test_an_invalid_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECHAIN_DEVNET_PORT", "eighty")
    with pytest.raises(ValidationError) as raised:
        settings()
    (problem,) = raised.value.errors()
    assert problem["loc"] == ("devnet", "port")
    assert variable_of(problem["loc"]) == "TRACECHAIN_DEVNET_PORT"
    assert variable_of(("devnet",)) is None


def test_unknown_and_flat_keywords_are_refused() -> None:
    with pytest.raises(ValidationError, match="devnet_port"):
        settings(devnet_port=8546)
    with pytest.raises(ValidationError, match=r"api\.thread"):
        settings(api={"thread": 2})


def test_the_admin_key_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "tc_a1b2c3d4e5f6_" + "s" * 43
    monkeypatch.setenv("TRACECHAIN_ADMIN_API_KEY", key)
    read = settings()
    assert isinstance(read.api.admin_key, SecretStr)
    assert key not in repr(read)
    assert key not in str(read.model_dump())
    assert settings(api={"admin_key": SecretStr(key)}).api.admin_key == read.api.admin_key


def test_defaults_are_under_the_working_directory(clean: Path) -> None:
    read = settings()
    assert read.data_dir == clean / ".data"
    assert read.devnet.node_modules == clean / "devnet" / "node_modules"
    assert read.effective_database_url == f"sqlite:///{clean / '.data' / 'tracechain.sqlite3'}"
    assert read.deployment_file == clean / ".data" / "deployment.json"
    assert read.effective_rpc_url == "http://127.0.0.1:8545"
    assert not read.data_dir.is_relative_to(REPO_ROOT)


def test_derived_urls_follow_the_groups() -> None:
    read = settings(
        devnet={"host": "10.0.0.7", "port": 8600}, database={"url": "postgresql://x@db/l"}
    )
    assert read.effective_rpc_url == "http://10.0.0.7:8600"
    assert read.effective_database_url == "postgresql://x@db/l"
    assert settings(chain={"rpc_url": "http://rpc:1"}).effective_rpc_url == "http://rpc:1"


def test_settings_and_their_groups_are_frozen() -> None:
    read = settings()
    with pytest.raises(ValidationError):
        read.data_dir = Path("/elsewhere")
    with pytest.raises(ValidationError):
        read.devnet.port = 1


def test_updated_validates_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    read = settings(api={"port": 9001}, devnet={"port": 8601})
    monkeypatch.setenv("TRACECHAIN_DEVNET_HOST", "10.9.9.9")  # read once: not again
    changed = read.updated(devnet={"state_interval": 3600}, keystore_work_factor=2048)
    assert (changed.devnet.port, changed.devnet.state_interval) == (8601, 3600)
    assert changed.devnet.host == "127.0.0.1"
    assert changed.keystore_work_factor == 2048
    assert changed.api == read.api
    assert changed.public_url == read.public_url
    assert read.devnet.state_interval == 2
    with pytest.raises(ValidationError):
        read.updated(devnet={"port": 0})
    with pytest.raises(ValidationError):
        read.updated(devnet_port=8602)


def test_default_public_url_is_the_default_listener() -> None:
    assert settings().public_url == "http://127.0.0.1:8000"


def test_public_url_follows_host_and_port() -> None:
    assert settings(api={"port": 9123}).public_url == "http://127.0.0.1:9123"
    assert settings(api={"host": "10.1.2.3", "port": 81}).public_url == "http://10.1.2.3:81"
    assert settings(api={"host": "::1", "port": 81}).public_url == "http://[::1]:81"


@pytest.mark.parametrize("everywhere", ["0.0.0.0", "::"])  # noqa: S104 - test values
def test_a_wildcard_listener_is_reached_on_loopback(everywhere: str) -> None:
    assert settings(api={"host": everywhere, "port": 8080}).public_url == "http://127.0.0.1:8080"


def test_an_explicit_public_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        settings(api={"port": 9123}, public_url="https://trace.example.com").public_url
        == "https://trace.example.com"
    )
    monkeypatch.setenv("TRACECHAIN_API_PORT", "9555")
    assert Settings(_env_file=None).public_url == "http://127.0.0.1:9555"  # type: ignore[call-arg]
    monkeypatch.setenv("TRACECHAIN_PUBLIC_URL", "https://scan.example.org")
    assert Settings(_env_file=None).public_url == "https://scan.example.org"  # type: ignore[call-arg]
