"""Export bundles (moved from ``ledger/bundle.py`` and ``ledger/bundle_stream.py``; split into
modules next)."""

from ledger.bundle.verify import (
    BUNDLE_FORMAT,
    MAX_BUNDLE_EVENTS,
    BundleVerification,
    dump_bundle,
    export_bundle,
    load_bundle,
    verify_bundle,
)

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_EVENTS",
    "BundleVerification",
    "dump_bundle",
    "export_bundle",
    "load_bundle",
    "verify_bundle",
]
