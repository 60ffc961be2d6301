"""Resolution as people and Handle clients meet it: unowned and malformed handles, the error
page a browser gets, the page's product card against its timeline, a second recall, the 401
answer, and an uncached trail for auditors."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import quote

import sqlalchemy as sa
from pydantic import SecretStr

from api import i18n
from ledger.store.models import Event, EventIdentifier
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, new_batch, path_of
from tests.api.test_auth import problem
from tests.helpers import gln, gtin

BROWSER_ZH = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
}
BROWSER_EN = {**BROWSER_ZH, "Accept-Language": "en-GB,en;q=0.9"}
CJK = re.compile("[\u4e00-\u9fff]")


# ---------------------------------------------------------------- handles


def test_handle_of_an_unowned_prefix_is_404(api: Api) -> None:
    """A valid handle under a prefix no member owns: 404 saying so, with the Handle
    responseCode 301 (this server is not responsible for the handle); never 400."""
    answer = api.get("/api/handles/88.1.2/X")
    body = problem(answer, 404, "handle-prefix-not-served")
    assert body["responseCode"] == 301
    assert body["handle"] == "88.1.2/X"
    assert body["title"] != "Not found"
    assert "no member" in body["detail"]
    assert "88.1.2" in body["detail"]
    assert body["errors"] == [{"field": "handle", "reason": body["detail"]}]


def test_malformed_handle_page_path_is_422(api: Api) -> None:
    """``/{prefix}/{suffix}`` with a malformed prefix names the reason (422), as the other
    invalid identifiers do; a path that is no identifier at all stays a 404."""
    empty_segment = problem(api.get("/88..8/X"), 422, "invalid-identifier-syntax")
    assert empty_segment["errors"][0]["field"] == "handle prefix"
    assert "segment" in empty_segment["detail"]
    no_dot = problem(api.get("/88/X"), 422, "invalid-identifier-syntax")
    assert no_dot["errors"][0]["field"] == "handle prefix"
    assert "88.118.8" in no_dot["detail"]
    too_long = problem(api.get("/123456.7/X"), 422, "invalid-identifier-syntax")
    assert too_long["errors"][0]["field"] == "handle prefix"
    problem(api.get("/no/such/thing"), 404, "not-found")


# ---------------------------------------------------------------- error pages


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> str:
    """The visible text of an HTML page."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_browser_gets_an_error_page_in_its_language(api: Api) -> None:
    """A browser opening an invalid identifier gets an HTML page (4xx) in its language saying
    what is wrong; API clients still get problem+json."""
    cases = [
        ("/01/09506000134350", 422, "校验位", "check digit"),
        ("/88..8/X", 422, "格式", "not a valid"),
        ("/identifiers/not-an-identifier", 422, "格式", "not a valid"),
    ]
    for url, status, zh_word, en_words in cases:
        zh = api.get(url, headers=BROWSER_ZH)
        assert zh.status_code == status, (url, zh.text)
        assert zh.headers["content-type"].startswith("text/html"), (url, zh.text[:200])
        assert zh.headers["Content-Language"] == "zh-Hans"
        assert '<html lang="zh-Hans"' in zh.text
        text = page_text(zh.text)
        assert zh_word in text, (url, text)
        assert CJK.search(text)
        en = api.get(url, headers=BROWSER_EN)
        assert en.status_code == status
        assert en.headers["content-type"].startswith("text/html")
        assert en_words in page_text(en.text).lower(), (url, page_text(en.text))
        forced = api.get(url + "?lang=zh", headers=BROWSER_EN)
        assert forced.headers["Content-Language"] == "zh-Hans"
        for accept in ("application/json", "*/*", "application/problem+json"):
            machine = api.get(url, headers={"Accept": accept})
            assert machine.status_code == status
            assert machine.headers["content-type"] == "application/problem+json"
            assert "Accept" in machine.headers["Vary"]
    # The detail (in English, as the ledger gives it) is still on the page for experts.
    detail = api.get("/01/09506000134350", headers=BROWSER_ZH)
    assert "GTIN check digit is 0, expected 2" in page_text(detail.text)


def test_verification_reasons_in_chinese() -> None:
    """Every reason the verifier gives reads as Chinese on the zh page, with its values (hashes,
    addresses, blocks) kept as written; a reason not known here still says, in Chinese, that a
    check failed."""
    hash_a, hash_b = "ni:///sha-256;" + "a" * 64 + "?ver=CBV2.0", "ni:///sha-256;" + "b" * 64
    address, root = "0x" + "c" * 40, "0x" + "d" * 64
    reasons = [
        "the captured event no longer parses as an EPCIS event: eventTime: bad",
        f"the captured event hashes to {hash_a}, but {hash_b} was recorded",
        "the recorded event hash does not match the hash ID",
        "the identifier key does not match the event's first identifier",
        "malformed proof: odd length",
        "the Merkle proof does not lead from the event to its batch root",
        "chain unreachable: connection refused",
        f"the batch root {root} is not anchored on the chain",
        f"the root was anchored by member {root}, not by the recorder {root}",
        "the root is in block 7, but block 9 was recorded",
        f"the anchoring transaction {root} is not on the chain",
        f"the root was sent by {address}, not by the recorded address {address}",
        "the event signature is malformed: bad v",
        f"the event was signed by {address}, which is no key of the recorder",
        "something nobody foresaw",
    ]
    for reason in reasons:
        zh = i18n.reason_segments(reason, "zh")
        words = "".join(part.text for part in zh if not part.value)
        assert CJK.search(words), reason
        assert not re.search("[A-Za-z]{3,}", words.replace("EPCIS", "")), (reason, words)
        en = i18n.reason_segments(reason, "en")
        assert "".join(part.text for part in en) == reason
    values = [p.text for p in i18n.reason_segments(reasons[1], "zh") if p.value]
    assert values == [hash_a, hash_b]


# ---------------------------------------------------------------- card and timeline


def test_card_and_timeline_agree(api: Api, supplier: Member) -> None:
    """The commissioning event was recorded today; the lot was produced on its production
    date. The card's production date and the timeline never say different things under the
    same label: the timeline names the event "Commissioned" and shows the production date."""
    body = {
        "gtin": gtin(supplier.prefix, 31),
        "lot": "CARD-1",
        "quantity": 10,
        "production_date": "2025-12-01",
        "expiry_date": "2027-12-01",
        "site_gln": gln(supplier.prefix),
    }
    created = api.post("/batches", json=body, key=supplier.key)
    assert created.status_code == 201, created.text
    path = path_of(created.json()["digital_link"])
    for headers, produced, commissioned in (
        (BROWSER_EN, "Production date", "Commissioned"),
        (BROWSER_ZH, "生产日期", "赋码投产"),
    ):
        page = api.get(path, headers=headers).text
        card = page.split('<section class="card"', 1)[1].split("</section>", 1)[0]
        timeline = page.split("<ol>", 1)[1].split("</ol>", 1)[0]
        assert f"<dt>{produced}</dt>" in card
        assert "2025-12-01" in card
        whats = re.findall(r'<div class="what">(.*?)</div>', timeline, re.S)
        assert len(whats) == 1
        assert whats[0].startswith(commissioned), whats
        assert produced not in whats[0]
        # The row carries the same production date as the card, labelled the same way.
        row = timeline.split('class="what"', 1)[1]
        assert re.search(rf"{produced}:\s*(<[^>]+>)*2025-12-01", row), row


# ---------------------------------------------------------------- recalls and keys


def test_second_recall_is_already_recalled(api: Api, supplier: Member) -> None:
    """Recalling a recalled lot again is a 409 titled "Already recalled"; lifting a recall
    that is not there is "Not recalled"."""
    lot = new_batch(api, supplier)["identifier"]
    url = f"/identifiers/{quote(lot, safe='')}/recall"
    first = api.post(url, json={"reason": "Seal broken"}, key=supplier.key)
    assert first.status_code == 200, first.text
    again = problem(
        api.post(url, json={"reason": "Seal broken"}, key=supplier.key), 409, "already-recalled"
    )
    assert again["title"] == "Already recalled"
    assert "recalled already" in again["detail"]
    assert again["errors"][0]["field"] == "identifier"
    lifted = api.post(url + "/lift", json={"reason": "Seal fine"}, key=supplier.key)
    assert lifted.status_code == 200, lifted.text
    twice = problem(
        api.post(url + "/lift", json={"reason": "Seal fine"}, key=supplier.key), 409, "not-recalled"
    )
    assert twice["title"] == "Not recalled"


def test_revert_titles_are_for_people(api: Api) -> None:
    """Every contract error the API can meet has a title and a meaning of its own."""
    from api.problems import REVERTS, TITLES

    for name, revert in REVERTS.items():
        assert revert.slug in TITLES, name
        assert TITLES[revert.slug] == revert.title
        assert revert.title.lower() not in ("conflict", "membership", "forbidden", "bad request")
        described = api.get(f"/problems/{revert.slug}").json()
        assert described["title"] == revert.title


def test_401_names_both_headers(api: Api) -> None:
    """The 401 answer names the header the README uses and the Bearer alternative."""
    body = problem(api.get("/me"), 401, "unauthorized")
    assert "X-API-Key: tc_" in body["detail"]
    assert "Authorization: Bearer" in body["detail"]
    assert api.get("/me", headers={"X-API-Key": ADMIN_KEY}).status_code == 200


# ---------------------------------------------------------------- uncached trails


def _tamper(api: Api, canonical: str) -> None:
    """Edit the stored commissioning event behind the ledger's back (as a DBA could)."""
    events, idents = Event.__table__, EventIdentifier.__table__  # type: ignore[attr-defined]
    with api.services.engine.begin() as connection:
        pk = connection.execute(
            sa.select(sa.func.max(idents.c.event_pk)).where(idents.c.canonical == canonical)
        ).scalar_one()
        stored = connection.execute(
            sa.select(events.c.captured_json).where(events.c.id == pk)
        ).scalar_one()
        changed = stored.replace('"quantity":1200', '"quantity":1300')
        assert changed != stored
        connection.execute(events.update().where(events.c.id == pk).values(captured_json=changed))


def test_no_cache_request_gets_a_fresh_verification(make_api: Callable[..., Api]) -> None:
    """A trail may be answered from the cache for up to trail_cache_seconds; a request with
    ``Cache-Control: no-cache`` is verified afresh (page and JSON, past the replay layer too)
    and refreshes the cache for everyone.

    The app is this test's own, its watcher idle after its first round: every app of the
    session shares the devnet, and the shared app's watcher clears its trail cache whenever
    it sees a recall on chain (another test's recall, seen late, dropped the cached answer
    this test relies on: one fresh-clone run in ten)."""
    api = make_api(api={"recall_poll_seconds": 3600.0, "admin_key": SecretStr(ADMIN_KEY)})
    supplier = admit(api, "Shanghai Pharma Co")
    batch = new_batch(api, supplier)
    api.drain()
    path = path_of(batch["digital_link"])
    json_accept = {"Accept": "application/json"}
    assert api.get(path, headers=json_accept).json()["verdict"] == "verified"
    assert api.get(path, headers=BROWSER_EN).headers["X-Trail-Verdict"] == "verified"
    assert api.get(path, headers=BROWSER_EN).headers["X-Trail-Verdict"] == "verified"  # replay
    _tamper(api, batch["identifier"])
    # Within trail_cache_seconds the cached answer is still served...
    assert api.get(path, headers=json_accept).json()["verdict"] == "verified"
    assert api.get(path, headers=BROWSER_EN).headers["X-Trail-Verdict"] == "verified"
    # ...but an auditor asking for no cache gets the chain's word now.
    fresh = api.get(path, headers={**BROWSER_EN, "Cache-Control": "no-cache"})
    assert fresh.headers["X-Trail-Verdict"] == "tampered"
    fresh_json = api.get(path, headers={**json_accept, "Cache-Control": "no-cache"})
    assert fresh_json.json()["verdict"] == "tampered"
    pragma = api.get(path, headers={**json_accept, "Pragma": "no-cache"})
    assert pragma.json()["verdict"] == "tampered"
    # The fresh verification replaced the cached one for every later scan.
    assert api.get(path, headers=BROWSER_EN).headers["X-Trail-Verdict"] == "tampered"
    assert api.get(path, headers=json_accept).json()["verdict"] == "tampered"
