"""QR codes: what the API prints decodes (zxing-cpp) to a URL the API resolves to the trail."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
import zxingcpp
from defusedxml import ElementTree
from PIL import Image

from tests.api.conftest import Api, Member, new_batch, path_of
from tests.api.test_auth import problem
from tests.helpers import gtin

SVG = "{http://www.w3.org/2000/svg}"


def decode(png: bytes) -> str:
    """The text of the one QR code in a PNG."""
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, results
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    text: str = results[0].text
    return text


def test_qr_png_resolves_to_the_trail(api: Api, supplier: Member) -> None:
    """Scan the PNG /batches returned, follow the URL, get the lot's verified trail."""
    batch = new_batch(api, supplier, lot="QR-LOT/1")
    api.drain()
    png = api.get(path_of(batch["qr_url"]))
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    url = decode(png.content)
    assert url == batch["digital_link"]
    assert url == f"http://tracechain.test/01/{gtin(supplier.prefix)}/10/QR-LOT%2F1"
    trail = api.get(path_of(url), headers={"Accept": "application/json"})
    assert trail.status_code == 200, trail.text
    data = trail.json()
    assert data["identifier"]["canonical"] == batch["identifier"]
    assert data["verdict"] == "verified"
    assert data["events"][0]["hash_id"] == batch["event_hash_id"]
    page = api.get(path_of(url), headers={"Accept": "text/html,*/*;q=0.8"})
    assert "QR-LOT/1" in page.text


@pytest.mark.parametrize(("ec", "size"), [("L", 120), ("M", 300), ("Q", 480), ("H", 1000)])
def test_qr_options(api: Api, supplier: Member, ec: str, size: int) -> None:
    """Error correction and size are honoured; every variant still decodes."""
    text = f"(01){gtin(supplier.prefix, 3)}(21)SERIAL-{ec}"
    answer = api.get(f"/qr/{quote(text)}.png?ec={ec}&size={size}")
    assert answer.status_code == 200, answer.text
    image = Image.open(io.BytesIO(answer.content))
    assert image.width == image.height
    assert size // 2 < image.width <= size
    expected = f"http://tracechain.test/01/{gtin(supplier.prefix, 3)}/21/SERIAL-{ec}"
    assert decode(answer.content) == expected
    assert answer.headers["X-QR-Data"] == expected


def test_qr_error_correction_levels_differ(api: Api) -> None:
    """Higher error correction means more modules for the same data."""
    data = "/qr/urn:epc:id:sgtin:0614141.812345.6789.svg"
    widths = []
    for ec in "LMQH":
        svg = ElementTree.fromstring(api.get(f"{data}?ec={ec}").text)
        widths.append(int(svg.attrib["viewBox"].split()[2]))
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


def test_qr_svg(api: Api, supplier: Member) -> None:
    """The SVG is one path on a white square, scalable, titled with the URL."""
    answer = api.get(f"/qr/(01){gtin(supplier.prefix)}.svg?size=200")
    assert answer.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(answer.text)
    assert root.attrib["width"] == "200"
    assert root.find(f"{SVG}title").text == f"http://tracechain.test/01/{gtin(supplier.prefix)}"
    assert root.find(f"{SVG}path").attrib["d"].startswith("M")


def test_qr_of_a_handle(api: Api) -> None:
    """A handle's QR code carries its resolver URL on our host."""
    answer = api.get("/qr/88.118.8/PUMP-0001.png")
    assert decode(answer.content) == "http://tracechain.test/88.118.8/PUMP-0001"


def test_qr_errors(api: Api) -> None:
    """Bad identifiers, formats and options are problems, not 500s."""
    problem(api.get("/qr/(01)12345678901234.png"), 422, "invalid-identifier-check-digit")
    problem(api.get("/qr/(01)09506000134352.gif"), 404, "not-found")
    body = problem(api.get("/qr/(01)09506000134352.png?ec=X"), 422, "request-validation")
    assert body["errors"][0]["field"] == "ec"
    problem(api.get("/qr/(01)09506000134352.png?size=10"), 422, "request-validation")


def test_label_sheet(api: Api, supplier: Member) -> None:
    """An A4 sheet of numbered item labels for a lot, each with GTIN, lot, expiry, serial."""
    batch = new_batch(api, supplier, lot="SHEET-1")
    url = path_of(batch["label_sheet_url"]) + "?count=25&serial_from=100&expiry=2028-01-05"
    answer = api.get(url + "&title=Amoxicillin%20500mg")
    assert answer.status_code == 200, answer.text
    root = ElementTree.fromstring(answer.text)
    assert root.attrib["width"] == "210.0mm"
    assert root.attrib["height"] == "594.0mm"  # 25 labels at 21 a page: two pages
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count("Amoxicillin 500mg") == 25
    assert f"GTIN {gtin(supplier.prefix)}" in texts
    assert "LOT SHEET-1" in texts
    assert "EXP 2028-01-05" in texts
    assert [texts[4], texts[-1]] == ["SN 100", "SN 124"]
    not_a_lot = api.get(f"/labels/(01){gtin(supplier.prefix)}.svg")
    problem(not_a_lot, 422, "invalid-identifier")
