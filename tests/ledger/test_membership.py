"""Membership writes keep the chain and the database in step (:mod:`ledger.membership`): admit,
suspend, reinstate, signing keys, GS1 and handle prefixes (and the refusal of overlapping ones),
recalls; an operation the chain took but the database missed is adopted from the chain without a
second transaction. Every test reads both sides and checks that they agree. Real anvil (the
session devnet), real SQLite. (Reads with no key: ``test_membership_reader.py``.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.chain import ChainClient, ContractRevertError
from ledger.deployment import Deployment
from ledger.errors import InvalidInputError
from ledger.identifiers import parse, prefix_key
from ledger.membership import (
    Member,
    Membership,
    MembershipError,
    PrefixOwnershipError,
    UnknownOrganisationError,
    org_id_for,
    reason_hash,
)
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from ledger.store.tables import ORGANISATION, PREFIX, SIGNING_KEY
from tests.helpers import DL, gtin, unique_handle_prefix, unique_prefix
from tests.ledger.conftest import MakeMember
from wallets.keyring import Keyring
from wallets.signer import as_signer

BOTH = OrgRole.RECORDER | OrgRole.AUDITOR


def admin_nonce(chain: ChainClient, admin: LocalAccount) -> int:
    """How many transactions the consortium admin has sent (membership writes are its own)."""
    return int(chain.w3.eth.get_transaction_count(admin.address))


def in_step(membership: Membership, anchor: Contract, org_id: str) -> Member:
    """Assert that the chain and the database see member ``org_id`` alike (roles, active, the
    signing addresses not revoked and what each may do, the owner of each prefix); the
    database's member."""
    member = membership.member(org_id)
    oid = HexBytes(member.org_id)
    chain = membership.chain
    number, roles, active, _ = chain.call(anchor.functions.memberInfo(oid))
    assert number > 0
    assert (roles, active) == (member.roles, member.active)
    signers = chain.call(anchor.functions.signersOf(oid))
    assert sorted(signers) == sorted(member.signing_addresses)
    for address in member.signing_addresses:
        assert chain.call(anchor.functions.signerInfo(address))[:3] == (oid, roles, active)
    with membership.engine.connect() as conn:
        keys = dict(
            conn.execute(
                sa.select(PREFIX.c.prefix, PREFIX.c.prefix_key)
                .join(ORGANISATION, ORGANISATION.c.id == PREFIX.c.organisation_id)
                .where(ORGANISATION.c.org_id == member.org_id)
            ).all()
        )
    assert sorted(keys) == list(member.prefixes)
    for prefix, key in keys.items():
        assert key == "0x" + prefix_key(prefix).hex()
        assert chain.call(anchor.functions.prefixOwner(prefix_key(prefix))) == oid
    return member


def key_rows(engine: Engine, org_id: str) -> list[tuple[str, str | None, bool, bool]]:
    """The member's signing-key rows: address, keystore path, active, revoked (in order)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                SIGNING_KEY.c.address,
                SIGNING_KEY.c.keystore_path,
                SIGNING_KEY.c.active,
                SIGNING_KEY.c.revoked_at.is_not(None),
            )
            .join(ORGANISATION, ORGANISATION.c.id == SIGNING_KEY.c.organisation_id)
            .where(ORGANISATION.c.org_id == org_id)
            .order_by(SIGNING_KEY.c.id)
        ).all()
    return [(a, p, bool(active), bool(revoked)) for a, p, active, revoked in rows]


def organisation_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ORGANISATION)).scalar_one())


def other_database(tmp_path: Path, name: str = "other") -> Engine:
    """Another migrated SQLite database: a node that has not seen the first one's writes."""
    url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    migrate(url)
    return make_engine(url)


# ---------------------------------------------------------------------------------- admit


def test_admit_writes_the_member_on_chain_and_in_the_database(
    membership: Membership, anchor: Contract, keyring: Keyring
) -> None:
    gcp = unique_prefix("04")
    name = f"Admitted Foods {gcp}"
    member = membership.admit(f"  {name}\n", BOTH, prefixes=(gcp,))
    assert (member.name, member.org_id) == (name, org_id_for(name))
    assert (member.roles, member.active, member.prefixes) == (BOTH, True, (f"gs1:{gcp}",))
    (address,) = member.signing_addresses
    assert keyring.addresses(member.org_id) == [address]
    assert key_rows(membership.engine, member.org_id) == [
        (address, str(keyring.path_for(member.org_id, address)), True, False)
    ]
    assert in_step(membership, anchor, member.org_id) == member
    assert membership.owner_of(parse(f"urn:epc:id:sgtin:{gcp}.812345.A1")) == member.org_id
    # An org id of the caller's choosing is kept, in lower case.
    chosen = "0x" + gcp.rjust(64, "C")
    other = membership.admit(f"Chosen Id {gcp}", OrgRole.AUDITOR, org_id=chosen)
    assert other.org_id == chosen.lower()
    assert in_step(membership, anchor, chosen) == other


def test_admit_refuses_before_the_chain_and_before_a_key_is_made(
    membership: Membership, anchor: Contract, chain: ChainClient, admin: LocalAccount
) -> None:
    member = membership.admit(f"Only Once {unique_prefix('04')}")
    sent = admin_nonce(chain, admin)
    with pytest.raises(MembershipError, match="is a member already") as again:
        membership.admit(member.name)
    assert again.value.field == "org_id"
    nobody = "0x" + "0d" * 32
    with pytest.raises(InvalidInputError) as nameless:
        membership.admit("   ", org_id=nobody)
    assert nameless.value.field == "name"
    for roles in (0, 4, int(BOTH) | 8):
        with pytest.raises(InvalidInputError) as bad_roles:
            membership.admit("No Such Roles", roles, org_id=nobody)
        assert bad_roles.value.field == "roles"
    assert admin_nonce(chain, admin) == sent
    assert membership.keyring.addresses(nobody) == []
    assert chain.call(anchor.functions.memberInfo(HexBytes(nobody)))[0] == 0
    assert organisation_count(membership.engine) == 1
    assert in_step(membership, anchor, member.org_id) == member


def test_an_admit_the_database_missed_is_adopted_from_the_chain(
    membership: Membership,
    anchor: Contract,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    admin: LocalAccount,
    tmp_path: Path,
) -> None:
    name = f"Adopted Foods {unique_prefix('04')}"
    first = membership.admit(name, BOTH)
    membership.suspend(first.org_id)
    # Another node's database never saw the admission: admitting again sends no transaction and
    # mirrors what the chain says (roles, suspended, the key this keyring holds).
    fresh = Membership(other_database(tmp_path), chain, deployment, keyring, as_signer(admin))
    sent = admin_nonce(chain, admin)
    adopted = fresh.admit(name, OrgRole.RECORDER)
    assert admin_nonce(chain, admin) == sent
    assert adopted == Member(
        adopted.id, first.org_id, name, BOTH, False, first.signing_addresses, ()
    )
    (address,) = first.signing_addresses
    assert key_rows(fresh.engine, first.org_id) == [
        (address, str(keyring.path_for(first.org_id, address)), True, False)
    ]
    assert in_step(fresh, anchor, first.org_id) == adopted
    # A key this node does not hold is mirrored without a keystore path.
    elsewhere = Membership(
        other_database(tmp_path, "third"),
        chain,
        deployment,
        Keyring(tmp_path / "away"),
        as_signer(admin),
    )
    assert key_rows(elsewhere.engine, first.org_id) == []
    elsewhere.admit(name)
    assert key_rows(elsewhere.engine, first.org_id) == [(address, None, True, False)]
    assert in_step(elsewhere, anchor, first.org_id).active is False


# ------------------------------------------------------------------- suspend and reinstate


def test_suspend_and_reinstate_keep_chain_and_database_in_step(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    member = make_member("Suspended Pumps")
    suspended = membership.suspend(member.org_id)
    assert suspended == replace(member, active=False)
    assert in_step(membership, anchor, member.org_id) == suspended
    sent = admin_nonce(chain, admin)
    assert membership.suspend(member.org_id.upper().replace("0X", "0x")) == suspended
    assert admin_nonce(chain, admin) == sent  # suspended already: nothing to send
    reinstated = membership.reinstate(member.org_id)
    assert reinstated == member
    assert in_step(membership, anchor, member.org_id) == member
    sent = admin_nonce(chain, admin)
    assert membership.reinstate(member.org_id) == member
    assert admin_nonce(chain, admin) == sent


def test_a_suspension_the_database_missed_is_taken_from_the_chain(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    member = make_member("Half Suspended")
    chain.transact(admin, anchor.functions.suspendMember(HexBytes(member.org_id)))
    assert membership.member(member.org_id).active is True  # the write stopped here
    sent = admin_nonce(chain, admin)
    assert membership.suspend(member.org_id).active is False
    assert admin_nonce(chain, admin) == sent
    assert in_step(membership, anchor, member.org_id).active is False


def test_writes_for_an_unknown_member_are_refused(
    membership: Membership, chain: ChainClient, admin: LocalAccount, new_account: LocalAccount
) -> None:
    nobody = "0x" + "0e" * 32
    sent = admin_nonce(chain, admin)
    calls: list[Callable[[], object]] = [
        lambda: membership.suspend(nobody),
        lambda: membership.reinstate(nobody),
        lambda: membership.rotate_key(nobody),
        lambda: membership.add_external_key(nobody, new_account.address),
        lambda: membership.assign_prefix(nobody, unique_prefix("04")),
        lambda: membership.member(nobody),
    ]
    for call in calls:
        with pytest.raises(UnknownOrganisationError) as unknown:
            call()
        assert unknown.value.field == "org_id"
    assert admin_nonce(chain, admin) == sent
    assert membership.keyring.addresses(nobody) == []


# ------------------------------------------------------------------------------ keys


def test_rotating_a_key_revokes_the_old_one_on_both_sides(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    keyring: Keyring,
    new_account: LocalAccount,
) -> None:
    member = make_member("Rotating Pumps")
    (old,) = member.signing_addresses
    new = membership.rotate_key(member.org_id)
    assert new != old
    assert keyring.addresses(member.org_id) == sorted([old, new])
    assert in_step(membership, anchor, member.org_id).signing_addresses == (new,)
    assert key_rows(membership.engine, member.org_id) == [
        (old, str(keyring.path_for(member.org_id, old)), False, True),
        (new, str(keyring.path_for(member.org_id, new)), True, False),
    ]
    assert chain.call(anchor.functions.signerInfo(old))[2] is False  # may act no more
    # Without revoking, both keys stay active; a key the member holds itself has no keystore.
    kept = membership.rotate_key(member.org_id, revoke_old=False)
    own = new_account
    assert membership.add_external_key(member.org_id, own.address.lower()) == own.address
    assert in_step(membership, anchor, member.org_id).signing_addresses == (
        new,
        kept,
        own.address,
    )
    assert key_rows(membership.engine, member.org_id)[-1] == (own.address, None, True, False)


# ---------------------------------------------------------------------------- prefixes


def test_gs1_and_handle_prefixes_are_assigned_on_both_sides(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    member = make_member("Prefix Holder")
    gcp, other_gcp, handle = unique_prefix("04"), unique_prefix("04"), unique_handle_prefix()
    assert membership.assign_prefix(member.org_id, gcp) == f"gs1:{gcp}"
    assert membership.assign_prefix(member.org_id, f"GS1:{other_gcp}") == f"gs1:{other_gcp}"
    assert membership.assign_prefix(member.org_id, f"{handle}/") == f"handle:{handle}"
    held = in_step(membership, anchor, member.org_id)
    assert held.prefixes == tuple(sorted([f"gs1:{gcp}", f"gs1:{other_gcp}", f"handle:{handle}"]))
    sent = admin_nonce(chain, admin)
    assert membership.assign_prefix(member.org_id, f"gs1:{gcp}") == f"gs1:{gcp}"
    assert admin_nonce(chain, admin) == sent  # its own already
    assert in_step(membership, anchor, member.org_id) == held
    # The database answers who owns an identifier from the prefixes the chain has.
    for identifier in (
        f"{DL}/01/{gtin(gcp, 7)}/21/X1",
        f"urn:epc:id:sgtin:{other_gcp}.812345.X2",
        f"{handle}/PUMP-1",
    ):
        membership.require_owner(member.org_id, parse(identifier))
        assert membership.owner_of(parse(identifier)) == member.org_id
    with pytest.raises(PrefixOwnershipError) as unowned:
        membership.require_owner(member.org_id, parse(f"{unique_handle_prefix()}/PUMP-1"))
    assert unowned.value.field == "identifier"


def test_a_prefix_another_member_holds_or_overlaps_is_refused(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    gcp, handle = unique_prefix("04"), unique_handle_prefix()
    owner = make_member("First Owner", prefixes=(gcp, handle))
    other = make_member("Late Comer")
    sent = admin_nonce(chain, admin)
    refusals = {
        gcp: "belongs to another member",
        f"handle:{handle}": "belongs to another member",
        gcp[:6]: "overlaps",  # encloses the owner's: it would own the owner's identifiers
        gcp + "1": "overlaps",  # under the owner's
        handle.rsplit(".", 1)[0]: "overlaps",
        f"{handle}.7": "overlaps",
    }
    for prefix, why in refusals.items():
        with pytest.raises(MembershipError, match=why) as refused:
            membership.assign_prefix(other.org_id, prefix)
        assert refused.value.field == "prefix"
    # Refused before the chain: no transaction, no owner on chain, nothing in the database.
    assert admin_nonce(chain, admin) == sent
    for prefix in (gcp[:6], gcp + "1"):
        assert chain.call(anchor.functions.prefixOwner(prefix_key(f"gs1:{prefix}"))) == bytes(32)
    assert in_step(membership, anchor, other.org_id).prefixes == ()
    assert in_step(membership, anchor, owner.org_id) == owner
    # A sibling is no overlap (handle 88.x.y1 is not under 88.x.y).
    sibling = f"handle:{handle}1"
    assert membership.assign_prefix(other.org_id, sibling) == sibling
    assert in_step(membership, anchor, other.org_id).prefixes == (sibling,)


def test_admitting_with_an_overlapping_prefix_admits_nothing(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    gcp = unique_prefix("04")
    make_member("Holder", prefixes=(gcp,))
    before = organisation_count(membership.engine)
    name = f"Too Greedy {gcp}"
    sent = admin_nonce(chain, admin)
    with pytest.raises(MembershipError, match="overlaps") as refused:
        membership.admit(name, prefixes=(unique_prefix("04"), gcp[:6]))
    assert refused.value.field == "prefixes[1]"
    assert admin_nonce(chain, admin) == sent
    assert organisation_count(membership.engine) == before
    assert chain.call(anchor.functions.memberInfo(HexBytes(org_id_for(name))))[0] == 0
    assert membership.keyring.addresses(org_id_for(name)) == []


def test_a_prefix_the_chain_gave_another_node_is_refused_and_leaves_no_row(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    admin: LocalAccount,
    tmp_path: Path,
) -> None:
    gcp = unique_prefix("04")
    elsewhere = Membership(other_database(tmp_path), chain, deployment, keyring, as_signer(admin))
    holder = elsewhere.admit(f"Holder Elsewhere {gcp}", prefixes=(gcp,))
    member = make_member("Unaware")
    with pytest.raises(ContractRevertError) as taken:
        membership.assign_prefix(member.org_id, gcp)
    assert taken.value.name == "PrefixTaken"
    assert in_step(membership, anchor, member.org_id).prefixes == ()
    assert in_step(elsewhere, anchor, holder.org_id).prefixes == (f"gs1:{gcp}",)


def test_a_prefix_assignment_the_database_missed_is_taken_from_the_chain(
    membership: Membership,
    make_member: MakeMember,
    anchor: Contract,
    chain: ChainClient,
    admin: LocalAccount,
) -> None:
    member = make_member("Half Assigned")
    gcp = unique_prefix("04")
    chain.transact(admin, anchor.functions.assignPrefix(f"gs1:{gcp}", HexBytes(member.org_id)))
    assert membership.member(member.org_id).prefixes == ()  # the write stopped here
    sent = admin_nonce(chain, admin)
    assert membership.assign_prefix(member.org_id, gcp) == f"gs1:{gcp}"
    assert admin_nonce(chain, admin) == sent
    assert in_step(membership, anchor, member.org_id).prefixes == (f"gs1:{gcp}",)


# ----------------------------------------------------------------------------- recalls


def test_a_recall_is_the_chain_state_the_reader_reports(
    membership: Membership, make_member: MakeMember, anchor: Contract, chain: ChainClient
) -> None:
    gcp = unique_prefix("04")
    owner = make_member("Recalling Foods", prefixes=(gcp,))
    lot = parse(f"{DL}/01/{gtin(gcp, 3)}/10/L7")
    item_in_lot = f"{DL}/01/{gtin(gcp, 3)}/10/L7/21/9"  # (its canonical form drops the lot)
    reason = "Listeria found in lot L7"
    status = membership.recall(owner.org_id, lot.canonical, reason)
    active, org, since, why = chain.call(anchor.functions.recallOf(lot.id_key))
    assert (active, "0x" + bytes(org).hex(), bytes(why)) == (
        True,
        owner.org_id,
        reason_hash(reason),
    )
    assert 0 < since <= chain.block_number()
    assert (status.identifier, status.recalled, status.recalled_identifier) == (
        lot.canonical,
        True,
        lot.canonical,
    )
    assert (status.org_id, status.block, status.reason_hash) == (
        owner.org_id,
        since,
        "0x" + reason_hash(reason).hex(),
    )
    # An item named with its lot is recalled through the lot.
    of_item = membership.recall_status(item_in_lot)
    assert (of_item.identifier, of_item.recalled, of_item.recalled_identifier) == (
        parse(item_in_lot).canonical,
        True,
        lot.canonical,
    )
    with pytest.raises(MembershipError, match="AlreadyRecalled"):
        membership.recall(owner.org_id, lot.canonical, reason)
    lifted = membership.lift_recall(owner.org_id, lot.canonical, "cleared")
    assert (lifted.recalled, lifted.recalled_identifier) == (False, None)
    assert chain.call(anchor.functions.recallOf(lot.id_key))[0] is False
    assert membership.recall_status(item_in_lot).recalled is False
    with pytest.raises(MembershipError, match="NotRecalled"):
        membership.lift_recall(owner.org_id, lot.canonical, "cleared again")


def test_a_suspended_owner_cannot_recall(
    membership: Membership, make_member: MakeMember, anchor: Contract, chain: ChainClient
) -> None:
    gcp = unique_prefix("04")
    owner = make_member("Suspended Owner", prefixes=(gcp,))
    membership.suspend(owner.org_id)
    lot = parse(f"{DL}/01/{gtin(gcp, 1)}/10/L1")
    with pytest.raises(ContractRevertError) as refused:
        membership.recall(owner.org_id, lot.canonical, "not while suspended")
    assert refused.value.name == "SuspendedMember"
    assert membership.recall_status(lot.canonical).recalled is False
    assert chain.call(anchor.functions.recallOf(lot.id_key))[0] is False
    assert in_step(membership, anchor, owner.org_id).active is False
