"""Gas per anchored event: one transaction per event vs one Merkle root per batch.

Starts a throwaway devnet (the pinned anvil) with our contracts, admits a recording member and
reads gas from real receipts: ``anchorEvent`` for single events and ``anchorBatch`` for Merkle
roots of 1, 10, 100, 1,000 and 10,000 real event leaves. Every check stays in the path (member
known, active, RECORDER role, root not anchored before).

    .venv/bin/python bench/gas.py

The last line is one JSON object of the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from devnet.launcher import Devnet
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.merkle import MerkleTree, leaf_hash
from ledger.settings import Settings
from wallets.keystore import SCRYPT_N_LIGHT

BATCH_SIZES = (1, 10, 100, 1_000, 10_000)
SAMPLES = 5
RECORDER = 1


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=Path(tmp), devnet={"port": free_port()}
        )
        devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
        try:
            return measure(devnet)
        finally:
            devnet.down()


def measure(devnet: Devnet) -> dict[str, float]:
    chain = ChainClient(devnet.rpc_url)
    anchor = chain.contract("TraceAnchor", Deployment.load(devnet.paths.deployment).anchor_address)
    admin = devnet.admin_account()
    member: LocalAccount = Account.create()
    chain.transact(admin, anchor.functions.admitMember(os.urandom(32), RECORDER, member.address))

    single = [
        chain.transact(member, anchor.functions.anchorEvent(os.urandom(32), os.urandom(32)))[
            "gasUsed"
        ]
        for _ in range(SAMPLES)
    ]
    figures: dict[str, float] = {"anchor_event_gas": statistics.mean(single)}
    print(f"anchorEvent: {figures['anchor_event_gas']:.0f} gas per event")
    for size in BATCH_SIZES:
        used = []
        for _ in range(SAMPLES if size <= 1_000 else 2):
            leaves = [
                leaf_hash(os.urandom(32), os.urandom(32), member.address) for _ in range(size)
            ]
            root = MerkleTree.build(leaves).root
            receipt = chain.transact(member, anchor.functions.anchorBatch(root, size))
            used.append(receipt["gasUsed"])
        gas = statistics.mean(used)
        figures[f"gas_per_event_{size}"] = round(gas / size, 2)
        print(
            f"anchorBatch of {size:>6} events: {gas:>8.0f} gas per tx, {gas / size:>9.2f} per event"
        )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
