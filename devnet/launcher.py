"""The embedded devnet: the pinned anvil node on 127.0.0.1 with our contracts deployed.

``tracechain devnet up`` starts anvil (from ``devnet/node_modules`` or ``ANVIL_BIN``) with a
fixed chain id, zero gas price (a permissioned chain: members need no funding; set
``TRACECHAIN_DEVNET_GAS_PRICE`` to try one that charges gas, which funds the admin), no unlocked
accounts (every transaction is signed by its sender's own key) and its state persisted under
the data dir (dumped every few seconds and on a clean stop), waits until it answers, and deploys
the contracts once from an admin key generated into the data dir. Later starts check the chain
against the deployment record and say clearly when the chain was reset.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger.chain import ChainClient, RpcRequest
from ledger.deployment import DeployedContract, Deployment
from ledger.errors import ConfigurationError, LedgerError
from ledger.settings import Settings
from wallets.admin import ADMIN_PASSPHRASE_ENV, AdminKey
from wallets.keystore import (
    SCRYPT_N,
    create_keystore,
    load_keystore,
    new_passphrase,
    private_dir,
    read_passphrase,
    write_secret,
)

#: Environment variable that may hold the admin keystore's passphrase.
#: Seconds to wait for anvil to answer after starting it.
START_TIMEOUT_S = 30.0
#: Seconds to wait for anvil to dump its state and exit on SIGTERM.
STOP_TIMEOUT_S = 15.0
#: What the admin of a devnet that charges gas is given (1,000,000 ether, in wei, hex).
ADMIN_FUNDS = hex(10**24)


class DevnetError(LedgerError):
    """The devnet could not be started, stopped or checked."""

    problem = "devnet"


class ChainResetError(DevnetError):
    """The chain no longer matches the deployment record (it was reset or lost blocks)."""

    problem = "chain-reset"


@dataclass(frozen=True, slots=True)
class DevnetPaths:
    """Files of the devnet under the data dir."""

    root: Path

    @property
    def chain_dir(self) -> Path:
        """anvil's folder."""
        return self.root / "devnet"

    @property
    def state(self) -> Path:
        """anvil's state dump (every block and the world state)."""
        return self.chain_dir / "state.json"

    @property
    def log(self) -> Path:
        """anvil's output."""
        return self.chain_dir / "anvil.log"

    @property
    def pid(self) -> Path:
        """The running anvil's process id."""
        return self.chain_dir / "anvil.pid"

    @property
    def admin_keystore(self) -> Path:
        """The consortium admin's encrypted key (keystore v3)."""
        return AdminKey(self.root).keystore

    @property
    def admin_passphrase(self) -> Path:
        """The admin keystore's passphrase file (0600), when none is given in the environment."""
        return AdminKey(self.root).passphrase_file

    @property
    def deployment(self) -> Path:
        """The deployment record."""
        return self.root / "deployment.json"


@dataclass(frozen=True, slots=True)
class DevnetStatus:
    """What ``status`` and ``up`` report."""

    running: bool
    pid: int | None
    rpc_url: str
    block_number: int | None
    deployment: Deployment | None
    deployed_now: bool = False


class Devnet:
    """Starts, stops and checks the local devnet described by ``settings``."""

    def __init__(self, settings: Settings, *, key_work_factor: int = SCRYPT_N) -> None:
        self.settings = settings
        self.paths = DevnetPaths(settings.data_dir)
        self.rpc_url = f"http://{settings.devnet.host}:{settings.devnet.port}"
        self._key_work_factor = key_work_factor

    # ------------------------------------------------------------------ commands

    def anvil_bin(self) -> Path:
        """The anvil executable: ``ANVIL_BIN`` or the pinned npm package."""
        devnet = self.settings.devnet
        if devnet.anvil_bin is not None:
            return devnet.anvil_bin
        path = devnet.node_modules / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        if not path.exists():
            raise ConfigurationError(
                f"anvil is not installed at {path}; run `make` (npm ci in devnet/) or set ANVIL_BIN"
            )
        return path

    def command(self) -> list[str]:
        """The anvil command line."""
        s = self.settings
        return [
            str(self.anvil_bin()),
            "--host", s.devnet.host,
            "--port", str(s.devnet.port),
            "--chain-id", str(s.devnet.chain_id),
            "--hardfork", s.devnet.hardfork,
            "--gas-price", str(s.devnet.gas_price),
            "--base-fee", str(s.devnet.gas_price),
            "--disable-min-priority-fee",
            "--accounts", "0",
            "--state", str(self.paths.state),
            "--state-interval", str(s.devnet.state_interval),
        ]  # fmt: skip

    def up(self, *, redeploy: bool = False) -> DevnetStatus:
        """Start the node if needed, then deploy the contracts once or check the deployment."""
        started = self._start() if self.pid() is None else None
        client = ChainClient(self.rpc_url)
        self._wait_until_answering(client, started)
        deployed_now = False
        if self.paths.deployment.exists():
            record = Deployment.load(self.paths.deployment)
            problems = record.mismatches(client)
            if problems and not redeploy:
                raise ChainResetError(
                    "the chain was reset or lost blocks since the contracts were deployed: "
                    + "; ".join(problems)
                    + f". The deployment record is {self.paths.deployment}. Run "
                    "`tracechain devnet up --redeploy` to deploy anew (the old record is kept); "
                    "events anchored on the old chain are re-anchored by the anchor worker."
                )
            if problems:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                self.paths.deployment.rename(
                    self.paths.deployment.with_name(f"deployment.{stamp}.reset.json")
                )
        if not self.paths.deployment.exists():
            self._deploy(client)
            deployed_now = True
        return replace(self.status(), deployed_now=deployed_now)

    def down(self) -> bool:
        """Stop the node cleanly (anvil dumps its state on SIGTERM). False if it was not up."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self._wait_until_gone(pid)
        return True

    def kill(self) -> bool:
        """Kill the node with SIGKILL (no final state dump): what a crash looks like."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        self._wait_until_gone(pid)
        return True

    def status(self) -> DevnetStatus:
        """Whether the node runs, its head block and the deployment record."""
        pid = self.pid()
        block: int | None = None
        if pid is not None:
            client = ChainClient(self.rpc_url, timeout=2.0)
            with contextlib.suppress(LedgerError):
                block = client.block_number()
        record = Deployment.load(self.paths.deployment) if self.paths.deployment.exists() else None
        return DevnetStatus(pid is not None, pid, self.rpc_url, block, record)

    def pid(self) -> int | None:
        """The process id of our running anvil, or None."""
        try:
            pid = int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid) or not _is_anvil(pid):
            self.paths.pid.unlink(missing_ok=True)
            return None
        return pid

    def admin_account(self) -> LocalAccount:
        """The consortium admin key, created (encrypted) on first use."""
        passphrase_env = os.environ.get(ADMIN_PASSPHRASE_ENV)
        if not self.paths.admin_keystore.exists():
            passphrase = passphrase_env or new_passphrase()
            if not passphrase_env:
                write_secret(self.paths.admin_passphrase, passphrase)
            create_keystore(
                self.paths.admin_keystore, passphrase, work_factor=self._key_work_factor
            )
        passphrase = read_passphrase(env=ADMIN_PASSPHRASE_ENV, file=self.paths.admin_passphrase)
        return load_keystore(self.paths.admin_keystore, passphrase)

    # ------------------------------------------------------------------ internals

    def _start(self) -> subprocess.Popen[bytes]:
        host, port = self.settings.devnet.host, self.settings.devnet.port
        if _port_open(host, port):
            raise DevnetError(
                f"{host}:{port} is taken by another process; stop it or set TRACECHAIN_DEVNET_PORT"
            )
        private_dir(self.paths.chain_dir)  # the data dir and its devnet folder: 0700
        with self.paths.log.open("ab") as log:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI that started it
            )
        write_secret(self.paths.pid, str(proc.pid))
        return proc

    def _wait_until_gone(self, pid: int) -> None:
        """Wait until the process and its listening socket are gone (threads exit last)."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and (
            _alive(pid) or _port_open(self.settings.devnet.host, self.settings.devnet.port)
        ):
            time.sleep(0.02)
        self.paths.pid.unlink(missing_ok=True)

    def _wait_until_answering(
        self, client: ChainClient, started: subprocess.Popen[bytes] | None
    ) -> None:
        """Wait until the node answers; give up when it exits or after the start timeout.

        A node this call ``started`` is watched through its process handle: right after the
        fork, until the exec, the child's command line is still ours, so :meth:`pid` (which
        checks that the pid file names an anvil) would take it for gone; on a loaded machine
        that window is long enough to be hit.
        """
        deadline = time.monotonic() + START_TIMEOUT_S
        why = f"anvil did not answer on {self.rpc_url} within {START_TIMEOUT_S:g} s"
        while time.monotonic() < deadline:
            if client.reachable():
                return
            if started is not None and started.poll() is not None:
                why = f"anvil exited with status {started.returncode}"
                break
            if started is None and self.pid() is None:
                why = "anvil is no longer running"
                break
            time.sleep(0.05)
        if started is not None and started.poll() is None:
            # A node this call started that never answered is stopped, not left running
            # (holding the port, so the next ``up`` would say the port is taken).
            started.kill()
            started.wait(timeout=STOP_TIMEOUT_S)
            self.paths.pid.unlink(missing_ok=True)
        tail = self.paths.log.read_text(errors="replace")[-2000:] if self.paths.log.exists() else ""
        raise DevnetError(f"{why}; its log ends with:\n{tail}")

    def _deploy(self, client: ChainClient) -> Deployment:
        admin = self.admin_account()
        if self.settings.devnet.gas_price > 0:
            # A devnet that charges gas funds its admin (anvil's own faucet; there are no
            # unlocked accounts to pay from).
            (answer,) = client.batch([RpcRequest("anvil_setBalance", (admin.address, ADMIN_FUNDS))])
            if answer.error is not None:
                raise DevnetError(f"cannot fund the admin on the devnet: {answer.error}")
        receipt = client.deploy(admin, "TraceAnchor", admin.address)
        address = str(receipt["contractAddress"])
        record = Deployment(
            chain_id=client.chain_id,
            genesis_hash=client.genesis_hash(),
            admin=admin.address,
            contracts={
                "TraceAnchor": DeployedContract(
                    address=address,
                    code_hash=client.code_hash(address),
                    block=int(receipt["blockNumber"]),
                    tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
                )
            },
        )
        record.save(self.paths.deployment)
        return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_anvil(pid: int) -> bool:
    try:
        return b"anvil" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid file


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
