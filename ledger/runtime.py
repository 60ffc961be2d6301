"""Process-wide tuning shared by the API, the CLI and the benchmarks.

Capture allocates many short-lived objects (a 1,000-event document is ~100,000 dicts, strings
and identifiers); with CPython's default generation-0 threshold of 700 allocations the cyclic
garbage collector runs hundreds of times per document and costs about 15 % of capture time,
although capture creates no reference cycles worth collecting early. A larger threshold keeps
the collector's work proportional to real garbage. The value is ``Settings.gc_gen0_threshold``.
"""

from __future__ import annotations

import gc
import sys

from ledger.settings import Settings, get_settings


def tune_gc(settings: Settings | None = None) -> None:
    """Apply the configured garbage-collector thresholds to this process."""
    gen0 = (settings or get_settings()).gc_gen0_threshold
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2)


#: Python's own default recursion limit. Importing web3 pulls in py_ecc, which raises the limit
#: to 100,000 for its own pairing code (unused here); at that limit the C JSON decoder follows
#: a 100,000-level body down the C stack and the process dies with SIGSEGV instead of raising
#: RecursionError. Every process that reads untrusted input puts the limit back.
SAFE_RECURSION_LIMIT = 1_000


def bound_recursion(limit: int = SAFE_RECURSION_LIMIT) -> None:
    """Lower the interpreter's recursion limit to ``limit`` if an import raised it."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)
