"""Reliability figures in one run: crashes (the chain and the API killed), load and tampering.

Runs, each on a throwaway devnet and database of its own:

* ``chain crash`` (:func:`bench.crashrun.run_crash`): anvil killed before and after its state
  dump under a running anchor worker;
* ``API crash`` (:func:`bench.apicrashrun.run_api_crash`): the API server SIGKILLed at seeded
  moments while a client captures over HTTP, restarted on the same data dir;
* ``load`` (:func:`bench.loadrun.run_load`): concurrent clients on cold trail pages, hot trail
  pages and captures;
* ``tamper`` (:func:`bench.tamperrun.run_tamper`): seeded single-field mutations of the
  database, each of which verify and the audit must see.

    .venv/bin/python bench/reliability.py             # small: about a minute on 2 quiet cores
    .venv/bin/python bench/reliability.py --scale 10  # ten times the events, kills and load

The crash and tamper runs (each mostly waiting on its own devnet) run side by side in child
processes; the load run comes after them, alone, so that its latencies are its own.

Progress goes to stderr line by line; the last line on stdout is one JSON object: ``lost``,
``duplicated``, ``stalled`` (both crash runs together), ``cold_trail_p99_ms``,
``capture_p99_ms``, ``errors_5xx`` (load and API crash), ``detected`` / ``mutations`` (tamper),
and each run's own figures under its name.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/reliability.py`: the root holds `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apicrashrun import run_api_crash
from bench.crashrun import run_crash
from bench.loadrun import run_load
from bench.tamperrun import run_tamper


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _shown(figures: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in figures.items() if not isinstance(v, (dict, list))})


def _timed(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    _progress(f"{name}: running")
    started = time.monotonic()
    figures = run()
    _progress(f"{name}: done in {time.monotonic() - started:.1f} s {_shown(figures)}")
    return figures


def run_all(
    *,
    scale: float = 1.0,
    seed: int = 11,
    database_url: str | None = None,
    tamper: bool = True,
    load_s: float = 5.0,
    clients: int = 50,
) -> dict[str, Any]:
    """Every run at ``scale`` (1: the small default); the combined figures."""

    def n(base: int) -> int:
        return max(1, round(base * scale))

    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "chain crash": partial(run_crash, events=n(30), kills=n(2)),
        "API crash": partial(
            run_api_crash, events=n(60), kills=n(2), seed=seed, database_url=database_url
        ),
    }
    if tamper:
        runs["tamper"] = partial(run_tamper, seed=seed)
    started = time.monotonic()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(runs), mp_context=spawn) as pool:
        futures: dict[str, Future[dict[str, Any]]] = {}
        for name, run in runs.items():
            _progress(f"{name}: running")
            futures[name] = pool.submit(run)
        done: dict[str, dict[str, Any]] = {}
        for name, future in futures.items():
            done[name] = future.result()
            elapsed = time.monotonic() - started
            _progress(f"{name}: done after {elapsed:.1f} s {_shown(done[name])}")
    crash, api = done["chain crash"], done["API crash"]
    load = _timed(
        "load",
        lambda: run_load(
            clients=clients,
            duration_s=load_s * scale,
            cold_lots=n(400),
            hot_lots=5,
            database_url=None,
        ),
    )
    if not load["errors_5xx"]:
        load.pop("error_samples", None)
    out: dict[str, Any] = {
        "lost": crash["lost"] + api["lost"],
        "duplicated": crash["duplicated"] + api["duplicated"],
        "stalled": crash["stalled"] + api["stalled"],
        "half_stored": api["half_stored"],
        "audit_findings": (crash["audit_findings"] or 0) + api["audit_findings"],
        "cold_trail_p99_ms": load["cold_trail_p99_ms"],
        "hot_trail_p99_ms": load["hot_trail_p99_ms"],
        "capture_p99_ms": load["capture_p99_ms"],
        "req_per_s": load["req_per_s"],
        "errors_5xx": load["errors_5xx"] + api["errors_5xx"],
        "missing_events": load["missing_events"],
    }
    if "tamper" in done:
        tampered = done["tamper"]
        out["mutations"] = tampered["mutations"]
        out["detected"] = min(tampered["detected_by_verify"], tampered["detected_by_audit"])
        out["tamper"] = tampered
    out.update({"chain_crash": crash, "api_crash": api, "load": load})
    return out


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies events, kills, load")
    parser.add_argument("--seed", type=int, default=11, help="the crash and tamper runs' seed")
    parser.add_argument("--clients", type=int, default=50, help="concurrent load clients")
    parser.add_argument("--load-seconds", type=float, default=5.0, help="load time (x scale)")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server for the API crash run"
    )
    parser.add_argument("--no-tamper", action="store_true", help="skip the tamper run")
    args = parser.parse_args()
    started = time.monotonic()
    figures = run_all(
        scale=args.scale,
        seed=args.seed,
        database_url=args.database_url,
        tamper=not args.no_tamper,
        load_s=args.load_seconds,
        clients=args.clients,
    )
    figures["elapsed_s"] = round(time.monotonic() - started, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
