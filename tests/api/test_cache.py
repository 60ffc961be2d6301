"""Cached trails are replayed only while nothing changed: a capture, a recall through the API,
a capture by another process and a recall sent straight to the chain all show at once (or
within the watcher's poll)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eth_utils.crypto import keccak
from web3.contract import Contract

from ledger.chain import ChainClient
from ledger.identifiers import parse
from tests.api.conftest import Api, Member, capture, new_batch, path_of
from tests.helpers import document, object_event

PHONE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "en-GB"}


def replays(api: Api) -> float:
    """How many answers were replayed from the trail cache so far."""
    for line in api.get("/metrics").text.splitlines():
        if line.startswith("tracechain_http_request_duration_seconds_count") and (
            'route="trail-replay"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def trail(api: Api, path: str) -> dict[str, Any]:
    """The JSON trail."""
    answer = api.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def until(check: Callable[[], bool], timeout: float = 120.0) -> None:
    """Wait until ``check()`` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_replay_until_a_capture(api: Api, supplier: Member, distributor: Member) -> None:
    """The same scan is replayed; a new event for the lot ends the replay at once."""
    batch = new_batch(api, supplier)
    api.drain()
    path = path_of(batch["digital_link"])
    first = api.get(path, headers=PHONE)
    before = replays(api)
    second = api.get(path, headers=PHONE)
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert "x-tracechain-trail-cache" not in second.headers
    assert replays(api) == before + 1
    not_modified = api.get(path, headers={**PHONE, "If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    doc = document(object_event(classes=[batch["identifier"]], biz_step="receiving"))
    assert capture(api, distributor.key, doc).status_code == 202
    third = api.get(path, headers=PHONE)
    assert third.headers["X-Trail-Verdict"] == "pending"
    assert third.text.count('class="event ') == 2


def test_capture_by_another_process(
    api: Api, make_api: Callable[..., Api], supplier: Member, distributor: Member
) -> None:
    """Another API process on the same database captures: the watcher drops the trail."""
    other = make_api(api.services.settings.effective_database_url)
    batch = new_batch(api, supplier)
    api.drain()
    path = path_of(batch["digital_link"])
    assert len(trail(api, path)["events"]) == 1
    assert len(trail(api, path)["events"]) == 1  # cached now
    doc = document(object_event(classes=[batch["identifier"]], biz_step="storing"))
    assert capture(other, distributor.key, doc).status_code == 202
    until(lambda: len(trail(api, path)["events"]) == 2)


def test_recall_sent_straight_to_the_chain(
    api: Api, supplier: Member, chain: ChainClient, anchor: Contract
) -> None:
    """A recall made with the member's own key, bypassing the API, reaches the scan."""
    batch = new_batch(api, supplier)
    api.drain()
    path = path_of(batch["digital_link"])
    assert trail(api, path)["verdict"] == "verified"
    assert api.get(path, headers=PHONE).headers["X-Trail-Verdict"] == "verified"
    services = api.services
    member = services.membership().member(supplier.org_id)
    signer = services.keyring.signer(member.org_id, member.signing_addresses[-1])
    canonical = parse(batch["identifier"]).canonical
    chain.transact(signer, anchor.functions.recall(canonical, keccak(text="kept off the API")))
    until(lambda: trail(api, path)["verdict"] == "recalled")
    assert api.get(path, headers=PHONE).headers["X-Trail-Verdict"] == "recalled"
    assert trail(api, path)["recall"]["reason"] is None  # no notice was recorded with us
