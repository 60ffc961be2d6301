"""EIP-712 event signatures: what a member signs when it records an event itself.

The typed data matches ``TraceAnchor.eventDigest``: domain ``tracechain`` version ``1`` on the
chain and anchor contract of the deployment, type ``TraceEvent(bytes32 eventHash,bytes32 idKey)``.
A non-custodial member signs with its own key; we verify the signature and keep it.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress

from wallets.errors import WalletError
from wallets.signer import Signer

DOMAIN_NAME = "tracechain"
DOMAIN_VERSION = "1"
SIGNATURE_SIZE = 65

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
TRACE_EVENT = [
    {"name": "eventHash", "type": "bytes32"},
    {"name": "idKey", "type": "bytes32"},
]


class SignatureError(WalletError):
    """A signature is malformed or was not made by the expected key."""


def event_typed_data(
    chain_id: int, verifying_contract: str, event_hash: bytes, id_key: bytes
) -> dict[str, Any]:
    """The EIP-712 typed data of one event."""
    return {
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": verifying_contract,
        },
        "types": {"EIP712Domain": EIP712_DOMAIN, "TraceEvent": TRACE_EVENT},
        "primaryType": "TraceEvent",
        "message": {"eventHash": event_hash, "idKey": id_key},
    }


def sign_event(
    signer: Signer, chain_id: int, verifying_contract: str, event_hash: bytes, id_key: bytes
) -> bytes:
    """Sign an event with ``signer``."""
    return signer.sign_typed_data(
        event_typed_data(chain_id, verifying_contract, event_hash, id_key)
    )


def recover_event_signer(
    signature: bytes,
    chain_id: int,
    verifying_contract: str,
    event_hash: bytes,
    id_key: bytes,
) -> ChecksumAddress:
    """The address that signed an event; raises :class:`SignatureError` when malformed."""
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"an event signature has {SIGNATURE_SIZE} bytes, not {len(signature)}")
    message = encode_typed_data(
        full_message=event_typed_data(chain_id, verifying_contract, event_hash, id_key)
    )
    try:
        address: ChecksumAddress = Account.recover_message(message, signature=signature)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"the event signature cannot be recovered: {exc}") from None
    return address
