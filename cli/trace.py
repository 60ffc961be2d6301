"""``tracechain trace``: where an identifier went, or came from, and what a recall must reach."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import backends
from cli.backends import ApiKeyOption, ApiOption
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, print_json


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
    """Trace an identifier through transformations, packing, lots and shipments (with
    ``--api``, through the events the key may read; locally, every event)."""
    from ledger.trace import DEFAULT_DEPTH, recall_scope, render_svg
    from ledger.trace import trace as run_trace
    from ledger.visibility import Reader

    if direction not in ("forward", "backward"):
        die("--direction is forward or backward", ExitCode.FAILED)
    remote = backends.remote(api, api_key)
    levels = DEFAULT_DEPTH if depth is None else depth
    if remote is not None:
        path = f"/trace/{backends.quote(identifier)}"
        params: dict[str, Any] = {"direction": direction, "depth": levels}
        data = remote.request("GET", path, params=params).json()
        if svg is not None:
            picture = remote.request(
                "GET", path, params={**params, "format": "svg"}, headers={"Accept": "image/svg+xml"}
            )
            svg.write_text(picture.text)
        if as_json:
            print_json(data)
        else:
            _print_graph(data)
        return
    engine = backends.engine()
    operator = Reader.operator()  # a local trace reads the database itself: every event
    if recall:
        scope = recall_scope(engine, identifier, reader=operator)
        graph = scope.graph
    else:
        graph = run_trace(
            engine,
            identifier,
            direction,  # type: ignore[arg-type]
            levels,
            reader=operator,
        )
    if svg is not None:
        svg.write_text(render_svg(graph))
    if as_json:
        print_json({**graph.to_json(), **({"recall": scope.to_json()} if recall else {})})
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
    hidden = int(data.get("hidden") or 0)
    if hidden:
        note += f"; {hidden} event{'s' if hidden != 1 else ''} not visible to this key"
    console.print(
        f"{data['direction']} trace of {data['root']}: {len(data['nodes'])} nodes, "
        f"{len(data['edges'])} links{note}"
    )
