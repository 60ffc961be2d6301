"""``tracechain capture`` and ``tracechain query``: EPCIS events in and out.

A local capture takes the path the API takes (:func:`ledger.capture.capture_document`): a
rejected document is recorded as a failed capture job, the capture limit
(``TRACECHAIN_MAX_CAPTURE_EVENTS``) holds, only a prefix's owner commissions under it, and a
member's own EIP-712 ``--signature`` is checked before anything is stored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import backends
from cli.backends import ApiKeyOption, ApiOption
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, print_json
from ledger.settings import get_settings

if TYPE_CHECKING:
    from ledger.capture import Captured
    from ledger.visibility import Visibility


def _content_type(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit
    return "application/xml" if path.suffix.lower() == ".xml" else "application/ld+json"


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
    visibility: Annotated[
        str | None,
        typer.Option(
            help="Who may read the events: private, restricted, linked or public "
            "(default: the member's default)."
        ),
    ] = None,
    reader: Annotated[
        list[str] | None,
        typer.Option(help="Org id of a member that may also read the events (repeatable)."),
    ] = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Capture a document: validated whole, stored all or nothing, queued for anchoring."""
    from ledger.visibility import parse_visibility

    chosen = None if visibility is None else parse_visibility(visibility, field="--visibility")
    readers = list(reader or [])
    body = sys.stdin.buffer.read() if str(file) == "-" else backends.read_file(file)
    media = _content_type(file, content_type)
    remote = backends.remote(api, api_key)
    if remote is not None:
        params: dict[str, Any] = {"reader": readers}
        if chosen is not None:
            params["visibility"] = chosen.value
        answer = remote.request(
            "POST", "/capture", content=body, headers={"Content-Type": media}, params=params
        )
        data = answer.json()
        if as_json:
            print_json(data)
        else:
            console.print(
                f"captured {data.get('eventCount')} events, capture {data.get('captureID')}"
            )
        return
    if member is None:
        die(
            "--member ORG_ID names the recording member (or use --api with its key)",
            ExitCode.FAILED,
        )
    captured = _capture_locally(body, media, member, signature, chosen, readers)
    result = captured.result
    summary = {
        "captureID": result.capture_id,
        "eventCount": len(result.events),
        "new": result.new_count,
        "events": [{"hash_id": r.hash_id, "new": r.new} for r in result.events],
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"captured {len(result.events)} events ({result.new_count} new), "
        f"capture {result.capture_id}"
    )


def _capture_locally(
    body: bytes,
    media: str,
    org_id: str,
    signature: str | None,
    visibility: Visibility | None,
    readers: list[str],
) -> Captured:
    from ledger.capture import EventSignature, capture_document
    from ledger.store.repository import get_organisation

    engine = backends.engine(migrate=True)
    organisation = get_organisation(engine, org_id=org_id)
    if organisation is None or organisation.id is None:
        die(f"no member {org_id}", ExitCode.FAILED)
    signed = None
    if signature is not None:
        deployment = backends.deployment()
        signed = EventSignature.from_hex(
            signature, chain_id=deployment.chain_id, anchor_address=deployment.anchor_address
        )
    return capture_document(
        engine,
        body,
        media,
        organisation_id=organisation.id,
        max_events=get_settings().api.max_capture_events,
        signature=signed,
        visibility=visibility,
        readers=readers,
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
            die(f"{item!r} is not NAME=VALUE", ExitCode.FAILED)
        query_params.setdefault(name, []).append(value)
    query_params["perPage"] = [str(per_page)]
    events: list[dict[str, Any]] = []
    token: str | None = None
    remote = backends.remote(api, api_key)
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
        print_json({"events": events, "nextPageToken": token})
        return
    _print_events(events, token)


def _query_locally(params: dict[str, list[str]]) -> tuple[list[dict[str, Any]], str | None]:
    from ledger.store.query import query_events
    from ledger.visibility import Reader

    # A local query reads the database itself: the operator's view.
    page = query_events(backends.engine(), params, reader=Reader.operator())
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
