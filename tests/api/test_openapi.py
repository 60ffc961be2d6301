"""The OpenAPI description, content negotiation and language choice."""

from __future__ import annotations

import pytest

from api.i18n import negotiate
from api.negotiation import best_match
from tests.api.conftest import ADMIN_KEY, Api

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
    ("get", "/01/{gtin}/10/{lot}"),
    ("get", "/01/{gtin}/21/{serial}"),
    ("get", "/00/{sscc}"),
    ("get", "/414/{gln}"),
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


def test_me_and_keys_never_leak(api: Api) -> None:
    """No answer about keys carries a key or its hash, except the one creating it."""
    text = api.get("/openapi.json").text
    assert "key_hash" not in text
    me = api.get("/me", key=ADMIN_KEY).json()
    assert set(me) == {"key_id", "role", "org_id", "name", "prefixes"}


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
