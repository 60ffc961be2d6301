"""The consortium admin's key: one encrypted keystore per data dir.

The admin signs the membership contract's writes (admitting members, assigning prefixes,
suspensions). Its keystore lives at ``{data_dir}/keys/admin.json`` (mode 0600) and is unlocked
with the passphrase in ``TRACECHAIN_ADMIN_PASSPHRASE`` or, when that is unset, in the secret file
``{data_dir}/keys/admin.passphrase`` beside it. ``tracechain devnet up`` creates both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from wallets.keystore import read_passphrase
from wallets.signer import KeystoreSigner

#: Environment variable holding the admin keystore's passphrase.
ADMIN_PASSPHRASE_ENV: Final = "TRACECHAIN_ADMIN_PASSPHRASE"  # noqa: S105 - a variable name


@dataclass(frozen=True, slots=True)
class AdminKey:
    """Where the admin's keystore and passphrase file live under ``data_dir``."""

    data_dir: Path

    @property
    def keystore(self) -> Path:
        """The admin's encrypted key (keystore v3)."""
        return self.data_dir / "keys" / "admin.json"

    @property
    def passphrase_file(self) -> Path:
        """The keystore's passphrase file (0600), when none is given in the environment."""
        return self.data_dir / "keys" / "admin.passphrase"

    def exists(self) -> bool:
        """Whether there is an admin keystore here."""
        return self.keystore.exists()

    def signer(self) -> KeystoreSigner:
        """The admin's signer, unlocked.

        Raises:
            wallets.errors.WalletError: no keystore, or it or its passphrase cannot be read.
        """
        passphrase = read_passphrase(env=ADMIN_PASSPHRASE_ENV, file=self.passphrase_file)
        return KeystoreSigner(self.keystore, passphrase)
