"""QR codes of identifiers (PNG and SVG) and printable SVG label sheets for a lot.

A QR code carries the identifier's resolver URL on our public host: the GS1 Digital Link URI
for GS1 keys, ``{host}/{prefix}/{suffix}`` for handles. SVGs are drawn from the module matrix
as one ``<path>`` (crisp at any print size, no raster); PNGs come from qrcode's PIL factory.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal
from xml.sax.saxutils import escape

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage

ErrorCorrection = Literal["L", "M", "Q", "H"]

_EC: Final[dict[str, int]] = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
#: The quiet zone ISO/IEC 18004 asks for, in modules.
QUIET_ZONE: Final = 4
MIN_SIZE: Final = 64
MAX_SIZE: Final = 4096


@lru_cache(maxsize=4096)
def qr_matrix(data: str, ec: ErrorCorrection = "M") -> tuple[tuple[bool, ...], ...]:
    """The module matrix of ``data`` (without quiet zone): ``True`` is a dark module."""
    code = qrcode.QRCode(error_correction=_EC[ec], border=0, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


def _box(modules: int, size: int) -> int:
    return max(1, size // (modules + 2 * QUIET_ZONE))


@lru_cache(maxsize=1024)
def qr_png(data: str, ec: ErrorCorrection = "M", size: int = 300) -> bytes:
    """A PNG of the QR code of ``data``, at most ``size`` pixels wide (whole pixels per
    module, so at least one pixel per module)."""
    modules = len(qr_matrix(data, ec))
    code = qrcode.QRCode(error_correction=_EC[ec], border=QUIET_ZONE, box_size=_box(modules, size))
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, kind="PNG")
    return buffer.getvalue()


def _module_path(matrix: Sequence[Sequence[bool]], offset: int = 0) -> str:
    """One SVG path drawing every dark module (runs of a row merged into one rectangle)."""
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        width = len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                parts.append(f"M{start + offset},{y + offset}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(parts)


@lru_cache(maxsize=1024)
def qr_svg(data: str, ec: ErrorCorrection = "M", size: int = 300) -> str:
    """A standalone SVG of the QR code of ``data``, ``size`` px square (scalable)."""
    matrix = qr_matrix(data, ec)
    total = len(matrix) + 2 * QUIET_ZONE
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {total} {total}" shape-rendering="crispEdges">'
        f"<title>{escape(data)}</title>"
        f'<rect width="{total}" height="{total}" fill="#fff"/>'
        f'<path fill="#000" d="{_module_path(matrix, QUIET_ZONE)}"/></svg>\n'
    )


@dataclass(frozen=True, slots=True)
class Label:
    """One label of a sheet: the QR payload and up to four lines of text under it."""

    data: str
    lines: tuple[str, ...]


#: A4 portrait in millimetres, with a printer-safe margin.
PAGE_W_MM: Final = 210.0
PAGE_H_MM: Final = 297.0
MARGIN_MM: Final = 10.0


def label_sheet_svg(labels: Sequence[Label], *, columns: int = 3, rows: int = 7) -> str:
    """An A4 SVG page (or several stacked pages) of labels in a ``columns`` x ``rows`` grid.

    Each label is a QR code (error correction Q, quiet zone kept) with its text beside it; the
    sheet is sized in millimetres, so printing at 100 % gives true-size labels.
    """
    per_page = columns * rows
    pages = max(1, -(-len(labels) // per_page))
    cell_w = (PAGE_W_MM - 2 * MARGIN_MM) / columns
    cell_h = (PAGE_H_MM - 2 * MARGIN_MM) / rows
    height = PAGE_H_MM * pages
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W_MM}mm" height="{height}mm" '
        f'viewBox="0 0 {PAGE_W_MM} {height}" font-family="Helvetica, Arial, sans-serif">'
        f'<rect width="{PAGE_W_MM}" height="{height}" fill="#fff"/>'
    ]
    for index, label in enumerate(labels):
        page, slot = divmod(index, per_page)
        row, column = divmod(slot, columns)
        x = MARGIN_MM + column * cell_w
        y = PAGE_H_MM * page + MARGIN_MM + row * cell_h
        out.append(_label(label, x, y, cell_w, cell_h))
    out.append("</svg>\n")
    return "".join(out)


def _label(label: Label, x: float, y: float, width: float, height: float) -> str:
    matrix = qr_matrix(label.data, "Q")
    total = len(matrix) + 2 * QUIET_ZONE
    side = min(height - 2, width * 0.5)
    scale = side / total
    text_x = x + side + 1.5
    lines = []
    for n, line in enumerate(label.lines[:5]):
        size = 3.2 if n == 0 else 2.6
        weight = ' font-weight="bold"' if n == 0 else ""
        lines.append(
            f'<text x="{text_x:.2f}" y="{y + 6 + n * 4.2:.2f}" font-size="{size}"{weight}>'
            f"{escape(line)}</text>"
        )
    return (
        f'<g><rect x="{x + 0.5:.2f}" y="{y + 0.5:.2f}" width="{width - 1:.2f}" '
        f'height="{height - 1:.2f}" rx="2" fill="none" stroke="#bbb" stroke-width="0.2"/>'
        f'<g transform="translate({x + 1:.2f},{y + 1:.2f}) scale({scale:.4f})" '
        'shape-rendering="crispEdges">'
        f'<path fill="#000" d="{_module_path(matrix, QUIET_ZONE)}"/></g>'
        f"{''.join(lines)}</g>"
    )
