"""Traces follow only what their reader may read (:mod:`ledger.visibility`) and count the rest.

Four members on a real SQLite ledger: a maker commissions two items (``linked``), a packer
packs them into a case (``linked``), a carrier ships the case (``private``), receives it
(``restricted`` to the packer) and puts it on a pallet (``public``); an outsider recorded
nothing. Each reader's forward trace from an item reaches exactly the events the rule lets it
read, and ``hidden`` counts the ones it met and may not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.store.repository import create_organisation
from ledger.trace import recall_scope, trace
from ledger.visibility import Audience, Reader, Scope, Visibility
from tests.helpers import DL, document_bytes, gln, gtin, sscc

PREFIX = "0614141"
ITEMS = [f"{DL}/01/{gtin(PREFIX, 7)}/21/{n}" for n in (1, 2)]
CASE = f"{DL}/00/{sscc(PREFIX, 70)}"
PALLET = f"{DL}/00/{sscc(PREFIX, 71)}"


@dataclass(frozen=True)
class Chain:
    """Members (store ids) and the events (store pks) by name."""

    orgs: dict[str, int]
    events: dict[str, int]


def _org_id(n: int) -> str:
    return "0x" + f"{n + 40:064x}"


def _when(minute: int) -> dict[str, str]:
    return {"eventTime": f"2026-04-01T08:{minute:02d}:00Z", "eventTimeZoneOffset": "+00:00"}


@pytest.fixture
def chain(engine: Engine) -> Chain:
    orgs = {}
    for n, name in enumerate(("maker", "packer", "carrier", "outsider"), start=1):
        org = create_organisation(engine, org_id=_org_id(n), name=name, roles=1)
        assert org.id is not None
        orgs[name] = org.id
    events: dict[str, int] = {}

    def capture(name: str, org: str, event: dict[str, Any], audience: Audience) -> None:
        parsed = parse_document(document_bytes(event), "application/ld+json")
        result = capture_events(engine, parsed, organisation_id=orgs[org], audience=audience)
        events[name] = result.events[0].event_pk

    site = {"id": f"{DL}/414/{gln(PREFIX, 7)}"}
    linked, private = Audience(Visibility.LINKED), Audience(Visibility.PRIVATE)
    capture(
        "commission",
        "maker",
        {"type": "ObjectEvent", **_when(1), "epcList": ITEMS, "action": "ADD",
         "bizStep": "commissioning", "readPoint": site},
        linked,
    )  # fmt: skip
    capture(
        "pack",
        "packer",
        {"type": "AggregationEvent", **_when(2), "parentID": CASE, "childEPCs": ITEMS,
         "action": "ADD", "bizStep": "packing", "readPoint": site},
        linked,
    )  # fmt: skip
    capture(
        "ship",
        "carrier",
        {"type": "ObjectEvent", **_when(3), "epcList": [CASE], "action": "OBSERVE",
         "bizStep": "shipping", "readPoint": site},
        private,
    )  # fmt: skip
    capture(
        "receive",
        "carrier",
        {"type": "ObjectEvent", **_when(4), "epcList": [CASE], "action": "OBSERVE",
         "bizStep": "receiving", "bizLocation": site},
        Audience(Visibility.RESTRICTED, frozenset({orgs["packer"]})),
    )  # fmt: skip
    capture(
        "palletise",
        "carrier",
        {"type": "AggregationEvent", **_when(5), "parentID": PALLET, "childEPCs": [CASE],
         "action": "ADD", "bizStep": "packing", "readPoint": site},
        Audience(Visibility.PUBLIC),
    )  # fmt: skip
    return Chain(orgs, events)


def _readers(chain: Chain) -> dict[str, Reader]:
    return {
        "operator": Reader.operator(),
        "public": Reader.public(),
        **{name: Reader.member(pk) for name, pk in chain.orgs.items()},
        # A regulator's link of the admin's, scoped to the case.
        "case link": Reader.capability(None, Scope(frozenset({CASE}))),
    }


#: Reader -> (the events its forward trace from the first item follows, how many it hides).
EXPECTED: dict[str, tuple[set[str], int]] = {
    "operator": ({"commission", "pack", "ship", "receive", "palletise"}, 0),
    # Its items' partners one hop away (the packer's case), and the public pallet.
    "maker": ({"commission", "pack", "palletise"}, 2),
    # Named a reader of the receipt; the carrier's shipment is private.
    "packer": ({"commission", "pack", "receive", "palletise"}, 1),
    "carrier": ({"commission", "pack", "ship", "receive", "palletise"}, 0),
    # Linked to nothing: only public events, and none is about the item itself.
    "outsider": (set(), 2),
    # No key: linked and public events.
    "public": ({"commission", "pack", "palletise"}, 2),
    # Events about the case only: the item's commissioning is outside the link's scope.
    "case link": ({"pack", "ship", "receive", "palletise"}, 1),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_a_forward_trace_follows_what_its_reader_may_read(
    engine: Engine, chain: Chain, who: str
) -> None:
    reader = _readers(chain)[who]
    graph = trace(engine, ITEMS[0], "forward", None, reader=reader)
    followed, hidden = EXPECTED[who]
    names = {pk: name for name, pk in chain.events.items()}
    assert {names[pk] for pk in graph.event_pks()} == followed
    assert graph.hidden == hidden
    assert graph.to_json()["hidden"] == hidden
    identifiers = set(graph.identifiers())
    assert (PALLET in identifiers) == ("palletise" in followed)
    assert (CASE in identifiers) == ("pack" in followed)


def test_a_hidden_event_leaves_no_trace_of_its_contents(engine: Engine, chain: Chain) -> None:
    """The maker's trace meets the carrier's shipment and receipt but shows neither their
    member, their sites nor their edges; the outsider's shows the item alone."""
    maker = trace(engine, ITEMS[0], "forward", None, reader=Reader.member(chain.orgs["maker"]))
    hidden = {chain.events["ship"], chain.events["receive"]}
    assert not hidden & {e.event_pk for e in maker.edges}
    carrier = _org_id(3)
    assert carrier in maker.nodes  # it recorded the public palletising ...
    recorded = {e.event_pk for e in maker.edges if e.target == carrier}
    assert recorded == {chain.events["palletise"]}  # ... and that is all the maker learns
    outsider = trace(
        engine, ITEMS[0], "forward", None, reader=Reader.member(chain.orgs["outsider"])
    )
    assert list(outsider.nodes) == [ITEMS[0]]
    assert outsider.edges == []


def test_backward_and_recall_scope_count_what_they_hide(engine: Engine, chain: Chain) -> None:
    maker = Reader.member(chain.orgs["maker"])
    back = trace(engine, PALLET, "backward", None, reader=maker)
    names = {pk: name for name, pk in chain.events.items()}
    assert {names[pk] for pk in back.event_pks()} == {"palletise", "pack", "commission"}
    assert back.hidden == 2
    scope = recall_scope(engine, ITEMS[0], reader=maker)
    assert scope.to_json()["hidden"] == 2
    assert PALLET in scope.logistic_units
    assert recall_scope(engine, ITEMS[0], reader=Reader.operator()).to_json()["hidden"] == 0
