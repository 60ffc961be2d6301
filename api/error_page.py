"""The error page a browser gets: a problem (RFC 9457) as an HTML page in the reader's language.

A request that prefers ``text/html`` to JSON (a phone opening a scanned link) and does not ask
for JSON explicitly (``format=json``, a JSON ``linkType``) gets this page, with the problem's
status; every other client gets the problem+json body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from starlette.requests import Request

from api import i18n
from api.negotiation import best_match
from api.trail import TEMPLATE_ENV

HTML: Final = "text/html"
#: What a client is offered for an error, in order of preference on a tie.
_ERROR_TYPES: Final = ("application/problem+json", "application/json", HTML)
#: ``linkType`` values whose answer is a page (the others are JSON).
_PAGE_LINK_TYPES: Final = frozenset({"pip", "defaultlink"})


def wants_page(request: Request) -> bool:
    """Whether ``request`` should get the HTML error page rather than problem+json."""
    if request.method not in ("GET", "HEAD"):
        return False
    if best_match(request.headers.get("accept"), _ERROR_TYPES) != HTML:
        return False
    params = request.query_params
    if params.get("format", "html") != "html":
        return False
    link_type = params.get("linkType")
    if link_type is not None:
        return link_type.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower() in _PAGE_LINK_TYPES
    return True


def page_language(request: Request) -> str:
    """The page language of ``request`` (``?lang=``, else ``Accept-Language``)."""
    lang = request.query_params.get("lang")
    return i18n.negotiate(lang[:35] if lang else None, request.headers.get("accept-language"))


def render_problem_page(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[Mapping[str, str]],
) -> tuple[str, str]:
    """The page (and its language tag) saying what is wrong with ``request``."""
    lang = page_language(request)
    heading, explanation = i18n.problem_text(slug, status, lang)
    body = TEMPLATE_ENV.get_template("error.html").render(
        lang=lang,
        html_lang=i18n.TAGS[lang],
        other_langs=[(code, i18n.NAMES[code]) for code in i18n.LANGUAGES if code != lang],
        status=status,
        slug=slug,
        heading=heading,
        explanation=explanation,
        opened=request.url.path,
        title=title,
        detail=detail,
        errors=errors,
    )
    return body, i18n.TAGS[lang]
