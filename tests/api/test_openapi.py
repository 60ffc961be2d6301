"""The OpenAPI description, content negotiation and language choice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from api.i18n import negotiate
from api.negotiation import best_match
from tests.api.conftest import ADMIN_KEY, Api, Member, event_list
from tests.helpers import gln, gtin, moment

ENDPOINTS = {
    ("post", "/members"),
    ("get", "/members"),
    ("get", "/members/{org_id}"),
    ("post", "/members/{org_id}/suspend"),
    ("post", "/members/{org_id}/reinstate"),
    ("post", "/members/{org_id}/prefixes"),
    ("post", "/members/{org_id}/api-keys"),
    ("get", "/members/{org_id}/api-keys"),
    ("delete", "/members/{org_id}/api-keys/{key_id}"),
    ("post", "/members/{org_id}/signing-keys"),
    ("get", "/me"),
    ("post", "/capture"),
    ("get", "/capture"),
    ("get", "/capture/{capture_id}"),
    ("options", "/capture"),
    ("options", "/capture/{capture_id}"),
    ("options", "/events"),
    ("options", "/events/{event_id}"),
    ("post", "/events"),
    ("get", "/events"),
    ("get", "/events/{event_id}"),
    ("post", "/batches"),
    ("get", "/identifiers/{identifier}"),
    ("get", "/identifiers/{identifier}/recall"),
    ("post", "/identifiers/{identifier}/recall"),
    ("post", "/identifiers/{identifier}/recall/lift"),
    ("get", "/identifiers/{identifier}/trace"),
    ("get", "/identifiers/{identifier}/recall-scope"),
    ("get", "/01/{gtin}"),
    ("get", "/01/{gtin}/10/{lot}"),
    ("get", "/01/{gtin}/10/{lot}/21/{serial}"),
    ("get", "/01/{gtin}/21/{serial}"),
    ("get", "/00/{sscc}"),
    ("get", "/414/{gln}"),
    ("get", "/414/{gln}/254/{extension}"),
    ("get", "/8003/{grai}"),
    ("get", "/8004/{giai}"),
    ("get", "/{first}/{rest}"),
    ("get", "/export"),
    ("get", "/api/handles/{handle}"),
    ("get", "/qr/{identifier}"),
    ("get", "/labels/{identifier}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


def test_openapi_describes_everything(api: Api) -> None:
    """Every endpoint is described, with its problem answers and the security schemes."""
    schema = api.get("/openapi.json").json()
    described = {(m, p) for p, item in schema["paths"].items() for m in item}
    missing = ENDPOINTS - described
    assert not missing, missing
    components = schema["components"]
    assert {"Problem", "TrailOut", "MemberIn", "BatchIn", "CaptureJobOut"} <= set(
        components["schemas"]
    )
    assert set(components["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    capture = schema["paths"]["/capture"]["post"]
    assert set(capture["requestBody"]["content"]) == {
        "application/json",
        "application/ld+json",
        "application/xml",
    }
    assert "application/problem+json" in capture["responses"]["413"]["content"]
    trail = schema["paths"]["/identifiers/{identifier}"]["get"]["responses"]["200"]["content"]
    assert trail["application/json"]["schema"] == {"$ref": "#/components/schemas/TrailOut"}
    query = {p["name"] for p in schema["paths"]["/events"]["get"]["parameters"]}
    assert {"MATCH_epc", "perPage", "nextPageToken", "EQ_bizStep"} <= query
    assert api.get("/docs").status_code == 200


def _discovery_headers(conformance_dir: Path, response: str) -> set[str]:
    """The headers GS1's REST binding lists for a discovery (OPTIONS) response."""
    binding = yaml.safe_load((conformance_dir / "epcis-2.0" / "openapi.yaml").read_text())
    headers: dict[str, Any] = binding["components"]["responses"][response]["headers"]
    return set(headers)


@pytest.mark.parametrize(
    ("path", "template", "allow", "response"),
    [
        ("/events", "/events", "OPTIONS, GET, POST", "204WritableResourcesDiscovery"),
        (
            "/events/ni%3A%2F%2F%2Fsha-256%3Babc",
            "/events/{event_id}",
            "OPTIONS, GET",
            "204DefaultDiscoveryResponse",
        ),
        ("/capture/job-1", "/capture/{capture_id}", "OPTIONS, GET", "204DefaultDiscoveryResponse"),
        ("/capture", "/capture", "OPTIONS, GET, POST", "204CaptureEndpointDiscovery"),
    ],
)
def test_options_answers_the_binding_discovery_headers(
    api: Api, conformance_dir: Path, path: str, template: str, allow: str, response: str
) -> None:
    """OPTIONS on the REST binding's resources (no key needed) answers 204 with Allow and the
    binding's GS1-* headers (all but GS1-Extensions: this server has no extensions), and the
    served OpenAPI documents each of them."""
    answer = api.request("OPTIONS", path)
    assert answer.status_code == 204, answer.text
    assert answer.headers["Allow"] == allow
    expected = _discovery_headers(conformance_dir, response) - {"GS1-Extensions"}
    assert "GS1-EPCIS-Version" in expected
    missing = {name for name in expected if not answer.headers.get(name)}
    assert not missing, missing
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    assert answer.headers["GS1-EPC-Format"] == "Never_Translates"
    documented = api.get("/openapi.json").json()["paths"][template]["options"]["responses"]
    assert expected <= set(documented["204"]["headers"])


def test_capture_discovery_names_its_limits(api: Api) -> None:
    """OPTIONS /capture adds the capture limits and the error behaviour."""
    answer = api.request("OPTIONS", "/capture")
    settings = api.services.settings
    assert answer.headers["GS1-EPCIS-Capture-Limit"] == str(settings.api.max_capture_events)
    assert answer.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(settings.api.max_body_bytes)
    assert answer.headers["GS1-Capture-Error-Behaviour"] == "rollback"


def test_every_path_parameter_is_declared(api: Api) -> None:
    """Every {name} in a path template (the Digital Link routes included) is a declared path
    parameter of each of its operations, with a description; GS1 Digital Link routes give a
    valid example."""
    schema = api.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == names, (method, path, set(declared))
            for parameter in declared.values():
                assert parameter["required"] is True, (path, parameter)
    lot = schema["paths"]["/01/{gtin}/10/{lot}"]["get"]["parameters"]
    examples = {p["name"]: p["schema"]["examples"][0] for p in lot if p["in"] == "path"}
    assert examples == {"gtin": "09506000134352", "lot": "LOT-2026-11"}
    assert api.get("/01/{gtin}/10/{lot}".format(**examples)).status_code == 200


def test_events_document_the_media_type_they_answer(api: Api, supplier: Member) -> None:
    """GET /events and GET /events/{id} answer application/ld+json, and that is what the
    OpenAPI says (and only that)."""
    schema = api.get("/openapi.json").json()
    for path in ("/events", "/events/{event_id}"):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/ld+json"}, (path, set(content))
    answer = api.get("/events", key=supplier.key)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].split(";")[0] == "application/ld+json"
    assert answer.json()["type"] == "EPCISQueryDocument"


def test_problem_answers_are_documented_as_problems(api: Api) -> None:
    """FastAPI's own 422 shape (HTTPValidationError) is gone: every operation's 422 is the
    problem+json the app answers, and authenticated operations document 401 and 403."""
    schema = api.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if "422" in responses:
                assert set(responses["422"]["content"]) >= {"application/problem+json"}, path
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), (method, path)


def _batch(member: Member, **fields: Any) -> dict[str, Any]:
    return {
        "gtin": gtin(member.prefix, 7),
        "lot": "NUMERIC-TIME",
        "quantity": 5,
        "site_gln": gln(member.prefix),
        "event_time": moment(),
        **fields,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_time", 0),
        ("event_time", 1767600000.5),
        ("event_time", "1767600000"),
        ("event_time", "2026-01-05"),
        ("production_date", 0),
        ("expiry_date", "20270105"),
    ],
)
def test_numbers_are_not_date_times_in_bodies(
    api: Api, supplier: Member, field: str, value: object
) -> None:
    """A number (or a numeric string) is not a date-time: 422 naming the field, nothing
    stored (pydantic's lax mode read it as Unix time)."""
    lot = f"NUM-{field}-{value}".replace(".", "-")[:20]
    answer = api.post(
        "/batches", json=_batch(supplier, lot=lot, **{field: value}), key=supplier.key
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert "ISO 8601" in problem["errors"][0]["reason"]
    lgtin = f"(01){gtin(supplier.prefix, 7)}(10){lot}"
    events = api.get("/events", params={"MATCH_anyEPCClass": lgtin}, key=supplier.key)
    assert events.status_code == 200, events.text
    assert event_list(events.json()) == []


@pytest.mark.parametrize("value", ["0.5", "0", "1767600000", "2026-01-05"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_numbers_are_not_date_times_in_queries(
    api: Api, supplier: Member, name: str, value: str
) -> None:
    """GET /export?to=0.5 is a 422 naming ``to``, not the Unix epoch."""
    answer = api.get("/export", params={name: value}, key=supplier.key)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [name]


def test_iso_date_times_are_still_taken(api: Api, supplier: Member) -> None:
    """The strict types take what they always took: ISO 8601 with an offset, ``Z`` too."""
    body = _batch(supplier, lot="ISO-TIME", event_time="2026-01-05T08:00:00Z")
    answer = api.post("/batches", json=body, key=supplier.key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["event"]["eventTime"].startswith("2026-01-05T08:00:00")
    window = {"from": "2026-01-05T07:00:00+00:00", "to": "2026-01-05T09:00:00Z"}
    assert api.get("/export", params=window, key=supplier.key).status_code == 200


def test_me_and_keys_never_leak(api: Api) -> None:
    """No answer about keys carries a key or its hash, except the one creating it."""
    text = api.get("/openapi.json").text
    assert "key_hash" not in text
    me = api.get("/me", key=ADMIN_KEY).json()
    assert set(me) == {"key_id", "role", "org_id", "name", "prefixes", "default_visibility"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
        ("text/*", "text/html"),
        ("application/linkset+json", "application/linkset+json"),
        ("application/json;q=0.5, application/linkset+json", "application/linkset+json"),
        ("image/png", None),
        ("text/html;q=0, */*", "application/json"),
        ("garbage;;;q=x", None),
    ],
)
def test_best_match(accept: str | None, expected: str | None) -> None:
    """RFC 9110 negotiation, the server's order breaking ties."""
    offers = ("application/json", "text/html", "application/linkset+json")
    assert best_match(accept, offers) == expected


@pytest.mark.parametrize(
    ("lang", "accept_language", "expected"),
    [
        (None, None, "en"),
        ("zh", None, "zh"),
        ("zh-Hans-CN", "en", "zh"),
        ("en", "zh-CN", "en"),
        ("fr", "zh-TW;q=0.8, en;q=0.9", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "fr-FR, de;q=0.9", "en"),
        (None, "en;q=0, zh;q=0.1", "zh"),
        (None, "zh;q=abc", "en"),
    ],
)
def test_language(lang: str | None, accept_language: str | None, expected: str) -> None:
    """?lang= wins, then Accept-Language by quality, then English."""
    assert negotiate(lang, accept_language) == expected
