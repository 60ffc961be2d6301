"""The suite's property tests run the same examples on every run (no random failures)."""

from __future__ import annotations

from hypothesis import settings

from tests.ledger.events.test_hash_reference import test_prehash_and_hash_agree_with_reference


def test_default_profile_is_derandomized_without_a_shared_database() -> None:
    assert settings.default.derandomize
    assert settings.default.database is None


def test_per_test_settings_inherit_the_profile() -> None:
    applied = test_prehash_and_hash_agree_with_reference._hypothesis_internal_use_settings  # type: ignore[attr-defined]
    assert applied.derandomize
    assert applied.max_examples == 100
