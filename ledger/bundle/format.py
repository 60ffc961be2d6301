"""The bundle file format, ``tracechain-bundle/1``, as typed classes.

A bundle is one JSON object (:class:`Bundle`)::

    {"format": "tracechain-bundle/1", "created_at": "...",
     "scope": {"identifier", "lot", "from", "to", "trace"},          # Scope
     "chain": {"chain_id", "genesis_hash", "contract", "code_hash",    # ChainInfo
               "deployed_block"},
     "members": {"<org id>": {"name"}},                               # Member
     "events": [{"event", "hash_id", "event_hash", "id_key",          # BundledEvent
                 "org_id", "recorder", "signature", "root", "proof"}],
     "batches": {"<root>": {"root", "tx_hash", "block", "recorder",   # BundledBatch
                            "org_id", "event_count", "leaf_version",
                            "leaves", "events"}},
     "span": {"from_block", "to_block", "roots", "event_anchors"}}    # Span

* an event is the EPCIS event exactly as captured, its CBV 2.0 hash ID, event hash, identifier
  key, recording member and address, signature (``null`` if the member did not sign it), batch
  root (``null`` while it waits to be anchored) and Merkle proof;
* a batch is a root with its transaction, block, member, signing address, event count, leaf
  version (:mod:`ledger.merkle`; 1 when absent), the batch's complete list of leaves (opaque
  hashes: the batch rebuilds from them, so an event missing from the ledger shows) and the
  hashes of the bundled events it holds;
* the span is the blocks from the first to the last bundled batch, with every root and
  single-event anchor the ledger knows in them.

:meth:`Bundle.load` checks the *shape* of a bundle (every member the verifier reads is there,
with its JSON type) and refuses anything else with a :class:`BundleFormatError` naming the
member (``events[3].hash_id``); whether the values are *true* (hashes, proofs, roots, the chain)
is :func:`ledger.bundle.verify_bundle`'s question, answered with findings. :meth:`Bundle.dump`
gives the JSON-ready dict, members in the order above, so that a bundle written by the exporter
reads back and dumps to the same text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from eth_utils.address import to_checksum_address

from ledger.errors import InvalidInputError
from ledger.merkle import LEAF_EVENT_HASH

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleFormatError",
    "BundledBatch",
    "BundledEvent",
    "ChainInfo",
    "Member",
    "Scope",
    "Span",
    "dump_bundle",
    "load_bundle",
]

BUNDLE_FORMAT: Final = "tracechain-bundle/1"

#: A trace direction a bundle's scope may name (:data:`ledger.trace.Direction`).
TraceDirection = Literal["forward", "backward"]


class BundleFormatError(InvalidInputError):
    """A bundle that is not a well-formed ``tracechain-bundle/1`` document: ``field`` names the
    member at fault (``events[3].hash_id``)."""


# ---------------------------------------------------------------------- reading JSON values

_MISSING: Final = object()


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BundleFormatError("not a JSON object", field=path or "bundle")
    return value


def _member(data: Mapping[str, Any], key: str, path: str, default: Any = _MISSING) -> Any:
    if key in data:
        return data[key]
    if default is _MISSING:
        raise BundleFormatError("missing", field=_at(path, key))
    return default


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise BundleFormatError("not a string", field=path)
    return value


def _optional_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BundleFormatError("not an integer", field=path)
    return value


def _optional_int(value: Any, path: str) -> int | None:
    return None if value is None else _int(value, path)


def _strs(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise BundleFormatError("not a JSON array of strings", field=path)
    return tuple(_str(item, f"{path}[{index}]") for index, item in enumerate(value))


def _hex_strs(value: Any, path: str) -> tuple[str, ...]:
    out = _strs(value, path)
    for index, item in enumerate(out):
        try:
            if not item.startswith("0x"):
                raise ValueError(item)
            bytes.fromhex(item[2:])
        except ValueError:
            raise BundleFormatError("not 0x-hex", field=f"{path}[{index}]") from None
    return out


# ---------------------------------------------------------------------- the parts


@dataclass(frozen=True, slots=True)
class Scope:
    """What the exporter was asked for (informative: the verifier does not read it)."""

    identifier: str | None = None
    lot: str | None = None
    #: Event times at or after (``from``) and before (``to``), RFC 3339.
    from_time: str | None = None
    to_time: str | None = None
    trace: TraceDirection | None = None

    @classmethod
    def load(cls, data: Any, path: str = "scope") -> Scope:
        """The scope a JSON object describes.

        Raises:
            BundleFormatError: a member of the wrong type.
        """
        data = _object(data, path)
        trace = data.get("trace")
        if trace not in (None, "forward", "backward"):
            raise BundleFormatError("not forward, backward or null", field=_at(path, "trace"))
        return cls(
            identifier=_optional_str(data.get("identifier"), _at(path, "identifier")),
            lot=_optional_str(data.get("lot"), _at(path, "lot")),
            from_time=_optional_str(data.get("from"), _at(path, "from")),
            to_time=_optional_str(data.get("to"), _at(path, "to")),
            trace=cast("TraceDirection | None", trace),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {
            "identifier": self.identifier,
            "lot": self.lot,
            "from": self.from_time,
            "to": self.to_time,
            "trace": self.trace,
        }


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """The chain and the TraceAnchor contract the bundle's anchors are on."""

    chain_id: int
    genesis_hash: str
    #: The TraceAnchor address.
    contract: str
    #: keccak256 of the contract's runtime code.
    code_hash: str
    deployed_block: int | None = None

    @classmethod
    def load(cls, data: Any, path: str = "chain") -> ChainInfo:
        """The chain a JSON object describes.

        Raises:
            BundleFormatError: a missing member, one of the wrong type, or a contract that is
                no address.
        """
        data = _object(data, path)
        contract = _str(_member(data, "contract", path), _at(path, "contract"))
        try:
            to_checksum_address(contract)
        except ValueError:
            raise BundleFormatError("not an address", field=_at(path, "contract")) from None
        return cls(
            chain_id=_int(_member(data, "chain_id", path), _at(path, "chain_id")),
            genesis_hash=_str(_member(data, "genesis_hash", path), _at(path, "genesis_hash")),
            contract=contract,
            code_hash=_str(_member(data, "code_hash", path), _at(path, "code_hash")),
            deployed_block=_optional_int(data.get("deployed_block"), _at(path, "deployed_block")),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "contract": self.contract,
            "code_hash": self.code_hash,
            "deployed_block": self.deployed_block,
        }


@dataclass(frozen=True, slots=True)
class Member:
    """A member whose events the bundle holds (keyed by its organisation id)."""

    name: str

    @classmethod
    def load(cls, data: Any, path: str) -> Member:
        """The member a JSON object describes.

        Raises:
            BundleFormatError: no name, or not a string.
        """
        data = _object(data, path)
        return cls(_str(_member(data, "name", path), _at(path, "name")))

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {"name": self.name}


@dataclass(frozen=True, slots=True)
class BundledEvent:
    """One event with what verifies it."""

    #: The EPCIS event exactly as captured.
    event: dict[str, Any]
    hash_id: str
    event_hash: str
    id_key: str
    org_id: str | None = None
    recorder: str | None = None
    signature: str | None = None
    #: Its batch's root; None while it waits to be anchored.
    root: str | None = None
    proof: tuple[str, ...] = ()

    @classmethod
    def load(cls, data: Any, path: str) -> BundledEvent:
        """The event entry a JSON object describes.

        Raises:
            BundleFormatError: a missing member or one of the wrong type.
        """
        data = _object(data, path)
        event = _member(data, "event", path)
        if not isinstance(event, dict):
            raise BundleFormatError("not a JSON object", field=_at(path, "event"))
        return cls(
            event=event,
            hash_id=_str(_member(data, "hash_id", path), _at(path, "hash_id")),
            event_hash=_str(_member(data, "event_hash", path), _at(path, "event_hash")),
            id_key=_str(_member(data, "id_key", path), _at(path, "id_key")),
            org_id=_optional_str(data.get("org_id"), _at(path, "org_id")),
            recorder=_optional_str(data.get("recorder"), _at(path, "recorder")),
            signature=_optional_str(data.get("signature"), _at(path, "signature")),
            root=_optional_str(data.get("root"), _at(path, "root")),
            proof=_strs(data.get("proof") or [], _at(path, "proof")),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {
            "event": self.event,
            "hash_id": self.hash_id,
            "event_hash": self.event_hash,
            "id_key": self.id_key,
            "org_id": self.org_id,
            "recorder": self.recorder,
            "signature": self.signature,
            "root": self.root,
            "proof": list(self.proof),
        }


@dataclass(frozen=True, slots=True)
class BundledBatch:
    """One anchored batch of the bundled events, with every leaf it holds."""

    root: str
    tx_hash: str
    block: int
    #: The signing address that anchored it.
    recorder: str
    org_id: str
    event_count: int
    leaf_version: int = LEAF_EVENT_HASH
    #: Every leaf of the batch (0x-hex, sorted), bundled or not.
    leaves: tuple[str, ...] = ()
    #: Event hashes of the bundled events it holds.
    events: tuple[str, ...] = ()

    @classmethod
    def load(cls, data: Any, path: str, root: str) -> BundledBatch:
        """The batch a JSON object describes (``root``: its key, when it names none).

        Raises:
            BundleFormatError: a missing member, one of the wrong type, or a leaf that is not
                0x-hex.
        """
        data = _object(data, path)
        return cls(
            root=_str(data.get("root", root), _at(path, "root")),
            tx_hash=_str(_member(data, "tx_hash", path), _at(path, "tx_hash")),
            block=_int(_member(data, "block", path), _at(path, "block")),
            recorder=_str(_member(data, "recorder", path), _at(path, "recorder")),
            org_id=_str(_member(data, "org_id", path), _at(path, "org_id")),
            event_count=_int(_member(data, "event_count", path), _at(path, "event_count")),
            leaf_version=_int(data.get("leaf_version", LEAF_EVENT_HASH), _at(path, "leaf_version")),
            leaves=_hex_strs(_member(data, "leaves", path), _at(path, "leaves")),
            events=_strs(data.get("events") or [], _at(path, "events")),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {
            "root": self.root,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "recorder": self.recorder,
            "org_id": self.org_id,
            "event_count": self.event_count,
            "leaf_version": self.leaf_version,
            "leaves": list(self.leaves),
            "events": list(self.events),
        }


@dataclass(frozen=True, slots=True)
class Span:
    """The blocks from the first to the last bundled batch (None: no batch), with every root
    and single-event anchor the ledger knows in them."""

    from_block: int | None = None
    to_block: int | None = None
    roots: tuple[str, ...] = ()
    #: Event hashes anchored one by one in the span that are events of the ledger.
    event_anchors: tuple[str, ...] = ()

    @classmethod
    def load(cls, data: Any, path: str = "span") -> Span:
        """The span a JSON object describes.

        Raises:
            BundleFormatError: a member of the wrong type.
        """
        data = _object(data, path)
        return cls(
            from_block=_optional_int(data.get("from_block"), _at(path, "from_block")),
            to_block=_optional_int(data.get("to_block"), _at(path, "to_block")),
            roots=_strs(data.get("roots") or [], _at(path, "roots")),
            event_anchors=_strs(data.get("event_anchors") or [], _at(path, "event_anchors")),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict."""
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            "roots": list(self.roots),
            "event_anchors": list(self.event_anchors),
        }


# ---------------------------------------------------------------------- the bundle


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """A whole ``tracechain-bundle/1`` document."""

    format: str = BUNDLE_FORMAT
    created_at: str | None = None
    scope: Scope = Scope()
    chain: ChainInfo
    #: By organisation id.
    members: Mapping[str, Member] = field(default_factory=dict)
    events: tuple[BundledEvent, ...] = ()
    #: By root (the key the verifier goes by).
    batches: Mapping[str, BundledBatch] = field(default_factory=dict)
    span: Span = Span()

    @classmethod
    def load(cls, data: Any) -> Bundle:
        """The bundle a parsed JSON document describes, its shape checked.

        Raises:
            BundleFormatError: not a ``tracechain-bundle/1`` document (``field`` ``format``),
                or a member missing or of the wrong type (``field`` names it).
        """
        if not isinstance(data, Mapping) or data.get("format") != BUNDLE_FORMAT:
            raise BundleFormatError(f"not a {BUNDLE_FORMAT} bundle", field="format")
        events = _member(data, "events", "")
        if not isinstance(events, list):
            raise BundleFormatError("not a JSON array", field="events")
        batches = _object(_member(data, "batches", ""), "batches")
        members = _object(data.get("members") or {}, "members")
        return cls(
            format=BUNDLE_FORMAT,
            created_at=_optional_str(data.get("created_at"), "created_at"),
            scope=Scope.load(data.get("scope") or {}),
            chain=ChainInfo.load(_member(data, "chain", "")),
            members={
                str(org_id): Member.load(member, f"members[{org_id}]")
                for org_id, member in members.items()
            },
            events=tuple(
                BundledEvent.load(entry, f"events[{index}]") for index, entry in enumerate(events)
            ),
            batches={
                str(root): BundledBatch.load(batch, f"batches[{root}]", str(root))
                for root, batch in batches.items()
            },
            span=Span.load(data.get("span") or {}),
        )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict, members in the format's order."""
        return {
            "format": self.format,
            "created_at": self.created_at,
            "scope": self.scope.dump(),
            "chain": self.chain.dump(),
            "members": {org_id: member.dump() for org_id, member in self.members.items()},
            "events": [entry.dump() for entry in self.events],
            "batches": {root: batch.dump() for root, batch in self.batches.items()},
            "span": self.span.dump(),
        }


def load_bundle(text: str | bytes) -> Bundle:
    """Read a bundle file's content.

    Raises:
        InvalidInputError: not JSON (``field`` ``bundle``).
        BundleFormatError: not a bundle, or a malformed one (``field`` names the member).
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"not JSON: {exc}", field="bundle") from None
    return Bundle.load(data)


def dump_bundle(bundle: Bundle | Mapping[str, Any]) -> str:
    """A bundle as the JSON text of its file."""
    data = bundle.dump() if isinstance(bundle, Bundle) else bundle
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
