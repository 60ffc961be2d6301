"""Handle / IDIS identifiers: the resolver path and the Handle REST interface."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api, Member, admit, capture
from tests.api.test_auth import problem
from tests.helpers import document, object_event, unique_handle_prefix


@pytest.fixture(scope="module")
def handle_owner(api: Api) -> tuple[Member, str]:
    """A member owning a fresh IDIS prefix 88.x.y."""
    prefix = unique_handle_prefix()
    return admit(api, "Jiangsu Pumps", prefixes=(prefix,)), prefix


@pytest.fixture(scope="module")
def pump(api: Api, handle_owner: tuple[Member, str]) -> str:
    """A pump commissioned under the member's handle prefix, anchored."""
    member, prefix = handle_owner
    handle = f"{prefix}/PUMP-0001"
    event = object_event(
        epcs=[f"hdl:{handle}"], action="ADD", biz_step="commissioning", disposition="active"
    )
    assert capture(api, member.key, document(event)).status_code == 202
    api.drain()
    return handle


def test_handle_rest_record(api: Api, handle_owner: tuple[Member, str], pump: str) -> None:
    """responseCode 1 and the values a Handle proxy would answer."""
    answer = api.get(f"/api/handles/{pump}")
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["responseCode"] == 1
    assert record["handle"] == pump
    by_index = {v["index"]: v for v in record["values"]}
    assert by_index[1]["type"] == "URL"
    assert by_index[1]["data"] == {
        "format": "string",
        "value": f"http://tracechain.test/{pump}",
    }
    assert by_index[3]["data"]["value"] == handle_owner[0].name
    for value in record["values"]:
        assert value["ttl"] == 86400
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value["timestamp"])


def test_handle_rest_filters(api: Api, pump: str) -> None:
    """``type`` and ``index`` select values; a filter that leaves none gives code 200."""
    only_url = api.get(f"/api/handles/{pump}?type=URL").json()
    assert [v["type"] for v in only_url["values"]] == ["URL"]
    both = api.get(f"/api/handles/{pump}?type=URL&index=4").json()
    assert [v["index"] for v in both["values"]] == [1, 4]
    subtypes = api.get(f"/api/handles/{pump}?type=TRACECHAIN_").json()
    assert subtypes["responseCode"] == 200
    none = api.get(f"/api/handles/{pump}?type=EMAIL")
    assert none.status_code == 200
    assert none.json() == {
        "responseCode": 200,
        "handle": pump,
        "values": [],
        "message": "no values match the given type or index",
    }


def test_handle_rest_not_found(api: Api, handle_owner: tuple[Member, str]) -> None:
    """Unknown handle: 404 with responseCode 100; unowned prefix: 404 with 301 (not this
    server's handle); invalid: 400 with 102."""
    _, prefix = handle_owner
    missing = problem(api.get(f"/api/handles/{prefix}/NOPE"), 404, "not-found")
    assert missing["responseCode"] == 100
    assert missing["handle"] == f"{prefix}/NOPE"
    elsewhere = problem(api.get("/api/handles/88.1.2/X"), 404, "handle-prefix-not-served")
    assert elsewhere["responseCode"] == 301
    invalid = problem(api.get("/api/handles/88.1.2"), 400, "invalid-identifier")
    assert invalid["responseCode"] == 102


def test_handle_resolver_path(api: Api, pump: str) -> None:
    """``/{prefix}/{suffix}`` resolves like a Digital Link: trail for machines, page for
    phones; the identifier is case-insensitive in its prefix only."""
    trail = api.get(f"/{pump}")
    assert trail.status_code == 200, trail.text
    data = trail.json()
    assert data["identifier"]["scheme"] == "handle"
    assert data["verdict"] == "verified"
    assert data["identifier"]["resolver_url"] == f"http://tracechain.test/{pump}"
    page = api.get(f"/{pump}", headers={"Accept": "text/html"})
    assert "PUMP-0001" in page.text
    assert api.get(f"/{pump.upper().replace('PUMP', 'pump')}").json()["verdict"] == "unknown"


def test_handle_belongs_to_its_prefix_owner(api: Api, distributor: Member, pump: str) -> None:
    """Another member cannot commission a handle under the owner's prefix."""
    prefix = pump.split("/")[0]
    event = object_event(epcs=[f"hdl:{prefix}/PUMP-0002"], action="ADD", biz_step="commissioning")
    problem(capture(api, distributor.key, document(event)), 403, "not-prefix-owner")
