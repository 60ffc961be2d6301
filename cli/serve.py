"""``tracechain serve`` (the HTTP API) and ``tracechain anchor-worker``."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import console, err_console
from ledger.settings import get_settings


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
    host = host or settings.api.host
    port = port or settings.api.port
    # The app reads its settings from the environment: let it see what is served here.
    os.environ["TRACECHAIN_API_HOST"] = host
    os.environ["TRACECHAIN_API_PORT"] = str(port)
    get_settings.cache_clear()
    uvicorn.run("api.app:app", host=host, port=port, reload=reload, log_level=log_level)


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
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    worker = AnchorWorker(
        engine,
        ChainClient(settings.effective_rpc_urls),
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
