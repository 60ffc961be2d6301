"""The chain client: plain ``eth_*`` JSON-RPC through web3.py, so it runs on anvil and on Besu.

Nothing here calls ``anvil_*``, ``evm_*`` or any other node-specific method. Transactions are
signed locally (the node holds no keys) and sent with ``eth_sendRawTransaction``; reverts are
decoded into the contract's custom errors.

This is the one module that talks to the node: the rest of tracechain reads and writes through
:class:`ChainClient` (paged logs, batched calls and transactions, the head block, raw sends),
which turns every transport failure and JSON-RPC error answer into
:class:`ledger.errors.ChainError`.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ABI, ChecksumAddress
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers import JSONBaseProvider
from web3.types import (
    BlockIdentifier,
    EventData,
    LogReceipt,
    Nonce,
    RPCEndpoint,
    RPCResponse,
    TxParams,
    TxReceipt,
    Wei,
)

from contracts.build import load_artifact
from ledger.errors import ChainError
from ledger.identifiers.hashing import keccak256
from ledger.settings import GasPrice, get_settings
from wallets.signer import Signer, as_signer

#: Default seconds to wait for an RPC answer and for a receipt.
RPC_TIMEOUT_S = 10.0
RECEIPT_TIMEOUT_S = 60.0
#: Gas headroom over the node's estimate (estimates are exact on anvil, close on Besu).
GAS_HEADROOM = 1.2
#: The least gas any transaction uses (a signer holding less than this at the gas price
#: cannot send anything).
TX_BASE_GAS = 21_000

log = logging.getLogger("tracechain.chain")
_T = TypeVar("_T")


class TxState(StrEnum):
    """Where a transaction the node was given stands (:meth:`ChainClient.tx_state`)."""

    #: In a block.
    MINED = "mined"
    #: In the pool and next in line for its sender (every lower nonce is mined or pending).
    PENDING = "pending"
    #: In the pool behind a nonce gap: it cannot be mined until the gap is filled.
    QUEUED = "queued"
    #: Unknown to the node (lost with a restart or evicted), or its nonce was used by another
    #: transaction: it will never be mined.
    DROPPED = "dropped"


class ContractRevertError(ChainError):
    """A call or transaction reverted with one of the contract's custom errors."""

    problem = "contract-revert"

    def __init__(self, name: str, args: tuple[Any, ...], *, tx_hash: str | None = None) -> None:
        super().__init__(f"reverted with {name}{args}")
        self.name = name
        self.args_ = args
        self.tx_hash = tx_hash


class InsufficientFundsError(ChainError):
    """A signer's balance cannot pay for its transaction's gas at the configured gas price
    (``TRACECHAIN_GAS_PRICE``): on a chain that charges gas the operator funds the signers."""

    problem = "insufficient-funds"

    def __init__(self, address: str, *, balance: int, needed: int | None, gas_price: int) -> None:
        need = "more" if needed is None else f"up to {needed} wei"
        super().__init__(
            f"signer {address} holds {balance} wei but its transaction needs {need} of gas "
            f"at {gas_price} wei per gas; fund {address}, or set TRACECHAIN_GAS_PRICE=zero "
            "on a chain with zero base fee"
        )
        self.address = address
        self.balance = balance
        self.needed = needed
        self.gas_price = gas_price


class EndpointMismatchError(ChainError):
    """An RPC endpoint serves another chain (chain id or genesis) or another deployment than
    the other endpoints or the deployment record: it is never used."""

    problem = "endpoint-mismatch"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"RPC endpoint {url} is refused: {reason}")
        self.url = url


@dataclass(frozen=True, slots=True)
class ErrorAbi:
    """One custom error of a contract ABI."""

    name: str
    types: tuple[str, ...]


def error_selectors(abi: ABI) -> dict[bytes, ErrorAbi]:
    """Custom errors of an ABI by their 4-byte selector."""
    out: dict[bytes, ErrorAbi] = {}
    for item in abi:
        if item.get("type") == "error":
            entry: dict[str, Any] = dict(item)
            types = tuple(str(i["type"]) for i in entry.get("inputs", []))
            out[keccak256(f"{entry['name']}({','.join(types)})".encode())[:4]] = ErrorAbi(
                str(entry["name"]), types
            )
    return out


def decode_revert(w3: Web3, abi: ABI, data: bytes | str) -> ContractRevertError:
    """Decode revert data into the custom error it encodes."""
    raw = HexBytes(data)
    known = error_selectors(abi).get(bytes(raw[:4]))
    if known is None:
        return ContractRevertError("UnknownRevert", (raw.to_0x_hex(),))
    values = w3.codec.decode(list(known.types), bytes(raw[4:]))
    return ContractRevertError(
        known.name,
        tuple(
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(known.types, values, strict=True)
        ),
    )


def event_topics(abi: ABI) -> dict[bytes, str]:
    """The events of an ABI by their topic (keccak256 of the event's signature)."""
    out: dict[bytes, str] = {}
    for item in abi:
        if item.get("type") == "event":
            entry: dict[str, Any] = dict(item)
            types = ",".join(_abi_type(i) for i in entry.get("inputs", []))
            out[keccak256(f"{entry['name']}({types})".encode())] = str(entry["name"])
    return out


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity (``"0x1a"``) as an int."""
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass(frozen=True, slots=True)
class Transaction:
    """What tracechain reads of a transaction (``eth_getTransactionByHash``)."""

    hash: str
    sender: ChecksumAddress
    #: None for a contract creation.
    to: ChecksumAddress | None
    nonce: int
    input: bytes
    #: None while the transaction waits in the node's pool.
    block_number: int | None
    #: The hash of the block that holds it (lower-case 0x-hex); None while pending.
    block_hash: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Transaction:
        """The transaction in a raw JSON-RPC ``result``.

        Raises:
            ValueError: ``raw`` is not a transaction object.
        """
        try:
            to = raw.get("to")
            block = raw.get("blockNumber")
            block_hash = raw.get("blockHash")
            return cls(
                hash=HexBytes(raw["hash"]).to_0x_hex(),
                sender=to_checksum_address(raw["from"]),
                to=to_checksum_address(to) if to else None,
                nonce=_quantity(raw["nonce"]),
                input=bytes(HexBytes(raw.get("input") or "0x")),
                block_number=None if block is None else _quantity(block),
                block_hash=str(block_hash).lower() if block_hash else None,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a transaction: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """One JSON-RPC request of a batch (:meth:`ChainClient.batch`)."""

    method: str
    params: tuple[Any, ...]


def transaction_request(tx_hash: str) -> RpcRequest:
    """``eth_getTransactionByHash(tx_hash)``, for a :meth:`ChainClient.batch` (its answer reads
    with :meth:`Transaction.from_json`)."""
    return RpcRequest("eth_getTransactionByHash", (tx_hash,))


@dataclass(frozen=True, slots=True)
class RpcAnswer:
    """The node's answer to one request of a batch: its raw JSON ``result``, or its
    ``error`` message (a revert, an unknown method...)."""

    result: Any = None
    error: str | None = None


class ViewFunction:
    """A contract function for batched ``eth_call`` (and for decoding a transaction's input):
    calldata encoded and results decoded with the ABI codec directly (web3's per-call ABI
    look-up, validation and middleware cost more than the call itself)."""

    def __init__(self, w3: Web3, address: str, abi: ABI, name: str) -> None:
        entries = [e for e in abi if e.get("type") == "function" and e.get("name") == name]
        if len(entries) != 1:
            raise ValueError(f"{name} is not one function of the ABI")
        entry: dict[str, Any] = dict(entries[0])
        self.name = name
        self.address = to_checksum_address(address)
        self.inputs = tuple(_abi_type(i) for i in entry.get("inputs", []))
        self.outputs = tuple(_abi_type(o) for o in entry.get("outputs", []))
        self.selector = keccak256(f"{name}({','.join(self.inputs)})".encode())[:4]
        self._codec = w3.codec

    def request(self, *args: Any, block: BlockIdentifier = "latest") -> RpcRequest:
        """The ``eth_call`` of this function with ``args`` at ``block``."""
        data = self.selector + self._codec.encode(list(self.inputs), list(args))
        at = block if isinstance(block, str) else hex(int(block))
        return RpcRequest("eth_call", ({"to": self.address, "data": "0x" + data.hex()}, at))

    def decode(self, answer: RpcAnswer) -> tuple[Any, ...]:
        """The decoded outputs of an answer to :meth:`request`.

        Raises:
            ChainError: the call failed (reverted, or the node refused it).
        """
        if answer.error is not None or not isinstance(answer.result, str):
            raise ChainError(f"{self.name} failed: {answer.error or answer.result!r}")
        try:
            return tuple(self._codec.decode(list(self.outputs), HexBytes(answer.result)))
        except Exception as exc:  # eth_abi's DecodingError and friends
            raise ChainError(f"{self.name} answered what its ABI does not decode: {exc}") from None

    def decode_input(self, data: bytes) -> tuple[Any, ...]:
        """The arguments in calldata ``data`` (after the selector).

        Raises:
            ValueError: ``data`` does not decode as this function's inputs.
        """
        try:
            return tuple(self._codec.decode(list(self.inputs), data))
        except Exception as exc:  # eth_abi's DecodingError and friends
            raise ValueError(f"not {self.name} input: {exc}") from None


def _abi_type(item: Any) -> str:
    """The canonical type of an ABI parameter (tuples spelled out)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + kind[5:]
    return kind


class _BatchTransport:
    """HTTP POSTs of JSON-RPC batches, one keep-alive connection per thread; a connection the
    node closed meanwhile is opened again once (batches are reads: sending one twice is
    harmless). Basic auth in the URL is sent as an ``Authorization`` header."""

    def __init__(self, rpc_url: str, timeout: float) -> None:
        url = urlsplit(rpc_url)
        #: Why batches cannot be sent (checked when one is, as web3 checks its URL then).
        self._unusable = (
            None
            if url.scheme in ("http", "https") and url.hostname
            else f"not an HTTP(S) JSON-RPC URL: {rpc_url}"
        )
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname or "", url.port
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if url.username is not None:
            token = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def post(self, body: bytes) -> bytes:
        """The body of the node's answer to ``body``."""
        if self._unusable is not None:
            raise ValueError(self._unusable)
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("POST", self._path, body, self._headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise http.client.HTTPException(f"HTTP {response.status} {response.reason}")
            return data
        raise AssertionError("unreachable")


class EndpointState(StrEnum):
    """How the client judges one of its RPC endpoints (:meth:`ChainClient.check_endpoints`)."""

    #: Not checked yet (a client with one endpoint never checks it).
    UNCHECKED = "unchecked"
    #: Answers, serves the expected chain and is near the highest head.
    OK = "ok"
    #: Answers, but its head is more than ``max_lag_blocks`` behind the highest head.
    LAGGING = "lagging"
    #: Did not answer its last request or check.
    DOWN = "down"
    #: Serves another chain id, genesis or deployment: never used.
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """What makes endpoints serve "the same chain": its id, its genesis as block 1's parent
    records it, and optionally the code hash at each of our contracts' addresses."""

    chain_id: int
    genesis_hash: str
    #: (address, keccak256 of its code), lower-case.
    code: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """One endpoint as the client last judged it."""

    url: str
    state: EndpointState
    head: int | None = None
    #: Why it is down, lagging or refused.
    reason: str | None = None


@dataclass
class _Endpoint:
    url: str
    provider: Any
    transport: _BatchTransport
    state: EndpointState = EndpointState.UNCHECKED
    head: int | None = None
    reason: str | None = None

    def status(self) -> EndpointStatus:
        return EndpointStatus(self.url, self.state, self.head, self.reason)


class _NoEndpointError(ConnectionError):
    """No endpoint could serve a request: each one's failure, or the refusal of every
    endpoint that answered (then :attr:`refused` is set)."""

    def __init__(self, message: str, refused: EndpointMismatchError | None = None) -> None:
        super().__init__(message)
        self.refused = refused


#: What counts as an endpoint that did not answer (requests' errors are OSErrors).
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class _Endpoints:
    """The endpoints of one client, in order of preference, and their health.

    With one endpoint nothing is checked: every request goes to it, as before. With several,
    :meth:`check` (run when a request finds the last check older than ``health_check_s``)
    asks each for its chain id, genesis, head (and code, when an identity is expected) in one
    batch; an endpoint serving another chain than the expected identity (or, when none is
    expected, than the first endpoint in order that answers) is refused, one whose head is
    more than ``max_lag`` blocks behind the highest is lagging. Requests go to the first OK
    endpoint; when it does not answer it is marked down and the next is tried: OK ones in
    configured order, then unchecked, lagging and down ones; never a refused one.
    """

    def __init__(
        self, urls: Sequence[str], timeout: float, *, max_lag: int, health_check_s: float
    ) -> None:
        if not urls:
            raise ValueError("no RPC URL")
        several = len(urls) > 1
        self.items = [
            _Endpoint(
                url,
                Web3.HTTPProvider(
                    url,
                    request_kwargs={"timeout": timeout},
                    # Several endpoints: fail over at once instead of retrying a dead one.
                    **({"exception_retry_configuration": None} if several else {}),
                ),
                _BatchTransport(url, timeout),
            )
            for url in dict.fromkeys(urls)
        ]
        self.max_lag = max_lag
        self.health_check_s = health_check_s
        self.expected: ChainIdentity | None = None
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    @property
    def several(self) -> bool:
        """Whether there is more than one endpoint (else nothing is checked)."""
        return len(self.items) > 1

    def expect(self, identity: ChainIdentity) -> None:
        """Judge endpoints against ``identity`` from now on (the next request checks)."""
        with self._lock:
            self.expected = identity
            self._checked_at = None

    def first(self) -> _Endpoint:
        """The endpoint requests go to first (no check is run)."""
        return self._order()[0] if self.several else self.items[0]

    def _order(self) -> list[_Endpoint]:
        rank = {
            EndpointState.OK: 0,
            EndpointState.UNCHECKED: 1,
            EndpointState.LAGGING: 2,
            EndpointState.DOWN: 3,
        }
        usable = [e for e in self.items if e.state is not EndpointState.REFUSED]
        return sorted(usable, key=lambda e: rank[e.state]) or self.items[:1]

    def run(self, fn: Callable[[_Endpoint], _T]) -> _T:
        """``fn`` on the preferred endpoint, failing over to the next one that answers."""
        if not self.several:
            return fn(self.items[0])
        due = self._checked_at is None or (
            time.monotonic() - self._checked_at >= self.health_check_s
        )
        if due:
            self.check()
        candidates = [e for e in self._order() if e.state is not EndpointState.REFUSED]
        if not candidates:
            raise self._all_refused()
        failures: list[str] = []
        for endpoint in candidates:
            try:
                result = fn(endpoint)
            except _TRANSPORT_ERRORS as exc:
                with self._lock:
                    if endpoint.state is not EndpointState.DOWN:
                        log.warning("RPC endpoint %s did not answer: %s", endpoint.url, exc)
                    endpoint.state, endpoint.reason = EndpointState.DOWN, str(exc)
                failures.append(f"{endpoint.url}: {exc}")
                continue
            if endpoint.state is EndpointState.DOWN:
                with self._lock:
                    endpoint.state, endpoint.reason = EndpointState.UNCHECKED, None
            return result
        if any(e.state is EndpointState.REFUSED for e in self.items):
            raise self._all_refused(failures)
        raise _NoEndpointError("no RPC endpoint answered (" + "; ".join(failures) + ")")

    def _all_refused(self, failures: Sequence[str] = ()) -> _NoEndpointError:
        """The error when the only endpoints that answer are refused: it names them."""
        refused = [e for e in self.items if e.state is EndpointState.REFUSED]
        reasons = [f"{e.url} is refused: {e.reason}" for e in refused] + list(failures)
        why = refused[0].reason or "another chain"
        if failures:
            why += "; the other endpoints did not answer (" + "; ".join(failures) + ")"
        error = EndpointMismatchError(refused[0].url, why)
        return _NoEndpointError("no usable RPC endpoint (" + "; ".join(reasons) + ")", error)

    def check(self) -> list[EndpointStatus]:
        """Judge every endpoint now (see the class docstring)."""
        facts = [(e, _identity_of(e, self.expected)) for e in self.items]
        with self._lock:
            reference = self.expected
            source = "the deployment record"
            if reference is None:
                answered = [(e, i) for e, i in facts if isinstance(i, tuple)]
                if answered:
                    reference, source = answered[0][1][0], answered[0][0].url
            heads: list[int] = []
            for endpoint, fact in facts:
                if isinstance(fact, str):
                    endpoint.state, endpoint.reason, endpoint.head = EndpointState.DOWN, fact, None
                    continue
                identity, head = fact
                endpoint.head = head
                why = _identity_difference(identity, reference, source)
                if why is not None:
                    if endpoint.state is not EndpointState.REFUSED:
                        log.error("RPC endpoint %s is refused: %s", endpoint.url, why)
                    endpoint.state, endpoint.reason = EndpointState.REFUSED, why
                    continue
                endpoint.state, endpoint.reason = EndpointState.OK, None
                heads.append(head)
            top = max(heads, default=0)
            for endpoint in self.items:
                if (
                    endpoint.state is EndpointState.OK
                    and endpoint.head is not None
                    and top - endpoint.head > self.max_lag
                ):
                    endpoint.state = EndpointState.LAGGING
                    endpoint.reason = (
                        f"head {endpoint.head} is {top - endpoint.head} blocks behind {top}"
                    )
            self._checked_at = time.monotonic()
            return [e.status() for e in self.items]


def _identity_of(
    endpoint: _Endpoint, expected: ChainIdentity | None
) -> tuple[ChainIdentity, int] | str:
    """An endpoint's identity and head, in one raw batch; or why it could not be read."""
    code = expected.code if expected is not None else ()
    requests_ = [
        {"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getBlockByNumber", "params": ["0x0", False]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBlockByNumber", "params": ["0x1", False]},
    ] + [
        {"jsonrpc": "2.0", "id": 4 + n, "method": "eth_getCode", "params": [address, "latest"]}
        for n, (address, _hash) in enumerate(code)
    ]
    try:
        raw = json.loads(endpoint.transport.post(json.dumps(requests_).encode()))
        results = {item["id"]: item.get("result") for item in raw}
        block0, block1 = results.get(2), results.get(3)
        genesis = (
            str(block1["parentHash"]).lower()
            if isinstance(block1, dict)
            else str(block0["hash"]).lower()  # type: ignore[index]
        )
        identity = ChainIdentity(
            chain_id=_quantity(results[0]),
            genesis_hash=genesis,
            code=tuple(
                (address, "0x" + keccak256(bytes(HexBytes(results.get(4 + n) or "0x"))).hex())
                for n, (address, _hash) in enumerate(code)
            ),
        )
        return identity, _quantity(results[1])
    except (*_TRANSPORT_ERRORS, ValueError, KeyError, TypeError) as exc:
        return f"did not answer: {exc}"


def _identity_difference(
    found: ChainIdentity, expected: ChainIdentity | None, source: str
) -> str | None:
    """How ``found`` differs from ``expected`` (named by ``source``), or None."""
    if expected is None:
        return None
    if found.chain_id != expected.chain_id:
        return f"it serves chain id {found.chain_id}, {source} says {expected.chain_id}"
    if found.genesis_hash != expected.genesis_hash.lower():
        return f"its genesis is {found.genesis_hash}, {source} says {expected.genesis_hash}"
    for (address, code), (_, want) in zip(found.code, expected.code, strict=True):
        if code != want.lower():
            return f"the code at {address} has hash {code}, {source} says {want}"
    return None


class _FailoverProvider(JSONBaseProvider):
    """web3's provider over :class:`_Endpoints`: each request goes to the preferred endpoint
    and fails over to the next one that answers (so contracts bound to the client's web3
    fail over too)."""

    def __init__(self, endpoints: _Endpoints) -> None:
        super().__init__()
        self._endpoints = endpoints

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Send one request (see :meth:`_Endpoints.run`)."""
        response: RPCResponse = self._endpoints.run(
            lambda e: e.provider.make_request(method, params)
        )
        return response

    def is_connected(self, show_traceback: bool = False) -> bool:
        """Whether an endpoint answers."""
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except _TRANSPORT_ERRORS:
            return False
        return True


def connect(rpc_url: str, *, timeout: float = RPC_TIMEOUT_S) -> Web3:
    """A web3 connection to ``rpc_url`` (HTTP) that reads proof-of-authority block headers.

    Clique, IBFT 2.0 and QBFT chains (Besu's) put the validators' data in a header's
    ``extraData`` (Clique: 32 bytes of vanity, the signers, a 65-byte seal; QBFT and IBFT: an
    RLP list), longer than the 32 bytes web3's block formatter accepts, so without
    ``ExtraDataToPOAMiddleware`` every ``eth_getBlockBy*`` on them raises "extraData is N
    bytes". The middleware moves the field to ``proofOfAuthorityData``; nothing here reads it.
    Blocks read through :meth:`ChainClient.batch` are raw JSON and need no formatter.
    """
    return _reads_poa_headers(Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout})))


def _reads_poa_headers(w3: Web3) -> Web3:
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class ChainClient:
    """Sends signed transactions to, and reads from, tracechain's contracts on one chain,
    through one or several JSON-RPC endpoints of it.

    ``rpc_url`` is one URL or several (in order of preference): with several, every request,
    web3's and :meth:`batch`'s alike, goes to the first endpoint that is up, serves the same
    chain and is not lagging (see :meth:`check_endpoints`), failing over when it does not
    answer. ``gas_price``, ``max_lag_blocks`` and ``health_check_s`` default to
    ``settings.chain``'s.
    """

    def __init__(
        self,
        rpc_url: str | Sequence[str],
        *,
        timeout: float = RPC_TIMEOUT_S,
        gas_price: GasPrice | None = None,
        max_lag_blocks: int | None = None,
        health_check_s: float | None = None,
    ) -> None:
        chain = get_settings().chain
        urls = (rpc_url,) if isinstance(rpc_url, str) else tuple(rpc_url)
        self._endpoints = _Endpoints(
            urls,
            timeout,
            max_lag=chain.max_lag_blocks if max_lag_blocks is None else max_lag_blocks,
            health_check_s=chain.health_check_s if health_check_s is None else health_check_s,
        )
        self.rpc_urls: tuple[str, ...] = tuple(e.url for e in self._endpoints.items)
        self.gas_price_policy: GasPrice = chain.gas_price if gas_price is None else gas_price
        self.w3 = _reads_poa_headers(Web3(_FailoverProvider(self._endpoints)))
        self._chain_id: int | None = None
        self._nonce_lock = threading.Lock()
        #: Nonces handed out and not yet broadcast, per address (see :meth:`nonce_for`).
        self._in_flight: dict[str, set[int]] = {}

    @property
    def rpc_url(self) -> str:
        """The endpoint requests go to first (the only one, for a client of one URL)."""
        return self._endpoints.first().url

    # ------------------------------------------------------------------ endpoints

    def expect(self, identity: ChainIdentity) -> None:
        """Refuse, from the next check on, every endpoint that does not serve ``identity``
        (the deployment record's chain: :meth:`ledger.deployment.Deployment.identity`)."""
        self._endpoints.expect(identity)

    def check_endpoints(self) -> list[EndpointStatus]:
        """Check every endpoint now (identity, head, lag); their states in configured order.

        A client of one URL checks nothing and reports it ``unchecked``.
        """
        if not self._endpoints.several:
            return [self._endpoints.items[0].status()]
        return self._endpoints.check()

    def endpoints(self) -> list[EndpointStatus]:
        """Every endpoint as last judged (no request is made)."""
        return [e.status() for e in self._endpoints.items]

    # ------------------------------------------------------------------ reads

    @property
    def chain_id(self) -> int:
        """The chain id (asked once)."""
        if self._chain_id is None:
            self._chain_id = self._rpc(lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def reachable(self) -> bool:
        """Whether the node answers."""
        try:
            self.w3.eth.block_number  # noqa: B018 - the call is the check
        except (OSError, Web3Exception, ValueError):
            return False
        return True

    def block_number(self) -> int:
        """The number of the head block."""
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def genesis_hash(self) -> str:
        """The hash of the genesis block as the chain's history records it: block 1's parent.

        Block 1's parent hash is part of every later block's hash, so it survives restarts.
        ``eth_getBlockByNumber(0)`` does not on anvil: each start from a dumped state appends
        a fresh genesis entry to the state and may answer with that one. On a chain without
        block 1 yet, block 0's own hash.
        """
        if self.block_number() >= 1:
            block = self._rpc(lambda: self.w3.eth.get_block(1))
            return HexBytes(block["parentHash"]).to_0x_hex()
        block = self._rpc(lambda: self.w3.eth.get_block(0))
        return HexBytes(block["hash"]).to_0x_hex()

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number``; None when the chain does not reach it."""
        try:
            block = self.w3.eth.get_block(number)
        except Web3Exception:  # BlockNotFound
            return None
        except (OSError, ValueError) as exc:
            raise ChainError(f"chain at {self.rpc_url} did not answer: {exc}") from None
        return HexBytes(block["hash"]).to_0x_hex()

    def receipt(self, tx_hash: bytes | str) -> TxReceipt | None:
        """The receipt of ``tx_hash``; None while (or when) it is not mined."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        except (OSError, Web3Exception, ValueError) as exc:
            raise ChainError(f"chain at {self.rpc_url} did not answer: {exc}") from None

    def tx_state(self, tx_hash: bytes | str) -> TxState:
        """Whether ``tx_hash`` is mined, pending, queued behind a nonce gap, or dropped.

        Standard ``eth_*`` only: the transaction, then its sender's mined and pending counts.
        """
        tx = self.transaction(tx_hash)
        if tx is None:
            return TxState.DROPPED
        if tx.block_number is not None:
            return TxState.MINED
        sender, nonce = tx.sender, tx.nonce
        mined = int(self._rpc(lambda: self.w3.eth.get_transaction_count(sender, "latest")))
        if nonce < mined:
            # Its nonce is used: by itself if it was mined since it was read (the count is
            # read after it), else by another transaction.
            again = self.transaction(tx_hash)
            if again is not None and again.block_number is not None:
                return TxState.MINED
            return TxState.DROPPED
        if nonce == mined:
            # Next in line: only a block is missing. (Asking the pending count here races the
            # node's miner: while a block is being built, the pool no longer holds the
            # transaction and the count can read as the mined one, which made a transaction
            # about to be mined look queued behind a gap.)
            return TxState.PENDING
        pending = int(self._rpc(lambda: self.w3.eth.get_transaction_count(sender, "pending")))
        return TxState.PENDING if nonce < pending else TxState.QUEUED

    def code_hash(self, address: str) -> str:
        """keccak256 of the code at ``address`` (of empty bytes when there is none)."""
        code = self._rpc(lambda: self.w3.eth.get_code(to_checksum_address(address)))
        return "0x" + keccak256(bytes(code)).hex()

    def batch(self, requests: Sequence[RpcRequest]) -> list[RpcAnswer]:
        """Send ``requests`` as one JSON-RPC batch (one HTTP round trip); the answers in the
        order of the requests. A request the node refuses gets an answer with its ``error``;
        only a batch that got no answer at all raises.

        The batch goes over this thread's own keep-alive connection to the node
        (:class:`_BatchTransport`): a trail page sends one, and the ``requests`` session web3
        goes through costs more than the node takes to answer.

        Raises:
            ChainError: the node did not answer, or not with one answer per request.
        """
        if not requests:
            return []
        body = json.dumps(
            [
                {"jsonrpc": "2.0", "id": n, "method": r.method, "params": list(r.params)}
                for n, r in enumerate(requests)
            ],
            separators=(",", ":"),
        ).encode()
        try:
            raw = json.loads(self._endpoints.run(lambda e: e.transport.post(body)))
        except _NoEndpointError as exc:
            raise exc.refused or ChainError(str(exc)) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise ChainError(f"chain at {self.rpc_url} did not answer: {exc}") from None
        if not isinstance(raw, list) or len(raw) != len(requests):
            error = raw.get("error") if isinstance(raw, dict) else raw
            raise ChainError(f"chain at {self.rpc_url} refused the batch: {error}")
        answers: list[RpcAnswer | None] = [None] * len(requests)
        for item in raw:
            at = item.get("id") if isinstance(item, dict) else None
            if not isinstance(at, int) or not 0 <= at < len(requests) or answers[at] is not None:
                raise ChainError(f"chain at {self.rpc_url} answered the batch out of order")
            error = item.get("error")
            if error is not None:
                message = error.get("message") if isinstance(error, dict) else error
                answers[at] = RpcAnswer(error=str(message))
            else:
                answers[at] = RpcAnswer(result=item.get("result"))
        return [a for a in answers if a is not None]

    def calls(
        self,
        view: ViewFunction,
        args: Iterable[Sequence[Any]],
        *,
        block: BlockIdentifier = "latest",
    ) -> list[tuple[Any, ...]]:
        """The decoded outputs of ``view`` called with each of ``args`` at ``block``, in one
        :meth:`batch`, in order.

        Raises:
            ChainError: the node did not answer, or one of the calls failed (reverted).
        """
        answers = self.batch([view.request(*a, block=block) for a in args])
        return [view.decode(answer) for answer in answers]

    def transactions(self, tx_hashes: Sequence[bytes | str]) -> list[Transaction | None]:
        """The transactions ``tx_hashes`` in one :meth:`batch`, in order; None for one the node
        does not know, and for a "hash" that is not 32 bytes of hex (no transaction has it).

        Raises:
            ChainError: the node did not answer, refused a look-up, or answered something that
                is no transaction.
        """
        wanted: list[str | None] = []
        for tx_hash in tx_hashes:
            try:
                raw = HexBytes(tx_hash)
            except (ValueError, TypeError):
                raw = HexBytes(b"")
            wanted.append(raw.to_0x_hex() if len(raw) == 32 else None)
        answers = iter(self.batch([transaction_request(h) for h in wanted if h]))
        out: list[Transaction | None] = []
        for asked in wanted:
            if asked is None:
                out.append(None)
                continue
            answer = next(answers)
            if answer.error is not None:
                raise ChainError(f"chain at {self.rpc_url} refused {asked}: {answer.error}")
            if answer.result is None:
                out.append(None)
                continue
            try:
                if not isinstance(answer.result, Mapping):
                    raise ValueError(f"not a transaction: {answer.result!r}")
                out.append(Transaction.from_json(answer.result))
            except ValueError as exc:
                raise ChainError(f"chain at {self.rpc_url} answered {asked}: {exc}") from None
        return out

    def transaction(self, tx_hash: bytes | str) -> Transaction | None:
        """The transaction ``tx_hash``; None when the node does not know it (see
        :meth:`transactions`).

        Raises:
            ChainError: the node did not answer, or answered an error.
        """
        return self.transactions([tx_hash])[0]

    def logs(
        self,
        address: str,
        topics: Sequence[bytes | Sequence[bytes] | None],
        from_block: int,
        to_block: int,
        *,
        block_range: int | None = None,
    ) -> Iterator[LogReceipt]:
        """The logs of ``address`` matching ``topics`` (per position: one topic, any of
        several, or None for any) in blocks [``from_block``, ``to_block``], in chain order.

        Nodes cap the block range of one ``eth_getLogs`` (Besu and anvil), so the range is
        asked in pages of ``block_range`` blocks (default ``settings.chain.logs_block_range``), each
        page only once the previous one is consumed.

        Raises:
            ChainError: the node did not answer a page, or refused it.
        """
        step = block_range if block_range is not None else get_settings().chain.logs_block_range
        step = max(1, step)
        checksum = to_checksum_address(address)
        wanted = [
            None
            if t is None
            else HexBytes(t)
            if isinstance(t, bytes)
            else [HexBytes(alternative) for alternative in t]
            for t in topics
        ]
        for low in range(from_block, to_block + 1, step):
            high = min(to_block, low + step - 1)
            try:
                page = self.w3.eth.get_logs(
                    {"address": checksum, "fromBlock": low, "toBlock": high, "topics": wanted}
                )
            except (OSError, Web3Exception, ValueError) as exc:
                raise ChainError(
                    f"eth_getLogs [{low}, {high}] at {self.rpc_url} failed: {exc}"
                ) from None
            yield from page

    def events(
        self,
        contract: Contract,
        names: Iterable[str],
        from_block: int,
        to_block: int,
        *,
        block_range: int | None = None,
    ) -> Iterator[EventData]:
        """The decoded logs of ``contract``'s events ``names`` in blocks [``from_block``,
        ``to_block``], in chain order, asked page by page as :meth:`logs` does.

        Raises:
            ChainError: the node did not answer a page, or refused it.
        """
        chosen = set(names)
        topics = {t: n for t, n in event_topics(contract.abi).items() if n in chosen}
        if not topics:
            return
        pages = self.logs(
            contract.address, [list(topics)], from_block, to_block, block_range=block_range
        )
        for entry in pages:
            name = topics.get(bytes(entry["topics"][0])) if entry["topics"] else None
            if name is not None:
                yield getattr(contract.events, name)().process_log(entry)

    def view(self, contract: Contract, name: str) -> ViewFunction:
        """The view function ``name`` of ``contract``, for :meth:`batch`."""
        return ViewFunction(self.w3, contract.address, contract.abi, name)

    def contract(self, name: str, address: str) -> Contract:
        """A contract object for a committed artifact at ``address``."""
        abi = load_artifact(name)["abi"]
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    # ------------------------------------------------------------------ writes

    def deploy(self, account: Signer | LocalAccount, name: str, *args: Any) -> TxReceipt:
        """Deploy the artifact ``name`` with constructor ``args``; return the receipt."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = factory.constructor(*args).build_transaction(self._base_tx(account))
        tx["gas"] = int(tx["gas"] * GAS_HEADROOM)
        return self._sign_send_wait(account, tx, artifact["abi"])

    def transact(
        self, account: Signer | LocalAccount, call: ContractFunction, *, gas: int | None = None
    ) -> TxReceipt:
        """Sign and send ``call`` from ``account``, wait for its receipt; raise on revert.

        Without ``gas`` the node estimates it, which also surfaces a revert (decoded into
        :class:`ContractRevertError`) before anything is sent.
        """
        abi = call.contract_abi
        params = self._base_tx(account)
        if gas is not None:
            params["gas"] = gas
        try:
            tx = call.build_transaction(params)
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._revert(abi, exc) from None
        if gas is None:
            tx["gas"] = int(tx["gas"] * GAS_HEADROOM)
        return self._sign_send_wait(account, tx, abi)

    def call(self, fn: ContractFunction, *, block: BlockIdentifier = "latest") -> Any:
        """Run a view ``fn`` at ``block``; raise :class:`ContractRevertError` on a revert."""
        try:
            result = fn.call(block_identifier=block)
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._revert(fn.contract_abi, exc) from None
        except (OSError, Web3Exception) as exc:
            raise ChainError(f"chain call failed: {exc}") from None
        if len(fn.abi.get("outputs", ())) > 1:
            return tuple(result)
        return result

    def wait(self, tx_hash: bytes | str, *, timeout: float = RECEIPT_TIMEOUT_S) -> TxReceipt:
        """Wait for the receipt of ``tx_hash``."""
        try:
            return self.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout)
        except (OSError, Web3Exception) as exc:
            raise ChainError(f"no receipt for {HexBytes(tx_hash).to_0x_hex()}: {exc}") from None

    @contextmanager
    def nonce_for(self, address: ChecksumAddress) -> Iterator[Nonce]:
        """Hold the next nonce of ``address`` while a transaction is signed and broadcast.

        The nonce is the node's pending count, or one past a nonce another thread of this
        client holds and has not broadcast yet. Nothing is remembered once the ``with`` block
        ends: every send asks the chain again, so a node that lost blocks or its pool (a
        restart, a kill before its state dump) never leaves us sending with a nonce it has
        no use for (its pool would queue such a transaction behind the gap forever).
        """
        with self._nonce_lock:
            pending = int(self._rpc(lambda: self.w3.eth.get_transaction_count(address, "pending")))
            held = self._in_flight.setdefault(address, set())
            nonce = max(pending, max(held, default=-1) + 1)
            held.add(nonce)
        try:
            yield Nonce(nonce)
        finally:
            with self._nonce_lock:
                held.discard(nonce)
                if not held:
                    self._in_flight.pop(address, None)

    def gas_price(self) -> int:
        """The gas price transactions are sent with, by ``settings.chain.gas_price``: 0
        (``zero``), the node's ``eth_gasPrice`` (``node``; 0 on a zero-fee permissioned
        chain) or the number of wei set."""
        policy = self.gas_price_policy
        if policy == "zero":
            return 0
        if policy == "node":
            return int(self._rpc(lambda: self.w3.eth.gas_price))
        return int(policy)

    def balance(self, address: str) -> int:
        """The balance of ``address`` in wei (its pending state)."""
        return int(
            self._rpc(lambda: self.w3.eth.get_balance(to_checksum_address(address), "pending"))
        )

    def require_funds(self, address: str, *, gas: int = TX_BASE_GAS, gas_price: int) -> None:
        """Check that ``address`` can pay ``gas`` at ``gas_price`` (nothing to check at 0).

        Raises:
            InsufficientFundsError: it cannot (naming the signer, its balance and the need).
        """
        if gas_price <= 0:
            return
        needed = gas * gas_price
        balance = self.balance(address)
        if balance < needed:
            raise InsufficientFundsError(
                to_checksum_address(address), balance=balance, needed=needed, gas_price=gas_price
            )

    def broadcast(self, raw: bytes) -> str:
        """Send a signed transaction; its hash. Raises :class:`ChainError` when the node
        refuses it or does not answer."""
        try:
            return HexBytes(self.w3.eth.send_raw_transaction(raw)).to_0x_hex()
        except _NoEndpointError as exc:
            raise exc.refused or ChainError(f"sending the transaction failed: {exc}") from None
        except (OSError, Web3Exception, ValueError) as exc:
            if "insufficient funds" in str(exc).lower():
                raise self._unfunded(raw) from None
            raise ChainError(f"sending the transaction failed: {exc}") from None

    def _unfunded(self, raw: bytes) -> ChainError:
        """The error for a signed transaction the node refused for want of funds."""
        try:
            sender = Account.recover_transaction(raw)
        except Exception:  # eth_account's decoding errors; our own transactions recover
            return ChainError("the node refused the transaction: insufficient funds")
        try:
            balance, price = self.balance(sender), self.gas_price()
        except ChainError as exc:
            return exc
        return InsufficientFundsError(sender, balance=balance, needed=None, gas_price=price)

    # ------------------------------------------------------------------ internals

    def _base_tx(self, account: Signer | LocalAccount) -> TxParams:
        """The sender, chain and gas price of a transaction; checks first that the sender can
        pay the least gas (a node estimating gas for an unfunded sender answers only "gas
        required exceeds allowance")."""
        price = self.gas_price()
        self.require_funds(account.address, gas_price=price)
        return {"from": account.address, "chainId": self.chain_id, "gasPrice": Wei(price)}

    def _sign_send_wait(self, account: Signer | LocalAccount, tx: TxParams, abi: ABI) -> TxReceipt:
        signer = as_signer(account)
        tx = TxParams(**tx)
        self.require_funds(signer.address, gas=int(tx["gas"]), gas_price=int(tx["gasPrice"]))
        with self.nonce_for(signer.address) as nonce:
            tx["nonce"] = nonce
            tx_hash = self.broadcast(signer.sign_transaction(tx))
        receipt = self.wait(tx_hash)
        if receipt["status"] != 1:
            raise self._replay_revert(abi, tx, receipt)
        return receipt

    def _replay_revert(self, abi: ABI, tx: TxParams, receipt: TxReceipt) -> ContractRevertError:
        """Find why a mined transaction reverted by replaying it with eth_call at its block."""
        call: TxParams = {k: v for k, v in tx.items() if k in ("from", "to", "data", "gas")}  # type: ignore[assignment]
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)
        except (ContractCustomError, ContractLogicError) as exc:
            err = self._revert(abi, exc)
            err.tx_hash = tx_hash
            return err
        except (OSError, Web3Exception, ValueError):
            pass
        return ContractRevertError("Reverted", (), tx_hash=tx_hash)

    def _revert(
        self, abi: ABI, exc: ContractCustomError | ContractLogicError
    ) -> ContractRevertError:
        data = exc.data if isinstance(exc.data, str) else None
        if data and data.startswith("0x") and len(data) >= 10:
            return decode_revert(self.w3, abi, data)
        return ContractRevertError("Reverted", (str(exc),))

    def revert_of(self, abi: ABI, exc: BaseException) -> ContractRevertError | None:
        """The custom error behind a web3 revert exception, or None if ``exc`` is no revert."""
        if isinstance(exc, ContractCustomError | ContractLogicError):
            return self._revert(abi, exc)
        return None

    def _rpc(self, fn: Any) -> Any:
        try:
            return fn()
        except _NoEndpointError as exc:
            raise exc.refused or ChainError(str(exc)) from None
        except (OSError, Web3Exception, ValueError) as exc:
            raise ChainError(f"chain at {self.rpc_url} did not answer: {exc}") from None
