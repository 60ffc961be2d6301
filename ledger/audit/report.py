"""What an audit checked and found: :class:`AuditReport`, its summary and its JSON file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.audit.findings import Finding, FindingKind

__all__ = ["AuditReport"]


@dataclass(slots=True)
class AuditReport:
    """What an audit checked and found."""

    chain_id: int
    genesis_hash: str
    contract: str
    from_block: int
    to_block: int
    started_at: str
    database: str
    events: int = 0
    pending_events: int = 0
    #: Seconds the oldest event waiting to be anchored has waited (0 when none waits).
    anchor_lag_s: float = 0.0
    anchor_lag_bound_s: float = 0.0
    batches: int = 0
    mined_batches: int = 0
    in_flight_batches: int = 0
    other_chain_batches: int = 0
    anchors_on_chain: int = 0
    event_anchors_on_chain: int = 0
    blocks_scanned: int = 0
    elapsed_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    recalls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    @property
    def events_per_s(self) -> float:
        """Events audited per second of the whole run."""
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """How many findings of each kind, in :class:`FindingKind` order (kinds without
        findings left out)."""
        found = Counter(finding.kind for finding in self.findings)
        return {kind.value: found[kind] for kind in FindingKind if found[kind]}

    def summary(self) -> dict[str, Any]:
        """The figures of the run, without the findings' evidence."""
        return {
            "ok": self.ok,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "blocks": [self.from_block, self.to_block],
            "events": self.events,
            "pending_events": self.pending_events,
            "anchor_lag_s": round(self.anchor_lag_s, 3),
            "anchor_lag_bound_s": self.anchor_lag_bound_s,
            "batches": self.batches,
            "mined_batches": self.mined_batches,
            "in_flight_batches": self.in_flight_batches,
            "other_chain_batches": self.other_chain_batches,
            "anchors_on_chain": self.anchors_on_chain,
            "event_anchors_on_chain": self.event_anchors_on_chain,
            "recalls": len(self.recalls),
            "recalls_of_ledger_identifiers": sum(1 for r in self.recalls if r["db_events"]),
            "findings": len(self.findings),
            "by_kind": self.counts(),
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.events_per_s),
        }

    def to_json(self) -> dict[str, Any]:
        """The whole report, JSON-ready."""
        return {
            "tracechain_audit": 1,
            "started_at": self.started_at,
            "database": self.database,
            "chain": {
                "chain_id": self.chain_id,
                "genesis_hash": self.genesis_hash,
                "contract": self.contract,
                "from_block": self.from_block,
                "to_block": self.to_block,
            },
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings],
            "recalls": self.recalls,
        }

    def write(self, path: Path) -> None:
        """Write the JSON report to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
