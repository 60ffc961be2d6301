"""Background tasks of the API process: the change watcher and the anchor worker.

The watcher keeps the trail cache honest about changes this process did not make itself:
events captured by other processes (new ``event`` rows) and recalls sent to the chain directly
(``Recalled`` / ``RecallLifted`` logs); it also notices a chain reset (another genesis block)
and then drops every cached verification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from api.services import Services
from ledger.anchoring import AnchorConfig, AnchorWorker, start_in_thread
from ledger.errors import LedgerError
from ledger.store.mentions import last_mention_pk, mentions_after

log = logging.getLogger("tracechain.api")

#: Check the genesis block every this many polls.
_GENESIS_EVERY = 30


@dataclass
class _WatchState:
    last_event_pk: int | None = None
    last_block: int | None = None
    polls: int = 0


def _new_identifiers(services: Services, after: int) -> tuple[int, set[str]]:
    """The last event pk, and the identifiers of events other processes captured after
    ``after``."""
    rows = mentions_after(services.engine, after)
    last = max((row.event_pk for row in rows), default=after)
    foreign = services.foreign({row.event_pk for row in rows})
    touched: set[str] = set()
    for row in rows:
        if row.event_pk in foreign:
            touched.add(row.canonical)
            if row.class_canonical:
                touched.add(row.class_canonical)
    return last, touched


def _recall_logs(services: Services, state: _WatchState) -> bool:
    """Whether a recall changed on chain since the last poll (advances ``last_block``)."""
    chain = services.chain
    if not chain.reachable():
        return False
    head = chain.block_number()
    if state.last_block is None:
        state.last_block = head
        return False
    if head <= state.last_block:
        if head < state.last_block:  # the chain went backwards: reset
            state.last_block = head
            return True
        return False
    anchor = chain.contract("TraceAnchor", services.deployment().anchor_address)
    recalls = chain.events(
        anchor,
        ("Recalled", "RecallLifted"),
        state.last_block + 1,
        head,
        block_range=services.settings.chain.logs_block_range,
    )
    changed = next(recalls, None) is not None
    state.last_block = head
    return changed


def _chain_was_reset(services: Services) -> bool:
    chain = services.chain
    if not chain.reachable():
        return False
    return chain.genesis_hash() != services.deployment().genesis_hash


def poll_once(services: Services, state: _WatchState) -> None:
    """One round of the watcher (synchronous; runs in a worker thread)."""
    if state.last_event_pk is None:
        state.last_event_pk = last_mention_pk(services.engine)
    else:
        last, touched = _new_identifiers(services, state.last_event_pk)
        if touched:
            services.trails.invalidate(touched)
        state.last_event_pk = last
    state.polls += 1
    try:
        if state.polls % _GENESIS_EVERY == 1 and _chain_was_reset(services):
            log.warning("the chain no longer matches the deployment record; caches dropped")
            services.forget_deployment()
            state.last_block = None
        if _recall_logs(services, state):
            services.trails.clear()
    except (LedgerError, OSError, ValueError) as exc:
        log.debug("watcher: chain not usable now: %s", exc)


async def watch(services: Services) -> None:
    """Poll for outside changes every ``recall_poll_seconds`` until cancelled."""
    state = _WatchState()
    while True:
        try:
            await asyncio.to_thread(poll_once, services, state)
        except Exception:
            log.exception("watcher round failed")
        await asyncio.sleep(services.settings.api.recall_poll_seconds)


async def anchor(services: Services) -> None:
    """Run the anchor worker (in its own thread) until cancelled.

    The worker needs the deployment record; while there is none (the devnet is not up yet)
    this waits and tries again.
    """
    while True:
        try:
            deployment = await asyncio.to_thread(services.deployment)
            break
        except LedgerError as exc:
            log.warning("anchor worker waits for the deployment: %s", exc.reason)
            await asyncio.sleep(2.0)
    worker = AnchorWorker(
        services.engine,
        services.chain,
        deployment,
        services.keyring,
        AnchorConfig.from_settings(services.settings),
    )
    thread, stop = start_in_thread(worker)
    try:
        while thread.is_alive():
            await asyncio.sleep(0.5)
        log.error("the anchor worker thread ended")
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 30.0)


def start(services: Services) -> list[asyncio.Task[None]]:
    """Start the background tasks of the app: the watcher and, unless disabled
    (``TRACECHAIN_ANCHOR_WORKER_IN_API=false``), the anchor worker."""
    tasks = [asyncio.create_task(watch(services), name="tracechain-watcher")]
    if services.settings.anchoring.worker_in_api:
        tasks.append(asyncio.create_task(anchor(services), name="tracechain-anchor-worker"))
    return tasks


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait for them."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
