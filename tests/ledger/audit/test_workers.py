"""What the audit's workers compare an event's stored record with
(:func:`ledger.store.integrity.record_problems`)."""

from __future__ import annotations

from ledger.events import parse_document
from ledger.store.integrity import DERIVED_COLUMNS, expected_record, record_problems
from tests.helpers import document_bytes, sgtin_event


def test_record_problems_compares_columns_and_index_rows_exactly() -> None:
    """The audit's one-tuple comparison (integrity.record_problems) still names a changed column,
    and index rows that hold the right set but one row twice instead of another are refused
    (length and set, not the set alone)."""
    event = parse_document(document_bytes(sgtin_event(), sgtin_event()), "application/ld+json")[0]
    columns, rows = expected_record(event)
    assert rows, "the event mentions an identifier"
    stored = list(columns)
    assert record_problems(columns, rows, stored, list(rows)) == []
    biz_step = DERIVED_COLUMNS.index("biz_step")
    stored[biz_step] = "https://ref.gs1.org/cbv/BizStep-shipping"
    problems = record_problems(columns, rows, stored, list(rows))
    assert len(problems) == 1
    assert "biz_step" in problems[0]
    # An event with two identifier rows: both stored, one of them twice (the same set).
    aggregation = {
        **sgtin_event(),
        "epcList": ["urn:epc:id:sgtin:0614141.812345.A1", "urn:epc:id:sgtin:0614141.812345.A2"],
    }
    wide = parse_document(document_bytes(aggregation), "application/ld+json")[0]
    wide_columns, wide_rows = expected_record(wide)
    first, second = sorted(wide_rows, key=repr)
    problems = record_problems(wide_columns, wide_rows, wide_columns, [first, second, first])
    assert len(problems) == 1
    assert "identifier index rows" in problems[0]
    assert record_problems(wide_columns, wide_rows, wide_columns, [first]) != []
