"""Keystores, signers, the keyring and EIP-712 event signatures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract import Contract

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from wallets.eip712 import SignatureError, recover_event_signer, sign_event
from wallets.errors import KeystoreError, PassphraseError
from wallets.keyring import PASSPHRASE_ENV, Keyring
from wallets.keystore import (
    SCRYPT_N_LIGHT,
    create_keystore,
    keystore_address,
    load_keystore,
    read_passphrase,
)
from wallets.signer import AccountSigner, KeystoreSigner, Signer


def test_keystore_round_trip_is_encrypted_and_private(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    address = create_keystore(path, "correct horse", work_factor=SCRYPT_N_LIGHT)
    data = json.loads(path.read_text())
    assert data["crypto"]["kdf"] == "scrypt"
    assert data["version"] == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    account = load_keystore(path, "correct horse")
    assert account.address == address == keystore_address(path)
    assert bytes(account.key).hex() not in path.read_text()


def test_wrong_passphrase_names_the_file_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "right", work_factor=SCRYPT_N_LIGHT)
    with pytest.raises(KeystoreError) as info:
        load_keystore(path, "wrong-guess")
    assert "wrong passphrase" in str(info.value)
    assert "wrong-guess" not in str(info.value)


def test_existing_keystore_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "a", work_factor=SCRYPT_N_LIGHT)
    before = path.read_bytes()
    with pytest.raises(KeystoreError):
        create_keystore(path, "b", work_factor=SCRYPT_N_LIGHT)
    assert path.read_bytes() == before


def test_passphrase_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pass"
    secret.write_text("from-file\n")
    monkeypatch.delenv("TC_TEST_PASS", raising=False)
    assert read_passphrase(env="TC_TEST_PASS", file=secret) == "from-file"
    monkeypatch.setenv("TC_TEST_PASS", "from-env")
    assert read_passphrase(env="TC_TEST_PASS", file=secret) == "from-env"
    monkeypatch.delenv("TC_TEST_PASS")
    with pytest.raises(PassphraseError):
        read_passphrase(env="TC_TEST_PASS", file=tmp_path / "missing")


def test_signers_never_show_their_key(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "p", work_factor=SCRYPT_N_LIGHT)
    account = load_keystore(path, "p")
    key_hex = bytes(account.key).hex()
    for signer in (AccountSigner(account), KeystoreSigner(path, "p")):
        assert isinstance(signer, Signer)
        assert key_hex not in repr(signer)
        assert signer.address == account.address


def test_keyring_creates_keys_per_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    ring = Keyring(tmp_path, work_factor=SCRYPT_N_LIGHT)
    org = "0x" + keccak(text="acme").hex()
    first, path = ring.create(org)
    second, _ = ring.create(org)
    assert path == ring.path_for(org, first)
    assert ring.addresses(org) == sorted([first, second])
    assert stat.S_IMODE(ring.passphrase_file.stat().st_mode) == 0o600
    signer = ring.signer(org, first)
    assert signer.address == first
    tx = {"to": second, "value": 0, "gas": 21000, "gasPrice": 0, "nonce": 0, "chainId": 1}
    raw = signer.sign_transaction(tx)
    assert Account.recover_transaction(raw) == first
    with pytest.raises(KeystoreError):
        ring.path_for("acme", first)
    with pytest.raises(KeystoreError):
        ring.signer(org, Account.create().address)


def test_event_signature_round_trip_and_on_chain(
    chain: ChainClient, anchor: Contract, deployment: Deployment
) -> None:
    member = AccountSigner(Account.create())
    event_hash, id_key = os.urandom(32), keccak(text="88.118.8/PUMP-0001")
    signature = sign_event(member, chain.chain_id, deployment.anchor_address, event_hash, id_key)
    assert (
        recover_event_signer(
            signature, chain.chain_id, deployment.anchor_address, event_hash, id_key
        )
        == member.address
    )
    signer, _ = chain.call(anchor.functions.eventSigner(event_hash, id_key, signature))
    assert signer == member.address
    # Another chain, contract or event gives another signer.
    assert (
        recover_event_signer(
            signature, chain.chain_id + 1, deployment.anchor_address, event_hash, id_key
        )
        != member.address
    )
    assert (
        recover_event_signer(
            signature, chain.chain_id, deployment.anchor_address, os.urandom(32), id_key
        )
        != member.address
    )
    with pytest.raises(SignatureError):
        recover_event_signer(
            signature[:-1], chain.chain_id, deployment.anchor_address, event_hash, id_key
        )


def test_signatures_run_on_libsecp256k1() -> None:
    """eth-keys signs and recovers through coincurve (libsecp256k1) when it is installed; its
    pure-Python fallback costs ~7 ms per recovery, which every cold trail page and every signed
    capture paid once per event."""
    from eth_keys.backends import CoinCurveECCBackend, get_backend

    assert isinstance(get_backend(), CoinCurveECCBackend)
