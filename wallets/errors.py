"""The one exception hierarchy of the wallets package. Messages never contain key material."""

from __future__ import annotations


class WalletError(Exception):
    """Base class of every error raised by the wallets package."""


class KeystoreError(WalletError):
    """A keystore file is missing, malformed, or its passphrase is wrong."""


class PassphraseError(WalletError):
    """No passphrase was provided for a keystore."""
