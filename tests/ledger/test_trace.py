"""The supply-chain builders, where other test packages import them from
(tests/api/test_trace_export.py, tests/cli/conftest.py). They live in
:mod:`tests.ledger.trace.supply_chain` (the trace tests in :mod:`tests.ledger.trace`): import
them from there in new code."""

from tests.ledger.trace.supply_chain import (
    ROLES,
    SupplyChain,
    build_supply_chain,
    gln,
    gtin,
    offline_members,
    sscc,
)

__all__ = ["ROLES", "SupplyChain", "build_supply_chain", "gln", "gtin", "offline_members", "sscc"]
