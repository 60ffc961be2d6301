"""Fixtures of the trace tests: the supply chain of :mod:`tests.ledger.trace.supply_chain`,
captured for offline members (no chain needed to trace)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.ledger.trace.supply_chain import SupplyChain, build_supply_chain, offline_members


@pytest.fixture
def supply_chain(engine: Engine) -> SupplyChain:
    return build_supply_chain(engine, offline_members(engine))
