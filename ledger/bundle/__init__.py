"""Export bundles: everything needed to verify a set of events against the chain, in one JSON
file, with no database and no API.

* :mod:`~ledger.bundle.format`: the file format, ``tracechain-bundle/1``, as typed classes
  (:class:`Bundle` and its parts, :meth:`Bundle.load` checking the shape, :meth:`Bundle.dump`);
* :mod:`~ledger.bundle.export`: :func:`export_bundle` selects events by identifier, lot and/or
  event-time range from the ledger's database;
* :mod:`~ledger.bundle.stream`: :func:`plan_bundle` writes the same bundle piece by piece, in
  constant memory, for ``GET /export``;
* :mod:`~ledger.bundle.verify`: :func:`verify_bundle` checks a bundle against any node of the
  chain; disagreements are :class:`ledger.audit.Finding` s of the audit's kinds.
"""

from ledger.bundle.export import MAX_BUNDLE_EVENTS, export_bundle
from ledger.bundle.format import (
    BUNDLE_FORMAT,
    Bundle,
    BundledBatch,
    BundledEvent,
    BundleFormatError,
    ChainInfo,
    Member,
    Scope,
    Span,
    dump_bundle,
    load_bundle,
)
from ledger.bundle.stream import BundlePlan, plan_bundle
from ledger.bundle.verify import BundleVerification, verify_bundle

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_EVENTS",
    "Bundle",
    "BundleFormatError",
    "BundlePlan",
    "BundleVerification",
    "BundledBatch",
    "BundledEvent",
    "ChainInfo",
    "Member",
    "Scope",
    "Span",
    "dump_bundle",
    "export_bundle",
    "load_bundle",
    "plan_bundle",
    "verify_bundle",
]
