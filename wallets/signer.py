"""Who signs: the ``Signer`` interface and its local-keystore implementation.

The ledger asks a ``Signer`` for signatures and never sees a private key. ``KeystoreSigner``
unlocks an encrypted keystore v3 file on first use and keeps the key only inside an
``eth_account`` account object; an HSM or a remote signer (Web3Signer, a cloud KMS) can be
added by implementing the same three members.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from wallets.keystore import keystore_address, load_keystore


@runtime_checkable
class Signer(Protocol):
    """Signs transactions and EIP-712 typed data for one address."""

    @property
    def address(self) -> ChecksumAddress:
        """The address whose key signs."""
        ...

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        """Sign a transaction; return the raw signed transaction for eth_sendRawTransaction."""
        ...

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        """Sign EIP-712 typed data (``domain``, ``types``, ``primaryType``, ``message``)."""
        ...


class AccountSigner:
    """A ``Signer`` over an in-memory ``eth_account`` account (tests, the devnet admin)."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    def __repr__(self) -> str:
        return f"AccountSigner({self.address})"

    @property
    def address(self) -> ChecksumAddress:
        """The account's address."""
        return self._account.address

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        """Sign ``tx`` locally."""
        return bytes(self._account.sign_transaction(dict(tx)).raw_transaction)

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        """Sign EIP-712 data locally."""
        message = encode_typed_data(full_message=dict(typed_data))
        return bytes(self._account.sign_message(message).signature)


class KeystoreSigner:
    """A ``Signer`` backed by an encrypted keystore v3 file, unlocked on first use."""

    def __init__(self, path: Path, passphrase: str) -> None:
        self.path = path
        self._address = keystore_address(path)
        self._passphrase = passphrase
        self._inner: AccountSigner | None = None

    def __repr__(self) -> str:
        return f"KeystoreSigner({self._address}, {self.path})"

    @property
    def address(self) -> ChecksumAddress:
        """The keystore's address (read without unlocking it)."""
        return self._address

    def _unlocked(self) -> AccountSigner:
        if self._inner is None:
            self._inner = AccountSigner(load_keystore(self.path, self._passphrase))
        return self._inner

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        """Sign ``tx`` with the keystore's key."""
        return self._unlocked().sign_transaction(tx)

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        """Sign EIP-712 data with the keystore's key."""
        return self._unlocked().sign_typed_data(typed_data)


def as_signer(who: Signer | LocalAccount) -> Signer:
    """A ``Signer`` for either a signer or a bare local account."""
    if isinstance(who, LocalAccount):
        return AccountSigner(who)
    return who
