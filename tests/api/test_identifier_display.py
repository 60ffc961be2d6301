"""One lot, one EPC URI: ``POST /batches``, the trail and ``GET /events`` all split the GTIN
at the company prefix the member registered, not where biip's GS1 prefix table guesses."""

from __future__ import annotations

import random
from dataclasses import replace
from urllib.parse import quote

import pytest

from ledger.identifiers import GS1Identifier, parse
from tests.api.conftest import Api, Member, admit, capture, event_list, new_batch, path_of
from tests.helpers import document, gln, gtin, object_event

_rng = random.Random(20261129)


def misread_prefix() -> str:
    """A fresh 7-digit prefix in GS1's 950 range, which biip's table does not split at 7."""
    while True:
        prefix = "9501" + f"{_rng.randrange(1000):03d}"
        lot = parse(f"(01){gtin(prefix)}(10)X")
        assert isinstance(lot, GS1Identifier)
        if lot.company_prefix != prefix:
            return prefix


def test_a_lot_shows_the_same_epc_uri_everywhere(api: Api) -> None:
    prefix = misread_prefix()
    member = admit(api, "Lanzhou Noodle Works", prefixes=(prefix,))
    member = replace(member, prefix=prefix)
    batch = new_batch(api, member, lot="LOT-2026-11")
    expected = f"urn:epc:class:lgtin:{prefix}.000001.LOT-2026-11"
    assert batch["epc_class"] == expected

    trail = api.get(path_of(batch["digital_link"]) + "?linkType=gs1:traceability")
    assert trail.status_code == 200, trail.text
    assert trail.json()["identifier"]["epc_uri"] == expected
    by_epc = api.get(f"/identifiers/{quote(expected, safe='')}?format=json")
    assert by_epc.json()["identifier"]["epc_uri"] == expected

    found = api.get(f"/events?MATCH_epcClass={quote(expected, safe='')}", key=member.key)
    assert found.status_code == 200, found.text
    events = event_list(found.json())
    assert [q["epcClass"] for e in events for q in e["quantityList"]] == [expected]
    assert events[0]["eventID"] == batch["event_hash_id"]
    one = api.get(f"/events/{quote(batch['event_hash_id'], safe='')}", key=member.key)
    assert event_list(one.json())[0]["quantityList"][0]["epcClass"] == expected


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("6901234567891", "GTIN", "GTIN check digit is 1, expected 2"),
        ("69O1234567892", "GTIN", "GTIN has 'O' at position 3 where a digit belongs"),
        ("1.2.156.a", "OID", "OID arc 4 is 'a', not a decimal number"),
    ],
)
def test_an_identifier_error_names_the_real_problem(
    api: Api, text: str, field: str, reason: str
) -> None:
    answer = api.get(f"/identifiers/{quote(text, safe='')}/recall")
    assert answer.status_code in (400, 422), answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert reason in problem["detail"]
    assert field in str(problem)


def test_a_bare_gtin_is_a_gtin_on_the_api(api: Api) -> None:
    answer = api.get("/identifiers/6901234567892/recall")
    assert answer.status_code == 200, answer.text
    assert answer.json()["recalled"] is False


def test_the_trace_shows_the_buyer_of_a_shipment(api: Api, supplier: Member) -> None:
    """``GET /trace`` of a shipped lot reaches the buyer named in its destinationList."""
    batch = new_batch(api, supplier)
    # Parties are PGLNs (AI 417), GLN-shaped.
    seller = f"https://id.gs1.org/417/{gln(supplier.prefix, 1)}"
    buyer = f"https://id.gs1.org/417/{gln(supplier.prefix, 777)}"
    shipping = object_event(
        classes=[batch["identifier"]],
        sourceList=[{"type": "owning_party", "source": seller}],
        destinationList=[{"type": "owning_party", "destination": buyer}],
    )
    assert capture(api, supplier.key, document(shipping)).status_code == 202
    answer = api.get(f"/trace/{quote(batch['identifier'], safe='')}", key=supplier.key)
    assert answer.status_code == 200, answer.text
    graph = answer.json()
    parties = {n["id"]: n for n in graph["nodes"] if n["kind"] == "party"}
    assert set(parties) == {seller, buyer}
    assert parties[buyer]["type"] == "party"
    assert {
        (e["source"], e["role"], e["biz_step"])
        for e in graph["edges"]
        if e["target"] == buyer and e["relation"] == "party"
    } == {(batch["identifier"], "destination:owning_party", "shipping")}
    svg = api.get(
        f"/trace/{quote(batch['identifier'], safe='')}", params={"format": "svg"}, key=supplier.key
    )
    assert f"PGLN {buyer.rsplit('/', 1)[1]}" in svg.text
