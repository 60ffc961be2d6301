"""What an audit or a bundle's verification reports: one :class:`Finding` per disagreement,
of one :class:`FindingKind`.

``FindingKind`` is a :class:`~enum.StrEnum`: a kind *is* its string (``"wrong_chain"``), so JSON
reports, ``--json`` output and comparisons with plain strings read as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

__all__ = ["FINDING_KINDS", "Finding", "FindingKind"]


class FindingKind(StrEnum):
    """The kinds of disagreement, in the order reports count them."""

    #: The node is not the chain of the deployment record (chain id, genesis block as block
    #: 1's parent records it, deployment transaction, code), or not the bundle's.
    WRONG_CHAIN = "wrong_chain"
    #: An event's CBV 2.0 hash, recomputed from its captured JSON, differs from the recorded
    #: hash ID; or the recorded digest, identifier key or any other column capture derives
    #: from the captured JSON (``event_id``, ``event_time``, ``biz_step``, ``prehash``...)
    #: differs from what the captured JSON gives; or its record time or member differ from its
    #: capture job's; or its anchoring state disagrees with its batch's
    #: (:mod:`ledger.store.integrity`).
    TAMPERED_EVENT = "tampered_event"
    #: An event's identifier index rows are not those capture derives from its captured JSON,
    #: or an index row names no stored event.
    TAMPERED_INDEX = "tampered_index"
    #: An event's leaf (:func:`ledger.merkle.event_leaf`: its hash, captured JSON as stored
    #: and signature for leaf version 2) with its stored Merkle proof leads neither to its
    #: batch's recorded root nor to the root its batch's events rebuild.
    TAMPERED_PROOF = "tampered_proof"
    #: The leaves of a batch's events rebuild a root (:mod:`ledger.merkle`) other than the
    #: recorded one.
    ROOT_MISMATCH = "root_mismatch"
    #: A batch holds fewer (or more) events than it recorded, or than the chain says it
    #: anchored.
    MISSING_EVENTS = "missing_events"
    #: A mined batch's root has no ``BatchAnchored`` log on the chain.
    MISSING_ANCHOR = "missing_anchor"
    #: The root is anchored, but in another transaction or block than the database records,
    #: or the batch says it belongs to another chain while its root is anchored on this one.
    ANCHOR_MISMATCH = "anchor_mismatch"
    #: The root was anchored by another member than the batch's, from an address that is not
    #: the batch's signing address, or not a signing address of the member at that block
    #: (from ``SignerAdded`` / ``SignerRevoked`` logs); or the batch's events name another
    #: member or address than the batch.
    WRONG_RECORDER = "wrong_recorder"
    #: A ``BatchAnchored`` or ``EventAnchored`` log in the audited block range that no batch
    #: or event of the database accounts for.
    ORPHAN_ANCHOR = "orphan_anchor"
    #: A ``Recalled`` / ``RecallLifted`` log by a member that does not own the identifier's
    #: prefix according to the database.
    RECALL_BY_NON_OWNER = "recall_by_non_owner"
    #: The oldest event waiting to be anchored has waited longer than the anchoring lag bound
    #: (``settings.anchoring.lag_bound_seconds``): the anchor worker is stopped or stuck.
    ANCHORING_STALLED = "anchoring_stalled"
    #: Two RPC endpoints of the chain answer differently for the same anchor at the same
    #: block (one has a batch root the other has not, or another member, block or count),
    #: or an endpoint to compare did not answer.
    ENDPOINT_DISAGREEMENT = "endpoint_disagreement"


#: Every kind, in :class:`FindingKind` order.
FINDING_KINDS: Final = tuple(FindingKind)


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement between the database and the chain (or within the database, or
    within a bundle)."""

    kind: FindingKind
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A plain string names its kind too; an unknown one is refused here (ValueError).
        object.__setattr__(self, "kind", FindingKind(self.kind))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the kind as its plain string)."""
        return {"kind": self.kind.value, "message": self.message, "evidence": self.evidence}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The finding a :meth:`to_json` dict (or its JSON text, parsed) describes.

        Raises:
            ValueError: an unknown kind.
            KeyError: a missing ``kind`` or ``message``.
        """
        return cls(FindingKind(data["kind"]), str(data["message"]), dict(data.get("evidence", {})))
