"""Fixtures for the EPCIS events tests: GS1's conformance data and schema, used as oracles.

The conformance folder lives beside the repository (``../shared/conformance``) and is never
copied into it. When it (or a library the oracle needs) is missing, the tests that need it are
skipped with the reason, except under ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

#: ``../shared/conformance`` relative to the repository root.
CONFORMANCE_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
HASH_VECTORS_DIR = CONFORMANCE_DIR / "epcis-event-hash"
EPCIS_DIR = CONFORMANCE_DIR / "epcis-2.0"
SCHEMA_FILE = EPCIS_DIR / "EPCIS-JSON-Schema.json"
CONTEXT_DIR = EPCIS_DIR / "JSON-LD-Context"


def unavailable(reason: str) -> None:
    """Skip the calling test because something it needs is missing; fail under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: missing test data is an error, not a skip)")
    pytest.skip(reason)


def require(path: Path) -> Path:
    """``path`` if it exists, else skip (or fail under CI) naming it."""
    if not path.exists():
        unavailable(f"conformance data {path.resolve()} is absent")
    return path


class SchemaOracle:
    """GS1's EPCIS 2.0 JSON Schema (Draft 7) with its ``uri`` and ``date-time`` formats checked."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import Draft7Validator

        checker = Draft7Validator.FORMAT_CHECKER
        missing = {"uri", "date-time"} - set(checker.checkers)
        if missing:
            unavailable(
                f"jsonschema cannot check the formats {sorted(missing)}: install "
                "rfc3339-validator and rfc3986-validator (jsonschema[format-nongpl])"
            )
        Draft7Validator.check_schema(schema)
        self._validator = Draft7Validator(schema, format_checker=checker)

    def accepts(self, document: Any) -> bool:
        """Whether the schema accepts ``document``."""
        return bool(self._validator.is_valid(document))

    def problems(self, document: Any) -> list[str]:
        """The schema's error messages for ``document``."""
        return [error.message for error in self._validator.iter_errors(document)]


@pytest.fixture(scope="session")
def schema_oracle() -> SchemaOracle:
    """GS1's schema as an oracle; skips (fails under CI) if the file is absent."""
    schema = json.loads(require(SCHEMA_FILE).read_text(encoding="utf-8"))
    return SchemaOracle(schema)
