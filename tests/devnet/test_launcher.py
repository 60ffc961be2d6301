"""The devnet launcher: start, deploy once, persist state, detect a reset chain."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.launcher import ChainResetError, Devnet, DevnetError
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.settings import REPO_ROOT
from tests.conftest import devnet_settings
from tests.helpers import free_port
from wallets.keystore import SCRYPT_N_LIGHT


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Devnet]:
    devnet = Devnet(devnet_settings(tmp_path), key_work_factor=SCRYPT_N_LIGHT)
    yield devnet
    devnet.down()


def wait_for_state_dump(devnet: Devnet, after: float) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if devnet.paths.state.exists() and devnet.paths.state.stat().st_mtime > after:
            return
        time.sleep(0.1)
    raise AssertionError("anvil did not dump its state")


def test_up_deploys_once_and_writes_the_record(net: Devnet) -> None:
    status = net.up()
    assert status.running
    assert status.deployed_now
    record = Deployment.load(net.paths.deployment)
    client = ChainClient(net.rpc_url)
    assert record.chain_id == client.chain_id == net.settings.devnet.chain_id
    assert record.mismatches(client) == []
    assert client.w3.eth.get_code(record.anchor_address) != b""
    # The node holds no keys: every transaction must be signed by its sender.
    assert client.w3.eth.accounts == []
    assert client.w3.eth.gas_price == 0
    # The admin key is stored encrypted, never in the clear.
    keystore = json.loads(net.paths.admin_keystore.read_text())
    assert keystore["crypto"]["kdf"] == "scrypt"
    assert net.paths.admin_keystore.stat().st_mode & 0o777 == 0o600
    again = net.up()
    assert not again.deployed_now
    assert again.deployment == record


def test_clean_restart_keeps_every_block(net: Devnet) -> None:
    net.up()
    client = ChainClient(net.rpc_url)
    head = client.w3.eth.get_block("latest")
    assert net.down()
    assert net.pid() is None
    assert not ChainClient(net.rpc_url, timeout=1).reachable()
    status = net.up()
    assert not status.deployed_now
    assert client.w3.eth.get_block(head["number"])["hash"] == head["hash"]


def test_kill_9_loses_at_most_the_state_interval(net: Devnet) -> None:
    started = time.time()
    net.up()
    head = ChainClient(net.rpc_url).w3.eth.get_block("latest")
    wait_for_state_dump(net, started + 0.01)
    time.sleep(1.2)  # one more dump after the deployment block
    assert net.kill()
    status = net.up()
    assert not status.deployed_now
    assert ChainClient(net.rpc_url).w3.eth.get_block(head["number"])["hash"] == head["hash"]


def test_reset_chain_is_reported_not_redeployed(net: Devnet) -> None:
    net.up()
    record = Deployment.load(net.paths.deployment)
    net.down()
    net.paths.state.unlink()  # the chain's history is gone
    with pytest.raises(ChainResetError) as info:
        net.up()
    message = str(info.value)
    assert "reset" in message
    # Block 1 (the deployment) is gone; the genesis hash may coincide (same second).
    assert "deployed in block 1 but the chain ends at 0" in message
    assert "--redeploy" in message
    assert Deployment.load(net.paths.deployment) == record  # untouched
    status = net.up(redeploy=True)
    assert status.deployed_now
    assert status.deployment is not None
    assert status.deployment.mismatches(ChainClient(net.rpc_url)) == []
    kept = list(net.paths.deployment.parent.glob("deployment.*.reset.json"))
    assert len(kept) == 1


def test_a_node_slow_to_exec_is_waited_for(tmp_path: Path) -> None:
    """Until the exec, a started node's command line is its parent's; ``up`` must wait for it
    (seen on a loaded machine: "anvil did not answer" at once, with an empty log). Here the
    node is a shell script that sleeps before it execs anvil."""
    real = Devnet(devnet_settings(tmp_path / "real"), key_work_factor=SCRYPT_N_LIGHT).anvil_bin()
    slow = tmp_path / "slow-start"
    slow.write_text(f'#!/bin/sh\nsleep 1\nexec "{real}" "$@"\n')
    slow.chmod(0o755)
    settings = devnet_settings(tmp_path / "data").updated(devnet={"anvil_bin": slow})
    devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    try:
        status = devnet.up()
        assert status.deployment.mismatches(ChainClient(devnet.rpc_url)) == []
    finally:
        devnet.down()


def test_a_node_that_never_answers_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``up`` gives up on a node that does not answer within the start timeout, and stops the
    node it started rather than leaving it running (holding the port). Here the node is a
    shell script that never listens."""
    import devnet.launcher as launcher

    mute = tmp_path / "mute-node"
    mute.write_text("#!/bin/sh\nexec sleep 600\n")
    mute.chmod(0o755)
    monkeypatch.setattr(launcher, "START_TIMEOUT_S", 0.5)
    started: list[subprocess.Popen[bytes]] = []
    start = Devnet._start

    def noting(devnet: Devnet) -> subprocess.Popen[bytes]:
        started.append(start(devnet))
        return started[-1]

    monkeypatch.setattr(Devnet, "_start", noting)
    settings = devnet_settings(tmp_path / "data").updated(devnet={"anvil_bin": mute})
    devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    try:
        with pytest.raises(DevnetError, match="did not answer"):
            devnet.up()
        assert len(started) == 1
        assert started[0].poll() is not None, "the node up started is still running"
        assert not devnet.paths.pid.exists()
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_port_taken_by_someone_else(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        devnet = Devnet(devnet_settings(tmp_path, port), key_work_factor=SCRYPT_N_LIGHT)
        with pytest.raises(DevnetError, match="taken"):
            devnet.up()


def test_cli_up_status_down(tmp_path: Path) -> None:
    env = {
        "TRACECHAIN_DATA_DIR": str(tmp_path),
        "TRACECHAIN_DEVNET_PORT": str(free_port()),
        "PATH": "/usr/bin:/bin",
    }
    cli = [sys.executable, "-m", "cli"]
    try:
        up = subprocess.run(
            [*cli, "devnet", "up", "--json"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert up.returncode == 0, up.stderr
        data = json.loads(up.stdout)
        assert data["running"]
        assert data["deployed_now"]
        assert data["deployment"]["contracts"]["TraceAnchor"]["address"].startswith("0x")
        status = subprocess.run(
            [*cli, "devnet", "status", "--json"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0
        assert json.loads(status.stdout)["block_number"] >= 1
    finally:
        down = subprocess.run(
            [*cli, "devnet", "down"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "stopped" in down.stdout
    status = subprocess.run(
        [*cli, "devnet", "status"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 1
