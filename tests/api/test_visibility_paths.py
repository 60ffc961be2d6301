"""Issue 13's property test: on random supply chains with random visibility choices, no read
path of the API answers an event the reader may not read (and each path answers exactly what
it should), compared with a brute-force evaluation of the documented rule.

Each example draws a chain with :func:`tests.ledger.store.test_visibility_rule.chains` (3 to
5 members, commissioning, aggregation, transformation, shipping naming parties, receiving,
events captured again by another member, grants some of which are revoked) and replays it
through the real API of a fresh app (a database of its own, the session devnet):

- each chain member is admitted with ``POST /members`` under a fresh GS1 company prefix, and
  the chain's identifiers are rewritten from the store test's prefixes to the admitted ones
  (:func:`translate`; check digits recomputed), each event with an ``eventID`` of its own;
- member defaults are set with ``PATCH /members/{org_id}``; each event is captured alone with
  ``POST /capture?visibility=...&reader=...`` (or without a choice: the member's default);
- grants are given with ``POST /grants`` and the revoked ones withdrawn with
  ``DELETE /grants/{id}``.

The rule (:class:`tests.ledger.store.test_visibility_rule.Rule`) is evaluated on the chain as
drawn (the store test's prefixes: the rewriting is a bijection, so who reads what is the
same; a step the API refuses, another member capturing again a commissioning it may not
make, is left out of the chain the rule reads). Capability links are issued with
``POST /links`` (scope and event-time window as drawn). Then for every member's key, the admin
key, every link's token and no key:

- ``GET /events`` (every page) answers exactly the events the rule lets the reader read;
- ``GET /events/{id}`` is 200 for exactly those (404 for the others);
- ``GET /export`` (every event time) bundles exactly those; ``GET /export?lot=`` of every lot
  (and with ``trace=forward``) only those;
- the trail JSON of every identifier and lot lists the events the admin's trail lists that
  the reader reads, in full, and those it does not read but the public does (``linked`` and
  ``public`` ones), as the public projection; nothing else. Without a key: no event in full.

Without a key the signed-in paths are a 401 problem.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote

from hypothesis import Phase, given, note, settings

from ledger.visibility import Visibility
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, event_list, path_of
from tests.helpers import DL, document, gln, gtin, sscc, timestamp
from tests.ledger.store.test_visibility_rule import (
    START,
    Chain,
    Rule,
    Step,
    Stored,
    chains,
    class_of,
    identifiers,
    parties,
    prefix_of,
)

#: The members a chain may have (:func:`chains` draws 3 to 5).
MAX_MEMBERS: Final = 5
#: Every event of a chain happens after this (for ``GET /export?from=``).
EPOCH: Final = "2025-01-01T00:00:00Z"


# --- the chain under the admitted members' prefixes -------------------------------------------


def _rekey(key: str, offset: int, prefixes: Mapping[str, str]) -> str:
    """A GS1 key (GTIN, SSCC, GLN) whose company prefix starts at ``offset``, under the
    admitted prefix that replaces the store test's (its check digit recomputed); a key under
    no member's prefix unchanged."""
    old = key[offset : offset + 7]
    if old not in prefixes:
        return key
    reference = int(key[offset + 7 : -1])
    if len(key) == 14:
        return gtin(prefixes[old], reference)
    if len(key) == 18:
        return sscc(prefixes[old], reference)
    return gln(prefixes[old], reference)


#: Where the company prefix starts in the GS1 key after each Digital Link primary key.
_OFFSETS: Final = {"01": 1, "00": 1, "414": 0, "417": 0}


def translate(value: Any, prefixes: Mapping[str, str]) -> Any:
    """``value`` (an event, a grant's scope) with every identifier under a prefix of
    ``prefixes`` (store test prefix -> admitted prefix) rewritten under the admitted one."""
    if isinstance(value, dict):
        return {k: translate(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [translate(v, prefixes) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("gs1:"):
        return "gs1:" + prefixes.get(value[4:], value[4:])
    if value.startswith(DL + "/"):
        path = value[len(DL) + 1 :].split("/")
        if path[0] in _OFFSETS:
            path[1] = _rekey(path[1], _OFFSETS[path[0]], prefixes)
        return DL + "/" + "/".join(path)
    return value


# --- replaying a chain through the API ----------------------------------------------------------


@dataclass
class Ledger:
    """A chain captured through the API: the app, its members, and the events by eventID."""

    api: Api
    members: list[Member]
    #: The chain's events in first-capture order (as drawn: the store test's prefixes).
    stored: list[Stored]
    #: eventID -> the Stored (its ``pk`` is its index in ``stored``).
    by_event_id: dict[str, Stored]
    #: The identifiers (and lots) the chain's events mention, as captured.
    identifiers: list[str]
    #: The lots, as captured.
    lots: list[str]
    #: The store test's prefix of each member -> the member's admitted prefix.
    prefixes: dict[str, str]


def _capture(api: Api, member: Member, event: dict[str, Any], params: dict[str, Any]) -> bool:
    """Capture ``event`` alone as ``member``: True, or False when the member may not
    commission its identifiers (another member's event captured again)."""
    answer = api.post(
        "/capture",
        content=json.dumps(document(event)),
        params=params,
        headers={"Content-Type": "application/ld+json"},
        key=member.key,
    )
    if answer.status_code == 403 and answer.json()["type"].endswith("/not-prefix-owner"):
        return False
    assert answer.status_code == 202, answer.text
    job = api.get(f"/capture/{answer.json()['captureID']}", key=member.key)
    assert job.status_code == 200, job.text
    assert job.json()["success"] is True, job.text
    return True


def replay(api: Api, chain: Chain) -> tuple[Ledger, Chain, dict[int, set[int]]]:
    """Admit the chain's members, set their defaults, capture its steps and write its grants
    through the API: the ledger, the chain of the steps the API accepted (it refuses a member
    capturing again another's commissioning: only the prefix owner commissions) and the
    members that captured each event again."""
    members = [admit(api, f"Chain member {m}") for m in range(chain.members)]
    prefixes = {prefix_of(m): members[m].prefix for m in range(chain.members)}
    for m, member in enumerate(members):
        answer = api.request(
            "PATCH",
            f"/members/{member.org_id}",
            json={"default_visibility": chain.defaults[m].value},
            key=member.key,
        )
        assert answer.status_code == 200, answer.text
    stored: list[Stored] = []
    first: dict[int, Stored] = {}  # id(event) -> its Stored
    by_event_id: dict[str, Stored] = {}
    captured: dict[int, dict[str, Any]] = {}  # id(event) -> the event as captured
    again: dict[int, set[int]] = {}
    accepted: list[Step] = []
    for step in chain.steps:
        recorder = members[step.recorder]
        if step.again:
            record = first[id(step.event)]
            visibility = step.visibility or Visibility.LINKED
            if not _capture(
                api, recorder, captured[id(step.event)], {"visibility": visibility.value}
            ):
                continue  # (a commissioning of another member's identifiers: refused)
            accepted.append(step)
            if step.recorder != record.recorder:
                again.setdefault(record.pk, set()).add(step.recorder)
            continue
        event = translate(copy.deepcopy(step.event), prefixes)
        event["eventID"] = f"urn:uuid:{uuid.uuid4()}"
        captured[id(step.event)] = event
        params: dict[str, Any] = {"reader": [members[m].org_id for m in sorted(step.readers)]}
        if step.visibility is not None:
            params["visibility"] = step.visibility.value
        assert _capture(api, recorder, event, params)
        accepted.append(step)
        mode = step.visibility or chain.defaults[step.recorder]
        named = set(step.readers)
        if mode is not Visibility.PRIVATE:
            named |= parties(step.event)
        record = Stored(len(stored), step.recorder, mode, step.event,
                        frozenset(named - {step.recorder}))  # fmt: skip
        stored.append(record)
        first[id(step.event)] = record
        by_event_id[event["eventID"]] = record
    for grant in chain.grants:
        grantor = members[grant.grantor]
        body = {
            "grantee": members[grant.grantee].org_id,
            "scope_kind": grant.kind,
            "scope": translate(grant.key, prefixes),
        }
        answer = api.post("/grants", json=body, key=grantor.key)
        assert answer.status_code == 201, answer.text
        if grant.revoked:
            revoked = api.delete(f"/grants/{answer.json()['id']}", key=grantor.key)
            assert revoked.status_code == 204, revoked.text
    mentioned: set[str] = set()
    for event in captured.values():
        for identifier in identifiers(event):
            mentioned.add(identifier)
            klass = class_of(identifier)
            if klass is not None and "/10/" in klass:
                mentioned.add(klass)
    lots = sorted(i for i in mentioned if "/10/" in i and "/21/" not in i)
    ledger = Ledger(api, members, stored, by_event_id, sorted(mentioned), lots, prefixes)
    return ledger, replace(chain, steps=accepted), again


# --- the read paths -----------------------------------------------------------------------------


def _pks(ledger: Ledger, event_ids: Iterator[str] | list[str]) -> list[int]:
    found = []
    for event_id in event_ids:
        assert event_id in ledger.by_event_id, f"an event the chain did not capture: {event_id}"
        found.append(ledger.by_event_id[event_id].pk)
    return found


def read_events(ledger: Ledger, key: str | None) -> set[int] | int:
    """``GET /events`` three a page, following ``Link``: the events (or a refusal's status)."""
    seen: list[int] = []
    url: str | None = "/events?perPage=3"
    while url is not None:
        answer = ledger.api.get(url, key=key)
        if answer.status_code != 200:
            return answer.status_code
        seen += _pks(ledger, [e["eventID"] for e in event_list(answer.json())])
        link = answer.headers.get("Link")
        url = path_of(link[1 : link.index(">")]) if link else None
    assert len(seen) == len(set(seen)), seen
    return set(seen)


def read_event_by_id(ledger: Ledger, key: str | None) -> set[int] | int:
    """``GET /events/{id}`` of every event: those answered 200 (or a refusal's status)."""
    found: set[int] = set()
    for event_id, record in ledger.by_event_id.items():
        answer = ledger.api.get(f"/events/{quote(event_id, safe='')}", key=key)
        if answer.status_code in (401, 403):
            return answer.status_code
        if answer.status_code == 404:
            continue
        assert answer.status_code == 200, answer.text
        (event,) = event_list(answer.json())
        assert event["eventID"] == event_id
        found.add(record.pk)
    return found


def read_export(ledger: Ledger, key: str | None, **params: str) -> set[int] | int:
    """``GET /export`` with ``params``: the events of the bundle (or a refusal's status)."""
    answer = ledger.api.get("/export", params=params, key=key)
    if answer.status_code != 200:
        return answer.status_code
    bundle = answer.json()
    pks = _pks(ledger, [e["event"]["eventID"] for e in bundle["events"]])
    assert len(pks) == len(set(pks)), pks
    return set(pks)


def read_trail(ledger: Ledger, key: str | None, identifier: str) -> dict[int, str]:
    """The trail JSON of ``identifier``: each event it lists and its ``disclosure``; an
    identifier the reader reads nothing of answers 404 (as if never recorded): nothing."""
    answer = ledger.api.get(
        f"/identifiers/{quote(identifier, safe='')}",
        headers={"Accept": "application/json"},
        key=key,
    )
    if answer.status_code == 404:
        return {}
    assert answer.status_code == 200, answer.text
    listed: dict[int, str] = {}
    for entry in answer.json()["events"]:
        (pk,) = _pks(ledger, [entry["event_id"]])
        assert pk not in listed, entry
        listed[pk] = entry["disclosure"]
    return listed


# --- the property -------------------------------------------------------------------------------


#: No shrinking: an example costs an app and a few hundred requests, and a failure notes the
#: whole chain it replayed.
@settings(max_examples=10, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(chain=chains())
def test_every_read_path_answers_the_rule(make_api: Callable[..., Api], chain: Chain) -> None:
    api = make_api()
    ledger, chain, again = replay(api, chain)
    note(f"{chain.members} members, defaults {[m.value for m in chain.defaults]}")
    for step in chain.steps:
        note(f"{step.recorder} {step.visibility} {sorted(step.readers)} {step.again} {step.event}")
    note(f"grants {chain.grants}")
    rule = Rule(chain, ledger.stored, again)
    everything = {e.pk for e in ledger.stored}
    public = {e.pk for e in ledger.stored if e.visibility in (Visibility.LINKED, Visibility.PUBLIC)}
    readers: dict[str, tuple[str | None, set[int]]] = {
        "admin": (ADMIN_KEY, everything),
        **{
            f"member {m}": (member.key, {e.pk for e in ledger.stored if rule.member_reads(m, e)})
            for m, member in enumerate(ledger.members)
        },
    }
    for index, link in enumerate(chain.capabilities):
        body: dict[str, Any] = {
            "scope_kind": link.kind,
            "scope": translate(link.key, ledger.prefixes),
            "label": f"link {index}",
        }
        for name, hour in (("since", link.since), ("until", link.until)):
            if hour is not None:
                body[name] = timestamp(START + timedelta(hours=hour))
        issuer = ADMIN_KEY if link.issuer is None else ledger.members[link.issuer].key
        issued = api.post("/links", json=body, key=issuer)
        assert issued.status_code == 201, issued.text
        reads = {e.pk for e in ledger.stored if rule.capability_reads(link, e)}
        readers[f"link {index} {link}"] = (issued.json()["token"], reads)
    admin_trails = {i: read_trail(ledger, ADMIN_KEY, i) for i in ledger.identifiers}
    for identifier, listed in admin_trails.items():
        assert listed, f"the admin's trail of {identifier} is empty"
        assert set(listed.values()) == {"full"}, identifier
    for who, (key, reads) in readers.items():
        assert read_events(ledger, key) == reads, f"{who}: GET /events"
        assert read_event_by_id(ledger, key) == reads, f"{who}: GET /events/{{id}}"
        assert read_export(ledger, key, **{"from": EPOCH}) == reads, f"{who}: GET /export"
        for lot in ledger.lots:
            for trace in (None, "forward"):
                params = {"lot": lot} | ({"trace": trace} if trace else {})
                bundled = read_export(ledger, key, **params)
                assert isinstance(bundled, set), (who, params, bundled)
                assert bundled <= reads, f"{who}: GET /export {params}: {bundled - reads}"
        for identifier, listed_by_admin in admin_trails.items():
            want = {
                pk: "full" if pk in reads else "public"
                for pk in listed_by_admin
                if pk in reads or pk in public
            }
            got = read_trail(ledger, key, identifier)
            assert got == want, f"{who}: trail of {identifier}"
    # Without a key: the signed-in paths refuse; trails show the public projection only.
    assert read_events(ledger, None) == 401
    assert read_event_by_id(ledger, None) == 401
    assert read_export(ledger, None, **{"from": EPOCH}) == 401
    for identifier, listed_by_admin in admin_trails.items():
        got = read_trail(ledger, None, identifier)
        assert got == dict.fromkeys((pk for pk in listed_by_admin if pk in public), "public"), (
            f"no key: trail of {identifier}"
        )
