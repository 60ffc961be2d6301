"""The visibility rule in SQL (:func:`ledger.store.visibility.visible`) against a brute-force
evaluation of the documented rule (:mod:`ledger.visibility`), on random small supply chains.

Each example admits 3 to 5 members (each with a GS1 company prefix, two GTINs, a party GLN
and a site GLN), captures a random chain through the real capture path
(:func:`ledger.capture.capture_document`, and :func:`ledger.store.capture.capture_events` for
an event one member captures again after another): commissioning of items and lots,
aggregation into cases, transformations, shipping with owning/possessing parties (and a
location, which names no one) in its source/destination lists, receiving; every capture with a
random visibility (or the member's random default) and random named readers. Random grants
(some revoked) are written to ``access_grant``. Then, for every member, the operator, the
public and capability links, the events ``SELECT event.id WHERE visible(reader)`` returns are
compared with the rule evaluated here in Python from the documents alone:

- the recorder reads its event; everyone reads a ``public`` one;
- a ``restricted`` or ``linked`` event is read by the members it names: the capture's readers,
  the owning/possessing parties of its source and destination lists (the member holding the
  party's prefix; not for a ``private`` capture, which names no one), and any member that
  captured the same event again;
- a ``linked`` event is read by every member *linked* to one of its link keys (each
  identifier it mentions and that identifier's lot, when an item carries one; never a whole
  GTIN). A member is linked to the link keys of every event it recorded or captured again, and
  one hop further: across an aggregation/transformation event (to its children when one it
  recorded is the parent, to the parent when it is a child; to the outputs from an input, to
  the inputs from an output; never to a sibling on its own side), whoever recorded that event,
  whenever;
- a grant (unrevoked) of the event's recorder to the member, whose key is one of the event's
  identifiers, one of their classes (lot, GTIN) or the prefix of one of them;
- the operator reads everything; the public reads ``linked`` and ``public`` events;
- a capability link reads the events with one of its keys, within its event-time window, that
  its issuing member reads (everything, when the admin issued it).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from hypothesis import given, note, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from ledger import access
from ledger.capture import capture_document
from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.store.models import OrgRole
from ledger.store.repository import assign_prefix, create_organisation
from ledger.store.tables import EVENT
from ledger.store.visibility import visible
from ledger.visibility import Audience, Reader, Visibility
from tests.helpers import DL, document_bytes, gln, gtin, sscc, timestamp
from tests.ledger.store.conftest import empty_database

MODES: Final = tuple(Visibility)
#: Source/destination types that name a party (CBV 2.0 §7.5, in the spellings EPCIS allows).
OWNING: Final = ("owning_party", "https://ref.gs1.org/cbv/SDT-owning_party")
POSSESSING: Final = ("possessing_party", "https://ref.gs1.org/cbv/SDT-possessing_party")
#: The two sides of the relationship of aggregation/transformation events (their fields): an
#: identifier on one side is a neighbour of those on the other, not of those beside it.
RELATIONSHIP_FIELDS: Final = {
    "AggregationEvent": (("parentID",), ("childEPCs", "childQuantityList")),
    "TransformationEvent": (
        ("inputEPCList", "inputQuantityList"),
        ("outputEPCList", "outputQuantityList"),
    ),
}
START: Final = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


# --- the members ------------------------------------------------------------------------


def prefix_of(member: int) -> str:
    """Member ``member``'s GS1 company prefix (7 digits; no two share 6 leading digits)."""
    return f"69{member + 1}1000"


def gtin_of(member: int, product: int) -> str:
    return gtin(prefix_of(member), product)


def party_of(member: int, form: int) -> str:
    """A party of ``member`` as an EPCIS source/destination names it: its PGLN or a GLN."""
    if form == 0:
        return f"{DL}/417/{gln(prefix_of(member), 1)}"
    return f"{DL}/414/{gln(prefix_of(member), 2)}"


def org_id_of(member: int) -> str:
    return "0x" + f"{member + 1:02x}" * 32


# --- identifiers (the test's own reading of them) -------------------------------------------


def class_of(identifier: str) -> str | None:
    """The class of a Digital Link: an item's lot when it carries one, else the GTIN of an
    item or a lot; None for a GTIN or an SSCC."""
    path = identifier.removeprefix(DL).split("/")
    if path[1] != "01" or len(path) <= 3:
        return None
    if len(path) > 5 and path[3] == "10":
        return f"{DL}/01/{path[2]}/10/{path[4]}"
    return f"{DL}/01/{path[2]}"


def keys_of(identifier: str) -> set[str]:
    """What grants and capability links match: the identifier and its classes up to the
    GTIN."""
    keys = {identifier}
    klass = class_of(identifier)
    while klass is not None:
        keys.add(klass)
        klass = class_of(klass)
    return keys


def scope_key(kind: str, value: str) -> str:
    """What a grant or capability link of ``kind`` naming ``value`` matches: a lot named by
    one of its items is the item's lot (:func:`ledger.access.parse_scope`)."""
    if kind == "lot" and "/21/" in value:
        return class_of(value) or value
    return value


def link_keys_of(identifier: str) -> set[str]:
    """What the linked rule matches: the identifier and its lot, never a whole GTIN."""
    klass = class_of(identifier)
    return {identifier} | ({klass} if klass is not None and "/10/" in klass else set())


def digits_of(identifier: str) -> str:
    """The GS1 key of a Digital Link without its indicator/extension digit."""
    return identifier.removeprefix(DL).split("/")[2][1:]


def owner_of(party: str) -> int | None:
    """The member whose prefix a party identifier is under (None: no member's)."""
    digits = party.removeprefix(DL).split("/")[2]
    for member in range(9):
        if digits.startswith(prefix_of(member)):
            return member
    return None


def identifiers(event: Mapping[str, Any], names: Iterable[str] | None = None) -> list[str]:
    """The object identifiers of ``event`` (of the fields ``names``; default: every field)."""
    fields = names or (
        "epcList",
        "parentID",
        "childEPCs",
        "inputEPCList",
        "outputEPCList",
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    )
    found: list[str] = []
    for name in fields:
        value = event.get(name)
        if isinstance(value, str):
            found.append(value)
        for element in value if isinstance(value, list) else ():
            found.append(element["epcClass"] if isinstance(element, dict) else element)
    return found


def event_keys(event: Mapping[str, Any]) -> set[str]:
    return set().union(*(keys_of(i) for i in identifiers(event)))


def event_link_keys(event: Mapping[str, Any]) -> set[str]:
    return set().union(*(link_keys_of(i) for i in identifiers(event)))


def sides(event: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The link keys on each side of an aggregation/transformation event (empty otherwise)."""
    fields = RELATIONSHIP_FIELDS.get(event["type"])
    if fields is None:
        return set(), set()
    a, b = (set().union(*(link_keys_of(i) for i in identifiers(event, f))) for f in fields)
    return a, b


def parties(event: Mapping[str, Any]) -> set[int]:
    named: set[int] = set()
    for list_name, member in (("sourceList", "source"), ("destinationList", "destination")):
        for entry in event.get(list_name, ()):
            if entry["type"] in OWNING + POSSESSING:
                owner = owner_of(entry[member])
                if owner is not None:
                    named.add(owner)
    return named


# --- a random chain -----------------------------------------------------------------------


@dataclass
class Step:
    """One capture: ``recorder`` captures ``event`` (``again``: an event captured before)."""

    recorder: int
    event: dict[str, Any]
    visibility: Visibility | None
    readers: frozenset[int]
    again: bool = False


@dataclass
class Grant:
    grantor: int
    grantee: int
    kind: str
    key: str
    revoked: bool


@dataclass
class Capability:
    issuer: int | None
    kind: str
    key: str
    since: int | None
    until: int | None


@dataclass
class Chain:
    members: int
    defaults: list[Visibility]
    steps: list[Step] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)


def _when(step: int) -> str:
    return timestamp(START + timedelta(hours=step))


@st.composite
def chains(draw: st.DrawFn) -> Chain:
    members = draw(st.integers(3, 5))
    member = st.integers(0, members - 1)
    chain = Chain(members, [draw(st.sampled_from(MODES)) for _ in range(members)])
    items: list[str] = []
    lots: list[str] = []
    cases: list[str] = []
    serials = itertools.count(1)
    for index in range(draw(st.integers(3, 10))):
        recorder = draw(member)
        kind = draw(st.sampled_from(("commission", "aggregate", "transform", "ship", "receive")))
        if not items:
            kind = "commission"
        if chain.steps and draw(st.integers(0, 7)) == 0:
            earlier = draw(st.sampled_from(chain.steps))
            if earlier.recorder != recorder or draw(st.booleans()):
                chain.steps.append(
                    Step(recorder, earlier.event, draw(st.sampled_from(MODES)), frozenset(), True)
                )
                continue
        base: dict[str, Any] = {
            "eventTime": _when(index),
            "eventTimeZoneOffset": "+08:00",
            "readPoint": {"id": f"{DL}/414/{gln(prefix_of(recorder), 2)}"},
        }
        product = gtin_of(recorder, draw(st.integers(1, 2)))
        if kind == "commission":
            lot = f"L{next(serials)}" if draw(st.booleans()) else None
            # Items of a lot carry it in their Digital Link (01/10/21) or not (01/21).
            carried = f"/10/{lot}" if lot is not None and draw(st.booleans()) else ""
            count = draw(st.integers(1, 3))
            new = [f"{DL}/01/{product}{carried}/21/S{next(serials)}" for _ in range(count)]
            items += new
            event = {"type": "ObjectEvent", **base, "epcList": new, "action": "ADD"}
            event["bizStep"] = "commissioning"
            if lot is not None:
                lots.append(f"{DL}/01/{product}/10/{lot}")
                event["quantityList"] = [{"epcClass": lots[-1], "quantity": 5}]
        elif kind == "aggregate":
            case = f"{DL}/00/{sscc(prefix_of(recorder), next(serials))}"
            cases.append(case)
            children = draw(st.lists(st.sampled_from(items), min_size=1, max_size=3, unique=True))
            event = {"type": "AggregationEvent", **base, "parentID": case}
            event |= {"childEPCs": children, "action": "ADD", "bizStep": "packing"}
        elif kind == "transform":
            inputs = draw(st.lists(st.sampled_from(items), min_size=1, max_size=2, unique=True))
            output = f"{DL}/01/{product}/21/S{next(serials)}"
            items.append(output)
            event = {"type": "TransformationEvent", **base, "inputEPCList": inputs}
            event |= {"outputEPCList": [output]}
            with_lot: bool = draw(st.booleans())
            if lots and with_lot:
                event["inputQuantityList"] = [
                    {"epcClass": draw(st.sampled_from(lots)), "quantity": 1}
                ]
        else:
            epcs = draw(st.lists(st.sampled_from(items + cases), min_size=1, max_size=2))
            event = {"type": "ObjectEvent", **base, "epcList": sorted(set(epcs))}
            event |= {"action": "OBSERVE", "bizStep": "shipping" if kind == "ship" else "receiving"}
            if kind == "ship":
                sources = [{"type": draw(st.sampled_from(OWNING)), "source": party_of(recorder, 0)}]
                destinations = []
                for _ in range(draw(st.integers(0, 2))):
                    kinds = st.sampled_from((*OWNING, *POSSESSING, "location"))
                    destinations.append(
                        {
                            "type": draw(kinds),
                            "destination": party_of(draw(member), draw(st.integers(0, 1))),
                        }
                    )
                if draw(st.integers(0, 4)) == 0:  # a party under no member's prefix
                    destinations.append(
                        {"type": "owning_party", "destination": f"{DL}/417/{gln('6980000', 1)}"}
                    )
                event["sourceList"] = sources
                if destinations:
                    event["destinationList"] = destinations
        readers = draw(st.frozensets(member, max_size=2))
        visibility = draw(st.sampled_from((None, *MODES)))
        chain.steps.append(Step(recorder, event, visibility, readers - {recorder}))
    scope_keys = sorted(
        {*items, *lots, *cases}
        | {f"{DL}/01/{gtin_of(m, p)}" for m in range(members) for p in (1, 2)}
    )
    key = st.one_of(
        st.sampled_from(scope_keys).map(lambda k: ("lot" if "/10/" in k else "identifier", k)),
        member.map(lambda m: ("prefix", f"gs1:{prefix_of(m)}")),
    )
    granted: set[tuple[int, int, str]] = set()
    for _ in range(draw(st.integers(0, 4))):
        grantor, grantee = draw(member), draw(member)
        kind, value = draw(key)
        if grantor != grantee and (grantor, grantee, value) not in granted:
            granted.add((grantor, grantee, value))
            chain.grants.append(Grant(grantor, grantee, kind, value, draw(st.booleans())))
    steps = len(chain.steps)
    for _ in range(draw(st.integers(1, 2))):
        since = draw(st.none() | st.integers(0, steps))
        until = draw(st.none() | st.integers((since or 0) + 1, steps + 1))
        issuer = draw(st.none() | member)
        kind, value = draw(key)
        chain.capabilities.append(Capability(issuer, kind, value, since, until))
    return chain


# --- the rule, brute force ------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """An event as the store holds it: who recorded it, with what visibility."""

    pk: int
    recorder: int
    visibility: Visibility
    event: Mapping[str, Any]
    named: frozenset[int]

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.event["eventTime"])

    def prefixes(self) -> set[str]:
        found = set()
        for identifier in identifiers(self.event):
            for member in range(9):
                if digits_of(identifier).startswith(prefix_of(member)):
                    found.add(f"gs1:{prefix_of(member)}")
        return found


class Rule:
    """The documented rule over the chain as captured."""

    def __init__(self, chain: Chain, stored: Sequence[Stored], again: Mapping[int, set[int]]):
        self.chain = chain
        self.stored = stored
        direct: dict[int, set[str]] = {m: set() for m in range(chain.members)}
        for step in chain.steps:
            direct[step.recorder] |= event_link_keys(step.event)
        relationships = [sides(s.event) for s in chain.steps]
        self.links = {
            m: keys.union(
                *(b for a, b in relationships if a & keys),
                *(a for a, b in relationships if b & keys),
            )
            for m, keys in direct.items()
        }
        self.again = again

    def member_reads(self, member: int, event: Stored) -> bool:
        mode = event.visibility
        named = event.named | self.again.get(event.pk, set())
        keys = event_keys(event.event)
        granted = any(
            g.grantor == event.recorder
            and g.grantee == member
            and not g.revoked
            and scope_key(g.kind, g.key) in keys | event.prefixes()
            for g in self.chain.grants
        )
        return (
            event.recorder == member
            or mode is Visibility.PUBLIC
            or (mode in (Visibility.RESTRICTED, Visibility.LINKED) and member in named)
            or (
                mode is Visibility.LINKED
                and bool(event_link_keys(event.event) & self.links[member])
            )
            or granted
        )

    def capability_reads(self, link: Capability, event: Stored) -> bool:
        in_scope = scope_key(link.kind, link.key) in event_keys(event.event) | event.prefixes()
        if link.since is not None and event.time < START + timedelta(hours=link.since):
            in_scope = False
        if link.until is not None and event.time >= START + timedelta(hours=link.until):
            in_scope = False
        return in_scope and (link.issuer is None or self.member_reads(link.issuer, event))


# --- the test -------------------------------------------------------------------------------


def build(engine: Engine, chain: Chain) -> tuple[dict[int, int], list[Stored], dict[int, set[int]]]:
    """Admit the members, capture the chain, write the grants: the store id of each member,
    the stored events and the members that captured each stored event again."""
    empty_database(engine)
    ids: dict[int, int] = {}
    for m in range(chain.members):
        organisation = create_organisation(
            engine, org_id=org_id_of(m), name=f"Member {m}", roles=OrgRole.RECORDER
        )
        assert organisation.id is not None
        ids[m] = organisation.id
        assign_prefix(engine, organisation_id=organisation.id, prefix=prefix_of(m))
        access.set_default_visibility(engine, organisation.id, chain.defaults[m].value)
    stored: dict[str, Stored] = {}
    again: dict[int, set[int]] = {}
    for step in chain.steps:
        body = document_bytes(step.event)
        if step.again:
            visibility = step.visibility or Visibility.LINKED
            result = capture_events(
                engine,
                parse_document(body, "application/ld+json"),
                organisation_id=ids[step.recorder],
                audience=Audience(visibility),
            )
            record = stored[json.dumps(step.event, sort_keys=True)]
            assert result.events[0].event_pk == record.pk
            assert not result.events[0].new
            if step.recorder != record.recorder:
                again.setdefault(record.pk, set()).add(step.recorder)
            continue
        captured = capture_document(
            engine,
            body,
            "application/ld+json",
            organisation_id=ids[step.recorder],
            max_events=10,
            visibility=step.visibility,
            readers=[org_id_of(m) for m in sorted(step.readers)],
        )
        mode = step.visibility or chain.defaults[step.recorder]
        named = set(step.readers)
        if mode is not Visibility.PRIVATE:
            named |= parties(step.event)
        stored[json.dumps(step.event, sort_keys=True)] = Stored(
            captured.result.events[0].event_pk,
            step.recorder,
            mode,
            step.event,
            frozenset(named - {step.recorder}),
        )
    for grant in chain.grants:
        given = access.grant(
            engine,
            grantor_id=ids[grant.grantor],
            grantee=org_id_of(grant.grantee),
            scope_kind=grant.kind,
            scope=grant.key,
        )
        if grant.revoked:
            access.revoke_grant(engine, grantor_id=ids[grant.grantor], grant_id=given.id)
    return ids, list(stored.values()), again


def selected(engine: Engine, reader: Reader) -> set[int]:
    statement = sa.select(EVENT.c.id)
    condition = visible(reader)
    if condition is not None:
        statement = statement.where(condition)
    with engine.connect() as connection:
        return {int(pk) for (pk,) in connection.execute(statement)}


@settings(max_examples=25)
@given(chain=chains())
def test_visible_is_the_rule(migrated_engine: Engine, chain: Chain) -> None:
    ids, stored, again = build(migrated_engine, chain)
    note(f"{chain.members} members, defaults {[m.value for m in chain.defaults]}")
    for step in chain.steps:
        note(f"{step.recorder} {step.visibility} {sorted(step.readers)} {step.again} {step.event}")
    note(f"grants {chain.grants}")
    rule = Rule(chain, stored, again)
    everything = {event.pk for event in stored}
    assert selected(migrated_engine, Reader.operator()) == everything
    public = {e.pk for e in stored if e.visibility in (Visibility.LINKED, Visibility.PUBLIC)}
    assert selected(migrated_engine, Reader.public()) == public
    for m in range(chain.members):
        expected = {e.pk for e in stored if rule.member_reads(m, e)}
        assert selected(migrated_engine, Reader.member(ids[m])) == expected, f"member {m}"
    for link in chain.capabilities:
        since = None if link.since is None else START + timedelta(hours=link.since)
        until = None if link.until is None else START + timedelta(hours=link.until)
        record, _ = access.issue_link(
            migrated_engine,
            issuer_id=None if link.issuer is None else ids[link.issuer],
            issued_by="test",
            scope_kind=link.kind,
            scope=link.key,
            since=since,
            until=until,
        )
        expected = {e.pk for e in stored if rule.capability_reads(link, e)}
        assert selected(migrated_engine, access.link_reader(record)) == expected, link


def _event(hour: int, **members: Any) -> dict[str, Any]:
    return {"eventTime": _when(hour), "eventTimeZoneOffset": "+08:00", **members}


def test_one_hop_whatever_the_order(migrated_engine: Engine) -> None:
    """Member 2 receives item S1; member 0 packed S1's sibling S2 (same lot) into a case and
    ships the case. Member 2 is linked to the case whether it received S1 before or after the
    packing (it was linked only when it received first)."""
    product = gtin_of(0, 1)
    s1, s2 = f"{DL}/01/{product}/10/L1/21/S1", f"{DL}/01/{product}/10/L1/21/S2"
    case = f"{DL}/00/{sscc(prefix_of(0), 9)}"
    linked = Visibility.LINKED
    commission = _event(0, type="ObjectEvent", epcList=[s1, s2], action="ADD")
    pack = _event(1, type="AggregationEvent", parentID=case, childEPCs=[s2], action="ADD")
    ship = _event(2, type="ObjectEvent", epcList=[case], action="OBSERVE", bizStep="shipping")
    receive = _event(3, type="ObjectEvent", epcList=[s1], action="OBSERVE")
    for order in ((commission, pack, ship, receive), (commission, receive, pack, ship)):
        chain = Chain(3, [linked] * 3)
        chain.steps = [Step(2 if e is receive else 0, e, linked, frozenset()) for e in order]
        ids, stored, again = build(migrated_engine, chain)
        rule = Rule(chain, stored, again)
        assert all(rule.member_reads(2, event) for event in stored)
        assert selected(migrated_engine, Reader.member(ids[2])) == {e.pk for e in stored}
        assert selected(migrated_engine, Reader.member(ids[1])) == set()


def test_a_gtin_links_no_one(migrated_engine: Engine) -> None:
    """Items of one GTIN without a lot are not each other's relatives: member 2, which
    received item S1, reads the commissioning that names S1, not the packing of S1's sibling
    S2 nor the case's shipping; a competitor that handled another item of the GTIN reads
    neither (recording one item of a brand must not open every event of the brand)."""
    product = gtin_of(0, 1)
    s1, s2, s3 = (f"{DL}/01/{product}/21/S{n}" for n in (1, 2, 3))
    case = f"{DL}/00/{sscc(prefix_of(0), 9)}"
    linked = Visibility.LINKED
    commission = _event(0, type="ObjectEvent", epcList=[s1, s2], action="ADD")
    pack = _event(1, type="AggregationEvent", parentID=case, childEPCs=[s2], action="ADD")
    ship = _event(2, type="ObjectEvent", epcList=[case], action="OBSERVE", bizStep="shipping")
    receive = _event(3, type="ObjectEvent", epcList=[s1], action="OBSERVE")
    other = _event(4, type="ObjectEvent", epcList=[s3], action="OBSERVE")
    chain = Chain(4, [linked] * 4)
    recorders = {id(receive): 2, id(other): 3}
    chain.steps = [
        Step(recorders.get(id(e), 0), e, linked, frozenset())
        for e in (commission, pack, ship, receive, other)
    ]
    ids, stored, again = build(migrated_engine, chain)
    by_step = {s.event["eventTime"]: s.pk for s in stored}
    rule = Rule(chain, stored, again)
    seen_by_2 = {by_step[commission["eventTime"]], by_step[receive["eventTime"]]}
    assert {e.pk for e in stored if rule.member_reads(2, e)} == seen_by_2
    assert selected(migrated_engine, Reader.member(ids[2])) == seen_by_2
    assert selected(migrated_engine, Reader.member(ids[3])) == {by_step[other["eventTime"]]}
