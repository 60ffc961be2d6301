"""The keyring: one encrypted keystore per signing address of each member organisation.

Files live under ``{data_dir}/keys/members/{org_id}/{address}.json`` (mode 0600). They are
unlocked with one passphrase taken from ``TRACECHAIN_KEY_PASSPHRASE`` or, when that is unset,
from the secret file ``{data_dir}/keys/members.passphrase`` (created with a random value on first
use, mode 0600). The database stores only addresses and keystore paths, never key material.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from wallets.errors import KeystoreError
from wallets.keystore import (
    SCRYPT_N,
    create_keystore,
    new_passphrase,
    read_passphrase,
    write_secret,
)
from wallets.signer import KeystoreSigner

#: Environment variable holding the member keystores' passphrase.
PASSPHRASE_ENV = "TRACECHAIN_KEY_PASSPHRASE"  # noqa: S105 - a variable name
_ORG_ID = re.compile(r"0x[0-9a-f]{64}")


class Keyring:
    """Creates and opens the members' signing keys under a data dir."""

    def __init__(self, data_dir: Path, *, work_factor: int = SCRYPT_N) -> None:
        self.root = data_dir / "keys" / "members"
        self.passphrase_file = data_dir / "keys" / "members.passphrase"
        self._work_factor = work_factor
        self._signers: dict[str, KeystoreSigner] = {}

    def _passphrase(self) -> str:
        if not os.environ.get(PASSPHRASE_ENV) and not self.passphrase_file.exists():
            write_secret(self.passphrase_file, new_passphrase())
        return read_passphrase(env=PASSPHRASE_ENV, file=self.passphrase_file)

    def path_for(self, org_id: str, address: str) -> Path:
        """Where the keystore of ``address`` of member ``org_id`` lives."""
        if not _ORG_ID.fullmatch(org_id):
            raise KeystoreError("an organisation id is 0x and 64 lower-case hex digits")
        return self.root / org_id / f"{to_checksum_address(address)}.json"

    def create(self, org_id: str) -> tuple[ChecksumAddress, Path]:
        """Generate a new signing key for member ``org_id``; return its address and file."""
        if not _ORG_ID.fullmatch(org_id):
            raise KeystoreError("an organisation id is 0x and 64 lower-case hex digits")
        staging = self.root / org_id / f".new-{os.getpid()}-{os.urandom(4).hex()}.json"
        address = create_keystore(staging, self._passphrase(), work_factor=self._work_factor)
        final = self.path_for(org_id, address)
        os.replace(staging, final)
        return to_checksum_address(address), final

    def signer(self, org_id: str, address: str) -> KeystoreSigner:
        """The signer of ``address`` (cached; unlocked on first signature)."""
        path = self.path_for(org_id, address)
        key = str(path)
        if key not in self._signers:
            if not path.exists():
                raise KeystoreError(f"no keystore for {to_checksum_address(address)} at {path}")
            self._signers[key] = KeystoreSigner(path, self._passphrase())
        return self._signers[key]

    def addresses(self, org_id: str) -> list[ChecksumAddress]:
        """Every address the keyring holds for ``org_id``."""
        folder = self.root / org_id
        if not folder.is_dir():
            return []
        return sorted(to_checksum_address(p.stem) for p in folder.glob("0x*.json") if p.is_file())
