"""A trail says whether its brand owner commissioned the product (issue 11, item 5): through the
real API on the session devnet, JSON and the buyer's page in both languages.

Another member may record events that mention an identifier under the owner's prefix (an
aggregation into its own case), but only the owner's commissioning (of the item, or of its lot
or class) makes the trail ``verified``; without it the verdict is ``unconfirmed_origin``."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from ledger.store.models import Event, Prefix
from tests.api.conftest import Api, Member, admit, capture, new_batch, path_of
from tests.helpers import document, gtin, moment, object_event, sscc

JSON = {"Accept": "application/json"}


def aggregation(children: list[str], parent: str) -> dict[str, Any]:
    """A packing AggregationEvent of ``children`` into ``parent``."""
    return {
        "type": "AggregationEvent",
        "eventTime": moment(),
        "eventTimeZoneOffset": "+08:00",
        "parentID": parent,
        "childEPCs": children,
        "action": "ADD",
        "bizStep": "packing",
    }


def item(prefix: str, serial: str, *, product: int = 7) -> str:
    """An SGTIN's Digital Link on id.gs1.org."""
    return f"https://id.gs1.org/01/{gtin(prefix, product)}/21/{serial}"


def trail(api: Api, path: str, **headers: str) -> httpx.Response:
    answer = api.get(path, headers={**JSON, **headers})
    assert answer.status_code == 200, answer.text
    return answer


def page(api: Api, path: str, lang: str) -> str:
    answer = api.get(f"{path}?lang={lang}", headers={"Accept": "text/html"})
    assert answer.status_code == 200, answer.text
    return html.unescape(answer.text)


def test_owner_commissioning_verifies(api: Api, supplier: Member, distributor: Member) -> None:
    """The owner commissions a lot (POST /batches) and an item; another member ships them:
    both trails are verified, and the origin names the owner and its commissioning event."""
    batch = new_batch(api, supplier)
    epc = item(supplier.prefix, "OWNED-1")
    doc = document(object_event(epcs=[epc], action="ADD", biz_step="commissioning"))
    assert capture(api, supplier.key, doc).status_code == 202
    shipped = document(object_event(epcs=[epc], classes=[batch["identifier"]]))
    assert capture(api, distributor.key, shipped).status_code == 202
    api.drain()
    for path in (path_of(batch["digital_link"]), epc.removeprefix("https://id.gs1.org")):
        data = trail(api, path).json()
        assert data["verdict"] == "verified", data
        origin = data["origin"]
        assert origin["status"] == "confirmed"
        assert origin["confirmed"] is True
        assert origin["owner"]["org_id"] == supplier.org_id
        assert origin["owner"]["name"] == supplier.name
        assert origin["prefix"] == f"gs1:{supplier.prefix}"
        assert [c["status"] for c in origin["commissioning"]] == ["verified"]
        commissioning = next(e for e in data["events"] if e["biz_step"].endswith("commissioning"))
        assert origin["commissioning"][0]["hash_id"] == commissioning["hash_id"]
        assert origin["reasons"] == []


def test_foreign_aggregation_is_unconfirmed_origin(
    api: Api, supplier: Member, distributor: Member
) -> None:
    """The reported case: another member aggregates an SGTIN under the owner's prefix that the
    owner never commissioned. Every event verifies, yet the trail is not ``verified``: it is
    ``unconfirmed_origin``, on JSON (verdict, origin, header) and on the page in both
    languages; once the owner commissions the item, the same trail is ``verified``."""
    epc = item(supplier.prefix, "FAKE-1")
    parent = f"https://id.gs1.org/00/{sscc(distributor.prefix, 1)}"
    answer = capture(api, distributor.key, document(aggregation([epc], parent)))
    assert answer.status_code == 202, answer.text
    api.drain()
    path = epc.removeprefix("https://id.gs1.org")
    answer = trail(api, path)
    data = answer.json()
    assert answer.headers["X-Trail-Verdict"] == "unconfirmed_origin"
    assert data["verdict"] == "unconfirmed_origin"
    assert [e["verification"]["status"] for e in data["events"]] == ["verified"]
    assert data["events"][0]["verification"]["recorder"]["org_id"] == distributor.org_id
    origin = data["origin"]
    assert origin["status"] == "unconfirmed"
    assert origin["confirmed"] is False
    assert origin["owner"]["org_id"] == supplier.org_id
    assert origin["commissioning"] == []
    assert origin["reasons"] == [
        f"the brand owner {supplier.org_id} recorded no commissioning of {epc}"
    ]
    english = page(api, path, "en")
    assert 'data-verdict="unconfirmed_origin"' in english
    assert "Origin not confirmed: the brand owner has not recorded making this product." in english
    assert 'id="origin-banner"' in english
    assert "do not show where it came from" in english
    assert supplier.name in english
    chinese = page(api, path, "zh")
    assert 'data-verdict="unconfirmed_origin"' in chinese
    assert "来源未确认：品牌所有者没有该产品的生产记录。" in chinese
    assert "不能证明产品的来源" in chinese
    assert "未经品牌所有者确认" in chinese

    # The owner commissions it after all: the trail is verified.
    commissioning = object_event(epcs=[epc], action="ADD", biz_step="commissioning")
    assert capture(api, supplier.key, document(commissioning)).status_code == 202
    api.drain()
    data = trail(api, path, **{"Cache-Control": "no-cache"}).json()
    assert data["verdict"] == "verified"
    assert data["origin"]["status"] == "confirmed"


def test_lot_commissioning_confirms_its_items(
    api: Api, supplier: Member, distributor: Member
) -> None:
    """For a serialised item, the owner's commissioning of its lot confirms the origin (the
    item's lot is in the scanned code); the lot's commissioning is not in the item's timeline
    but is named in the origin. Without the lot in the code, the item is unconfirmed."""
    batch = new_batch(api, supplier, item=8)
    lot = batch["identifier"]
    link = path_of(batch["digital_link"])  # /01/{gtin}/10/{lot}
    serial = f"{link}/21/BOXED-1"
    epc = item(supplier.prefix, "BOXED-1", product=8)
    parent = f"https://id.gs1.org/00/{sscc(distributor.prefix, 2)}"
    assert capture(api, distributor.key, document(aggregation([epc], parent))).status_code == 202
    api.drain()
    data = trail(api, serial).json()
    assert data["verdict"] == "verified", data["origin"]
    assert [e["event_type"] for e in data["events"]] == ["AggregationEvent"]
    assert [c["identifier"] for c in data["origin"]["commissioning"]] == [lot]
    bare = trail(api, epc.removeprefix("https://id.gs1.org")).json()
    assert bare["verdict"] == "unconfirmed_origin"


def test_identifier_under_no_members_prefix(api: Api, distributor: Member) -> None:
    """An identifier under no member's prefix has no brand owner to vouch for it: its trail is
    ``unconfirmed_origin`` with origin ``no_owner`` and says so on the page."""
    epc = f"https://id.gs1.org/01/{gtin('9999991', 1)}/21/ORPHAN-1"  # tests' prefixes are 69...
    parent = f"https://id.gs1.org/00/{sscc(distributor.prefix, 3)}"
    assert capture(api, distributor.key, document(aggregation([epc], parent))).status_code == 202
    api.drain()
    path = epc.removeprefix("https://id.gs1.org")
    data = trail(api, path).json()
    assert data["verdict"] == "unconfirmed_origin"
    assert data["owner"] is None
    assert data["origin"]["status"] == "no_owner"
    assert data["origin"]["reasons"] == [f"no member of this ledger owns the prefix of {epc}"]
    assert "No member of this ledger owns this code" in page(api, path, "en")
    assert "没有成员拥有该编码的前缀" in page(api, path, "zh")


def test_tampering_and_recall_keep_precedence(
    api: Api, supplier: Member, distributor: Member
) -> None:
    """An unconfirmed trail whose event was altered in the database is ``tampered``; a lot the
    owner recalls is ``recalled`` whatever its origin."""
    epc = item(supplier.prefix, "FAKE-2")
    parent = f"https://id.gs1.org/00/{sscc(distributor.prefix, 4)}"
    assert capture(api, distributor.key, document(aggregation([epc], parent))).status_code == 202
    api.drain()
    path = epc.removeprefix("https://id.gs1.org")
    assert trail(api, path).json()["verdict"] == "unconfirmed_origin"
    events = Event.__table__  # type: ignore[attr-defined]
    with api.services.engine.begin() as connection:
        connection.execute(
            events.update()
            .where(events.c.captured_json.contains("FAKE-2"))
            .values(biz_step="https://ref.gs1.org/cbv/BizStep-shipping")
        )
    assert trail(api, path, **{"Cache-Control": "no-cache"}).json()["verdict"] == "tampered"

    batch = new_batch(api, supplier, item=9)
    api.drain()
    recalled = api.post(
        f"/identifiers/{quote(batch['identifier'], safe='')}/recall",
        json={"reason": "Seal defect"},
        key=supplier.key,
    )
    assert recalled.status_code == 200, recalled.text
    data = trail(api, path_of(batch["digital_link"]), **{"Cache-Control": "no-cache"}).json()
    assert data["verdict"] == "recalled"
    assert data["origin"]["status"] == "confirmed"


def test_owner_is_confirmed_on_chain(api: Api) -> None:
    """The owner is the member the chain names for the prefix: a database whose prefix row was
    moved to another member (so that member could "commission" the item) does not make that
    commissioning confirm the origin."""
    owner = admit(api, "Brand Owner")
    impostor = admit(api, "Impostor")
    prefixes = Prefix.__table__  # type: ignore[attr-defined]
    epc = item(owner.prefix, "FORGED-1")
    with api.services.engine.begin() as connection:
        row = connection.execute(
            sa.select(prefixes.c.id, prefixes.c.organisation_id).where(
                prefixes.c.prefix == f"gs1:{owner.prefix}"
            )
        ).one()
        impostor_pk = connection.execute(
            sa.select(prefixes.c.organisation_id).where(
                prefixes.c.prefix == f"gs1:{impostor.prefix}"
            )
        ).scalar_one()
        connection.execute(
            prefixes.update().where(prefixes.c.id == row.id).values(organisation_id=impostor_pk)
        )
    try:
        doc = document(object_event(epcs=[epc], action="ADD", biz_step="commissioning"))
        assert capture(api, impostor.key, doc).status_code == 202
        api.drain()
        data = trail(api, epc.removeprefix("https://id.gs1.org")).json()
    finally:
        with api.services.engine.begin() as connection:
            connection.execute(
                prefixes.update()
                .where(prefixes.c.id == row.id)
                .values(organisation_id=row.organisation_id)
            )
    assert [e["verification"]["status"] for e in data["events"]] == ["verified"]
    assert data["verdict"] == "unconfirmed_origin"
    assert data["origin"]["status"] == "unconfirmed"
    assert data["origin"]["reasons"] == [
        f"the chain does not confirm member {impostor.org_id} as owner of gs1:{owner.prefix}"
    ]
