"""Rules of the CBV 2.0 event hash that the vectors do not pin down on their own."""

# ruff: noqa: E501  (vocabulary and XML literals read best on one line)

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.events import event_hash, prehash
from ledger.events.hashing import hash_id
from ledger.events.timestamps import hash_timestamp
from tests.helpers import document
from tests.ledger.events.reference import reference_prehashes

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"acme": "https://ns.acme.example/epcis/"},
]
BASE: dict[str, Any] = {
    "@context": CONTEXT,
    "type": "ObjectEvent",
    "eventTime": "2024-05-01T10:00:00.000+02:00",
    "eventTimeZoneOffset": "+02:00",
    "epcList": ["urn:epc:id:sgtin:4012345.011111.2", "urn:epc:id:sgtin:4012345.011111.1"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0", "acme:dock": "7"},
    "acme:a1": {"acme:z2": "1", "acme:b2": ["x1", "y2"]},
}


def _with(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(BASE)
    event.update(changes)
    return event


def test_prehash_of_a_known_event() -> None:
    assert prehash(BASE) == (
        "eventType=ObjectEventeventTime=2024-05-01T08:00:00.000ZeventTimeZoneOffset=+02:00"
        "epcListepc=https://id.gs1.org/01/04012345111118/21/1"
        "epc=https://id.gs1.org/01/04012345111118/21/2"
        "action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "readPointid=https://id.gs1.org/414/4012345000016{https://ns.acme.example/epcis/}dock=7"
        "{https://ns.acme.example/epcis/}a1{https://ns.acme.example/epcis/}b2=x1"
        "{https://ns.acme.example/epcis/}b2=y2{https://ns.acme.example/epcis/}z2=1"
    )
    assert event_hash(BASE) == hash_id(prehash(BASE))


@pytest.mark.parametrize(
    "changes",
    [
        {"eventID": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        {"recordTime": "2024-05-02T00:00:00Z"},
        {"errorDeclaration": {"declarationTime": "2024-05-02T00:00:00Z"}},
        {"rdfs:comment": "a note"},
        {"epcList": list(reversed(BASE["epcList"]))},
        {"bizStep": "urn:epcglobal:cbv:bizstep:shipping"},
        {"bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"},
        {"eventTime": "2024-05-01T08:00:00Z"},
        {"epcList": ["https://id.gs1.org/01/04012345111118/21/1", "urn:epc:id:sgtin:4012345.011111.2"]},
    ],
)  # fmt: skip
def test_what_does_not_change_the_hash(changes: dict[str, Any]) -> None:
    assert event_hash(_with(**changes)) == event_hash(BASE)


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "ADD"},
        {"eventTimeZoneOffset": "+01:00"},
        {"eventTime": "2024-05-01T10:00:00.001+02:00"},
        {"acme:a1": {"acme:z2": "2", "acme:b2": ["x1", "y2"]}},
        {"readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}},
        {"disposition": "in_transit"},
        {"certificationInfo": "https://cert.acme.example/1"},
    ],
)
def test_what_changes_the_hash(changes: dict[str, Any]) -> None:
    assert event_hash(_with(**changes)) != event_hash(BASE)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2023-01-18T11:04:03.1415Z", "2023-01-18T11:04:03.142Z"),
        ("2023-01-18T11:04:03.1414Z", "2023-01-18T11:04:03.141Z"),
        ("2023-01-18T11:04:03.1425Z", "2023-01-18T11:04:03.143Z"),  # half up (§8.9.2)
        ("2023-12-31T23:59:59.9996Z", "2024-01-01T00:00:00.000Z"),  # carries into the year
        ("2023-01-18T01:04:03-06:00", "2023-01-18T07:04:03.000Z"),
        ("2024-03-01T00:30:00.9996+01:00", "2024-02-29T23:30:01.000Z"),  # back into a leap day
        ("2023-12-31T23:59:59.9995-00:30", "2024-01-01T00:30:00.000Z"),
        ("2023-02-29T10:00:00Z", "2023-02-29T10:00:00Z"),  # no such day: kept
        ("0001-01-01T00:59:59.9996+01:00", "0001-01-01T00:59:59.9996+01:00"),  # before year 1
        ("9999-12-31T23:59:59.9996Z", "9999-12-31T23:59:59.9996Z"),  # after year 9999
        ("2023-01-18t11:04:03z", "2023-01-18T11:04:03.000Z"),
        ("not a time", "not a time"),
    ],
)
def test_timestamps_in_utc_to_the_millisecond(stamp: str, expected: str) -> None:
    assert hash_timestamp(stamp) == expected


def test_numbers_lose_signs_and_trailing_zeros() -> None:
    event = _with(
        epcList=[],
        quantityList=[
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": 150.0, "uom": "KGM"},
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.L2", "quantity": 2.50},
        ],
    )
    text = prehash(event)
    assert "quantity=150uom=KGM" in text
    assert "quantity=2.5" in text


def test_json_booleans_hash_like_xml() -> None:
    """The reference's JSON reader writes Python's ``True``; XML and we write ``true``."""
    report = {"type": "Temperature", "booleanValue": True}
    event = _with(sensorElementList=[{"sensorReport": [report]}])
    assert "sensorReporttype=https://gs1.org/voc/TemperaturebooleanValue=true" in prehash(event)


def test_sensor_report_biz_rules_go_with_the_leftovers_like_the_reference() -> None:
    """bizRules is a sensorReport field outside the canonical order: it is rendered among the
    fields outside the canonical order."""
    report = {"type": "Mass", "value": 3, "bizRules": "https://rules.acme.example/1"}
    event = _with(sensorElementList=[{"sensorReport": [report]}])
    ours = prehash(event)
    assert "sensorElementListsensorElementsensorReportbizRules=https://rules.acme.example/1" in ours
    assert [ours] == reference_prehashes(_document(event))


def test_non_gs1_identifiers_are_kept() -> None:
    event = _with(epcList=["hdl:88.118.8/PUMP-0001", "urn:epc:id:sgtin:4012345.011111.1"])
    assert "epc=hdl:88.118.8/PUMP-0001" in prehash(event)


def test_ignored_user_fields_only_when_asked() -> None:
    from ledger.events.epc import normalise
    from ledger.events.hashing import compute_prehash

    name = "{https://ns.acme.example/epcis/}a1"
    assert name in compute_prehash(BASE, normalise=normalise)
    assert name not in compute_prehash(BASE, normalise=normalise, ignore_fields={name})


def _document(event: dict[str, Any]) -> dict[str, Any]:
    bare = {k: v for k, v in event.items() if k != "@context"}
    return document(bare, context=CONTEXT, creation_date="2024-05-01T10:00:00Z")


def test_apostrophe_semicolon_equals_stay_unescaped_like_the_reference() -> None:
    """DL URI syntax 1.2 percent-encodes ' ; = in the canonical Digital Link (our id_key form),
    but the reference hashes them as themselves (vector epclist_normalisation: a TPX with ');
    the hash follows the vectors, whichever form the key came in."""
    epc = "urn:epc:id:sgtin:4012345.011111.a'b;c=d%2F"
    event = _with(epcList=[epc])
    ours = prehash(event)
    assert "epc=https://id.gs1.org/01/04012345111118/21/a'b;c=d%2F" in ours
    assert [ours] == reference_prehashes(_document(event))
    dl = "https://brand.example/01/04012345111118/21/a%27b%3Bc%3Dd%2F"
    assert event_hash(_with(epcList=[dl])) == event_hash(event)


def test_every_gs1_scheme_hashes_like_the_reference() -> None:
    """One EPC URI of each GS1 scheme of TDS 2.1 6.3 and each class-level pattern of TDS 8."""
    event = _with(
        epcList=[
            "urn:epc:id:gsrn:4012345.0000006765",
            "urn:epc:id:gsrnp:4012345.0000000007",
            "urn:epc:id:gdti:4012345.00009.PO-4711",
            "urn:epc:id:cpi:0614141.123-A%23%2F.1234",
            "urn:epc:id:sgcn:4012345.99999.0044",
            "urn:epc:id:ginc:0614141.xyz47%2F11",
            "urn:epc:id:gsin:4012345.222333444",
            "urn:epc:id:itip:4012345.011111.01.02.987",
            "urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7'SDB",
            "urn:epc:id:pgln:999999999999.",
        ],
        quantityList=[
            {"epcClass": f"urn:epc:idpat:{pattern}", "quantity": 1}
            for pattern in (
                "upui:4012345.012345.*",
                "grai:4012345.66666.*",
                "gdti:4012345.55555.*",
                "sgcn:4012345.99999.*",
                "cpi:4012345.ABC.*",
                "itip:4012345.012345.01.02.*",
            )
        ],
    )
    ours = prehash(event)
    assert "urn:epc:" not in ours
    assert [ours] == reference_prehashes(_document(event))


def test_patterns_without_a_key_are_hashed_as_written() -> None:
    event = _with(quantityList=[{"epcClass": "urn:epc:idpat:grai:4012345.*.*", "quantity": 1}])
    assert "epcClass=urn:epc:idpat:grai:4012345.*.*" in prehash(event)


def _relabelled(event: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``event`` with the prefix ``old`` declared and written as ``new`` (keys and values)."""

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {rename(key): rename(child) for key, child in value.items()}
        if isinstance(value, list):
            return [rename(child) for child in value]
        if isinstance(value, str) and value.startswith(old + ":"):
            return new + value[len(old) :]
        return value

    renamed = rename({k: v for k, v in event.items() if k != "@context"})
    declared: dict[str, str] = {"acme": "https://ns.acme.example/epcis/"}
    assert CONTEXT[1] == declared
    context = [CONTEXT[0], {new if k == old else k: v for k, v in declared.items()}]
    return {"@context": context, **renamed}


def test_compact_iris_in_values_are_expanded() -> None:
    """CBV 2.0 §8.9 (one event, one hash): ``acme:v`` is the IRI it stands for, in any field."""
    event = _with(
        **{
            "acme:a1": "acme:v",
            "bizTransactionList": [{"type": "acme:contract", "bizTransaction": "acme:c/1"}],
        }
    )
    text = prehash(event)
    assert "{https://ns.acme.example/epcis/}a1=https://ns.acme.example/epcis/v" in text
    assert (
        "type=https://ns.acme.example/epcis/contractbizTransaction=https://ns.acme.example/epcis/c/1"
        in text
    )
    full = _with(
        **{
            "acme:a1": "https://ns.acme.example/epcis/v",
            "bizTransactionList": [
                {
                    "type": "https://ns.acme.example/epcis/contract",
                    "bizTransaction": "https://ns.acme.example/epcis/c/1",
                }
            ],
        }
    )
    assert event_hash(full) == event_hash(event)


def test_the_prefix_label_does_not_matter() -> None:
    event = _with(**{"acme:a1": {"acme:z2": "acme:v"}})
    assert event_hash(_relabelled(event, "acme", "x")) == event_hash(event)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cbvmda:sellByDate", "urn:epcglobal:cbv:mda:sellByDate"),  # a value IRI keeps the colon
        ("xsd:decimal", "http://www.w3.org/2001/XMLSchema#decimal"),
        ("cbv:BizStep-shipping", "https://ref.gs1.org/cbv/BizStep-shipping"),
        ("acme:", "https://ns.acme.example/epcis/"),
        ("hdl:88.118.8/PUMP-0001", "hdl:88.118.8/PUMP-0001"),  # undeclared prefix: a URI scheme
        ("acmex:v", "acmex:v"),
        ("acme://host/v", "acme://host/v"),  # JSON-LD 1.1 §IRI expansion: '//' makes it absolute
        ("urn:uuid:00000000-0000-4000-8000-000000000001", "urn:uuid:00000000-0000-4000-8000-000000000001"),
        ("12:30", "12:30"),
    ],
)  # fmt: skip
def test_which_values_are_compact_iris(value: str, expected: str) -> None:
    assert f"{{https://ns.acme.example/epcis/}}a1={expected}" in prehash(
        _with(**{"acme:a1": value})
    )


def test_a_declared_prefix_can_spell_a_gs1_key() -> None:
    """Expansion comes first, so a Digital Link written as a compact IRI is normalised too."""
    event = _with(epcList=["dl:04012345111118/21/1"])
    event["@context"] = [*CONTEXT, {"dl": "https://id.gs1.org/01/"}]
    assert "epc=https://id.gs1.org/01/04012345111118/21/1" in prehash(event)


def test_cbvmda_keys_are_written_in_the_xml_namespace() -> None:
    event = _with(action="ADD", ilmd={"cbvmda:lotNumber": "L1"})
    assert "ilmd{urn:epcglobal:cbv:mda}lotNumber=L1" in prehash(event)


def test_a_changed_context_is_read_again() -> None:
    """The prefix table of the last context is reused only while the context is equal to it."""
    context: list[Any] = [CONTEXT[0], {"acme": "https://ns.acme.example/epcis/"}]
    event = {**_with(**{"acme:a1": "acme:v"}), "@context": context}
    first = prehash(event)
    context[1]["acme"] = "https://other.example/"
    second = prehash(event)
    assert "{https://ns.acme.example/epcis/}a1=https://ns.acme.example/epcis/v" in first
    assert "{https://other.example/}a1=https://other.example/v" in second
    assert prehash({**event, "@context": None}).endswith("acme:a1=acme:v")
