"""``GET /trace/{id}`` and ``GET /export`` on the real app (``api.app.create_app`` with these
two routers included), the session devnet and a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from defusedxml.ElementTree import fromstring

from api.app import create_app
from devnet.launcher import Devnet
from ledger.bundle import verify_bundle
from ledger.chain import ChainClient
from ledger.store.repository import get_organisation
from tests.api.conftest import ADMIN_KEY, Api, admit, app_settings
from tests.ledger.trace.supply_chain import ROLES, SupplyChain, build_supply_chain


@pytest.fixture(scope="module")
def served(
    devnet: Devnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, SupplyChain, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("trace-api")
    api = Api(create_app(app_settings(devnet, f"sqlite:///{folder / 'api.sqlite3'}")))
    try:
        keys: dict[str, str] = {}
        orgs: dict[str, int] = {}
        for role in ROLES:
            member = admit(api, role.replace("_", " ").title(), roles=("recorder", "auditor"))
            organisation = get_organisation(api.services.engine, org_id=member.org_id)
            assert organisation is not None
            assert organisation.id is not None
            orgs[role] = organisation.id
            keys[role] = member.auditor_key or member.key
        supply = build_supply_chain(api.services.engine, orgs)
        assert api.drain() == supply.event_count
        yield api, supply, keys
    finally:
        api.close()


Served = tuple[Api, SupplyChain, dict[str, str]]
#: How the API answers invalid input (a ledger InvalidInputError): its problem mapping decides
#: between 400 and 422; what matters here is a problem+json naming the field.
INVALID = (400, 422)


def path(identifier: str) -> str:
    return f"/trace/{quote(identifier, safe='')}"


def test_backward_trace_as_json(served: Served) -> None:
    api, supply, keys = served
    answer = api.get(
        path(supply.pallets["pallet_1"]),
        params={"direction": "backward", "depth": 20},
        key=keys["retailer_1"],
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    data = answer.json()
    assert data["root"] == supply.pallets["pallet_1"]
    assert data["direction"] == "backward"
    nodes = {n["id"]: n for n in data["nodes"]}
    assert {supply.lots["flour_1"], supply.lots["sugar"], supply.lots["cocoa"]} <= set(nodes)
    assert supply.lots["flour_2"] not in nodes
    assert nodes[supply.cases["case_1"]]["type"] == "logistic_unit"
    assert any(e["relation"] == "transformation" for e in data["edges"])
    assert all(e["source"] in nodes and e["target"] in nodes for e in data["edges"])


def test_forward_trace_reaches_both_retailers(served: Served) -> None:
    api, supply, keys = served
    data = api.get(path(supply.lots["flour_1"]), params={"depth": 20}, key=ADMIN_KEY).json()
    sites = {n["id"] for n in data["nodes"] if n["kind"] == "site"}
    assert {supply.sites["retailer_1"], supply.sites["retailer_2"]} <= sites
    assert data["hidden"] == 0
    shallow = api.get(path(supply.lots["flour_1"]), params={"depth": 1}, key=ADMIN_KEY).json()
    assert shallow["truncated"] is True
    assert len(shallow["nodes"]) < len(data["nodes"])
    # The supplier follows its own events and its partners' one hop from its lot (linked, the
    # default): the cases' shipments to the retailers are hidden from it, and counted.
    supplier = api.get(
        path(supply.lots["flour_1"]), params={"depth": 20}, key=keys["supplier_a"]
    ).json()
    reached = {n["id"] for n in supplier["nodes"] if n["kind"] == "site"}
    assert supply.sites["retailer_1"] not in reached
    assert supplier["hidden"] > 0


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"Accept": "image/svg+xml"}, {}), ({}, {"format": "svg"})],
)
def test_trace_as_svg(served: Served, headers: dict[str, str], params: dict[str, str]) -> None:
    api, supply, keys = served
    answer = api.get(
        path(supply.cases["case_3"]),
        params={"direction": "backward", **params},
        headers=headers,
        key=keys["factory"],
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("image/svg+xml")
    svg = fromstring(answer.content)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "lot P2" in answer.text


def test_trace_problems(served: Served) -> None:
    api, supply, keys = served
    target = path(supply.cases["case_1"])
    unauthenticated = api.get(target)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    png = api.get(target, headers={"Accept": "image/png"}, key=keys["factory"])
    assert png.status_code == 406
    assert png.json()["errors"][0]["field"] == "Accept"
    # A browser that asks for a page gets the 406 as a page in its language.
    html = api.get(target, headers={"Accept": "text/html"}, key=keys["factory"])
    assert html.status_code == 406
    assert html.headers["content-type"].startswith("text/html")
    for params in ({"depth": 65}, {"direction": "sideways"}, {"format": "png"}):
        bad = api.get(target, params=params, key=keys["factory"])
        assert bad.status_code == 422, params
        assert bad.headers["content-type"] == "application/problem+json"
    blank = api.get("/trace/%20", key=keys["factory"])
    assert blank.status_code in INVALID
    assert blank.headers["content-type"] == "application/problem+json"
    assert blank.json()["errors"][0]["field"] == "identifier"


def test_export_verifies_offline(served: Served, devnet: Devnet, tmp_path: Path) -> None:
    api, supply, keys = served
    # The factory received and consumed the lot: it reads every event of the lot (linked).
    answer = api.get("/export", params={"lot": supply.lots["cocoa"]}, key=keys["factory"])
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    bundle = answer.json()
    assert len(bundle["events"]) == 5
    result = verify_bundle(bundle, ChainClient(devnet.rpc_url))
    assert result.ok, [f.to_json() for f in result.findings]
    # A retailer far down the chain reads fewer of them; its bundle verifies as well.
    partial = api.get("/export", params={"lot": supply.lots["cocoa"]}, key=keys["retailer_2"])
    held = {e["hash_id"] for e in partial.json()["events"]}
    assert held < {e["hash_id"] for e in bundle["events"]}
    assert verify_bundle(partial.json(), ChainClient(devnet.rpc_url)).ok
    ranged = api.get(
        "/export",
        params={"from": "2026-02-01T06:00:00Z", "to": "2026-02-01T06:05:00+00:00"},
        key=keys["factory"],
    ).json()
    assert len(ranged["events"]) == 4
    traced = api.get(
        "/export",
        params={"identifier": supply.pallets["pallet_2"], "trace": "backward"},
        key=keys["factory"],
    ).json()
    assert verify_bundle(traced, ChainClient(devnet.rpc_url)).ok
    tampered = dict(bundle)
    tampered["events"] = [dict(e) for e in bundle["events"]]
    tampered["events"][0]["event"] = {**bundle["events"][0]["event"], "action": "DELETE"}
    assert not verify_bundle(tampered, ChainClient(devnet.rpc_url)).ok


def test_export_problems(served: Served) -> None:
    api, supply, keys = served
    nothing = api.get("/export", key=keys["factory"])
    assert nothing.status_code in INVALID
    assert nothing.headers["content-type"] == "application/problem+json"
    assert nothing.json()["errors"][0]["field"] == "identifier"
    not_a_lot = api.get("/export", params={"lot": supply.cases["case_1"]}, key=keys["factory"])
    assert not_a_lot.status_code in INVALID
    assert not_a_lot.json()["errors"][0]["field"] == "lot"
    naive = api.get("/export", params={"from": "2026-02-01T06:00:00"}, key=keys["factory"])
    assert naive.status_code in INVALID
    assert naive.json()["errors"][0]["field"] == "from"
    garbage = api.get("/export", params={"from": "yesterday"}, key=keys["factory"])
    assert garbage.status_code == 422
    assert api.get("/export", params={"lot": supply.lots["cocoa"]}).status_code == 401


def test_routes_are_documented(served: Served) -> None:
    api, _, _ = served
    schema = api.get("/openapi.json").json()
    assert "/trace/{identifier}" in schema["paths"]
    operation = schema["paths"]["/trace/{identifier}"]["get"]
    assert "image/svg+xml" in operation["responses"]["200"]["content"]
    assert "/export" in schema["paths"]
    names = {p["name"] for p in schema["paths"]["/export"]["get"]["parameters"]}
    assert {"identifier", "lot", "from", "to", "trace"} <= names
