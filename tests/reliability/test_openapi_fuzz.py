"""Bad input (issue 11, suite "Bad input"): schemathesis over the OpenAPI description the server
itself serves, every operation, against the real ``uvicorn api.app:app`` on a fresh devnet, data
dir and SQLite database of its own (nothing another test uses).

Each operation gets its documented examples, schemathesis' coverage cases (boundaries, missing
and wrong-typed values) and ``TRACECHAIN_FUZZ_EXAMPLES`` generated cases (default 12),
deterministically (the suite's derandomized hypothesis profile, and ``deterministic`` in
schemathesis' own settings). Member routes are called with the consortium admin's key, every
other route with a member's recorder key (its prefix owns the documented examples' GTINs), so
authenticated routes reach their logic instead of stopping at 401.

Every answer must be: not a 5xx; a status code the operation documents; a documented content
type; a body valid against the documented schema; documented headers as documented; and a
request the schema says is invalid must be refused (4xx). A summary
(operations, cases, failures) is printed at the end of the module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.loadrun import Server, serve
from devnet.launcher import Devnet
from tests.conftest import devnet_settings
from wallets.keystore import SCRYPT_N_LIGHT

pytestmark = pytest.mark.slow

#: Generated cases per operation (the fuzzing phase); examples and coverage cases come on top.
EXAMPLES: Final = int(os.environ.get("TRACECHAIN_FUZZ_EXAMPLES", "12"))
#: The member's GS1 company prefix: the OpenAPI examples' GTINs (095060001...) are under it.
PREFIX: Final = "9506000"
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@dataclass
class Fuzzed:
    """The running server, its keys, and what was sent to it."""

    server: Server
    admin_key: str
    member_key: str
    cases: dict[str, int] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)

    def key_for(self, operation: Any) -> str:
        """The admin's key for membership routes, the member's for everything else."""
        return self.admin_key if "Members" in (operation.tags or ()) else self.member_key


def _admit_member(base: str, admin_key: str) -> str:
    """A recorder and auditor member owning :data:`PREFIX`; its recorder key."""
    auth = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        member = client.post(
            "/members",
            json={"name": "Fuzz Foods", "roles": ["recorder", "auditor"], "prefixes": [PREFIX]},
        )
        assert member.status_code == 201, member.text
        org_id = member.json()["org_id"]
        key = client.post(f"/members/{org_id}/api-keys", json={"role": "recorder"})
        assert key.status_code == 201, key.text
        member_key: str = key.json()["key"]
    lot = {
        "gtin": "09506000134352",
        "lot": "LOT-2026-11",
        "quantity": 10,
        "site_gln": "9506000000008",
        "event_time": "2026-01-05T08:00:00+08:00",
    }
    batch = httpx.post(
        f"{base}/batches",
        json=lot,
        headers={"Authorization": f"Bearer {member_key}"},
        timeout=60,
    )
    assert batch.status_code == 201, batch.text
    return member_key


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Fuzzed]:
    """A fresh devnet and API server (own data dir and database), a member, and the tally."""
    data_dir = tmp_path_factory.mktemp("openapi-fuzz")
    devnet = Devnet(devnet_settings(data_dir), key_work_factor=SCRYPT_N_LIGHT)
    devnet.up()
    try:
        with serve(data_dir, devnet.settings.devnet.port) as server:
            state = Fuzzed(server, server.admin_key, _admit_member(server.base, server.admin_key))
            yield state
            _report(request, state)
            assert server.process.poll() is None, "the server died during the fuzzing"
    finally:
        devnet.down()


def _report(request: pytest.FixtureRequest, state: Fuzzed) -> None:
    total = sum(state.cases.values())
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(state.statuses.items()))
    lines = [
        f"openapi fuzz: {len(state.cases)} operations, {total} requests "
        f"({EXAMPLES} generated per operation + examples and coverage cases), "
        f"{len(state.failed)} failed operations",
        f"openapi fuzz: statuses {statuses}",
        *(f"openapi fuzz: FAILED {label}" for label in sorted(state.failed)),
    ]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    assert capture is not None
    with capture.global_and_fixture_disabled():
        for line in lines:
            print(line)


@pytest.fixture(scope="module")
def served_schema(fuzzed: Fuzzed) -> Any:
    """The OpenAPI description as the server serves it."""
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{fuzzed.server.base}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("served_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schemas read and write ``node._nodeid``, which pytest 9 no
    longer has (it is ``nodeid``, read-only); give it the attribute it expects."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(case: Any, fuzzed: Fuzzed) -> None:
    """No 5xx; status, content type, body and headers as the OpenAPI description says."""
    label = case.operation.label
    fuzzed.cases[label] = fuzzed.cases.get(label, 0) + 1
    headers = {"Authorization": f"Bearer {fuzzed.key_for(case.operation)}"}
    try:
        response = case.call(headers=headers, timeout=60)
        fuzzed.statuses[response.status_code] = fuzzed.statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)
    except BaseException:
        fuzzed.failed.add(label)
        raise
