"""Permission suite (issue 11): a table of bypass attempts, each of which must be refused.

Over HTTP (the real app, in process, on the session devnet and a fresh SQLite database), on
the contract directly (transactions signed by the members' own keys, or a stranger's), and
through the EIP-712 signature check that capture with ``--signature`` runs
(:func:`ledger.signing.check_event_signature`). Each row: the attempt, what must happen, what
did; the table is printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.contract import Contract

from api.app import create_app
from devnet.launcher import Devnet
from ledger.chain import ChainClient, ContractRevertError
from ledger.errors import LedgerError
from ledger.events import CapturedEvent, parse_document
from ledger.identifiers import parse
from ledger.signing import check_event_signature, event_keys
from ledger.store.models import Organisation, metadata
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, app_settings, capture, new_batch
from tests.helpers import document, gln, gtin, object_event, single, unique_prefix
from tests.reliability.helpers import table
from wallets.eip712 import sign_event
from wallets.signer import Signer

_org = metadata.tables[Organisation.__tablename__]
ZERO32 = b"\0" * 32


@dataclass(frozen=True)
class World:
    """Members, keys and signers the attempts use."""

    api: Api
    chain: ChainClient
    anchor: Contract
    owner: Member  # a recorder owning a prefix and a commissioned, anchored lot
    other: Member  # another recorder with its own prefix
    auditor: Member
    suspended: Member
    revoked_key: str
    lot: str  # the owner's lot (GS1 element string)
    owner_signer: Signer
    other_signer: Signer
    suspended_signer: Signer
    auditor_signer: Signer
    stranger: LocalAccount

    def pk(self, member: Member) -> int:
        """The member's primary key in the database."""
        with self.api.services.engine.connect() as conn:
            query = sa.select(_org.c.id).where(_org.c.org_id == member.org_id)
            return int(conn.execute(query).scalar_one())


def keyring_signer(api: Api, member: Member) -> Signer:
    """The keyring signer of a member's first signing address (its own key, as a member that
    went around the API would use it)."""
    info = api.services.membership().member(member.org_id)
    return api.services.keyring.signer(member.org_id, info.signing_addresses[0])


@pytest.fixture(scope="module")
def world(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("permissions")
    api = Api(create_app(app_settings(devnet, f"sqlite:///{folder / 'perm.sqlite3'}")))
    try:
        owner = admit(api, "Owner Foods")
        other = admit(api, "Other Foods")
        auditor = admit(api, "Audit Office", roles=("auditor",))
        suspended = admit(api, "Suspended Foods")
        keys = f"/members/{owner.org_id}/api-keys"
        key = api.post(keys, json={"role": "recorder"}, key=ADMIN_KEY)
        assert key.status_code == 201, key.text
        revoked = key.json()
        gone = api.delete(f"/members/{owner.org_id}/api-keys/{revoked['key_id']}", key=ADMIN_KEY)
        assert gone.status_code == 204, gone.text
        lot = new_batch(api, owner)["identifier"]
        assert api.drain() >= 1
        answer = api.post(f"/members/{suspended.org_id}/suspend", key=ADMIN_KEY)
        assert answer.status_code == 200, answer.text
        chain = api.services.chain
        anchor = chain.contract("TraceAnchor", api.services.deployment().anchor_address)
        world = World(
            api, chain, anchor, owner, other, auditor, suspended, revoked["key"], lot,
            keyring_signer(api, owner), keyring_signer(api, other),
            keyring_signer(api, suspended), keyring_signer(api, auditor), Account.create(),
        )  # fmt: skip
        yield world
    finally:
        api.close()


# ---------------------------------------------------------------------- how results read


def http(answer: httpx.Response) -> str:
    """``{status} {problem slug}`` of an answer (``{status}`` alone without a problem)."""
    slug = ""
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        slug = str(answer.json().get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    return f"{answer.status_code} {slug}".strip()


def tx(world: World, account: Signer | LocalAccount, call: Any) -> str:
    """``revert {error}`` of a transaction, or ``mined`` when the chain took it."""
    try:
        world.chain.transact(account, call)
    except ContractRevertError as exc:
        return f"revert {exc.name}"
    return "mined"


def signature_check(world: World, member: Member, event: CapturedEvent, signature: bytes,
                    *, chain_id: int | None = None) -> str:  # fmt: skip
    """What the capture-time signature check says of ``signature`` for ``event`` by
    ``member``: ``accepted`` or ``rejected {problem}``."""
    deployment = world.api.services.deployment()
    try:
        check_event_signature(
            world.api.services.engine,
            chain_id=deployment.chain_id if chain_id is None else chain_id,
            anchor_address=deployment.anchor_address,
            organisation_id=world.pk(member),
            event=event,
            signature=HexBytes(signature).to_0x_hex(),
        )
    except LedgerError as exc:
        return f"rejected {exc.problem}"
    return "accepted"


def events_of(*events: dict[str, Any]) -> list[CapturedEvent]:
    """Parsed events (as capture parses them)."""
    return parse_document(json.dumps(document(*events)).encode(), "application/ld+json")


def sgtin(member: Member, serial: str) -> str:
    """An SGTIN EPC URI under the member's prefix."""
    return f"urn:epc:id:sgtin:{member.prefix}.012345.{serial}"


def commission(member: Member, serial: str) -> dict[str, Any]:
    """A commissioning ObjectEvent of one item of ``member``."""
    return object_event(epcs=[sgtin(member, serial)], action="ADD", biz_step="commissioning",
                        disposition="active")  # fmt: skip


def signed(world: World, signer: Signer, event: CapturedEvent, *, chain_id: int | None = None,
           contract: str | None = None) -> bytes:  # fmt: skip
    """``signer``'s EIP-712 signature of ``event`` (on the deployment unless told)."""
    deployment = world.api.services.deployment()
    event_hash, id_key = event_keys(event)
    return sign_event(signer, chain_id or deployment.chain_id,
                      contract or deployment.anchor_address, event_hash, id_key)  # fmt: skip


# ---------------------------------------------------------------------- the attempts


def _capture_under_owner_prefix(w: World) -> str:
    return http(capture(w.api, w.other.key, document(commission(w.owner, "X1"))))


def _capture_under_no_prefix(w: World) -> str:
    stray = unique_prefix()
    doc = document(object_event(epcs=[f"urn:epc:id:sgtin:{stray}.012345.X2"], action="ADD"))
    return http(capture(w.api, w.other.key, doc))


def _single_event_under_owner_prefix(w: World) -> str:
    return http(w.api.post("/events", json=single(commission(w.owner, "X3")), key=w.other.key))


def _xml_capture_under_owner_prefix(w: World) -> str:
    body = (
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
        'creationDate="2026-01-05T08:00:00Z"><EPCISBody><EventList><ObjectEvent>'
        "<eventTime>2026-01-05T08:00:00.000Z</eventTime>"
        "<eventTimeZoneOffset>+08:00</eventTimeZoneOffset>"
        f"<epcList><epc>{sgtin(w.owner, 'X4')}</epc></epcList><action>ADD</action>"
        "<bizStep>commissioning</bizStep></ObjectEvent></EventList></EPCISBody>"
        "</epcis:EPCISDocument>"
    )
    answer = w.api.post(
        "/capture", content=body, headers={"Content-Type": "application/xml"}, key=w.other.key
    )
    return http(answer)


def _transformation_output_under_owner_prefix(w: World) -> str:
    event = {
        "type": "TransformationEvent",
        "eventTime": "2026-01-05T09:00:00.000Z",
        "eventTimeZoneOffset": "+08:00",
        "inputEPCList": [sgtin(w.other, "IN1")],
        "outputEPCList": [sgtin(w.owner, "OUT1")],
        "bizStep": "commissioning",
    }
    return http(capture(w.api, w.other.key, document(event)))


def _batch_under_owner_gtin(w: World) -> str:
    body = {"gtin": gtin(w.owner.prefix, 9), "lot": "FAKE-1", "quantity": 5,
            "site_gln": gln(w.other.prefix)}  # fmt: skip
    return http(w.api.post("/batches", json=body, key=w.other.key))


def _recall_via_api(w: World) -> str:
    answer = w.api.post(
        f"/identifiers/{w.lot}/recall", json={"reason": "not mine to recall"}, key=w.other.key
    )
    return http(answer)


def _lift_recall_via_api(w: World) -> str:
    answer = w.api.post(
        f"/identifiers/{w.lot}/recall/lift", json={"reason": "not mine"}, key=w.other.key
    )
    return http(answer)


def _recall_on_chain(w: World) -> str:
    canonical = parse(w.lot).canonical
    return tx(w, w.other_signer, w.anchor.functions.recall(canonical, ZERO32))


def _suspended_captures(w: World) -> str:
    return http(capture(w.api, w.suspended.key, document(commission(w.suspended, "S1"))))


def _suspended_anchors_batch(w: World) -> str:
    return tx(w, w.suspended_signer, w.anchor.functions.anchorBatch(HexBytes("0x" + "11" * 32), 1))


def _suspended_anchors_event(w: World) -> str:
    call = w.anchor.functions.anchorEvent(HexBytes("0x" + "12" * 32), HexBytes("0x" + "13" * 32))
    return tx(w, w.suspended_signer, call)


def _revoked_key_captures(w: World) -> str:
    return http(capture(w.api, w.revoked_key, document(commission(w.owner, "R1"))))


def _revoked_key_recalls(w: World) -> str:
    answer = w.api.post(f"/identifiers/{w.lot}/recall", json={"reason": "x"}, key=w.revoked_key)
    return http(answer)


def _auditor_captures(w: World) -> str:
    return http(capture(w.api, w.auditor.key, document(commission(w.owner, "A1"))))


def _auditor_admits(w: World) -> str:
    return http(w.api.post("/members", json={"name": "Sneaky Co"}, key=w.auditor.key))


def _auditor_anchors_on_chain(w: World) -> str:
    return tx(w, w.auditor_signer, w.anchor.functions.anchorBatch(HexBytes("0x" + "14" * 32), 1))


def _recorder_admits(w: World) -> str:
    return http(w.api.post("/members", json={"name": "Sneaky Co"}, key=w.other.key))


def _recorder_assigns_itself_a_prefix(w: World) -> str:
    answer = w.api.post(
        f"/members/{w.other.org_id}/prefixes", json={"prefix": w.owner.prefix}, key=w.other.key
    )
    return http(answer)


def _recorder_creates_admin_key(w: World) -> str:
    answer = w.api.post(
        f"/members/{w.other.org_id}/api-keys", json={"role": "recorder"}, key=w.other.key
    )
    return http(answer)


def _recorder_suspends_rival(w: World) -> str:
    return http(w.api.post(f"/members/{w.owner.org_id}/suspend", key=w.other.key))


def _recorder_lists_rivals_keys(w: World) -> str:
    return http(w.api.get(f"/members/{w.owner.org_id}/api-keys", key=w.other.key))


def _recorder_revokes_rivals_key(w: World) -> str:
    key_id = w.owner.key.split("_")[1]
    return http(w.api.delete(f"/members/{w.owner.org_id}/api-keys/{key_id}", key=w.other.key))


def _recorder_reads_rivals_capture_job(w: World) -> str:
    answer = capture(w.api, w.owner.key, document(object_event(classes=[w.lot])))
    assert answer.status_code == 202, answer.text
    return http(w.api.get(answer.headers["Location"], key=w.other.key))


def _replay_on_another_event(w: World) -> str:
    first, second = events_of(commission(w.owner, "E1"), commission(w.owner, "E2"))
    return signature_check(w, w.owner, second, signed(w, w.owner_signer, first))


def _replay_under_another_member(w: World) -> str:
    (event,) = events_of(commission(w.owner, "E3"))
    return signature_check(w, w.other, event, signed(w, w.owner_signer, event))


def _replay_from_another_chain(w: World) -> str:
    (event,) = events_of(commission(w.owner, "E4"))
    chain_id = w.api.services.deployment().chain_id + 1
    return signature_check(w, w.owner, event, signed(w, w.owner_signer, event, chain_id=chain_id))


def _replay_for_another_contract(w: World) -> str:
    (event,) = events_of(commission(w.owner, "E5"))
    elsewhere = Account.create().address
    return signature_check(w, w.owner, event, signed(w, w.owner_signer, event, contract=elsewhere))


def _replay_on_chain(w: World) -> str:
    first, second = events_of(commission(w.owner, "E6"), commission(w.owner, "E7"))
    event_hash, id_key = event_keys(second)
    _signer, org = w.chain.call(
        w.anchor.functions.eventSigner(event_hash, id_key, signed(w, w.owner_signer, first))
    )
    return "member " + ("none" if bytes(org) == ZERO32 else HexBytes(org).to_0x_hex()[:10])


def _forged_signature(w: World) -> str:
    (event,) = events_of(commission(w.owner, "E8"))
    return signature_check(w, w.owner, event, b"\x01" * 65)


def _stranger(call: Callable[[Contract], Any]) -> Callable[[World], str]:
    def attempt(w: World) -> str:
        return tx(w, w.stranger, call(w.anchor))

    return attempt


def _member_admits_on_chain(w: World) -> str:
    call = w.anchor.functions.admitMember(HexBytes("0x" + "22" * 32), 1, w.stranger.address)
    return tx(w, w.other_signer, call)


def _member_assigns_prefix_on_chain(w: World) -> str:
    call = w.anchor.functions.assignPrefix(f"gs1:{unique_prefix()}", HexBytes(w.other.org_id))
    return tx(w, w.other_signer, call)


def _member_suspends_rival_on_chain(w: World) -> str:
    return tx(w, w.other_signer, w.anchor.functions.suspendMember(HexBytes(w.owner.org_id)))


def _header(value: str | None = None, **headers: str) -> Callable[[World], str]:
    def attempt(w: World) -> str:
        sent = dict(headers)
        if value is not None:
            sent["Authorization"] = value.replace("{owner}", w.owner.key)
        doc = json.dumps(document(commission(w.owner, "H1")))
        answer = w.api.post(
            "/capture", content=doc, headers={"Content-Type": "application/ld+json", **sent}
        )
        return http(answer)

    return attempt


def _wrong_secret(w: World) -> str:
    key_id = w.owner.key.split("_")[1]
    return _header(f"Bearer tc_{key_id}_{'A' * 43}")(w)


def _admin_id_wrong_secret(w: World) -> str:
    admin_id = ADMIN_KEY.split("_")[1]
    return _header(f"Bearer tc_{admin_id}_{'B' * 43}")(w)


def _nested_gs1_prefix(w: World) -> str:
    """A member admitted with a GS1 prefix enclosing another member's (its first 6 of 7
    digits) would own that member's items: ownership is checked against every enclosing
    prefix (capture here, ``recall`` on chain). The admission must be refused; if it is not,
    the intruder's commissioning of the other's item is what the row reports."""
    body = {"name": f"Nested Foods {w.owner.prefix}", "prefixes": [w.owner.prefix[:6]]}
    admitted = w.api.post("/members", json=body, key=ADMIN_KEY)
    if admitted.status_code != 201:
        return http(admitted)
    org = admitted.json()["org_id"]
    key = w.api.post(f"/members/{org}/api-keys", json={"role": "recorder"}, key=ADMIN_KEY)
    return http(capture(w.api, key.json()["key"], document(commission(w.owner, "N1"))))


def _nested_prefix_assigned(prefix: Callable[[World], str]) -> Callable[[World], str]:
    def attempt(w: World) -> str:
        answer = w.api.post(
            f"/members/{w.other.org_id}/prefixes", json={"prefix": prefix(w)}, key=ADMIN_KEY
        )
        return http(answer)

    return attempt


def _handle_prefixes(w: World) -> str:
    """The owner holds handle prefix P; another member asks for P.7, under it (the owner of
    P owns every identifier under P.7 too)."""
    root = f"88.{w.owner.prefix}"
    given = w.api.post(f"/members/{w.owner.org_id}/prefixes", json={"prefix": root},
                       key=ADMIN_KEY)  # fmt: skip
    assert given.status_code == 201, given.text
    return _nested_prefix_assigned(lambda _: f"{root}.7")(w)


@dataclass(frozen=True)
class Attempt:
    """One row of the table."""

    name: str
    expected: str
    run: Callable[[World], str]


STRANGER = "revert UnknownMember"
NOT_ADMIN = "revert AccessControlUnauthorizedAccount"
ATTEMPTS = [
    Attempt("capture under another member's prefix", "403 not-prefix-owner",
            _capture_under_owner_prefix),
    Attempt("capture under nobody's prefix", "403 unassigned-prefix", _capture_under_no_prefix),
    Attempt("POST /events under another member's prefix", "403 not-prefix-owner",
            _single_event_under_owner_prefix),
    Attempt("XML capture under another member's prefix", "403 not-prefix-owner",
            _xml_capture_under_owner_prefix),
    Attempt("transformation output under another member's prefix", "403 not-prefix-owner",
            _transformation_output_under_owner_prefix),
    Attempt("POST /batches of another member's GTIN", "403 not-prefix-owner",
            _batch_under_owner_gtin),
    Attempt("recall another member's lot (API)", "403 prefix-ownership", _recall_via_api),
    Attempt("lift a recall of another member's lot (API)", "403 prefix-ownership",
            _lift_recall_via_api),
    Attempt("recall another member's lot (contract, own key)", "revert NotPrefixOwner",
            _recall_on_chain),
    Attempt("suspended member captures", "403 member-suspended", _suspended_captures),
    Attempt("suspended member's key anchorBatch (contract)", "revert SuspendedMember",
            _suspended_anchors_batch),
    Attempt("suspended member's key anchorEvent (contract)", "revert SuspendedMember",
            _suspended_anchors_event),
    Attempt("revoked API key captures", "401 invalid-credentials", _revoked_key_captures),
    Attempt("revoked API key recalls", "401 invalid-credentials", _revoked_key_recalls),
    Attempt("auditor key captures", "403 wrong-role", _auditor_captures),
    Attempt("auditor key admits a member", "403 wrong-role", _auditor_admits),
    Attempt("auditor member's key anchorBatch (contract)", "revert MissingMemberRole",
            _auditor_anchors_on_chain),
    Attempt("recorder key admits a member", "403 wrong-role", _recorder_admits),
    Attempt("recorder assigns itself another's prefix", "403 wrong-role",
            _recorder_assigns_itself_a_prefix),
    Attempt("recorder creates itself an API key", "403 wrong-role", _recorder_creates_admin_key),
    Attempt("recorder suspends another member", "403 wrong-role", _recorder_suspends_rival),
    Attempt("recorder lists another member's API keys", "403 forbidden",
            _recorder_lists_rivals_keys),
    Attempt("recorder revokes another member's API key", "403 forbidden",
            _recorder_revokes_rivals_key),
    Attempt("recorder reads another member's capture job", "404 not-found",
            _recorder_reads_rivals_capture_job),
    Attempt("signature of one event replayed on another", "rejected signature-rejected",
            _replay_on_another_event),
    Attempt("signature replayed under another member", "rejected signature-rejected",
            _replay_under_another_member),
    Attempt("signature made for another chain id", "rejected signature-rejected",
            _replay_from_another_chain),
    Attempt("signature made for another contract", "rejected signature-rejected",
            _replay_for_another_contract),
    Attempt("replayed signature, eventSigner (contract)", "member none", _replay_on_chain),
    Attempt("forged signature bytes", "rejected signature-rejected", _forged_signature),
    Attempt("stranger anchorBatch (contract)", STRANGER,
            _stranger(lambda a: a.functions.anchorBatch(HexBytes("0x" + "31" * 32), 1))),
    Attempt("stranger anchorEvent (contract)", STRANGER,
            _stranger(lambda a: a.functions.anchorEvent(HexBytes("0x" + "32" * 32),
                                                        HexBytes("0x" + "33" * 32)))),
    Attempt("stranger recall (contract)", STRANGER,
            _stranger(lambda a: a.functions.recall("https://id.gs1.org/01/09506000134352",
                                                   ZERO32))),
    Attempt("stranger admitMember (contract)", NOT_ADMIN,
            _stranger(lambda a: a.functions.admitMember(HexBytes("0x" + "34" * 32), 1,
                                                        Account.create().address))),
    Attempt("stranger assignPrefix (contract)", NOT_ADMIN,
            _stranger(lambda a: a.functions.assignPrefix("gs1:6999999",
                                                         HexBytes("0x" + "35" * 32)))),
    Attempt("member's key admitMember (contract)", NOT_ADMIN, _member_admits_on_chain),
    Attempt("member's key assignPrefix (contract)", NOT_ADMIN, _member_assigns_prefix_on_chain),
    Attempt("member's key suspendMember (contract)", NOT_ADMIN, _member_suspends_rival_on_chain),
    Attempt("no key at all", "401 unauthorized", _header()),
    Attempt("Bearer with a malformed key", "401 invalid-credentials",
            _header("Bearer tc_'or'1'='1")),
    Attempt("Bearer of 64 KiB", "401 invalid-credentials", _header("Bearer tc_" + "a" * 65_536)),
    Attempt("Basic credentials", "401 unauthorized", _header("Basic YWRtaW46YWRtaW4=")),
    Attempt("a member's key id, forged secret", "401 invalid-credentials", _wrong_secret),
    Attempt("the admin's key id, forged secret", "401 invalid-credentials", _admin_id_wrong_secret),
    Attempt("X-API-Key of 64 KiB", "401 invalid-credentials",
            _header(**{"X-API-Key": "tc_" + "b" * 65_536})),
    Attempt("key with the secret cut off", "401 invalid-credentials",
            lambda w: _header("Bearer " + w.owner.key.rsplit("_", 1)[0] + "_")(w)),
    Attempt("admit with a GS1 prefix enclosing another member's, then commission",
            "409 membership", _nested_gs1_prefix),
    Attempt("assign a GS1 prefix under another member's",
            "409 membership", _nested_prefix_assigned(lambda w: w.owner.prefix + "1")),
    Attempt("assign a handle prefix under another member's", "409 membership",
            _handle_prefixes),
]  # fmt: skip

ROWS: list[tuple[str, str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def print_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the table of attempts once the module is done."""
    yield
    text = table(("attempt", "expected", "got"), ROWS)
    refused = sum(1 for _, expected, got in ROWS if expected == got)
    text += f"\nrefused as expected: {refused}/{len(ROWS)}"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + text)


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_bypass_is_refused(world: World, attempt: Attempt) -> None:
    got = attempt.run(world)
    ROWS.append((attempt.name, attempt.expected, got))
    assert got == attempt.expected


def test_every_attempt_is_distinct() -> None:
    assert len({a.name for a in ATTEMPTS}) == len(ATTEMPTS)


def test_no_attempt_changed_the_owners_state(world: World, tmp_path: Path) -> None:
    """After the table: the owner is still active, its lot not recalled, its keys work."""
    me = world.api.get("/me", key=world.owner.key)
    assert me.status_code == 200, me.text
    state = world.api.get(f"/identifiers/{world.lot}/recall")
    assert state.status_code == 200, state.text
    assert state.json()["recalled"] is False
