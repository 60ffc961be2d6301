"""CBV 2.0 and GS1 Web Vocabulary terms used as EPCIS field values.

EPCIS 2.0 writes standard vocabulary values in three ways: the bare term of the JSON-LD binding
(``shipping``), the URN of EPCIS 1.x and the XML binding (``urn:epcglobal:cbv:bizstep:shipping``)
and the GS1 Web URI (``https://ref.gs1.org/cbv/BizStep-shipping``), also as a compact IRI
(``cbv:BizStep-shipping``). :func:`expand` turns any of them into the Web URI, :func:`shorten`
into the bare term. Values that are other URIs (a user's own vocabulary) are kept as they are;
unknown bare words are errors.

The term tables below are ours; ``tests/ledger/events/test_vocabulary.py`` checks them against
GS1's JSON-LD contexts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ledger.errors import InvalidInputError

VocabularyKind = Literal[
    "bizStep",
    "disposition",
    "bizTransactionType",
    "sourceDestType",
    "errorReason",
    "measurementType",
    "sensorAlertType",
    "component",
]

CBV_WEB: Final = "https://ref.gs1.org/cbv/"
GS1_VOC: Final = "https://gs1.org/voc/"

#: Compact-IRI prefixes every EPCIS document knows (the EPCIS 2.0 JSON-LD context defines them).
STANDARD_PREFIXES: Final[dict[str, str]] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV_WEB,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

#: XML namespace of the CBV master-data attributes used as ILMD elements
#: (``<cbvmda:lotNumber xmlns:cbvmda="urn:epcglobal:cbv:mda">``). The JSON-LD context's
#: ``cbvmda`` prefix is this plus ``:``, so that ``cbvmda:lotNumber`` expands to an IRI.
CBV_MDA_NAMESPACE: Final = "urn:epcglobal:cbv:mda"

BIZ_STEPS: Final = frozenset(
    {
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
        "creating_class_instance", "cycle_counting", "decommissioning", "departing",
        "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding",
        "inspecting", "installing", "killing", "loading", "other", "packing", "picking",
        "receiving", "removing", "repackaging", "repairing", "replacing", "reserving",
        "retail_selling", "sampling", "sensor_reporting", "shipping", "staging_outbound",
        "stock_taking", "stocking", "storing", "transporting", "unloading", "unpacking",
        "void_shipping",
    }
)  # fmt: skip

DISPOSITIONS: Final = frozenset(
    {
        "active", "available", "completeness_verified", "completeness_inferred", "conformant",
        "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
        "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
        "mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
        "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
        "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
        "unavailable", "unknown",
    }
)  # fmt: skip

BIZ_TRANSACTION_TYPES: Final = frozenset(
    {
        "bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
        "testprd", "testres", "upevt",
    }
)  # fmt: skip

SOURCE_DEST_TYPES: Final = frozenset({"owning_party", "possessing_party", "location"})

ERROR_REASONS: Final = frozenset({"did_not_occur", "incorrect_data"})

MEASUREMENT_TYPES: Final = frozenset(
    {
        "AbsoluteHumidity", "AbsorbedDose", "AbsorbedDoseRate", "Acceleration", "Radioactivity",
        "Altitude", "AmountOfSubstance", "AmountOfSubstancePerUnitVolume", "Angle",
        "AngularAcceleration", "AngularMomentum", "AngularVelocity", "Area", "Capacitance",
        "Conductance", "Conductivity", "Count", "Density", "Dimensionless", "DoseEquivalent",
        "DoseEquivalentRate", "DynamicViscosity", "ElectricCharge", "ElectricCurrent",
        "ElectricCurrentDensity", "ElectricFieldStrength", "Energy", "Exposure", "Force",
        "Frequency", "Illuminance", "Inductance", "Irradiance", "KinematicViscosity", "Length",
        "LinearMomentum", "Luminance", "LuminousFlux", "LuminousIntensity", "MagneticFlux",
        "MagneticFluxDensity", "MagneticVectorPotential", "Mass", "MassConcentration",
        "MassFlowRate", "MassPerAreaTime", "MemoryCapacity", "MolalityOfSolute", "MolarEnergy",
        "MolarMass", "MolarVolume", "Power", "Pressure", "RadiantFlux", "RadiantIntensity",
        "RelativeHumidity", "Resistance", "Resistivity", "SolidAngle", "SpecificVolume", "Speed",
        "SurfaceDensity", "SurfaceTension", "Temperature", "Time", "Torque", "Voltage", "Volume",
        "VolumeFlowRate", "VolumeFraction", "VolumetricFlux", "Wavenumber",
    }
)  # fmt: skip

SENSOR_ALERT_TYPES: Final = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})

COMPONENTS: Final = frozenset(
    {
        "x", "y", "z", "axial_distance", "azimuth", "height", "spherical_radius", "polar_angle",
        "elevation_angle", "easting", "northing", "latitude", "longitude", "altitude",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One standard vocabulary: its terms and the URI forms they take."""

    kind: VocabularyKind
    #: Human name used in error messages.
    label: str
    terms: frozenset[str]
    #: Web URI of a term is ``web_prefix + term``.
    web_prefix: str
    #: URN of a term is ``urn_prefix + term`` (only CBV vocabularies have URNs).
    urn_prefix: str | None
    #: JSON binding forbids values starting with these (the schema's ``vocab-other-uri`` and
    #: ``vocab-nonGS1WebVoc-uri``): there the bare term must be used.
    forbidden_in_json: tuple[str, ...]

    def web_uri(self, term: str) -> str:
        """The GS1 Web URI of ``term`` (which must be one of :attr:`terms`)."""
        return self.web_prefix + term


_CBV_FORBIDDEN: Final = ("urn:epcglobal:cbv", "http://ns.gs1.org/cbv/", "https://ns.gs1.org/cbv/")
_VOC_FORBIDDEN: Final = (
    "http://gs1.org/voc/",
    "https://gs1.org/voc/",
    "http://www.gs1.org/voc/",
    "https://www.gs1.org/voc/",
)

VOCABULARIES: Final[dict[VocabularyKind, Vocabulary]] = {
    v.kind: v
    for v in (
        Vocabulary(
            "bizStep",
            "CBV business step",
            BIZ_STEPS,
            CBV_WEB + "BizStep-",
            "urn:epcglobal:cbv:bizstep:",
            _CBV_FORBIDDEN,
        ),
        Vocabulary(
            "disposition",
            "CBV disposition",
            DISPOSITIONS,
            CBV_WEB + "Disp-",
            "urn:epcglobal:cbv:disp:",
            _CBV_FORBIDDEN,
        ),
        Vocabulary(
            "bizTransactionType",
            "CBV business transaction type",
            BIZ_TRANSACTION_TYPES,
            CBV_WEB + "BTT-",
            "urn:epcglobal:cbv:btt:",
            _CBV_FORBIDDEN,
        ),
        Vocabulary(
            "sourceDestType",
            "CBV source/destination type",
            SOURCE_DEST_TYPES,
            CBV_WEB + "SDT-",
            "urn:epcglobal:cbv:sdt:",
            _CBV_FORBIDDEN,
        ),
        Vocabulary(
            "errorReason",
            "CBV error reason",
            ERROR_REASONS,
            CBV_WEB + "ER-",
            "urn:epcglobal:cbv:er:",
            _CBV_FORBIDDEN,
        ),
        Vocabulary(
            "measurementType",
            "GS1 measurement type",
            MEASUREMENT_TYPES,
            GS1_VOC,
            None,
            _VOC_FORBIDDEN,
        ),
        Vocabulary(
            "sensorAlertType",
            "GS1 sensor alert type",
            SENSOR_ALERT_TYPES,
            GS1_VOC,
            None,
            _VOC_FORBIDDEN,
        ),
        Vocabulary(
            "component",
            "CBV sensor component",
            COMPONENTS,
            CBV_WEB + "Comp-",
            None,
            _CBV_FORBIDDEN,
        ),
    )
}

#: URN prefix of every CBV vocabulary that has one, mapped to its Web URI prefix.
URN_TO_WEB: Final[dict[str, str]] = {
    v.urn_prefix: v.web_prefix for v in VOCABULARIES.values() if v.urn_prefix is not None
}


class VocabularyError(InvalidInputError):
    """A value that is neither a standard term nor a URI."""

    problem = "invalid-vocabulary-value"


def expand_curie(value: str) -> str:
    """Expand the standard compact IRIs ``cbv:…`` and ``gs1:…``; return other values unchanged."""
    if value.startswith("cbv:"):
        return CBV_WEB + value[4:]
    if value.startswith("gs1:"):
        return GS1_VOC + value[4:]
    return value


def term_of(kind: VocabularyKind, value: str) -> str | None:
    """The bare term ``value`` stands for in vocabulary ``kind``, in any of its forms, or None."""
    vocab = VOCABULARIES[kind]
    if value in vocab.terms:
        return value
    candidate: str | None = None
    full = expand_curie(value)
    if full.startswith(vocab.web_prefix):
        candidate = full[len(vocab.web_prefix) :]
    elif vocab.urn_prefix is not None and value.startswith(vocab.urn_prefix):
        candidate = value[len(vocab.urn_prefix) :]
    if candidate is not None and candidate in vocab.terms:
        return candidate
    return None


def is_uri_like(value: str) -> bool:
    """Whether ``value`` has a URI scheme (``scheme:rest``), as user vocabulary values must."""
    colon = value.find(":")
    if colon <= 0 or colon == len(value) - 1:
        return False
    scheme = value[:colon]
    return (
        scheme[0].isascii()
        and scheme[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c in "+-.") for c in scheme)
    )


def expand(kind: VocabularyKind, value: str) -> str:
    """The canonical GS1 Web URI of a standard value; user URIs are returned unchanged.

    >>> expand("bizStep", "urn:epcglobal:cbv:bizstep:shipping")
    'https://ref.gs1.org/cbv/BizStep-shipping'

    Raises :class:`VocabularyError` for a bare word that is not a term of ``kind``.
    """
    term = term_of(kind, value)
    if term is not None:
        return VOCABULARIES[kind].web_uri(term)
    if not is_uri_like(value):
        raise VocabularyError(f"unknown {VOCABULARIES[kind].label} {value!r}", field=kind)
    return value


def shorten(kind: VocabularyKind, value: str) -> str:
    """The bare term of a standard value (``shipping``); user URIs are returned unchanged.

    Raises :class:`VocabularyError` for a bare word that is not a term of ``kind``.
    """
    term = term_of(kind, value)
    if term is not None:
        return term
    if not is_uri_like(value):
        raise VocabularyError(f"unknown {VOCABULARIES[kind].label} {value!r}", field=kind)
    return value


def json_value_problem(kind: VocabularyKind, value: str) -> str | None:
    """Why ``value`` may not stand in a ``kind`` field of the JSON binding, or None if it may.

    The EPCIS 2.0 JSON schema accepts a bare term or any URI except the URN / GS1 Web
    Vocabulary forms it reserves for the bare terms; this says which rule ``value`` breaks.
    """
    vocab = VOCABULARIES[kind]
    if value in vocab.terms:
        return None
    if not is_uri_like(value):
        return f"unknown {vocab.label} {value!r}"
    for prefix in vocab.forbidden_in_json:
        if value.startswith(prefix):
            term = term_of(kind, value)
            if term is not None:
                return f"the JSON binding writes this {vocab.label} as the bare term {term!r}"
            return f"{value!r} is not a {vocab.label}"
    return None
