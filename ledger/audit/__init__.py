"""The independent audit (moved from ``ledger/audit.py``; split into modules next)."""

from ledger.audit.auditor import (
    FINDING_KINDS,
    AuditReport,
    Auditor,
    ChainReader,
    Finding,
    primary_id_key,
    primary_identifier,
    primary_key_matches,
)

__all__ = [
    "FINDING_KINDS",
    "AuditReport",
    "Auditor",
    "ChainReader",
    "Finding",
    "primary_id_key",
    "primary_identifier",
    "primary_key_matches",
]
