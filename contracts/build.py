"""Compile the Solidity sources into committed artifacts.

``python -m contracts.build`` compiles every ``contracts/*.sol`` with py-solc-x, driving the
pinned npm solc-js through ``devnet/solc-shim.js`` (or a native compiler named by ``SOLC_BIN``),
and writes ``contracts/artifacts/{Contract}.json`` with the ABI, bytecode, compiler version and
the SHA-256 of every source the compilation read. ``--check`` fails when an artifact is stale:
when any of those sources (ours or OpenZeppelin's) changed, or a source has no artifact.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import solcx

from ledger.errors import ConfigurationError
from ledger.settings import REPO_ROOT, Settings, get_settings

CONTRACTS_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
SHIM = REPO_ROOT / "devnet" / "solc-shim.js"
#: The contracts that are deployed (the rest are libraries and abstract bases).
DEPLOYABLE = ("TraceAnchor",)
#: OpenZeppelin 5 uses mcopy and transient storage: cancun or later.
EVM_VERSION = "prague"
#: Tuned for calls (anchoring), which run far more often than deployment.
OPTIMIZER_RUNS = 10_000


def compiler(settings: Settings | None = None) -> Path:
    """The compiler executable: ``SOLC_BIN`` or the solc-js shim."""
    devnet = (settings or get_settings()).devnet
    if devnet.solc_bin is not None:
        return devnet.solc_bin
    if not (devnet.node_modules / "solc").is_dir():
        raise ConfigurationError(
            f"solc-js is not installed in {devnet.node_modules}; run `make` (npm ci in devnet/)"
        )
    return SHIM


def _sources() -> dict[str, Path]:
    return {p.name: p for p in sorted(CONTRACTS_DIR.glob("*.sol"))}


def _source_file(name: str, settings: Settings) -> Path:
    if name.startswith("@"):
        return settings.devnet.node_modules / name
    return CONTRACTS_DIR / name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def standard_input() -> dict[str, Any]:
    """The solc standard-JSON input for every source."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text()} for name, path in _sources().items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def compile_all(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """Compile every source; return the artifacts by contract name (not written)."""
    settings = settings or get_settings()
    binary = compiler(settings)
    version = str(solcx.wrapper.get_version_str_from_solc_binary(binary))
    output = solcx.compile_standard(
        standard_input(), solc_binary=binary, base_path=CONTRACTS_DIR, allow_paths=CONTRACTS_DIR
    )
    for diagnostic in output.get("errors", []):
        print(diagnostic["formattedMessage"], file=sys.stderr)
    read = sorted(output["sources"])
    source_hashes = {name: _sha256(_source_file(name, settings)) for name in read}
    artifacts: dict[str, dict[str, Any]] = {}
    for source, contracts in output["contracts"].items():
        if source.startswith("@"):
            continue
        for name, out in contracts.items():
            if name not in DEPLOYABLE:
                continue  # libraries inlined, abstract bases
            artifacts[name] = {
                "contractName": name,
                "sourceName": source,
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                "compiler": {
                    "version": version,
                    "evmVersion": EVM_VERSION,
                    "optimizerRuns": OPTIMIZER_RUNS,
                },
                "sources": source_hashes,
            }
    return artifacts


def write(artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    """Write artifacts as pretty JSON (stable, diff-friendly); return the files written."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = ARTIFACTS_DIR / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def load_artifact(name: str) -> dict[str, Any]:
    """A committed artifact."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise ConfigurationError(f"no artifact {path}; run `python -m contracts.build`")
    artifact: dict[str, Any] = json.loads(path.read_text())
    return artifact


def stale(settings: Settings | None = None) -> list[str]:
    """Why the committed artifacts do not match the sources (empty when they do)."""
    settings = settings or get_settings()
    problems: list[str] = []
    for name in DEPLOYABLE:
        path = ARTIFACTS_DIR / f"{name}.json"
        if not path.exists():
            problems.append(f"{name}: no artifact")
            continue
        recorded: dict[str, str] = json.loads(path.read_text())["sources"]
        for source in _sources():
            if source not in recorded:
                problems.append(f"{name}: {source} is not in the artifact")
        for source, digest in sorted(recorded.items()):
            file = _source_file(source, settings)
            if not file.exists():
                problems.append(f"{name}: {source} is gone")
            elif _sha256(file) != digest:
                problems.append(f"{name}: {source} changed since the artifact was built")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m contracts.build [--check]``."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        problems = stale()
        for line in problems:
            print(f"stale artifact: {line}", file=sys.stderr)
        if problems:
            print(
                "run `python -m contracts.build` and commit contracts/artifacts/", file=sys.stderr
            )
            return 1
        print("contract artifacts are up to date")
        return 0
    for path in write(compile_all()):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
