"""The buyer's page in a real browser: headless Chromium at phone size against a real uvicorn
server (``uvicorn api.app:app`` configured by environment), for a verified, a recalled and a
tampered product, in English and Simplified Chinese. Screenshots go to ``test-output/``."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from devnet.launcher import Devnet
from ledger.store.models import Event, EventIdentifier
from tests.api.cdp import LABEL_TEXT_JS, OVERFLOW_JS, browser
from tests.api.conftest import (
    ADMIN_KEY,
    KEY_WORK_FACTOR,
    TEST_OUTPUT,
    Api,
    Member,
    capture,
    new_batch,
)
from tests.helpers import document, free_port, object_event

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"))
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_BIN)",
)

VERDICTS = {
    ("verified", "en"): "Verified: this product's record is intact",
    ("verified", "zh"): "已验证：该产品的记录完整",
    ("recalled", "en"): "Recalled: do not use this product.",
    ("recalled", "zh"): "已召回：请勿使用该产品。",
    ("tampered", "en"): "Warning: this product's record was altered",
    ("tampered", "zh"): "警告：该产品的记录在锚定后被篡改。",
    ("unconfirmed_origin", "en"): "Origin not confirmed: the brand owner has not recorded",
    ("unconfirmed_origin", "zh"): "来源未确认：品牌所有者没有该产品的生产记录。",
}


@pytest.fixture(scope="module")
def products(api: Api, supplier: Member, distributor: Member) -> dict[str, str]:
    """Resolver paths of three lots: verified, recalled, and tampered in the database; and of
    an item under the supplier's prefix that only the distributor recorded (aggregated into
    its case), which the supplier never commissioned: unconfirmed origin."""
    paths: dict[str, str] = {}
    lots: dict[str, str] = {}
    for kind in ("verified", "recalled", "tampered"):
        batch = new_batch(api, supplier, lot=f"WEB-{kind.upper()}")
        lot = batch["identifier"]
        for step in ("shipping", "receiving"):
            doc = document(object_event(classes=[lot], biz_step=step, disposition="in_transit"))
            assert capture(api, distributor.key, doc).status_code == 202
        paths[kind] = batch["digital_link"].removeprefix("http://tracechain.test")
        lots[kind] = lot
    gtin = batch["digital_link"].split("/01/", 1)[1].split("/", 1)[0]
    stray = f"https://id.gs1.org/01/{gtin}/21/NEVER-MADE-1"
    packing = {
        "type": "AggregationEvent", "eventTime": "2026-01-06T08:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00", "action": "ADD", "bizStep": "packing",
        "parentID": f"urn:epc:id:sscc:{distributor.prefix}.0000000001", "childEPCs": [stray],
    }  # fmt: skip
    assert capture(api, distributor.key, document(packing)).status_code == 202
    paths["unconfirmed_origin"] = stray.removeprefix("https://id.gs1.org")
    api.drain()
    recalled = api.post(
        f"/identifiers/{quote(lots['recalled'], safe='')}/recall",
        json={"reason": "Label misprint: wrong dosage"},
        key=supplier.key,
    )
    assert recalled.status_code == 200, recalled.text
    api.drain()
    # Someone with database access edits a shipped quantity after anchoring.
    events, idents = Event.__table__, EventIdentifier.__table__  # type: ignore[attr-defined]
    canonical = lots["tampered"]
    with api.services.engine.begin() as connection:
        pk = connection.execute(
            sa.select(sa.func.max(idents.c.event_pk)).where(idents.c.canonical == canonical)
        ).scalar_one()
        stored = connection.execute(
            sa.select(events.c.captured_json).where(events.c.id == pk)
        ).scalar_one()
        connection.execute(
            events.update()
            .where(events.c.id == pk)
            .values(captured_json=stored.replace('"quantity":10', '"quantity":500'))
        )
    return paths


@pytest.fixture(scope="module")
def server(devnet: Devnet, api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``uvicorn api.app:app`` in its own process on a free port, on the shared database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRACECHAIN_DATA_DIR": str(devnet.settings.data_dir),
        "TRACECHAIN_DEVNET_PORT": str(devnet.settings.devnet.port),
        "DATABASE_URL": api.services.settings.effective_database_url,
        "TRACECHAIN_PUBLIC_URL": base,
        "TRACECHAIN_ADMIN_API_KEY": ADMIN_KEY,
        "TRACECHAIN_ANCHOR_WORKER_IN_API": "false",
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(KEY_WORK_FACTOR),
    }
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not become ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def chromium(url: str, *, profile: Path, screenshot: Path | None = None) -> str:
    """Load ``url`` at 360x800 in headless Chromium; return the DOM (or take a screenshot)."""
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--window-size=360,800",
        "--hide-scrollbars", *action, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


def test_verification_pages_in_chromium(
    server: str, products: dict[str, str], tmp_path: Path
) -> None:
    """Each page shows its verdict at the top in both languages; recall and tampering get a
    red banner; screenshots at phone size are kept for people to look at."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    jobs = [(kind, lang) for kind in products for lang in ("en", "zh")]

    def visit(job: tuple[str, str]) -> tuple[str, str, str]:
        kind, lang = job
        url = f"{server}{products[kind]}?lang={lang}"
        profile = tmp_path / f"profile-{kind}-{lang}"
        dom = chromium(url, profile=profile)
        shot = TEST_OUTPUT / f"verify-{kind}-{lang}.png"
        shot.unlink(missing_ok=True)
        chromium(url, profile=profile, screenshot=shot)
        shutil.rmtree(profile, ignore_errors=True)
        return kind, lang, dom

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(visit, jobs))
    for kind, lang, dom in results:
        assert f'data-verdict="{kind}"' in dom, (kind, lang, dom[:2000])
        assert VERDICTS[(kind, lang)] in dom, (kind, lang)
        expected_lang = "zh-Hans" if lang == "zh" else "en"
        assert f'<html lang="{expected_lang}"' in dom
        # The public reads every event as the brand owner's public projection.
        assert dom.count('data-disclosure="public"') == dom.count('<li class="event'), kind
        assert 'id="disclosure-note"' in dom
        if kind == "recalled":
            assert 'id="recall-banner"' in dom
            assert "Label misprint: wrong dosage" in dom
        if kind == "tampered":
            assert 'id="tampered-banner"' in dom
        if kind == "verified":
            assert "banner" not in dom.split("<main>", 1)[1].split("<section", 1)[0]
        if kind == "unconfirmed_origin":
            assert 'id="origin-banner"' in dom
            assert 'id="tampered-banner"' not in dom
        with Image.open(TEST_OUTPUT / f"verify-{kind}-{lang}.png") as image:
            assert image.size == (360, 800)


def test_page_negotiates_language(server: str, products: dict[str, str]) -> None:
    """Without ?lang, Accept-Language decides (as a phone set to Chinese sends it)."""
    page = httpx.get(
        f"{server}{products['verified']}",
        headers={"Accept": "text/html", "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"},
    )
    assert page.headers["Content-Language"] == "zh-Hans"
    assert VERDICTS[("verified", "zh")] in page.text
    english = httpx.get(
        f"{server}{products['verified']}",
        headers={"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"},
    )
    assert VERDICTS[("verified", "en")] in html.unescape(english.text)


#: Latin words a Chinese page may show outside data values: names of standards and keys
#: (GS1, EPC URI, Handle...), which Chinese texts write as they are.
LATIN_ALLOWED = frozenset(
    {"GTIN", "GLN", "UTC", "JSON", "SSCC", "HTTP", "GS", "EPC", "EPCIS", "URI", "Handle"}
)


def latin_words(texts: list[str]) -> list[str]:
    """Words of two or more Latin letters in ``texts`` that are not allowed on a Chinese page."""
    return [
        word
        for text in texts
        for word in re.findall(r"[A-Za-z]{2,}", text)
        if word not in LATIN_ALLOWED
    ]


def test_tampered_card_fits_and_speaks_chinese(
    server: str, products: dict[str, str], tmp_path: Path
) -> None:
    """At 360 px the tampered event's card wraps its long hashes inside itself (no element is
    wider than its box or the viewport), and on the zh-CN page every label and every reason
    is Chinese; the recall reason, the member's own words, is shown as written."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    with browser(CHROMIUM, tmp_path / "profile") as chrome:
        for kind, lang in (
            ("tampered", "zh"),
            ("tampered", "en"),
            ("recalled", "zh"),
            ("unconfirmed_origin", "zh"),
            ("unconfirmed_origin", "en"),
        ):
            chrome.open(f"{server}{products[kind]}?lang={lang}")
            shot = TEST_OUTPUT / f"verify-{kind}-{lang}-full.png"
            chrome.screenshot(shot)
            layout = chrome.evaluate(OVERFLOW_JS)
            assert layout["viewport"] == 360, layout
            assert layout["documentWidth"] <= 360, layout
            assert layout["overflowing"] == [], (kind, lang, layout["overflowing"])
            if kind == "tampered":
                reasons = chrome.evaluate(
                    "[...document.querySelectorAll('li.event.tampered .reason')]"
                    ".map(e => e.innerText)"
                )
                assert reasons, "the tampered event shows why"
            if lang == "zh":
                labels = chrome.evaluate(LABEL_TEXT_JS)
                assert latin_words(labels) == [], (kind, latin_words(labels))
                if kind == "tampered":
                    assert all(re.search("[\u4e00-\u9fff]", r) for r in reasons), reasons
                if kind == "recalled":
                    text = chrome.evaluate("document.body.innerText")
                    assert "Label misprint: wrong dosage" in text
            with Image.open(shot) as image:
                assert image.size[0] == 360


def test_error_page_in_chromium(server: str, tmp_path: Path) -> None:
    """Chromium opening a mistyped code gets the 422 as a page in its language (its own
    navigation Accept header), laid out within 360 px, not raw JSON."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    with browser(CHROMIUM, tmp_path / "profile") as chrome:
        chrome.call("Network.enable")
        for path, lang, heading in (
            ("/01/09506000134350?lang=zh", "zh-Hans", "编码校验位错误"),
            ("/88..8/X?lang=zh", "zh-Hans", "产品编码格式无效"),
            ("/01/09506000134350", "en", "The code's check digit is wrong"),
        ):
            chrome.open(f"{server}{path}")
            statuses = [
                e["params"]["response"]["status"]
                for e in chrome.events
                if e.get("method") == "Network.responseReceived"
                and e["params"]["type"] == "Document"
            ]
            assert statuses == [422], (path, statuses)
            assert chrome.evaluate("document.documentElement.lang") == lang
            assert chrome.evaluate("document.getElementById('problem').innerText") == heading
            assert chrome.evaluate(OVERFLOW_JS)["overflowing"] == [], path
            if lang != "en":
                assert latin_words(chrome.evaluate(LABEL_TEXT_JS)) == [], path
            name = path.strip("/").split("?")[0].replace("/", "_").replace(".", "-")
            chrome.screenshot(TEST_OUTPUT / f"error-{name}-{lang}.png")
