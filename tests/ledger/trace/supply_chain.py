"""A 3-level supply chain captured through the real parser and store (ingredient lots ->
transformation -> cases -> pallets -> two retailers; its GS1 keys from :mod:`tests.helpers`);
the trace tests, the bundle tests, the audit tests and the API's trace and export tests build on
it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.store.indexing import index_identifier
from ledger.store.repository import create_organisation
from tests.helpers import DL, document_bytes, gln, gtin, sscc

T0 = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)


@dataclass
class SupplyChain:
    """Identifiers and sites of the supply chain, canonical forms."""

    orgs: dict[str, int]
    lots: dict[str, str] = field(default_factory=dict)
    #: Canonical items (the lot is dropped: the serial identifies them) ...
    items: dict[str, list[str]] = field(default_factory=dict)
    #: ... and as the events write them (with the lot, so their class is the lot).
    written: dict[str, list[str]] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    pallets: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    bag: str = ""
    event_count: int = 0


class Recorder:
    """Builds events one minute apart and captures them for a member."""

    def __init__(self, engine: Engine, chain: SupplyChain) -> None:
        self.engine = engine
        self.chain = chain
        self.minute = 0

    def when(self) -> dict[str, str]:
        self.minute += 1
        moment = T0 + timedelta(minutes=self.minute)
        return {
            "eventTime": moment.isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
        }

    def capture(self, org: str, *events: dict[str, Any]) -> None:
        parsed = parse_document(document_bytes(*events), "application/ld+json")
        capture_events(self.engine, parsed, organisation_id=self.chain.orgs[org])
        self.chain.event_count += len(events)


def site_of(chain: SupplyChain, name: str) -> dict[str, str]:
    return {"id": chain.sites[name]}


def build_supply_chain(
    engine: Engine, orgs: dict[str, int], prefix: str = "0614141"
) -> SupplyChain:
    """Capture the whole supply chain for the members in ``orgs`` (keys: supplier_a,
    supplier_b, factory, distributor, retailer_1, retailer_2)."""
    chain = SupplyChain(orgs=orgs)
    rec = Recorder(engine, chain)
    for n, name in enumerate(
        ["supplier_a", "supplier_b", "factory", "dc", "retailer_1", "retailer_2"]
    ):
        chain.sites[name] = f"{DL}/414/{gln(prefix, 100 + n)}"
    flour, sugar, cocoa = gtin(prefix, 11), gtin(prefix, 12), gtin(prefix, 13)
    cake, biscuit = gtin(prefix, 21), gtin(prefix, 22)
    chain.lots = {
        "flour_1": f"{DL}/01/{flour}/10/F1",
        "flour_2": f"{DL}/01/{flour}/10/F2",
        "sugar": f"{DL}/01/{sugar}/10/S1",
        "cocoa": f"{DL}/01/{cocoa}/10/C1",
        "cake": f"{DL}/01/{cake}/10/P1",
        "biscuit": f"{DL}/01/{biscuit}/10/P2",
    }
    # One serialised cocoa bag of lot C1 (its lot is consumed by quantity below).
    chain.bag = f"{DL}/01/{cocoa}/21/BAG1"
    bag_with_lot = f"{DL}/01/{cocoa}/10/C1/21/BAG1"

    def quantity(lot: str, amount: int = 100) -> dict[str, Any]:
        return {"epcClass": chain.lots[lot], "quantity": amount, "uom": "KGM"}

    def location(name: str) -> list[dict[str, str]]:
        return [{"type": "location", "source": chain.sites[name]}]

    # Level 0: ingredient lots commissioned at the suppliers.
    for org, lots in (("supplier_a", ("flour_1", "flour_2", "sugar")), ("supplier_b", ("cocoa",))):
        site = "supplier_a" if org == "supplier_a" else "supplier_b"
        rec.capture(
            org,
            *[
                {
                    "type": "ObjectEvent",
                    **rec.when(),
                    "epcList": [],
                    "quantityList": [quantity(lot, 1000)],
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "readPoint": site_of(chain, site),
                    "bizLocation": site_of(chain, site),
                }
                for lot in lots
            ],
        )
    rec.capture(
        "supplier_b",
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": [bag_with_lot],
            "action": "ADD",
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "supplier_b"),
        },
    )
    # Ingredients shipped to the factory and received there.
    for org, lots, source in (
        ("supplier_a", ("flour_1", "flour_2", "sugar"), "supplier_a"),
        ("supplier_b", ("cocoa",), "supplier_b"),
    ):
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [],
                "quantityList": [quantity(lot) for lot in lots],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": site_of(chain, source),
                "sourceList": location(source),
                "destinationList": [{"type": "location", "destination": chain.sites["factory"]}],
            },
        )
    rec.capture(
        "factory",
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": [],
            "quantityList": [quantity(lot) for lot in ("flour_1", "flour_2", "sugar", "cocoa")],
            "action": "OBSERVE",
            "bizStep": "receiving",
            "disposition": "in_progress",
            "bizLocation": site_of(chain, "factory"),
        },
    )
    # Level 1: transformations. Cakes (by instance) from flour 1, sugar and cocoa; biscuits (a
    # lot by quantity, its items commissioned separately) from flour 2 and sugar.
    chain.written["cake"] = [f"{DL}/01/{cake}/10/P1/21/{n}" for n in range(1, 7)]
    chain.written["biscuit"] = [f"{DL}/01/{biscuit}/10/P2/21/{n}" for n in range(1, 4)]
    for name, written in chain.written.items():
        chain.items[name] = [index_identifier(item).canonical for item in written]
    rec.capture(
        "factory",
        {
            "type": "TransformationEvent",
            **rec.when(),
            "inputQuantityList": [
                quantity("flour_1", 50),
                quantity("sugar", 20),
                quantity("cocoa", 5),
            ],
            "outputEPCList": chain.written["cake"],
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "TransformationEvent",
            **rec.when(),
            "inputQuantityList": [quantity("flour_2", 40), quantity("sugar", 10)],
            "outputQuantityList": [quantity("biscuit", 3)],
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": chain.written["biscuit"],
            "action": "ADD",
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "factory"),
        },
    )
    # Level 2: cases and pallets.
    for n in (1, 2, 3):
        chain.cases[f"case_{n}"] = f"{DL}/00/{sscc(prefix, n)}"
    for n in (1, 2):
        chain.pallets[f"pallet_{n}"] = f"{DL}/00/{sscc(prefix, 100 + n)}"
    packing = [
        ("case_1", chain.written["cake"][:3]),
        ("case_2", chain.written["cake"][3:]),
        ("case_3", chain.written["biscuit"]),
    ]
    rec.capture(
        "factory",
        *[
            {
                "type": "AggregationEvent",
                **rec.when(),
                "parentID": chain.cases[case],
                "childEPCs": children,
                "action": "ADD",
                "bizStep": "packing",
                "readPoint": site_of(chain, "factory"),
            }
            for case, children in packing
        ],
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_1"],
            "childEPCs": [chain.cases["case_1"], chain.cases["case_2"]],
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_2"],
            "childEPCs": [chain.cases["case_3"]],
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": site_of(chain, "factory"),
        },
    )

    def ship(org: str, what: str, source: str, destination: str) -> None:
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [what],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": site_of(chain, source),
                "sourceList": location(source),
                "destinationList": [{"type": "location", "destination": chain.sites[destination]}],
            },
        )

    def receive(org: str, what: str, site: str) -> None:
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [what],
                "action": "OBSERVE",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "bizLocation": site_of(chain, site),
            },
        )

    # Level 3: pallet 1 to the distribution centre, unpacked there, its cases to two
    # retailers; pallet 2 straight to retailer 2.
    ship("factory", chain.pallets["pallet_1"], "factory", "dc")
    receive("distributor", chain.pallets["pallet_1"], "dc")
    rec.capture(
        "distributor",
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_1"],
            "childEPCs": [chain.cases["case_1"], chain.cases["case_2"]],
            "action": "DELETE",
            "bizStep": "unpacking",
            "readPoint": site_of(chain, "dc"),
        },
    )
    ship("distributor", chain.cases["case_1"], "dc", "retailer_1")
    receive("retailer_1", chain.cases["case_1"], "retailer_1")
    ship("distributor", chain.cases["case_2"], "dc", "retailer_2")
    receive("retailer_2", chain.cases["case_2"], "retailer_2")
    ship("factory", chain.pallets["pallet_2"], "factory", "retailer_2")
    receive("retailer_2", chain.pallets["pallet_2"], "retailer_2")
    return chain


ROLES = ("supplier_a", "supplier_b", "factory", "distributor", "retailer_1", "retailer_2")


def offline_members(engine: Engine) -> dict[str, int]:
    """Organisation rows for the supply chain's members (no chain needed to trace)."""
    orgs = {}
    for n, role in enumerate(ROLES):
        org = create_organisation(
            engine, org_id="0x" + f"{n + 1:064x}", name=role.replace("_", " ").title(), roles=1
        )
        assert org.id is not None
        orgs[role] = org.id
    return orgs


def org_id(n: int) -> str:
    return "0x" + f"{n:064x}"


def pgln(prefix: str, party: int) -> str:
    return gln(prefix, party)
