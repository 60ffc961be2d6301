"""Hypothesis strategies for valid EPCIS 2.0 events and documents in the JSON-LD binding.

The events are realistic (the five event types with their lists, quantities, sensor data,
business transactions, user extensions…) and always valid. They also stay inside the region
where GS1's reference hash implementation is well defined, so that it can serve as an oracle:

* every ``bizTransaction`` has a ``type`` and lists it first (the reference fails without one
  and writes JSON keys in document order);
* user namespaces end with ``/`` and local names contain neither ``action`` nor ``eventTime``
  nor end in ``List`` (the reference decides what a user extension is by those substrings);
* extension text contains a digit and no ``e`` (so it is never a bare vocabulary term, which
  the reference would expand wherever it appears, nor an overflowing float like ``1e999``);
* no JSON ``true``/``false``/``null`` and no compact IRIs in values (binding-dependent there);
* fractional seconds never have a 5 in the fourth place (the reference rounds half to even,
  CBV 2.0 §8.9.2 half up) nor round up past ``.999``.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from hypothesis import strategies as st

from ledger.events.vocabulary import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    COMPONENTS,
    DISPOSITIONS,
    MEASUREMENT_TYPES,
    SENSOR_ALERT_TYPES,
    SOURCE_DEST_TYPES,
)
from ledger.events.xml_binding import EPCIS_CONTEXT_URL
from ledger.identifiers.gs1 import check_digit
from tests.helpers import document

PREFIXES = {"acme": "https://ns.acme.example/epcis/", "lab": "https://lab.example.org/v1/"}
CONTEXT: list[Any] = [EPCIS_CONTEXT_URL, dict(PREFIXES)]
COMPANY_PREFIXES = ("4012345", "0614141", "9506000", "4000001", "0012345")
LOCAL_NAMES = ("gate", "shift", "grade", "note", "lot", "batch", "operator", "zone", "origin")
UNITS = ("KGM", "LTR", "MTR", "H87", "CEL", "A93")

_ALNUM = string.ascii_letters + string.digits
_serial = st.text(alphabet=_ALNUM, min_size=1, max_size=12)
_digits = st.text(alphabet=string.digits, min_size=1, max_size=6)


@st.composite
def gtin_parts(draw: st.DrawFn) -> tuple[str, str]:
    """(company prefix, indicator + item reference) of a GTIN-14."""
    company = draw(st.sampled_from(COMPANY_PREFIXES))
    item = draw(
        st.text(alphabet=string.digits, min_size=13 - len(company), max_size=13 - len(company))
    )
    return company, item


def _gtin(company: str, item: str) -> str:
    body = item[0] + company + item[1:]
    return body + check_digit(body)


def _numeric(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=size, max_size=size)


@st.composite
def other_gs1_ids(draw: st.DrawFn) -> str:
    """An EPC URI of the other GS1 schemes (TDS 2.1 6.3.6-6.3.15), within the reference's
    patterns: CPI serials without leading zeros, alphanumeric serials."""
    company = draw(st.sampled_from(COMPANY_PREFIXES))
    n = len(company)
    serial = draw(_serial)
    scheme = draw(
        st.sampled_from(
            ("gsrn", "gsrnp", "gdti", "cpi", "sgcn", "ginc", "gsin", "itip", "upui", "pgln")
        )
    )
    if scheme in ("gsrn", "gsrnp"):
        return f"urn:epc:id:{scheme}:{company}.{draw(_numeric(17 - n))}"
    if scheme == "gdti":
        return f"urn:epc:id:gdti:{company}.{draw(_numeric(12 - n))}.{serial}"
    if scheme == "cpi":
        reference = draw(
            st.text(alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=10)
        )
        number = draw(st.integers(0, 10**12 - 1))
        return f"urn:epc:id:cpi:{company}.{reference}.{number}"
    if scheme == "sgcn":
        return f"urn:epc:id:sgcn:{company}.{draw(_numeric(12 - n))}.{draw(_digits)}"
    if scheme == "ginc":
        return f"urn:epc:id:ginc:{company}.{serial}"
    if scheme == "gsin":
        return f"urn:epc:id:gsin:{company}.{draw(_numeric(16 - n))}"
    if scheme == "pgln":
        return f"urn:epc:id:pgln:{company}.{draw(_numeric(12 - n))}"
    item = draw(_numeric(13 - n))
    if scheme == "itip":
        piece, total = draw(st.sampled_from((("01", "02"), ("02", "02"), ("03", "10"))))
        return f"urn:epc:id:itip:{company}.{item}.{piece}.{total}.{serial}"
    return f"urn:epc:id:upui:{company}.{item}.{serial}"


@st.composite
def instance_ids(draw: st.DrawFn) -> str:
    """A serialised item: SGTIN as EPC URI or Digital Link, an SSCC, another GS1 key or a
    non-GS1 URI."""
    company, item = draw(gtin_parts())
    serial = draw(_serial)
    form = draw(st.integers(0, 6))
    if form == 6:
        return draw(other_gs1_ids())
    if form == 0:
        return f"urn:epc:id:sgtin:{company}.{item}.{serial}"
    if form == 1:
        host = draw(st.sampled_from(("https://id.gs1.org", "https://dl.acme.example")))
        return f"{host}/01/{_gtin(company, item)}/21/{serial}"
    if form == 2:
        extension = draw(
            st.text(alphabet=string.digits, min_size=17 - len(company), max_size=17 - len(company))
        )
        return f"urn:epc:id:sscc:{company}.{extension}"
    if form == 3:
        return f"https://assets.acme.example/pump/{serial}"
    if form == 4:
        return f"hdl:88.118.8/PUMP-{draw(_digits)}"
    return f"urn:epc:id:giai:{company}.{serial}"


@st.composite
def class_ids(draw: st.DrawFn) -> str:
    """A class of trade items: LGTIN as EPC URI or Digital Link, a GTIN, or a class-level EPC
    pattern (TDS 8)."""
    company, item = draw(gtin_parts())
    lot = draw(_serial)
    form = draw(st.integers(0, 3))
    if form == 0:
        return f"urn:epc:class:lgtin:{company}.{item}.{lot}"
    if form == 1:
        return f"https://id.gs1.org/01/{_gtin(company, item)}/10/{lot}"
    if form == 2:
        return f"https://id.gs1.org/01/{_gtin(company, item)}"
    reference = draw(_numeric(12 - len(company)))
    return draw(
        st.sampled_from(
            (
                f"urn:epc:idpat:sgtin:{company}.{item}.*",
                f"urn:epc:idpat:upui:{company}.{item}.*",
                f"urn:epc:idpat:itip:{company}.{item}.01.02.*",
                f"urn:epc:idpat:grai:{company}.{reference}.*",
                f"urn:epc:idpat:gdti:{company}.{reference}.*",
                f"urn:epc:idpat:sgcn:{company}.{reference}.*",
                f"urn:epc:idpat:cpi:{company}.{reference}A-1.*",
            )
        )
    )


@st.composite
def location_ids(draw: st.DrawFn) -> str:
    """A location: SGLN, GLN Digital Link (with or without extension) or a geo URI."""
    company = draw(st.sampled_from(COMPANY_PREFIXES))
    reference = draw(
        st.text(alphabet=string.digits, min_size=12 - len(company), max_size=12 - len(company))
    )
    form = draw(st.integers(0, 3))
    if form == 0:
        extension = draw(st.sampled_from(("0", "1", "400", "A7")))
        return f"urn:epc:id:sgln:{company}.{reference}.{extension}"
    gln = company + reference + check_digit(company + reference)
    if form == 1:
        return f"https://id.gs1.org/414/{gln}"
    if form == 2:
        return f"https://id.gs1.org/414/{gln}/254/{draw(_digits)}"
    return f"geo:{draw(st.integers(-89, 89))}.{draw(_digits)},{draw(st.integers(0, 179))}.5"


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 timestamps with varied offsets and 0-7 fractional digits."""
    date = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31)))
    hour, minute, second = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    digits = draw(st.text(alphabet=string.digits, max_size=7))
    if len(digits) > 3 and (digits[3] == "5" or (digits[:3] == "999" and digits[3] > "5")):
        digits = digits[:3]
    fraction = f".{digits}" if digits else ""
    offset = draw(
        st.sampled_from(("Z", "+00:00", "+01:00", "-06:00", "+05:30", "+14:00", "-11:45"))
    )
    return f"{date.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"


_offsets = st.sampled_from(("+00:00", "+01:00", "+02:00", "-06:00", "+05:30", "+14:00", "-13:59"))
_text = (
    st.builds(
        lambda word, number: f"{word}{number}",
        st.text(alphabet="abcdfghijkmnopqrstuvwxyzABCDFGHIJK -_", max_size=8),
        st.integers(0, 10**6),
    )
    .map(str.strip)
    .filter(lambda s: any(c.isdigit() for c in s))
)
_numbers = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(
        lambda f: round(f, 4)
    ),
)


def _vocabulary(terms: frozenset[str], web_prefix: str, user: str) -> st.SearchStrategy[str]:
    ordered = sorted(terms)
    return st.one_of(
        st.sampled_from(ordered),
        st.sampled_from(ordered).map(lambda t: web_prefix + t),
        _digits.map(lambda n: f"{user}{n}"),
    )


biz_steps = _vocabulary(
    BIZ_STEPS, "https://ref.gs1.org/cbv/BizStep-", "https://voc.acme.example/step/s"
)
dispositions = _vocabulary(
    DISPOSITIONS, "https://ref.gs1.org/cbv/Disp-", "https://voc.acme.example/disp/d"
)


def _extension_key() -> st.SearchStrategy[str]:
    return st.builds(
        lambda prefix, name: f"{prefix}:{name}",
        st.sampled_from(sorted(PREFIXES)),
        st.sampled_from(LOCAL_NAMES),
    )


_extension_objects: st.SearchStrategy[Any] = st.recursive(
    st.one_of(_text, _numbers),
    lambda children: st.dictionaries(_extension_key(), children, min_size=1, max_size=3),
    max_leaves=5,
)
#: Extension values: scalars, objects, and lists of those (lists of lists have no XML form).
extension_values: st.SearchStrategy[Any] = st.one_of(
    _extension_objects, st.lists(_extension_objects, min_size=1, max_size=3)
)


def extensions(max_size: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """Some user extension fields."""
    return st.dictionaries(_extension_key(), extension_values, max_size=max_size)


@st.composite
def quantity_elements(draw: st.DrawFn) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": draw(class_ids())}
    if draw(st.booleans()):
        element["quantity"] = draw(
            st.one_of(st.integers(1, 10**5), st.floats(0.001, 1e4).map(lambda f: round(f, 3)))
        )
        if draw(st.booleans()):
            element["uom"] = draw(st.sampled_from(UNITS))
    return element


@st.composite
def biz_transactions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        _vocabulary(
            BIZ_TRANSACTION_TYPES, "https://ref.gs1.org/cbv/BTT-", "https://voc.acme.example/btt/t"
        )
    )
    value = draw(
        st.one_of(
            _digits.map(lambda n: f"urn:epcglobal:cbv:bt:4012345000009:{n}"),
            _digits.map(lambda n: f"http://transaction.acme.example/po/{n}"),
        )
    )
    return {"type": kind, "bizTransaction": value}


def _parties(key: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda kind, value: {"type": kind, key: value},
        _vocabulary(
            SOURCE_DEST_TYPES, "https://ref.gs1.org/cbv/SDT-", "https://voc.acme.example/sdt/t"
        ),
        location_ids(),
    )


@st.composite
def sensor_reports(draw: st.DrawFn) -> dict[str, Any]:
    report: dict[str, Any] = {"type": draw(st.sampled_from(sorted(MEASUREMENT_TYPES)))}
    if draw(st.booleans()):
        report["exception"] = draw(st.sampled_from(sorted(SENSOR_ALERT_TYPES)))
    if draw(st.booleans()):
        report["deviceID"] = f"urn:epc:id:giai:4000001.{draw(_digits)}"
    if draw(st.booleans()):
        report["time"] = draw(timestamps())
    if draw(st.booleans()):
        report["value"] = draw(_numbers)
    else:
        report["minValue"] = draw(_numbers)
        report["maxValue"] = draw(_numbers)
    if draw(st.booleans()):
        report["component"] = draw(st.sampled_from(sorted(COMPONENTS)))
    if draw(st.booleans()):
        report["stringValue"] = draw(_text)
    if draw(st.booleans()):
        report["hexBinaryValue"] = draw(
            st.text(alphabet="0123456789abcdef", min_size=2, max_size=8)
        )
    if draw(st.booleans()):
        report["bizRules"] = f"https://rules.acme.example/r/{draw(_digits)}"
    report["uom"] = draw(st.sampled_from(UNITS))
    report.update(draw(extensions(1)))
    return report


@st.composite
def sensor_elements(draw: st.DrawFn) -> dict[str, Any]:
    element: dict[str, Any] = {}
    if draw(st.booleans()):
        metadata: dict[str, Any] = {"time": draw(timestamps())}
        if draw(st.booleans()):
            metadata["deviceID"] = f"urn:epc:id:giai:4000001.{draw(_digits)}"
        metadata.update(draw(extensions(1)))
        element["sensorMetadata"] = metadata
    element["sensorReport"] = draw(st.lists(sensor_reports(), min_size=1, max_size=3))
    element.update(draw(extensions(1)))
    return element


@st.composite
def locations(draw: st.DrawFn) -> dict[str, Any]:
    return {"id": draw(location_ids()), **draw(extensions(1))}


@st.composite
def events(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """One valid event of any (or the given) type, without ``@context``."""
    kind = kind or draw(
        st.sampled_from(
            (
                "ObjectEvent",
                "AggregationEvent",
                "TransactionEvent",
                "TransformationEvent",
                "AssociationEvent",
            )
        )
    )
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": draw(timestamps()),
        "eventTimeZoneOffset": draw(_offsets),
    }
    if draw(st.booleans()):
        event["eventID"] = f"urn:uuid:{draw(st.uuids())}"
    if draw(st.booleans()):
        event["recordTime"] = draw(timestamps())
    if draw(st.integers(0, 4)) == 0:
        event["certificationInfo"] = draw(
            st.one_of(
                _digits.map(lambda n: f"https://cert.acme.example/c/{n}"),
                st.lists(
                    _digits.map(lambda n: f"https://cert.acme.example/c/{n}"),
                    min_size=1,
                    max_size=2,
                    unique=True,
                ),
            )
        )
    epcs = st.lists(instance_ids(), min_size=1, max_size=4, unique=True)
    quantities = st.lists(quantity_elements(), min_size=1, max_size=3)
    action = draw(st.sampled_from(("OBSERVE", "ADD", "DELETE")))
    if kind == "ObjectEvent":
        if draw(st.booleans()):
            event["epcList"] = draw(epcs)
        if "epcList" not in event or draw(st.booleans()):
            event["quantityList"] = draw(quantities)
        event["action"] = action
    elif kind in ("AggregationEvent", "AssociationEvent"):
        company = draw(st.sampled_from(COMPANY_PREFIXES))
        digits = draw(
            st.text(alphabet=string.digits, min_size=17 - len(company), max_size=17 - len(company))
        )
        event["parentID"] = f"urn:epc:id:sscc:{company}.{digits}"
        event["childEPCs"] = draw(epcs)
        if draw(st.booleans()):
            event["childQuantityList"] = draw(quantities)
        event["action"] = action
    elif kind == "TransactionEvent":
        event["epcList"] = draw(epcs)
        event["action"] = action
    else:
        if draw(st.booleans()):
            event["inputEPCList"] = draw(epcs)
        else:
            event["inputQuantityList"] = draw(quantities)
        if draw(st.booleans()):
            event["outputEPCList"] = draw(epcs)
        else:
            event["outputQuantityList"] = draw(quantities)
        if draw(st.booleans()):
            event["transformationID"] = f"urn:uuid:{draw(st.uuids())}"
    if draw(st.booleans()):
        event["bizStep"] = draw(biz_steps)
    if draw(st.booleans()):
        event["disposition"] = draw(dispositions)
    if kind in ("ObjectEvent", "TransformationEvent") and draw(st.integers(0, 3)) == 0:
        dispositions_set = st.lists(
            st.sampled_from(sorted(DISPOSITIONS)), min_size=1, max_size=2, unique=True
        )
        event["persistentDisposition"] = draw(
            st.one_of(
                st.builds(lambda s: {"set": s}, dispositions_set),
                st.builds(lambda s, u: {"set": s, "unset": u}, dispositions_set, dispositions_set),
            )
        )
    if draw(st.booleans()):
        event["readPoint"] = draw(locations())
    if draw(st.booleans()):
        event["bizLocation"] = draw(locations())
    if kind == "TransactionEvent" or draw(st.booleans()):
        event["bizTransactionList"] = draw(st.lists(biz_transactions(), min_size=1, max_size=3))
    if draw(st.integers(0, 2)) == 0:
        event["sourceList"] = draw(st.lists(_parties("source"), min_size=1, max_size=2))
    if draw(st.integers(0, 2)) == 0:
        event["destinationList"] = draw(st.lists(_parties("destination"), min_size=1, max_size=2))
    if draw(st.integers(0, 2)) == 0:
        event["sensorElementList"] = draw(st.lists(sensor_elements(), min_size=1, max_size=2))
    may_have_ilmd = kind == "TransformationEvent" or (
        kind == "ObjectEvent" and event.get("action") == "ADD"
    )
    if may_have_ilmd and draw(st.booleans()):
        event["ilmd"] = draw(extensions(3))
    if draw(st.integers(0, 4)) == 0:
        event["errorDeclaration"] = {
            "declarationTime": draw(timestamps()),
            "reason": "incorrect_data",
        }
    event.update(draw(extensions(3)))
    return event


@st.composite
def documents(draw: st.DrawFn, max_events: int = 3) -> dict[str, Any]:
    """An ``EPCISDocument`` with 1-``max_events`` valid events."""
    created = draw(timestamps())
    drawn = draw(st.lists(events(), min_size=1, max_size=max_events))
    return document(*drawn, context=CONTEXT, creation_date=created)
