"""Consortium membership, kept in step on the chain and in the database.

The chain is the authority (the TraceAnchor contract's registry decides who may anchor and
recall); the database mirrors it for queries and permission checks in the API. Every operation
writes the database rows in a transaction that commits only after the chain transaction is mined,
so a failed chain call leaves no row behind; an operation interrupted after the chain accepted it
and before the commit is adopted from the chain when it is run again.

Reads (:class:`MembershipReader`: members, prefix owners, recall states) need no key; the
writes (:class:`Membership`) open the consortium admin's key only when one of them needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.engine import Connection, Engine
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.chain import ChainClient, ContractRevertError
from ledger.deployment import Deployment
from ledger.errors import InvalidInputError, LedgerError
from ledger.identifiers import (
    Identifier,
    normalise_prefix,
    parse,
    prefix_candidates,
    prefix_key,
)
from ledger.identifiers.hashing import keccak256
from ledger.store.db import write_transaction
from ledger.store.models import OrgRole
from ledger.store.tables import ORGANISATION, PREFIX, SIGNING_KEY
from wallets.keyring import Keyring
from wallets.signer import Signer

log = logging.getLogger("tracechain.membership")

_ZERO = b"\0" * 32


class MembershipError(LedgerError):
    """A membership operation that conflicts with the consortium's state."""

    problem = "membership"
    client_error = True


class UnknownOrganisationError(MembershipError):
    """No member has this organisation id."""

    problem = "unknown-organisation"


class PrefixOwnershipError(MembershipError):
    """The identifier is not under a prefix of the acting member."""

    problem = "prefix-ownership"


@dataclass(frozen=True, slots=True)
class Member:
    """A member as the database mirrors it."""

    id: int
    org_id: str
    name: str
    roles: int
    active: bool
    signing_addresses: tuple[str, ...]
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecallStatus:
    """The on-chain recall state of an identifier (or of the lot/class it belongs to)."""

    identifier: str
    recalled: bool
    recalled_identifier: str | None
    org_id: str | None
    block: int | None
    reason_hash: str | None


def org_id_for(name: str) -> str:
    """The default organisation id of a member: keccak256 of its name (0x-hex)."""
    return "0x" + keccak256(name.strip().encode()).hex()


def reason_hash(text: str) -> bytes:
    """keccak256 of a notice kept off-chain (a recall reason)."""
    return keccak256(text.encode())


def prefixes_overlap(a: str, b: str) -> bool:
    """Whether one normalised prefix is, or encloses, the other: ``gs1:691234`` and
    ``gs1:6912345``; ``handle:88.118`` and ``handle:88.118.8``; ``oid:1.2.156.3`` and
    ``oid:1.2.156.3.7``. Ownership is checked against every enclosing prefix (on chain and in
    :func:`ledger.permissions.check_commissioning`), so the owner of the shorter prefix would own
    the other's identifiers too."""
    scheme_a, _, rest_a = a.partition(":")
    scheme_b, _, rest_b = b.partition(":")
    if scheme_a != scheme_b:
        return False
    short, long = sorted((rest_a, rest_b), key=len)
    if scheme_a == "gs1":
        return long.startswith(short)
    return long == short or long.startswith(short + ".")


def _prefix_clash(
    conn: Connection, normalised: str, member_id: int | None
) -> MembershipError | None:
    """Why ``normalised`` cannot go to member ``member_id`` (``None``: a member not admitted
    yet): another member holds it, a prefix enclosing it or one under it."""
    scheme = normalised.partition(":")[0]
    rows = conn.execute(
        sa.select(PREFIX.c.prefix, ORGANISATION.c.name)
        .join(ORGANISATION, ORGANISATION.c.id == PREFIX.c.organisation_id)
        .where(PREFIX.c.prefix.like(scheme + ":%"))
        .where(sa.true() if member_id is None else PREFIX.c.organisation_id != member_id)
    ).all()
    for prefix, name in rows:
        if prefix == normalised:
            return MembershipError(f"prefix {normalised} belongs to another member", field="prefix")
        if prefixes_overlap(prefix, normalised):
            return MembershipError(
                f"prefix {normalised} overlaps {prefix} of member {name!r}: the owner of the "
                "shorter one would own the other's identifiers too",
                field="prefix",
            )
    return None


def _add_key(conn: Connection, member_id: int, address: str, keystore_path: str | None) -> None:
    """Mirror a signing address of a member (``keystore_path`` when this server holds it)."""
    conn.execute(
        SIGNING_KEY.insert().values(
            organisation_id=member_id,
            address=address,
            keystore_path=keystore_path,
            active=True,
            added_at=datetime.now(UTC),
        )
    )


class MembershipReader:
    """The consortium as the database mirrors it and the chain records it, read only: members,
    who owns an identifier's prefix, recall states. It holds no key, so public reads work
    whatever the state of the admin's keystore."""

    def __init__(self, engine: Engine, chain: ChainClient, deployment: Deployment) -> None:
        self.engine = engine
        self.chain = chain
        self.anchor: Contract = chain.contract("TraceAnchor", deployment.anchor_address)

    def owner_of(self, identifier: Identifier) -> str | None:
        """The org id of the member owning a prefix of ``identifier``, if any."""
        candidates = prefix_candidates(identifier)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(ORGANISATION.c.org_id)
                .join(PREFIX, PREFIX.c.organisation_id == ORGANISATION.c.id)
                .where(PREFIX.c.prefix.in_(list(candidates)))
                .order_by(sa.func.length(PREFIX.c.prefix).desc())
                .limit(1)
            ).first()
        return None if row is None else str(row[0])

    def require_owner(self, org_id: str, identifier: Identifier) -> None:
        """Raise unless member ``org_id`` owns a prefix of ``identifier``."""
        if self.owner_of(identifier) != org_id.lower():
            raise PrefixOwnershipError(
                f"{identifier.canonical} is not under a prefix of member {org_id}",
                field="identifier",
            )

    def recall_status(self, text: str) -> RecallStatus:
        """Whether an identifier, or the lot/class it belongs to, is recalled on the chain."""
        ident = parse(text)
        chain_of: list[Identifier] = [ident]
        cls = ident.class_identifier()
        while cls is not None and cls.canonical not in {i.canonical for i in chain_of}:
            chain_of.append(cls)
            cls = cls.class_identifier()
        for candidate in chain_of:
            active, oid, since, why = self.chain.call(
                self.anchor.functions.recallOf(candidate.id_key)
            )
            if active:
                return RecallStatus(
                    ident.canonical,
                    True,
                    candidate.canonical,
                    "0x" + bytes(oid).hex(),
                    int(since),
                    "0x" + bytes(why).hex(),
                )
        return RecallStatus(ident.canonical, False, None, None, None, None)

    def member(self, org_id: str) -> Member:
        """A member as mirrored in the database."""
        oid = org_id.lower()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ORGANISATION).where(ORGANISATION.c.org_id == oid)).first()
            if row is None:
                raise UnknownOrganisationError(f"no member {oid}", field="org_id")
            keys = (
                conn.execute(
                    sa.select(SIGNING_KEY.c.address)
                    .where(SIGNING_KEY.c.organisation_id == row.id, SIGNING_KEY.c.active.is_(True))
                    .order_by(SIGNING_KEY.c.id)
                )
                .scalars()
                .all()
            )
            prefixes = (
                conn.execute(
                    sa.select(PREFIX.c.prefix)
                    .where(PREFIX.c.organisation_id == row.id)
                    .order_by(PREFIX.c.prefix)
                )
                .scalars()
                .all()
            )
        return Member(
            row.id, row.org_id, row.name, row.roles, row.active, tuple(keys), tuple(prefixes)
        )

    def members(self) -> list[Member]:
        """Every member."""
        with self.engine.connect() as conn:
            ids = (
                conn.execute(sa.select(ORGANISATION.c.org_id).order_by(ORGANISATION.c.id))
                .scalars()
                .all()
            )
        return [self.member(oid) for oid in ids]

    def names(self, org_ids: Iterable[str]) -> dict[str, str]:
        """The names of the members ``org_ids`` (0x-hex; those that are no member are left
        out)."""
        wanted = sorted({oid.lower() for oid in org_ids})
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ORGANISATION.c.org_id, ORGANISATION.c.name).where(
                    ORGANISATION.c.org_id.in_(wanted)
                )
            ).all()
        return {str(oid): str(name) for oid, name in rows}


class Membership(MembershipReader):
    """Admits members, manages their keys and prefixes, records recalls (and reads, as
    :class:`MembershipReader`).

    The consortium admin's signer is ``admin``, or what ``admin_key`` gives when a write first
    needs it (None: this process holds no admin key), so only the writes signed by the admin
    depend on its keystore being readable.
    """

    def __init__(
        self,
        engine: Engine,
        chain: ChainClient,
        deployment: Deployment,
        keyring: Keyring,
        admin: Signer | None = None,
        *,
        admin_key: Callable[[], Signer | None] | None = None,
    ) -> None:
        super().__init__(engine, chain, deployment)
        self.keyring = keyring
        self.admin = admin
        self._admin_key = admin_key

    # ------------------------------------------------------------------ members

    def admit(
        self,
        name: str,
        roles: int = OrgRole.RECORDER,
        *,
        org_id: str | None = None,
        prefixes: Sequence[str] = (),
    ) -> Member:
        """Admit an organisation with a new signing key (and assign it ``prefixes``)."""
        name, roles = name.strip(), int(roles)
        if not name:
            raise InvalidInputError("a member needs a name", field="name")
        if roles <= 0 or roles & ~int(OrgRole.RECORDER | OrgRole.AUDITOR):
            raise InvalidInputError(f"roles {roles} are not RECORDER and/or AUDITOR", field="roles")
        oid = (org_id or org_id_for(name)).lower()
        normalised = [normalise_prefix(p) for p in prefixes]
        with write_transaction(self.engine) as conn:
            if conn.execute(
                sa.select(ORGANISATION.c.id).where(ORGANISATION.c.org_id == oid)
            ).first():
                raise MembershipError(f"organisation {oid} is a member already", field="org_id")
            for index, prefix in enumerate(normalised):
                clash = _prefix_clash(conn, prefix, None)
                if clash is not None:  # refused before anything is admitted
                    raise MembershipError(clash.reason, field=f"prefixes[{index}]")
            on_chain = self.chain.call(self.anchor.functions.memberInfo(HexBytes(oid)))
            if on_chain[0] != 0:
                self._adopt(conn, oid, name)
            else:
                admin = self._admin_signer()  # before a key is made for nothing
                address, path = self.keyring.create(oid)
                self._admin_tx(
                    self.anchor.functions.admitMember(HexBytes(oid), roles, address), admin
                )
                member_id = self._insert_org(conn, oid, name, roles)
                _add_key(conn, member_id, address, str(path))
        for prefix in prefixes:
            self.assign_prefix(oid, prefix)
        return self.member(oid)

    def _adopt(self, conn: Connection, oid: str, name: str) -> None:
        """Mirror a member the chain has but the database lacks (an interrupted admit)."""
        _, roles, active, _ = self.chain.call(self.anchor.functions.memberInfo(HexBytes(oid)))
        member_id = self._insert_org(conn, oid, name, int(roles), active=bool(active))
        held = set(self.keyring.addresses(oid))
        for address in self.chain.call(self.anchor.functions.signersOf(HexBytes(oid))):
            _add_key(
                conn,
                member_id,
                address,
                str(self.keyring.path_for(oid, address)) if address in held else None,
            )
        log.warning("member %s was on the chain but not in the database; adopted it", oid)

    @staticmethod
    def _insert_org(
        conn: Connection, oid: str, name: str, roles: int, *, active: bool = True
    ) -> int:
        member_id: int = conn.execute(
            ORGANISATION.insert()
            .values(org_id=oid, name=name, roles=roles, active=active, created_at=datetime.now(UTC))
            .returning(ORGANISATION.c.id)
        ).scalar_one()
        return member_id

    def suspend(self, org_id: str) -> Member:
        """Suspend a member: its keys can no longer anchor or recall."""
        return self._set_active(org_id, active=False)

    def reinstate(self, org_id: str) -> Member:
        """Reinstate a suspended member."""
        return self._set_active(org_id, active=True)

    def _set_active(self, org_id: str, *, active: bool) -> Member:
        oid = org_id.lower()
        with write_transaction(self.engine) as conn:
            self._require(conn, oid)
            on_chain_active = self.chain.call(self.anchor.functions.memberInfo(HexBytes(oid)))[2]
            if bool(on_chain_active) != active:
                fn = (
                    self.anchor.functions.reinstateMember
                    if active
                    else self.anchor.functions.suspendMember
                )
                self._admin_tx(fn(HexBytes(oid)))
            conn.execute(
                ORGANISATION.update().where(ORGANISATION.c.org_id == oid).values(active=active)
            )
        return self.member(oid)

    def rotate_key(self, org_id: str, *, revoke_old: bool = True) -> str:
        """Give a member a new signing key; revoke the old ones. Past anchors stay valid."""
        oid = org_id.lower()
        with write_transaction(self.engine) as conn:
            member_id = self._require(conn, oid)
            old = (
                conn.execute(
                    sa.select(SIGNING_KEY.c.address).where(
                        SIGNING_KEY.c.organisation_id == member_id, SIGNING_KEY.c.active.is_(True)
                    )
                )
                .scalars()
                .all()
            )
            admin = self._admin_signer()  # before a key is made for nothing
            address, path = self.keyring.create(oid)
            self._admin_tx(self.anchor.functions.addSigner(HexBytes(oid), address), admin)
            now = datetime.now(UTC)
            _add_key(conn, member_id, address, str(path))
            if revoke_old:
                for previous in old:
                    self._admin_tx(self.anchor.functions.revokeSigner(previous))
                    conn.execute(
                        SIGNING_KEY.update()
                        .where(SIGNING_KEY.c.address == previous)
                        .values(active=False, revoked_at=now)
                    )
        return address

    def add_external_key(self, org_id: str, address: str) -> str:
        """Admit a key the member holds itself (non-custodial: it signs its own events)."""
        oid = org_id.lower()
        checksummed = to_checksum_address(address)
        with write_transaction(self.engine) as conn:
            member_id = self._require(conn, oid)
            self._admin_tx(self.anchor.functions.addSigner(HexBytes(oid), checksummed))
            _add_key(conn, member_id, checksummed, None)
        return checksummed

    # ------------------------------------------------------------------ prefixes

    def assign_prefix(self, org_id: str, prefix: str) -> str:
        """Assign an identifier prefix (``0614141``, ``gs1:0614141``, ``88.118.8``) to a member."""
        oid = org_id.lower()
        normalised = normalise_prefix(prefix)
        key = prefix_key(normalised)
        with write_transaction(self.engine) as conn:
            member_id = self._require(conn, oid)
            owner = conn.execute(
                sa.select(PREFIX.c.organisation_id).where(PREFIX.c.prefix == normalised)
            ).first()
            clash = _prefix_clash(conn, normalised, member_id)
            if clash is not None:
                raise clash
            if owner is None:
                on_chain_owner = self.chain.call(self.anchor.functions.prefixOwner(key))
                if on_chain_owner != HexBytes(oid):
                    self._admin_tx(self.anchor.functions.assignPrefix(normalised, HexBytes(oid)))
                conn.execute(
                    PREFIX.insert().values(
                        prefix=normalised,
                        prefix_key="0x" + key.hex(),
                        organisation_id=member_id,
                        assigned_at=datetime.now(UTC),
                    )
                )
        return normalised

    # ------------------------------------------------------------------ recalls

    def recall(self, org_id: str, identifier: str, reason: str) -> RecallStatus:
        """Recall a product or lot on the chain, as member ``org_id`` (the prefix owner)."""
        return self._recall(org_id, identifier, reason, lift=False)

    def lift_recall(self, org_id: str, identifier: str, reason: str) -> RecallStatus:
        """Lift a recall, as the prefix owner."""
        return self._recall(org_id, identifier, reason, lift=True)

    def _recall(self, org_id: str, text: str, reason: str, *, lift: bool) -> RecallStatus:
        ident = parse(text)
        self.require_owner(org_id, ident)
        signer = self._member_signer(org_id.lower())
        fn = self.anchor.functions.liftRecall if lift else self.anchor.functions.recall
        try:
            self.chain.transact(signer, fn(ident.canonical, reason_hash(reason)))
        except ContractRevertError as exc:
            if exc.name in ("AlreadyRecalled", "NotRecalled"):
                raise MembershipError(exc.name, field="identifier") from None
            if exc.name == "NotPrefixOwner":
                raise PrefixOwnershipError(
                    "the chain says the member does not own this prefix", field="identifier"
                ) from None
            raise
        return self.recall_status(ident.canonical)

    # ------------------------------------------------------------------ internals

    def _require(self, conn: Connection, oid: str) -> int:
        member_id = conn.execute(
            sa.select(ORGANISATION.c.id).where(ORGANISATION.c.org_id == oid)
        ).scalar_one_or_none()
        if member_id is None:
            raise UnknownOrganisationError(f"no member {oid}", field="org_id")
        return int(member_id)

    def _member_signer(self, oid: str) -> Signer:
        with self.engine.connect() as conn:
            address = conn.execute(
                sa.select(SIGNING_KEY.c.address)
                .join(ORGANISATION, ORGANISATION.c.id == SIGNING_KEY.c.organisation_id)
                .where(ORGANISATION.c.org_id == oid, SIGNING_KEY.c.active.is_(True))
                .order_by(SIGNING_KEY.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        if address is None:
            raise UnknownOrganisationError(
                f"member {oid} has no active signing key", field="org_id"
            )
        return self.keyring.signer(oid, address)

    def _admin_signer(self) -> Signer:
        """The consortium admin's signer (opened now, the first time a write needs it).

        Raises:
            MembershipError: this process holds no admin key.
            wallets.errors.WalletError: its keystore or passphrase cannot be read.
        """
        admin = self.admin
        if admin is None and self._admin_key is not None:
            admin = self._admin_key()
        if admin is None:
            raise MembershipError("this operation needs the consortium admin key")
        return admin

    def _admin_tx(self, call: ContractFunction, admin: Signer | None = None) -> None:
        self.chain.transact(admin if admin is not None else self._admin_signer(), call)
