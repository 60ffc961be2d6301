"""Signing keys stored encrypted at rest as Ethereum keystore v3 files (scrypt).

A keystore is unlocked with a passphrase taken from an environment variable or from a secret
file (mode 0600). The private key is only ever held by the returned ``LocalAccount``; it is never
written anywhere unencrypted, logged, or put into an error message.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keyfile.keyfile import create_keyfile_json, decode_keyfile_json
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from wallets.errors import KeystoreError, PassphraseError

#: scrypt work factor: the keystore v3 default used by geth ("standard" strength).
SCRYPT_N = 1 << 18
#: A lighter work factor for throwaway keys in tests and benchmarks.
SCRYPT_N_LIGHT = 1 << 12


def new_passphrase() -> str:
    """A random passphrase suitable for a secret file."""
    return secrets.token_urlsafe(32)


def private_dir(path: Path) -> Path:
    """Make sure the directory ``path`` exists; every directory this creates (``path`` and
    missing parents) is private to its owner (mode 0700). Existing ones are left alone."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    return path


def write_secret(path: Path, value: str) -> None:
    """Write a secret file readable only by its owner (created atomically, mode 0600)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_passphrase(*, env: str | None = None, file: Path | None = None) -> str:
    """The passphrase from the environment variable ``env`` or else from the secret ``file``."""
    if env and (value := os.environ.get(env)):
        return value
    if file is not None and file.exists():
        return file.read_text().strip()
    raise PassphraseError(f"no passphrase: set {env or 'a passphrase variable'} or create {file}")


def create_keystore(path: Path, passphrase: str, *, work_factor: int = SCRYPT_N) -> str:
    """Generate a new key, store it encrypted at ``path`` (mode 0600); return its address."""
    if path.exists():
        raise KeystoreError(f"keystore {path} exists already; refusing to overwrite a key")
    account = Account.create()
    keyfile: dict[str, Any] = create_keyfile_json(
        bytes(account.key), passphrase.encode(), kdf="scrypt", iterations=work_factor
    )
    write_secret(path, json.dumps(keyfile))
    return str(account.address)


def load_keystore(path: Path, passphrase: str) -> LocalAccount:
    """Unlock the keystore at ``path``."""
    try:
        keyfile = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {type(exc).__name__}") from None
    try:
        key = decode_keyfile_json(keyfile, passphrase.encode())
    except ValueError:
        raise KeystoreError(f"wrong passphrase for keystore {path}") from None
    account: LocalAccount = Account.from_key(key)
    return account


def keystore_address(path: Path) -> ChecksumAddress:
    """The address a keystore holds, read without unlocking it."""
    try:
        address = json.loads(path.read_text())["address"]
    except (OSError, ValueError, KeyError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {type(exc).__name__}") from None
    return to_checksum_address(address if address.startswith("0x") else "0x" + address)
