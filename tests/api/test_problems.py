"""Bad input gives RFC 9457 problems naming the field and reason — never a 500, whatever the
input (hypothesis throws garbage at every entry point)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.negotiation import best_match
from devnet.launcher import Devnet
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, capture
from tests.api.test_auth import problem
from tests.helpers import document, gln, gtin, object_event, single, unique_prefix

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def off_by_one(key: str) -> str:
    """A GS1 key with a wrong check digit."""
    return key[:-1] + str((int(key[-1]) + 1) % 10)


def no_500(answer: httpx.Response) -> None:
    """A client error is a problem+json (an HTML page for a client preferring HTML, as a
    browser does); nothing is a server error."""
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        accept = answer.request.headers.get("accept")
        if best_match(accept, ("application/problem+json", "text/html")) == "text/html":
            assert answer.headers["content-type"].startswith("text/html"), answer.text
            return
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        body = answer.json()
        assert {"type", "title", "status", "detail", "errors"} <= set(body)
        for error in body["errors"]:
            assert set(error) == {"field", "reason"}


def test_unknown_route_and_method(api: Api) -> None:
    """Unknown paths are 404 problems, wrong methods 405 problems."""
    problem(api.get("/no/such/thing"), 404, "not-found")
    problem(api.get("/nothing"), 404, "not-found")
    problem(api.delete("/capture"), 405, "method-not-allowed")
    problem(api.get("/problems/no-such-problem"), 404, "not-found")
    described = api.get("/problems/invalid-identifier-check-digit").json()
    assert described["title"] == "Invalid identifier check digit"


def test_capture_validation(api: Api, supplier: Member) -> None:
    """Invalid documents are 400 with every problem's JSON path, and a failed capture job."""
    bad = document(
        object_event(classes=[f"https://id.gs1.org/01/{gtin(supplier.prefix)}"]),
        {"type": "ObjectEvent", "eventTime": "yesterday", "eventTimeZoneOffset": "+08:00",
         "epcList": [], "action": "SOMETIMES"},
    )  # fmt: skip
    answer = capture(api, supplier.key, bad)
    body = problem(answer, 400, "invalid-epcis-document")
    fields = {e["field"] for e in body["errors"]}
    assert any(f.startswith("epcisBody.eventList[1]") for f in fields), fields
    assert body["epcisException"] == "epcisException:ValidationException"
    job = api.get(answer.headers["Location"], key=supplier.key).json()
    assert job["success"] is False
    assert job["errors"]
    assert job["errors"][0]["field"].startswith("epcisBody.eventList[1]")
    malformed = api.post(
        "/capture", content=b"{not json", headers={"Content-Type": "application/json"},
        key=supplier.key,
    )  # fmt: skip
    assert problem(malformed, 400, "invalid-epcis-document")["errors"][0]["field"] == "$"
    empty = api.post(
        "/capture", content=b"", headers={"Content-Type": "application/json"}, key=supplier.key
    )
    problem(empty, 400, "bad-request")
    xml = api.post(
        "/capture", content=b"<EPCISDocument/>", headers={"Content-Type": "application/xml"},
        key=supplier.key,
    )  # fmt: skip
    problem(xml, 400, "invalid-epcis-document")


def test_media_types(api: Api, supplier: Member) -> None:
    """Capture takes JSON, JSON-LD and XML; /events takes JSON only (415 otherwise)."""
    body = json.dumps(document(object_event())).encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", ""):
        answer = api.post(
            "/capture", content=body, headers={"Content-Type": kind}, key=supplier.key
        )
        assert problem(answer, 415, "unsupported-media-type")["errors"][0]["field"] == (
            "Content-Type"
        )
    xml = api.post(
        "/events", content=b"<x/>", headers={"Content-Type": "application/xml"}, key=supplier.key
    )
    problem(xml, 415, "unsupported-media-type")
    two = api.post("/events", json=document(object_event(), object_event()), key=supplier.key)
    problem(two, 400, "bad-request")
    behaviour = api.post(
        "/capture", content=body, key=supplier.key,
        headers={"Content-Type": "application/json", "GS1-Capture-Error-Behaviour": "proceed"},
    )  # fmt: skip
    problem(behaviour, 400, "bad-request")


def test_limits_on_a_small_app(make_api: Callable[..., Api]) -> None:
    """413 with the REST binding's limit headers."""
    small = make_api(api={"max_body_bytes": 4096, "max_capture_events": 2})
    member = admit(small, "Small Limits Ltd")
    huge = small.post(
        "/capture", content=b"[" + b"0," * 4000 + b"0]",
        headers={"Content-Type": "application/json"}, key=member.key,
    )  # fmt: skip
    body = problem(huge, 413, "payload-too-large")
    assert huge.headers["GS1-EPCIS-Capture-File-Size-Limit"] == "4096"
    assert body["epcisException"] == "epcisException:CaptureLimitExceededException"
    three = document(*(object_event() for _ in range(3)))
    many = capture(small, member.key, three)
    problem(many, 413, "capture-limit-exceeded")
    assert many.headers["GS1-EPCIS-Capture-Limit"] == "2"


def test_body_limit_elsewhere(api: Api, supplier: Member) -> None:
    """Bodies of non-capture endpoints are small: over 1 MiB is a 413 problem."""
    big = b'{"gtin": "' + b"1" * (2 * 1024 * 1024) + b'"}'
    declared = api.post(
        "/batches", content=big, headers={"Content-Type": "application/json"}, key=supplier.key
    )
    problem(declared, 413, "payload-too-large")

    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65536

    streamed = api.post(
        "/batches", content=chunks(), headers={"Content-Type": "application/json"},
        key=supplier.key,
    )  # fmt: skip
    problem(streamed, 413, "payload-too-large")


def test_batch_validation(api: Api, supplier: Member) -> None:
    """/batches names the field: schema and identifier errors are 422."""
    good: dict[str, Any] = {
        "gtin": gtin(supplier.prefix),
        "lot": "V-1",
        "quantity": 5,
        "site_gln": gln(supplier.prefix),
    }
    missing = problem(api.post("/batches", json={}, key=supplier.key), 422, "request-validation")
    assert {e["field"] for e in missing["errors"]} == {"gtin", "lot", "quantity", "site_gln"}
    wrong = api.post("/batches", json={**good, "gtin": off_by_one(good["gtin"])}, key=supplier.key)
    check = problem(wrong, 422, "invalid-identifier-check-digit")
    assert check["errors"][0]["field"] == "GTIN"
    dates = api.post(
        "/batches",
        json={**good, "production_date": "2026-02-01", "expiry_date": "2026-01-01"},
        key=supplier.key,
    )
    assert problem(dates, 422, "request-validation")["errors"][0]["field"] == "expiry_date"
    lot = api.post("/batches", json={**good, "lot": "bad lot ü"}, key=supplier.key)
    assert problem(lot, 422, "request-validation")["errors"][0]["field"] == "lot"
    extra = api.post("/batches", json={**good, "colour": "red"}, key=supplier.key)
    assert problem(extra, 422, "request-validation")["errors"][0]["field"] == "colour"
    site = api.post(
        "/batches", json={**good, "site_gln": off_by_one(good["site_gln"])}, key=supplier.key
    )
    assert problem(site, 422, "invalid-identifier-check-digit")["errors"][0]["field"] == "GLN"


def test_query_validation(api: Api, supplier: Member) -> None:
    """Unknown or invalid query parameters are 400 naming the parameter."""
    unknown = problem(api.get("/events?colour=red", key=supplier.key), 400, "query-parameter")
    assert unknown["errors"][0]["field"] == "colour"
    when = problem(
        api.get("/events?GE_eventTime=yesterday", key=supplier.key), 400, "query-parameter"
    )
    assert when["errors"][0]["field"] == "GE_eventTime"
    token = problem(
        api.get("/events?nextPageToken=nonsense", key=supplier.key), 400, "query-parameter"
    )
    assert token["errors"][0]["field"] == "nextPageToken"
    problem(api.get("/capture?nextPageToken=%%%", key=supplier.key), 400, "invalid-page-token")
    problem(api.get("/events/urn:uuid:nothing-here", key=supplier.key), 404, "not-found")


def test_identifier_validation(api: Api) -> None:
    """Invalid identifiers in paths name the part that is wrong."""
    body = problem(api.get("/identifiers/not-an-identifier"), 422, "invalid-identifier-syntax")
    assert body["errors"][0]["field"] == "identifier"
    problem(api.get("/01/09506000134350"), 422, "invalid-identifier-check-digit")
    problem(api.get("/identifiers/x?format=pdf"), 422, "request-validation")
    problem(api.get("/01/09506000134352", headers={"Accept": "image/png"}), 406, "not-acceptable")


# ---------------------------------------------------------------- fuzzing

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
event_keys = st.sampled_from(
    ["type", "eventTime", "eventTimeZoneOffset", "epcList", "action", "bizStep", "quantityList",
     "readPoint", "ilmd", "@context", "eventID", "parentID", "childEPCs", "disposition"]
)  # fmt: skip


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible event with some fields replaced by garbage."""
    event = single(object_event(epcs=["https://id.gs1.org/01/09506000134352/21/A1"]))
    for _ in range(draw(st.integers(1, 4))):
        event[draw(event_keys)] = draw(json_values)
    return event


@FUZZ
@given(
    body=st.binary(max_size=300),
    kind=st.sampled_from(
        ["application/json", "application/ld+json", "application/xml", "text/xml", "text/plain"]
    ),
)
def test_fuzz_capture_bytes(api: Api, supplier: Member, body: bytes, kind: str) -> None:
    """Random bytes to POST /capture."""
    no_500(api.post("/capture", content=body, headers={"Content-Type": kind}, key=supplier.key))


@FUZZ
@given(event=mutated_events())
def test_fuzz_capture_events(api: Api, supplier: Member, event: dict[str, Any]) -> None:
    """Mutated events to POST /events and in documents to POST /capture."""
    no_500(api.post("/events", json=event, key=supplier.key))
    doc = document(event, creation_date="2026-01-01T00:00:00Z")
    no_500(capture(api, supplier.key, doc))


@FUZZ
@given(body=st.dictionaries(
    st.sampled_from(["gtin", "lot", "quantity", "uom", "production_date", "expiry_date",
                     "site_gln", "event_time", "other"]), json_values, max_size=8))  # fmt: skip
def test_fuzz_batches(api: Api, supplier: Member, body: dict[str, Any]) -> None:
    """Random bodies to POST /batches."""
    no_500(api.post("/batches", json=body, key=supplier.key))


@FUZZ
@given(text=st.text(min_size=1, max_size=80))
def test_fuzz_identifier_paths(api: Api, text: str) -> None:
    """Random identifiers to the trail, resolver, QR and Handle endpoints."""
    encoded = quote(text, safe="")
    for url in (f"/identifiers/{encoded}", f"/01/{encoded}", f"/qr/{encoded}.png",
                f"/api/handles/88.1.1/{encoded}", f"/88.5.5/{encoded}"):  # fmt: skip
        no_500(api.get(url, headers={"Accept": "application/json"}))


@FUZZ
@given(params=st.lists(st.tuples(
    st.sampled_from(["eventType", "GE_eventTime", "EQ_bizStep", "MATCH_epc", "MATCH_anyEPCClass",
                     "perPage", "nextPageToken", "orderBy", "orderDirection", "EQ_action",
                     "EQ_readPoint", "junk"]),
    st.text(max_size=40)), max_size=4))  # fmt: skip
def test_fuzz_queries(api: Api, supplier: Member, params: list[tuple[str, str]]) -> None:
    """Random EPCIS query parameters to GET /events."""
    no_500(api.get("/events", params=params, key=supplier.key))


@pytest.mark.parametrize("header", ["Accept", "Accept-Language", "Authorization", "X-API-Key"])
@FUZZ
@given(value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_fuzz_headers(api: Api, header: str, value: str) -> None:
    """Random header values never break the public or member endpoints."""
    for url in ("/01/09506000134352", "/me", "/identifiers/(01)09506000134352"):
        no_500(api.get(url, headers={header: value}))


def test_a_corrupt_admin_keystore_is_a_503_on_admin_writes_only(
    make_api: Callable[..., Api], devnet: Devnet, tmp_path: Path
) -> None:
    """Public reads that consult the membership (a trail with no commissioning of its owner,
    an identifier's recall state) need no key (issue 12): they answer 200 when the admin
    keystore is corrupt; a write the admin signs answers 503, not 500, naming no path."""
    data_dir = tmp_path / "data"
    (data_dir / "keys").mkdir(parents=True)
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    shutil.copy(devnet.paths.admin_passphrase, data_dir / "keys" / "admin.passphrase")
    (data_dir / "keys" / "admin.json").write_text("{not a keystore")
    broken = make_api(data_dir=data_dir)
    prefix = unique_prefix()
    item = quote(f"https://id.gs1.org/01/{gtin(prefix)}/21/S1", safe="")
    trail = broken.get(f"/identifiers/{item}", headers={"Accept": "application/json"})
    assert trail.status_code == 200, trail.text
    assert trail.json()["verdict"] == "unknown"
    recall = broken.get(f"/identifiers/{item}/recall")
    assert recall.status_code == 200, recall.text
    assert recall.json()["recalled"] is False
    # A browser gets the buyer's page.
    page = broken.get(f"/identifiers/{item}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    admitted = broken.post(
        "/members", json={"name": f"Locked {prefix}", "prefixes": [prefix]}, key=ADMIN_KEY
    )
    problem(admitted, 503, "signing-key-unavailable")
    assert str(data_dir) not in admitted.text
