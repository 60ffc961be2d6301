"""Finding kinds are a StrEnum: every kind goes through the JSON report as the same plain string
it always was, and comes back as its kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.audit import FINDING_KINDS, AuditReport, Finding, FindingKind
from ledger.bundle import BundleVerification

#: The strings reports, ``--json`` output and their readers have always used.
WIRE_KINDS = [
    "wrong_chain",
    "tampered_event",
    "tampered_index",
    "tampered_proof",
    "root_mismatch",
    "missing_events",
    "missing_anchor",
    "anchor_mismatch",
    "wrong_recorder",
    "orphan_anchor",
    "recall_by_non_owner",
    "anchoring_stalled",
    "endpoint_disagreement",
]


def report_with(findings: list[Finding]) -> AuditReport:
    return AuditReport(
        chain_id=31337,
        genesis_hash="0x" + "ab" * 32,
        contract="0x" + "cd" * 20,
        from_block=1,
        to_block=9,
        started_at="2026-11-29T00:00:00+00:00",
        database="sqlite:///audit.sqlite3",
        findings=findings,
    )


def test_the_kinds_are_the_wire_strings() -> None:
    assert [kind.value for kind in FindingKind] == WIRE_KINDS
    assert list(FINDING_KINDS) == WIRE_KINDS
    assert FindingKind.TAMPERED_EVENT == "tampered_event"
    assert f"{FindingKind.ORPHAN_ANCHOR}" == "orphan_anchor"


def test_every_kind_round_trips_through_the_json_report(tmp_path: Path) -> None:
    kinds = [*reversed(FindingKind), FindingKind.WRONG_RECORDER]
    findings = [
        Finding(kind, f"a {kind} finding", {"n": n, "kind_seen": kind})
        for n, kind in enumerate(kinds)
    ]
    report = report_with(findings)
    path = tmp_path / "audit.json"
    report.write(path)
    text = path.read_text()
    assert "FindingKind" not in text
    data = json.loads(text)
    assert [f["kind"] for f in data["findings"]] == [*reversed(WIRE_KINDS), "wrong_recorder"]
    # Counted in the kinds' order, whatever the order they were found in.
    assert list(data["summary"]["by_kind"]) == WIRE_KINDS
    assert data["summary"]["by_kind"]["wrong_recorder"] == 2
    assert data["summary"]["findings"] == len(findings)
    # The JSON-ready dict holds plain strings, and reads back to the same findings.
    assert {type(f["kind"]) for f in report.to_json()["findings"]} == {str}
    assert {type(k) for k in report.counts()} == {str}
    again = [Finding.from_json(f) for f in data["findings"]]
    assert again == findings
    assert {type(f.kind) for f in again} == {FindingKind}


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="stall"):
        Finding.from_json({"kind": "stall", "message": "not a kind of ours"})


def test_bundle_verification_counts_kinds_as_strings_in_the_order_found() -> None:
    result = BundleVerification(
        chain_id=31337,
        contract=None,
        findings=[
            Finding(FindingKind.TAMPERED_PROOF, "first"),
            Finding(FindingKind.ROOT_MISMATCH, "second"),
            Finding(FindingKind.TAMPERED_PROOF, "third"),
        ],
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["ok"] is False
    assert data["by_kind"] == {"tampered_proof": 2, "root_mismatch": 1}
    assert list(data["by_kind"]) == ["tampered_proof", "root_mismatch"]
    assert [f["kind"] for f in data["findings"]] == [
        "tampered_proof",
        "root_mismatch",
        "tampered_proof",
    ]
