"""Parse throughput of ledger.identifiers, one core, distinct inputs (no cache hits).

Run: ``.venv/bin/python bench/identifiers.py [--scale 1.0] [--rounds 3]``. Prints one human
line per form and, as its last line, a JSON object with parses per second (best round):
``{"epc_uri_per_s": ..., "digital_link_per_s": ..., "element_string_per_s": ...,
"handle_per_s": ...}``. Targets: 200,000 EPC URIs/s, 10,000 Digital Links/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from collections.abc import Callable, Sequence

from ledger.identifiers import epc_to_digital_link, parse
from ledger.identifiers.gs1 import check_digit, dl_encode, epc_encode

_SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_ODD_CHARS = "/%&?!()-._"


def _serial(rng: random.Random, index: int) -> str:
    """A distinct serial; one in ten holds characters that need escaping."""
    base = f"{index:x}" + "".join(rng.choices(_SERIAL_CHARS, k=6))
    if index % 10 == 0:
        base = base[:4] + rng.choice(_ODD_CHARS) + base[4:]
    return base


def epc_uris(count: int, rng: random.Random) -> list[str]:
    """Distinct SGTIN URIs (with some LGTIN, SSCC and SGLN) over varied prefix lengths."""
    out = []
    for i in range(count):
        cp_len = rng.choice((6, 7, 7, 8, 9, 10))
        cp = f"{rng.randrange(10**cp_len):0{cp_len}d}"
        item_ref = f"{rng.randrange(10 ** (13 - cp_len)):0{13 - cp_len}d}"
        kind = i % 20
        if kind == 0:
            out.append(f"urn:epc:class:lgtin:{cp}.{item_ref}.{epc_encode(_serial(rng, i))}")
        elif kind == 1:
            out.append(f"urn:epc:id:sscc:{cp}.{rng.randrange(10 ** (17 - cp_len)):0{17 - cp_len}d}")
        else:
            out.append(f"urn:epc:id:sgtin:{cp}.{item_ref}.{epc_encode(_serial(rng, i))}")
    return out


def _gtin(rng: random.Random) -> str:
    body = f"{rng.randrange(10**13):013d}"
    return body + check_digit(body)


def digital_links(count: int, rng: random.Random) -> list[str]:
    """Distinct Digital Links: GTIN+serial, GTIN+lot+serial+expiry, SSCC, GLN+extension."""
    out = []
    for i in range(count):
        host = rng.choice(("https://id.gs1.org", "https://brand.example.com/dl"))
        kind = i % 10
        if kind < 6:
            out.append(f"{host}/01/{_gtin(rng)}/21/{dl_encode(_serial(rng, i))}")
        elif kind < 8:
            lot = f"L{rng.randrange(10**6)}"
            serial = dl_encode(_serial(rng, i))
            out.append(f"{host}/01/{_gtin(rng)}/10/{lot}/21/{serial}?17=261231")
        elif kind == 8:
            body = f"{rng.randrange(10**17):017d}"
            out.append(f"{host}/00/{body}{check_digit(body)}")
        else:
            body = f"{rng.randrange(10**12):012d}"
            out.append(f"{host}/414/{body}{check_digit(body)}/254/{i}")
    return out


def element_strings(count: int, rng: random.Random) -> list[str]:
    """Distinct element strings, half human-readable, half raw GS1 DataMatrix data."""
    out = []
    for i in range(count):
        gtin, lot, serial = _gtin(rng), f"L{rng.randrange(10**6)}", f"{i}X{rng.randrange(999)}"
        if i % 2:
            out.append(f"(01){gtin}(17)261231(10){lot}(21){serial}")
        else:
            out.append(f"]d201{gtin}17261231" + f"10{lot}\x1d21{serial}")
    return out


def handles(count: int, rng: random.Random) -> list[str]:
    """Distinct IDIS handles, bare and as resolver URLs."""
    out = []
    for i in range(count):
        prefix = f"88.{rng.randrange(100, 999)}.{rng.randrange(1, 99999)}"
        suffix = f"PUMP-{i:07d}/{rng.randrange(10**6)}"
        out.append(f"{prefix}/{suffix}" if i % 2 else f"https://r.example.cn/{prefix}/{suffix}")
    return out


def measure(function: Callable[[str], object], inputs: Sequence[str], rounds: int) -> float:
    """Best-of-``rounds`` items per second; every input is distinct, each round fresh."""
    best = 0.0
    chunk = len(inputs) // rounds
    for r in range(rounds):
        batch = inputs[r * chunk : (r + 1) * chunk]
        gc.collect()
        start = time.perf_counter()
        for text in batch:
            function(text)
        elapsed = time.perf_counter() - start
        best = max(best, len(batch) / elapsed)
    return best


def main() -> None:
    """Generate inputs, measure each form, print human lines and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply input counts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per form (best kept)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = random.Random(args.seed)
    rounds = max(1, args.rounds)

    def n(base: int) -> int:
        return max(rounds, int(base * args.scale))

    epc = epc_uris(n(600_000), rng)
    assert len(set(epc)) == len(epc), "EPC inputs must be distinct"
    dl = digital_links(n(90_000), rng)
    es = element_strings(n(30_000), rng)
    hd = handles(n(150_000), rng)

    results = {
        "epc_uri_per_s": measure(parse, epc[: len(epc) // 2], rounds),
        "digital_link_per_s": measure(parse, dl, rounds),
        "element_string_per_s": measure(parse, es, rounds),
        "handle_per_s": measure(parse, hd, rounds),
    }
    epc_dl = measure(epc_to_digital_link, epc[len(epc) // 2 :], rounds)
    print(f"EPC URI -> Identifier (parse)      {results['epc_uri_per_s']:>12,.0f} /s")
    print(f"EPC URI -> Digital Link (fast path) {epc_dl:>11,.0f} /s")
    print(f"Digital Link -> Identifier         {results['digital_link_per_s']:>12,.0f} /s")
    print(f"element string -> Identifier       {results['element_string_per_s']:>12,.0f} /s")
    print(f"handle -> Identifier               {results['handle_per_s']:>12,.0f} /s")
    print(json.dumps({key: round(value) for key, value in results.items()}))


if __name__ == "__main__":
    main()
