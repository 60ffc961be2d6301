"""The store's table handles: one typed constant per table of the models' metadata."""

from __future__ import annotations

import sqlalchemy as sa

from ledger.store import tables
from ledger.store.models import metadata


def test_every_table_has_exactly_one_handle() -> None:
    handles = {name: getattr(tables, name) for name in tables.__all__}
    assert all(isinstance(handle, sa.Table) for handle in handles.values())
    assert {handle.name for handle in handles.values()} == set(metadata.tables)
    assert len(handles) == len(metadata.tables)
    for name, handle in handles.items():
        assert handle is metadata.tables[handle.name]
        assert name == handle.name.upper()
