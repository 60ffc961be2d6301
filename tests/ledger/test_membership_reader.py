"""Membership reads need no key (issue 12): :class:`MembershipReader` answers members, prefix
owners, names and recall states with no keyring and no admin signer, and :class:`Membership`
opens the admin's key only when a write needs it. Real anvil, real SQLite."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.identifiers import parse
from ledger.membership import Membership, MembershipError, MembershipReader
from ledger.store.models import OrgRole
from tests.helpers import unique_prefix
from tests.ledger.conftest import MakeMember
from wallets.errors import PassphraseError
from wallets.keyring import Keyring
from wallets.signer import Signer


def test_reads_need_no_key(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    make_member: MakeMember,
    membership: Membership,
) -> None:
    gcp = unique_prefix("04")
    owner = make_member("Reader", prefixes=(gcp,))
    reader = MembershipReader(engine, chain, deployment)
    item = parse(f"urn:epc:id:sgtin:{gcp}.812345.R1")
    assert reader.owner_of(item) == owner.org_id
    assert reader.owner_of(parse("urn:epc:id:sgtin:0999999.812345.R1")) is None
    assert reader.member(owner.org_id) == owner
    assert owner in reader.members()
    unknown = "0x" + "ee" * 32
    assert reader.names([owner.org_id.upper().replace("0X", "0x"), unknown]) == {
        owner.org_id: owner.name
    }
    assert reader.names([]) == {}
    assert reader.recall_status(item.canonical).recalled is False
    membership.recall(owner.org_id, item.canonical, "a read needs no key")
    status = reader.recall_status(item.canonical)
    assert (status.recalled, status.org_id) == (True, owner.org_id)


def test_the_admin_key_is_opened_only_by_the_writes_that_need_it(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    admin: LocalAccount,
    make_member: MakeMember,
) -> None:
    owner = make_member("Lazy Admin")
    opened: list[str] = []

    def locked() -> Signer | None:
        opened.append("locked")
        raise PassphraseError("no passphrase")

    membership = Membership(engine, chain, deployment, keyring, admin_key=locked)
    assert membership.member(owner.org_id) == owner
    unrecalled = f"urn:epc:id:sgtin:{unique_prefix('04')}.812345.X"
    assert membership.recall_status(unrecalled).recalled is False
    assert opened == []
    org_id = "0x" + "ab" * 32
    with pytest.raises(PassphraseError):
        membership.admit("Never Admitted", OrgRole.RECORDER, org_id=org_id)
    assert opened == ["locked"]
    assert keyring.addresses(org_id) == []  # refused before a key was made for it
    with pytest.raises(PassphraseError):
        membership.rotate_key(owner.org_id)
    assert keyring.addresses(owner.org_id) == list(owner.signing_addresses)

    held_none = Membership(engine, chain, deployment, keyring, admin_key=lambda: None)
    with pytest.raises(MembershipError, match="needs the consortium admin key"):
        held_none.suspend(owner.org_id)
    # Given the key when it is asked for, the write goes through.
    opening = Membership(engine, chain, deployment, keyring, admin_key=lambda: admin)
    assert opening.suspend(owner.org_id).active is False
