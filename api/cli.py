"""The ``tracechain`` command line (Typer).

Every subcommand imports what it needs when it runs, so ``tracechain --help`` and the devnet
commands start fast and need no web stack.

Commands talk to the database and the chain directly (``DATABASE_URL``,
``TRACECHAIN_RPC_URL``, the deployment record in ``TRACECHAIN_DATA_DIR``); ``capture``,
``query``, ``verify`` and ``trace`` can instead ask a running API with ``--api URL --api-key
KEY`` (or ``TRACECHAIN_API_URL`` / ``TRACECHAIN_API_KEY``). ``--json`` prints JSON for scripts.

Exit codes: 0 success (everything verified); 1 a check failed (audit findings, a tampered or
unverified trail, a bundle that does not verify) or the input was refused; 2 usage errors and
operational failures (database, chain or API unreachable, misconfiguration); ``verify`` also
answers 3 when the trail is only pending (not anchored yet) and 4 when it is recalled.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from ledger.errors import LedgerError
from ledger.settings import get_settings

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine

    from ledger.chain import ChainClient
    from ledger.deployment import Deployment
    from ledger.membership import Member, Membership

app = typer.Typer(
    name="tracechain",
    help="Supply-chain traceability ledger: EPCIS events anchored on a permissioned chain.",
    no_args_is_help=True,
)
devnet_app = typer.Typer(help="The local permissioned chain (anvil) with our contracts.")
app.add_typer(devnet_app, name="devnet")
members_app = typer.Typer(
    help="Consortium members: list, admit, suspend, reinstate, prefixes, key rotation.",
    no_args_is_help=True,
)
app.add_typer(members_app, name="members")

console = Console()
err_console = Console(stderr=True)

#: Exit codes (see the module docstring).
FAILED, ERROR, PENDING, RECALLED = 1, 2, 3, 4

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="TRACECHAIN_API_URL",
        help="Ask this tracechain API instead of the database and chain.",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="TRACECHAIN_API_KEY", help="API key for --api."),
]


def _fail(exc: LedgerError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=FAILED if exc.client_error else ERROR)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the failures a command may meet into messages and exit codes."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except LedgerError as exc:
        raise _fail(exc) from None
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        reason = str(orig if orig is not None else exc)
        _die(f"database error: {reason.splitlines()[0]} (is DATABASE_URL right?)")
    except OSError as exc:
        _die(f"{exc}")


def _die(message: str, code: int = ERROR) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=code)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------- shared plumbing


def _engine(*, migrate: bool = False) -> Engine:
    from ledger.store.db import make_engine
    from ledger.store.db import migrate as run_migrations

    engine = make_engine(get_settings().effective_database_url)
    if migrate:
        run_migrations(engine)
    return engine


def _chain() -> ChainClient:
    from ledger.chain import ChainClient

    return ChainClient(get_settings().effective_rpc_url)


def _deployment() -> Deployment:
    from ledger.deployment import Deployment

    return Deployment.load(get_settings().deployment_file)


def _membership(*, admin: bool) -> Membership:
    from devnet.launcher import ADMIN_PASSPHRASE_ENV
    from ledger.errors import ConfigurationError
    from ledger.membership import Membership
    from wallets.keyring import Keyring
    from wallets.keystore import read_passphrase
    from wallets.signer import KeystoreSigner

    settings = get_settings()
    signer = None
    if admin:
        path = settings.data_dir / "keys" / "admin.json"
        if not path.exists():
            raise ConfigurationError(f"no consortium admin keystore at {path}")
        passphrase = read_passphrase(
            env=ADMIN_PASSPHRASE_ENV, file=path.with_name("admin.passphrase")
        )
        signer = KeystoreSigner(path, passphrase)
    keyring = Keyring(settings.data_dir, work_factor=settings.keystore_work_factor)
    return Membership(_engine(migrate=True), _chain(), _deployment(), keyring, signer)


class Remote:
    """A tracechain API reached over HTTP (httpx)."""

    def __init__(self, url: str, key: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; problems become exit codes (4xx: 1, 5xx and no answer: 2)."""
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            _die(f"the API at {self.client.base_url} did not answer: {exc}")
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = f"{problem.get('title')}: {problem.get('detail')}"
            except ValueError:
                detail = response.text[:500]
            _die(
                f"the API answered {response.status_code}: {detail}",
                FAILED if response.status_code < 500 else ERROR,
            )
        return response


def _remote(api: str | None, key: str | None) -> Remote | None:
    return None if api is None else Remote(api, key)


def _quote(identifier: str) -> str:
    from urllib.parse import quote

    return quote(identifier, safe="")


# ---------------------------------------------------------------------- devnet


def _status_json(status: Any) -> dict[str, Any]:
    return {
        "running": status.running,
        "pid": status.pid,
        "rpc_url": status.rpc_url,
        "block_number": status.block_number,
        "deployed_now": status.deployed_now,
        "deployment": status.deployment.to_json() if status.deployment else None,
    }


def _print_status(status: Any, as_json: bool) -> None:
    data = _status_json(status)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    state = "[green]up[/]" if status.running else "[red]down[/]"
    console.print(
        f"devnet {state} at {status.rpc_url} (pid {status.pid}, block {status.block_number})"
    )
    if status.deployment is not None:
        if status.deployed_now:
            console.print("[bold]contracts deployed now[/]; deployment record:")
        else:
            console.print("deployment record (checked against the chain):")
        console.print_json(json.dumps(data["deployment"]))


@devnet_app.command("up")
def devnet_up(
    redeploy: Annotated[
        bool, typer.Option(help="Deploy anew when the chain no longer matches the record.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start anvil (if not running), deploy the contracts once, print the deployment record."""
    from devnet.launcher import Devnet

    with _errors():
        status = Devnet(get_settings()).up(redeploy=redeploy)
    _print_status(status, as_json)


@devnet_app.command("down")
def devnet_down() -> None:
    """Stop anvil cleanly (its state is dumped to the data dir)."""
    from devnet.launcher import Devnet

    stopped = Devnet(get_settings()).down()
    console.print("devnet stopped" if stopped else "devnet was not running")


@devnet_app.command("status")
def devnet_status(as_json: JsonOption = False) -> None:
    """Whether anvil runs, its head block and the deployment record; exit 1 when down."""
    from devnet.launcher import Devnet

    with _errors():
        status = Devnet(get_settings()).status()
    _print_status(status, as_json)
    if not status.running:
        raise typer.Exit(code=1)


# ---------------------------------------------------------------------- services


@app.command("serve")
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on [default: TRACECHAIN_API_HOST, 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port [default: TRACECHAIN_API_PORT, 8000].", min=1, max=65535),
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Run the HTTP API (uvicorn api.app:app).

    The anchor worker runs inside it unless TRACECHAIN_ANCHOR_WORKER_IN_API=false. Unless
    TRACECHAIN_PUBLIC_URL is set, QR codes and Digital Links point at the host and port served.
    A consortium admin API key created on first start is shown on the terminal only.
    """
    import os

    import uvicorn

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    # The app reads its settings from the environment: let it see what is served here.
    os.environ["TRACECHAIN_API_HOST"] = host
    os.environ["TRACECHAIN_API_PORT"] = str(port)
    get_settings.cache_clear()
    uvicorn.run("api.app:app", host=host, port=port, reload=reload, log_level=log_level)


@app.command("anchor-worker")
def anchor_worker(
    drain: Annotated[
        bool, typer.Option(help="Anchor everything pending now, then exit (0 when done).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="With --drain: give up after this long.")] = 300,
) -> None:
    """Anchor captured events on the chain (runs until stopped; the API runs one by default)."""
    import signal
    import threading

    from ledger.anchoring import AnchorConfig, AnchorWorker
    from ledger.chain import ChainClient
    from ledger.deployment import Deployment
    from ledger.store.db import make_engine, migrate
    from wallets.keyring import Keyring

    settings = get_settings()
    _configure_logging()
    with _errors():
        engine = make_engine(settings.effective_database_url)
        migrate(engine)
        worker = AnchorWorker(
            engine,
            ChainClient(settings.effective_rpc_url),
            Deployment.load(settings.deployment_file),
            Keyring(settings.data_dir, work_factor=settings.keystore_work_factor),
            AnchorConfig.from_settings(settings),
        )
        if drain:
            anchored = worker.drain(timeout=timeout)
            console.print(f"anchored {anchored} events; nothing pending")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker.run(stop)


def _configure_logging() -> None:
    import logging

    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


# ---------------------------------------------------------------------- members


def _member_json(member: Member) -> dict[str, Any]:
    return {
        "org_id": member.org_id,
        "name": member.name,
        "roles": [r for r, bit in (("recorder", 1), ("auditor", 2)) if member.roles & bit],
        "active": member.active,
        "signing_addresses": list(member.signing_addresses),
        "prefixes": list(member.prefixes),
    }


def _print_members(members: list[Member], as_json: bool) -> None:
    from rich.table import Table

    if as_json:
        _print_json([_member_json(m) for m in members])
        return
    table = Table("org id", "name", "roles", "active", "prefixes", "signing addresses")
    for m in members:
        data = _member_json(m)
        table.add_row(
            m.org_id[:18] + "…",
            m.name,
            ", ".join(data["roles"]),
            "yes" if m.active else "[red]suspended[/]",
            ", ".join(m.prefixes),
            "\n".join(m.signing_addresses),
        )
    console.print(table)


@members_app.command("list")
def members_list(as_json: JsonOption = False) -> None:
    """Every member as the database mirrors the chain."""
    with _errors():
        members = _membership(admin=False).members()
    _print_members(members, as_json)


@members_app.command("admit")
def members_admit(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="recorder and/or auditor (repeat the option); default recorder."),
    ] = None,
    prefix: Annotated[
        list[str] | None,
        typer.Option(help="Identifier prefix to assign (0614141, gs1:0614141, 88.118.8...)."),
    ] = None,
    org_id: Annotated[
        str | None, typer.Option(help="On-chain organisation id (default keccak256 of the name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Admit an organisation on the chain with a new signing key (the consortium admin's)."""
    from ledger.store.models import OrgRole

    bits = {"recorder": OrgRole.RECORDER, "auditor": OrgRole.AUDITOR}
    chosen = role or ["recorder"]
    unknown = [r for r in chosen if r not in bits]
    if unknown:
        _die(f"unknown role(s) {', '.join(unknown)}: recorder, auditor", FAILED)
    roles = 0
    for r in chosen:
        roles |= int(bits[r])
    with _errors():
        member = _membership(admin=True).admit(
            name, roles, org_id=org_id, prefixes=tuple(prefix or ())
        )
    _print_members([member], as_json)


@members_app.command("suspend")
def members_suspend(org_id: str, as_json: JsonOption = False) -> None:
    """Suspend a member: its keys can no longer anchor or recall."""
    with _errors():
        member = _membership(admin=True).suspend(org_id)
    _print_members([member], as_json)


@members_app.command("reinstate")
def members_reinstate(org_id: str, as_json: JsonOption = False) -> None:
    """Reinstate a suspended member."""
    with _errors():
        member = _membership(admin=True).reinstate(org_id)
    _print_members([member], as_json)


@members_app.command("assign-prefix")
def members_assign_prefix(org_id: str, prefix: str, as_json: JsonOption = False) -> None:
    """Assign an identifier prefix to a member (on the chain and in the database)."""
    with _errors():
        membership = _membership(admin=True)
        membership.assign_prefix(org_id, prefix)
        member = membership.member(org_id)
    _print_members([member], as_json)


@members_app.command("rotate-key")
def members_rotate_key(
    org_id: str,
    keep_old: Annotated[bool, typer.Option(help="Keep the old keys active.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Give a member a new signing key and revoke the old ones (past anchors stay valid)."""
    with _errors():
        membership = _membership(admin=True)
        address = membership.rotate_key(org_id, revoke_old=not keep_old)
        member = membership.member(org_id)
    if as_json:
        _print_json({"new_address": address, "member": _member_json(member)})
        return
    console.print(f"new signing address [bold]{address}[/]")
    _print_members([member], False)


# ---------------------------------------------------------------------- capture and query


def _content_type(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit
    return "application/xml" if path.suffix.lower() == ".xml" else "application/ld+json"


@app.command("capture")
def capture(
    file: Annotated[
        Path, typer.Argument(help="An EPCIS 2.0 document (JSON, JSON-LD or XML); - for stdin.")
    ],
    member: Annotated[
        str | None,
        typer.Option(help="Org id of the recording member (local mode; --api uses the key's)."),
    ] = None,
    content_type: Annotated[
        str | None, typer.Option(help="Media type (default from the file name).")
    ] = None,
    signature: Annotated[
        str | None,
        typer.Option(help="The member's EIP-712 signature of a single-event document (local)."),
    ] = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Capture a document: validated whole, stored all or nothing, queued for anchoring."""
    body = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    media = _content_type(file, content_type)
    remote = _remote(api, api_key)
    if remote is not None:
        answer = remote.request("POST", "/capture", content=body, headers={"Content-Type": media})
        data = answer.json()
        if as_json:
            _print_json(data)
        else:
            console.print(
                f"captured {data.get('eventCount')} events, capture {data.get('captureID')}"
            )
        return
    if member is None:
        _die("--member ORG_ID names the recording member (or use --api with its key)", FAILED)
    with _errors():
        result = _capture_locally(body, media, member, signature)
    data = {
        "captureID": result.capture_id,
        "eventCount": len(result.events),
        "new": result.new_count,
        "events": [{"hash_id": r.hash_id, "new": r.new} for r in result.events],
    }
    if as_json:
        _print_json(data)
        return
    console.print(
        f"captured {len(result.events)} events ({result.new_count} new), "
        f"capture {result.capture_id}"
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _die(f"cannot read {path}: {exc}", FAILED)


def _capture_locally(body: bytes, media: str, org_id: str, signature: str | None) -> Any:
    from api.permissions import check_commissioning
    from api.problems import ProblemError
    from ledger.events import parse_document
    from ledger.signing import check_event_signature
    from ledger.store.capture import capture_events
    from ledger.store.repository import get_organisation

    try:
        engine = _engine(migrate=True)
        organisation = get_organisation(engine, org_id=org_id)
        if organisation is None or organisation.id is None:
            _die(f"no member {org_id}", FAILED)
        events = parse_document(body, media)
        check_commissioning(engine, organisation.id, events, path="epcisBody.eventList")
        if signature is not None:
            deployment = _deployment()
            for event in events:
                check_event_signature(
                    engine,
                    chain_id=deployment.chain_id,
                    anchor_address=deployment.anchor_address,
                    organisation_id=organisation.id,
                    event=event,
                    signature=signature,
                )
        return capture_events(engine, events, organisation_id=organisation.id, signature=signature)
    except ProblemError as exc:
        _die(f"{exc.detail} {exc.errors}", FAILED)
    except LedgerError as exc:
        nested = getattr(exc, "errors", None) or []
        for error in nested:
            err_console.print(f"  {getattr(error, 'field', '')}: {getattr(error, 'reason', error)}")
        raise _fail(exc) from None


@app.command(
    "query",
    context_settings={"allow_extra_args": False},
)
def query(
    params: Annotated[
        list[str] | None,
        typer.Argument(
            help="EPCIS query parameters NAME=VALUE (eventType=ObjectEvent, "
            "MATCH_epc=urn:epc:id:sgtin:..., GE_eventTime=..., EQ_bizStep=shipping ...)."
        ),
    ] = None,
    per_page: Annotated[int, typer.Option(help="Events per page.", min=1, max=1000)] = 100,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow nextPageToken to the end.")
    ] = False,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Query events with EPCIS 2.0 SimpleEventQuery parameters."""
    query_params: dict[str, list[str]] = {}
    for item in params or []:
        name, equals, value = item.partition("=")
        if not equals or not name:
            _die(f"{item!r} is not NAME=VALUE", FAILED)
        query_params.setdefault(name, []).append(value)
    query_params["perPage"] = [str(per_page)]
    events: list[dict[str, Any]] = []
    token: str | None = None
    remote = _remote(api, api_key)
    while True:
        page_params = dict(query_params)
        if token:
            page_params["nextPageToken"] = [token]
        if remote is not None:
            data = remote.request("GET", "/events", params=page_params).json()
            events += data["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            token = data.get("nextPageToken")
        else:
            page_events, token = _query_locally(page_params)
            events += page_events
        if not all_pages or token is None:
            break
    if as_json:
        _print_json({"events": events, "nextPageToken": token})
        return
    _print_events(events, token)


def _query_locally(params: dict[str, list[str]]) -> tuple[list[dict[str, Any]], str | None]:
    from ledger.store.query import query_events

    with _errors():
        page = query_events(_engine(), params)
    out = []
    for stored in page.events:
        event = stored.event
        event.pop("@context", None)
        event.setdefault("eventID", stored.hash_id)
        out.append(event)
    return out, page.next_page_token


def _print_events(events: list[dict[str, Any]], token: str | None) -> None:
    from rich.table import Table

    table = Table("event time", "type", "action", "biz step", "identifiers", "event id")
    for event in events:
        ids = [
            *(event.get("epcList") or []),
            *([event["parentID"]] if event.get("parentID") else []),
            *(event.get("childEPCs") or []),
            *(event.get("inputEPCList") or []),
            *(event.get("outputEPCList") or []),
            *(q.get("epcClass", "") for q in event.get("quantityList") or []),
        ]
        shown = ", ".join(ids[:2]) + (f" (+{len(ids) - 2})" if len(ids) > 2 else "")
        table.add_row(
            str(event.get("eventTime")),
            str(event.get("type")),
            str(event.get("action") or ""),
            str(event.get("bizStep") or ""),
            shown,
            str(event.get("eventID") or ""),
        )
    console.print(table)
    console.print(f"{len(events)} events" + (f"; next page: {token}" if token else ""))


# ---------------------------------------------------------------------- trace and verify


@app.command("trace")
def trace(
    identifier: Annotated[
        str, typer.Argument(help="Any identifier form (EPC URI, Digital Link...).")
    ],
    direction: Annotated[
        str, typer.Option(help="forward (where it went) or backward (where it came from).")
    ] = "forward",
    depth: Annotated[
        int | None, typer.Option(help="Levels to follow (default 12; 0-64).", min=0, max=64)
    ] = None,
    svg: Annotated[Path | None, typer.Option(help="Also write the graph as SVG here.")] = None,
    recall: Annotated[
        bool, typer.Option(help="Summarise what a recall of it must reach (forward, all levels).")
    ] = False,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trace an identifier through transformations, packing, lots and shipments."""
    from ledger.trace import DEFAULT_DEPTH, recall_scope, render_svg
    from ledger.trace import trace as run_trace

    if direction not in ("forward", "backward"):
        _die("--direction is forward or backward", FAILED)
    remote = _remote(api, api_key)
    levels = DEFAULT_DEPTH if depth is None else depth
    if remote is not None:
        path = f"/trace/{_quote(identifier)}"
        params: dict[str, Any] = {"direction": direction, "depth": levels}
        data = remote.request("GET", path, params=params).json()
        if svg is not None:
            picture = remote.request(
                "GET", path, params={**params, "format": "svg"}, headers={"Accept": "image/svg+xml"}
            )
            svg.write_text(picture.text)
        if as_json:
            _print_json(data)
        else:
            _print_graph(data)
        return
    with _errors():
        engine = _engine()
        if recall:
            scope = recall_scope(engine, identifier)
            graph = scope.graph
        else:
            graph = run_trace(engine, identifier, direction, levels)  # type: ignore[arg-type]
    if svg is not None:
        svg.write_text(render_svg(graph))
    if as_json:
        _print_json({**graph.to_json(), **({"recall": scope.to_json()} if recall else {})})
        return
    _print_graph(graph.to_json())
    if recall:
        console.print_json(json.dumps(scope.to_json()))
    if svg is not None:
        console.print(f"SVG written to {svg}")


def _print_graph(data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("depth", "kind", "type", "node")
    for node in data["nodes"]:
        label = node["label"] if node["label"] == node["id"] else f"{node['label']}  {node['id']}"
        table.add_row(str(node["depth"]), node["kind"], node["type"], label)
    console.print(table)
    note = " (depth limit reached)" if data.get("truncated") else ""
    console.print(
        f"{data['direction']} trace of {data['root']}: {len(data['nodes'])} nodes, "
        f"{len(data['edges'])} links{note}"
    )


_VERDICT_CODES = {"verified": 0, "pending": PENDING, "recalled": RECALLED}


@app.command("verify")
def verify(
    identifier: Annotated[
        str, typer.Argument(help="An identifier (its whole trail), or an event hash ID / 0x hash.")
    ],
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify an identifier's trail (or one event) against the chain.

    Exit 0 verified, 1 tampered or unknown, 3 pending (not anchored yet), 4 recalled.
    """
    remote = _remote(api, api_key)
    if remote is not None:
        data = remote.request(
            "GET",
            f"/identifiers/{_quote(identifier)}",
            params={"format": "json"},
            headers={"Accept": "application/json"},
        ).json()
        summary = {
            "identifier": data["identifier"]["canonical"],
            "verdict": data["verdict"],
            "reasons": data.get("reasons", []),
            "recall": data.get("recall"),
            "events": [
                {
                    "hash_id": e["hash_id"],
                    "event_type": e["event_type"],
                    "event_time": e["event_time"],
                    "biz_step": e.get("biz_step"),
                    "status": e["verification"]["status"],
                    "reasons": e["verification"]["reasons"],
                }
                for e in data["events"]
            ],
        }
    else:
        summary = _verify_locally(identifier)
    if as_json:
        _print_json(summary)
    else:
        _print_verification(summary)
    code = _VERDICT_CODES.get(summary["verdict"], FAILED)
    if code:
        raise typer.Exit(code=code)


def _verify_locally(text: str) -> dict[str, Any]:
    import re

    from ledger.store.repository import get_event_by_hash
    from ledger.verify import Verifier

    with _errors():
        engine = _engine()
        verifier = Verifier(engine, _chain(), _deployment())
        if text.startswith("ni:///") or re.fullmatch(r"0x[0-9a-f]{64}", text):
            stored = get_event_by_hash(engine, text)
            if stored is None:
                _die(f"no event {text}", FAILED)
            result = verifier.verify_event(stored.id)
            return {
                "identifier": text,
                "verdict": result.status,
                "reasons": list(result.reasons),
                "recall": None,
                "events": [
                    {
                        "hash_id": result.hash_id,
                        "event_type": stored.event_type,
                        "event_time": stored.event_time.isoformat(),
                        "biz_step": stored.event.get("bizStep"),
                        "status": result.status,
                        "reasons": list(result.reasons),
                        "anchor": result.to_json()["anchor"],
                    }
                ],
            }
        trail = verifier.verify_identifier(text)
    return {
        "identifier": trail.identifier,
        "verdict": trail.verdict,
        "reasons": list(trail.reasons),
        "recall": trail.recall,
        "events": [
            {
                "hash_id": entry.verification.hash_id,
                "event_type": entry.event_type,
                "event_time": entry.event_time.isoformat(),
                "biz_step": entry.biz_step,
                "status": entry.verification.status,
                "reasons": list(entry.verification.reasons),
                "anchor": entry.verification.to_json()["anchor"],
            }
            for entry in trail.events
        ],
    }


def _print_verification(summary: dict[str, Any]) -> None:
    from rich.table import Table

    colours = {"verified": "green", "pending": "yellow", "recalled": "magenta"}
    table = Table("event time", "type", "biz step", "status", "why")
    for event in summary["events"]:
        colour = colours.get(event["status"], "red")
        table.add_row(
            str(event["event_time"]),
            event["event_type"],
            str(event.get("biz_step") or ""),
            f"[{colour}]{event['status']}[/]",
            "; ".join(event["reasons"]),
        )
    console.print(table)
    verdict = summary["verdict"]
    console.print(
        f"{summary['identifier']}: [bold {colours.get(verdict, 'red')}]{verdict}[/]"
        + (f" ({'; '.join(summary['reasons'])})" if summary["reasons"] else "")
    )
    if summary.get("recall"):
        console.print(f"recalled on chain: {summary['recall']}")


# ---------------------------------------------------------------------- audit


@app.command("audit")
def audit(
    report: Annotated[
        Path | None, typer.Option(help="Write the JSON report (every finding, with evidence).")
    ] = None,
    from_block: Annotated[
        int | None, typer.Option(help="First block scanned for anchors and recalls.", min=0)
    ] = None,
    to_block: Annotated[int | None, typer.Option(help="Last block scanned.", min=0)] = None,
    workers: Annotated[
        int | None, typer.Option(help="Hashing processes (default: one per CPU).", min=1)
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Audit the whole database against the chain itself; exit 1 on any finding.

    Checks every event's hash, every batch root and proof, every anchor (and its member and
    signing address), anchors nobody recorded, and recalls. --report writes every finding with
    its evidence as JSON.
    """
    from ledger.audit import Auditor

    settings = get_settings()
    with _errors():
        auditor = Auditor(
            _engine(),
            _chain(),
            _deployment(),
            logs_block_range=settings.logs_block_range,
            workers=workers,
        )
        if progress:
            result = _audit_with_progress(auditor, from_block, to_block)
        else:
            result = auditor.run(from_block=from_block, to_block=to_block)
    if report is not None:
        result.write(report)
    if as_json:
        _print_json(result.summary())
    else:
        _print_audit(result, report)
    if not result.ok:
        raise typer.Exit(code=FAILED)


def _audit_with_progress(auditor: Any, from_block: int | None, to_block: int | None) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # No refresh thread: the audit forks its workers, which is safe only single-threaded.
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        auto_refresh=False,
        transient=True,
    ) as bar:
        task = bar.add_task("auditing events", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            bar.refresh()

        return auditor.run(from_block=from_block, to_block=to_block, progress=update)


def _print_audit(result: Any, report: Path | None) -> None:
    from rich.table import Table

    summary = result.summary()
    table = Table("checked", "count", show_header=False)
    for key in (
        "events",
        "pending_events",
        "batches",
        "mined_batches",
        "in_flight_batches",
        "anchors_on_chain",
        "event_anchors_on_chain",
        "recalls",
        "recalls_of_ledger_identifiers",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    table.add_row("blocks", f"{result.from_block} to {result.to_block}")
    table.add_row("time", f"{summary['elapsed_s']} s ({summary['events_per_s']:,} events/s)")
    console.print(table)
    if result.findings:
        findings = Table("kind", "finding", "evidence")
        for finding in result.findings[:50]:
            evidence = ", ".join(
                f"{k}={v}" for k, v in finding.evidence.items() if k in _EVIDENCE_KEYS
            )
            findings.add_row(finding.kind, finding.message, evidence)
        console.print(findings)
        more = len(result.findings) - 50
        if more > 0:
            console.print(f"... and {more} more (see the report)")
        console.print(f"[bold red]{len(result.findings)} findings[/]: {summary['by_kind']}")
    else:
        console.print("[bold green]no findings[/]: the database and the chain agree")
    if report is not None:
        console.print(f"report written to {report}")


_EVIDENCE_KEYS = frozenset(
    {"event_pk", "batch_id", "root", "tx_hash", "block", "event_hash", "identifier", "found"}
)


# ---------------------------------------------------------------------- bundles


@app.command("export")
def export(
    identifier: Annotated[
        str | None, typer.Option(help="Events mentioning this identifier (or its lot's items).")
    ] = None,
    lot: Annotated[str | None, typer.Option(help="Events of this lot (any LGTIN form).")] = None,
    from_time: Annotated[
        str | None, typer.Option("--from", help="Events at or after this time (RFC 3339).")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option("--to", help="Events before this time (RFC 3339).")
    ] = None,
    trace_direction: Annotated[
        str | None,
        typer.Option("--trace", help="Add every event of the identifier's forward/backward trace."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here (default: stdout).")] = None,
) -> None:
    """Write a self-contained bundle of events for offline verification.

    Events as captured, hashes, proofs, roots, anchoring transactions, recorders, chain id and
    genesis hash: `tracechain verify-bundle` needs nothing else but a node of the chain.
    """
    from ledger.bundle import dump_bundle, export_bundle

    if trace_direction not in (None, "forward", "backward"):
        _die("--trace is forward or backward", FAILED)
    with _errors():
        bundle = export_bundle(
            _engine(),
            _chain(),
            _deployment(),
            identifier=identifier,
            lot=lot,
            from_time=from_time,
            to_time=to_time,
            trace=trace_direction,  # type: ignore[arg-type]
        )
    text = dump_bundle(bundle)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    err_console.print(
        f"{len(bundle['events'])} events in {len(bundle['batches'])} batches written to {out}"
    )


@app.command("verify-bundle")
def verify_bundle(
    file: Annotated[Path, typer.Argument(help="A bundle written by `tracechain export`.")],
    rpc: Annotated[
        str | None,
        typer.Option(help="Any node of the chain (default TRACECHAIN_RPC_URL or the devnet)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a bundle against the chain alone (no database, no API).

    Exit 0 when every event and anchor checks out, 1 otherwise.
    """
    from ledger.bundle import load_bundle
    from ledger.bundle import verify_bundle as run_verification
    from ledger.chain import ChainClient

    settings = get_settings()
    with _errors():
        bundle = load_bundle(_read(file))
        result = run_verification(
            bundle,
            ChainClient(rpc or settings.effective_rpc_url),
            logs_block_range=settings.logs_block_range,
        )
    if as_json:
        _print_json(result.to_json())
    else:
        _print_bundle_result(result)
    if not result.ok:
        raise typer.Exit(code=FAILED)


def _print_bundle_result(result: Any) -> None:
    from rich.table import Table

    console.print(
        f"{result.events} events in {result.batches} batches on chain {result.chain_id} "
        f"({result.contract}): {result.verified} verified, {result.pending} pending"
    )
    if result.ok:
        console.print("[bold green]the bundle verifies[/]")
        return
    table = Table("kind", "finding", "evidence")
    for finding in result.findings[:50]:
        table.add_row(
            finding.kind,
            finding.message,
            ", ".join(f"{k}={v}" for k, v in finding.evidence.items() if k in _EVIDENCE_KEYS),
        )
    console.print(table)
    console.print(f"[bold red]{len(result.findings)} findings[/]")


if __name__ == "__main__":
    app()
