"""keccak256, the hash of every on-chain key (``id_key``, ``prefix_key``), and tracechain's one
keccak: the ledger, the API and the wallets import it from here (not from ``eth_utils`` or
``eth_hash``). Text is hashed as its UTF-8 bytes: ``keccak256(text.encode())``.

It runs once per identifier a capture indexes, so it uses ``safe-pysha3``'s C ``keccak_256``
(about 0.5 µs a call) and falls back to :func:`eth_utils.crypto.keccak` (pycryptodome through
``eth-hash``, about 5 µs) where that module is not installed. Both compute the same
Keccak-256 (the pre-NIST padding Ethereum uses), not SHA3-256.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["keccak256"]


def _fallback(data: bytes) -> bytes:
    from eth_utils.crypto import keccak

    return bytes(keccak(data))


def _select() -> Callable[[bytes], bytes]:
    try:
        from sha3 import keccak_256  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - safe-pysha3 is a dependency
        return _fallback

    def keccak256(data: bytes) -> bytes:
        return keccak_256(data).digest()  # type: ignore[no-any-return,unused-ignore]

    return keccak256


#: keccak256 of ``data``: 32 bytes.
keccak256: Final[Callable[[bytes], bytes]] = _select()
