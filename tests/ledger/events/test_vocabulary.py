"""CBV 2.0 vocabularies: our tables match GS1's JSON-LD contexts; expand and shorten."""

# ruff: noqa: E501  (vocabulary and XML literals read best on one line)

from __future__ import annotations

import json

import pytest

from ledger.events import VocabularyError, expand, shorten
from ledger.events.vocabulary import VOCABULARIES, VocabularyKind
from tests.ledger.events.conftest import CONTEXT_DIR, SCHEMA_FILE, require

CONTEXT_FILES: dict[VocabularyKind, str] = {
    "bizStep": "cbv-context-bizstep.jsonld",
    "disposition": "cbv-context-disposition.jsonld",
    "bizTransactionType": "cbv-context-biztransaction-type.jsonld",
    "sourceDestType": "cbv-context-sourcedest-type.jsonld",
    "errorReason": "cbv-context-error-reason.jsonld",
    "measurementType": "gs1-context-measurement-type.jsonld",
    "sensorAlertType": "gs1-context-sensor-alert-type.jsonld",
    "component": "cbv-context-component.jsonld",
}
SCHEMA_DEFINITIONS: dict[VocabularyKind, str] = {
    "bizStep": "bizStep",
    "disposition": "disposition",
    "bizTransactionType": "bizTransaction-type",
    "sourceDestType": "source-dest-type",
    "errorReason": "error-reason",
    "measurementType": "measurementType",
    "sensorAlertType": "sensorAlertType",
    "component": "component",
}


@pytest.mark.parametrize("kind", sorted(CONTEXT_FILES))
def test_tables_match_gs1_contexts(kind: VocabularyKind) -> None:
    context = json.loads(require(CONTEXT_DIR / CONTEXT_FILES[kind]).read_text())["@context"]
    prefixes = {k: v for k, v in context.items() if k in ("cbv", "gs1")}
    expected = {}
    for term, curie in context.items():
        if term.startswith("@") or term in prefixes:
            continue
        prefix, _, rest = curie.partition(":")
        expected[term] = prefixes[prefix] + rest
    vocabulary = VOCABULARIES[kind]
    assert set(vocabulary.terms) == set(expected)
    assert {term: vocabulary.web_uri(term) for term in vocabulary.terms} == expected


@pytest.mark.parametrize("kind", sorted(SCHEMA_DEFINITIONS))
def test_tables_match_schema_enums(kind: VocabularyKind) -> None:
    schema = json.loads(require(SCHEMA_FILE).read_text())
    definition = schema["definitions"][SCHEMA_DEFINITIONS[kind]]
    enums = [branch["enum"] for branch in definition["anyOf"] if "enum" in branch]
    assert set(enums[0]) == set(VOCABULARIES[kind].terms)


@pytest.mark.parametrize(
    ("kind", "value", "full", "short"),
    [
        ("bizStep", "shipping", "https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("bizStep", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("bizStep", "https://ref.gs1.org/cbv/BizStep-shipping", "https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("bizStep", "cbv:BizStep-shipping", "https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("disposition", "urn:epcglobal:cbv:disp:in_transit", "https://ref.gs1.org/cbv/Disp-in_transit", "in_transit"),
        ("bizTransactionType", "urn:epcglobal:cbv:btt:po", "https://ref.gs1.org/cbv/BTT-po", "po"),
        ("sourceDestType", "owning_party", "https://ref.gs1.org/cbv/SDT-owning_party", "owning_party"),
        ("errorReason", "urn:epcglobal:cbv:er:incorrect_data", "https://ref.gs1.org/cbv/ER-incorrect_data", "incorrect_data"),
        ("measurementType", "gs1:Temperature", "https://gs1.org/voc/Temperature", "Temperature"),
        ("component", "latitude", "https://ref.gs1.org/cbv/Comp-latitude", "latitude"),
        ("bizStep", "https://voc.acme.example/step/glazing", "https://voc.acme.example/step/glazing", "https://voc.acme.example/step/glazing"),
        ("bizStep", "urn:epcglobal:cbv:bizstep:glazing", "urn:epcglobal:cbv:bizstep:glazing", "urn:epcglobal:cbv:bizstep:glazing"),
    ],
)  # fmt: skip
def test_expand_and_shorten(kind: VocabularyKind, value: str, full: str, short: str) -> None:
    assert expand(kind, value) == full
    assert shorten(kind, value) == short


@pytest.mark.parametrize("value", ["shiping", "Shipping", "in_transit", ""])
def test_unknown_bare_words_are_rejected(value: str) -> None:
    with pytest.raises(VocabularyError, match="unknown CBV business step"):
        expand("bizStep", value)
    with pytest.raises(VocabularyError):
        shorten("bizStep", value)
