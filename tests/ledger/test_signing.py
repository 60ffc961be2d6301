"""Events signed by a non-custodial member's own key (EIP-712)."""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy.engine import Engine

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.membership import Membership
from ledger.signing import SignatureRejectedError, check_event_signature, event_keys
from ledger.store.capture import capture_events
from ledger.store.models import Event, metadata
from ledger.verify import Verifier
from tests.helpers import document_bytes, sgtin_event
from tests.ledger.conftest import MakeMember
from wallets.eip712 import sign_event
from wallets.keyring import Keyring
from wallets.signer import AccountSigner

_event = metadata.tables[Event.__tablename__]


def test_signed_event_is_checked_kept_anchored_and_verified(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    membership: Membership,
    make_member: MakeMember,
) -> None:
    member = make_member()
    own_key = AccountSigner(Account.create())
    membership.add_external_key(member.org_id, own_key.address)
    (event,) = parse_document(document_bytes(sgtin_event()), "application/json")
    event_hash, id_key = event_keys(event)
    signature = (
        "0x"
        + sign_event(own_key, chain.chain_id, deployment.anchor_address, event_hash, id_key).hex()
    )
    check = {"chain_id": chain.chain_id, "anchor_address": deployment.anchor_address}
    assert (
        check_event_signature(
            engine, organisation_id=member.id, event=event, signature=signature, **check
        )
        == own_key.address
    )
    stranger = AccountSigner(Account.create())
    forged = (
        "0x"
        + sign_event(stranger, chain.chain_id, deployment.anchor_address, event_hash, id_key).hex()
    )
    with pytest.raises(SignatureRejectedError) as info:
        check_event_signature(
            engine, organisation_id=member.id, event=event, signature=forged, **check
        )
    assert info.value.field == "signature"
    with pytest.raises(SignatureRejectedError):
        check_event_signature(
            engine, organisation_id=member.id, event=event, signature="0x1234", **check
        )

    (record,) = capture_events(
        engine, [event], organisation_id=member.id, signature=signature
    ).events
    AnchorWorker(engine, chain, deployment, keyring, AnchorConfig()).drain()
    verifier = Verifier(engine, chain, deployment)
    result = verifier.verify_event(record.event_pk)
    assert result.status == "verified", result.reasons
    assert result.signed
    # The anchoring key is the member's custodial one, not its own signing key.
    assert result.recorder_address == member.signing_addresses[0]
    with engine.begin() as conn:
        conn.execute(_event.update().where(_event.c.id == record.event_pk).values(signature=forged))
    tampered = verifier.verify_event(record.event_pk)
    assert tampered.status == "tampered"
    # The anchored leaf covers the signature as stored, so another one breaks the proof.
    assert any("Merkle proof" in r for r in tampered.reasons), tampered.reasons
