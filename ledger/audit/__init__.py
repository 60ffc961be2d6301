"""The independent audit: the whole database checked against the chain itself.

:class:`Auditor` reads the chain through plain ``eth_getLogs`` / ``eth_call`` /
``eth_getTransactionByHash`` (never through our API or our verification code) and the database
through keyset-paginated reads, and reports every disagreement as a :class:`Finding` of one
:class:`FindingKind` (``wrong_chain``, ``tampered_event``, ``tampered_index``,
``tampered_proof``, ``root_mismatch``, ``missing_events``, ``missing_anchor``,
``anchor_mismatch``, ``wrong_recorder``, ``orphan_anchor``, ``recall_by_non_owner``,
``anchoring_stalled``: each documented on the enum) with its evidence.

Recalls live on the chain only: every recall in the range is listed in the report with the
number of events the database holds for its identifier.

Memory stays constant in the number of events: the database is read in units of whole batches
(keyset pagination over ``anchor_batch``, then ``WHERE batch_id IN (...)``), hashed in a
process pool over both CPU cores, and only per-batch summaries come back; the chain is read in
block ranges of ``settings.chain.logs_block_range`` (Besu and anvil cap ``eth_getLogs``),
keeping a map of anchored roots, which grows with batches, not events.

Modules: :mod:`~ledger.audit.findings` (kinds and findings), :mod:`~ledger.audit.report`
(the report), :mod:`~ledger.audit.primary_key` (an event's primary identifier key, shared with
bundle verification), :mod:`~ledger.audit.chain_reader` (the chain side),
:mod:`~ledger.audit.workers` (the database side, in worker processes) and
:mod:`~ledger.audit.auditor` (the two reconciled).
"""

from ledger.audit.auditor import UNIT_EVENTS, Auditor, Progress
from ledger.audit.chain_reader import ChainReader
from ledger.audit.findings import FINDING_KINDS, Finding, FindingKind
from ledger.audit.primary_key import primary_id_key, primary_identifier, primary_key_matches
from ledger.audit.report import AuditReport

__all__ = [
    "FINDING_KINDS",
    "UNIT_EVENTS",
    "AuditReport",
    "Auditor",
    "ChainReader",
    "Finding",
    "FindingKind",
    "Progress",
    "primary_id_key",
    "primary_identifier",
    "primary_key_matches",
]
