"""RFC 9457 problem details: every error the API answers is ``application/problem+json``.

A body has ``type`` (a URI naming the problem, dereferenceable at ``/problems/{slug}``),
``title``, ``status``, ``detail`` and ``errors``: a list of ``{"field", "reason"}`` naming what
was wrong in the request. This module is the API's one error mapping: the HTTP status of each
ledger error class (:data:`LEDGER_STATUSES`, :func:`status_of`), of each contract revert
(:data:`REVERTS`), and the 503 of a signing key the service cannot open (a
:class:`wallets.errors.WalletError`); a ledger error's slug is its ``problem``. Bad input never
gives a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from api.error_page import render_problem_page, wants_page
from ledger.chain import ContractRevertError
from ledger.errors import (
    ChainError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LedgerError,
    TooManyEventsError,
)
from ledger.events import DocumentValidationError, EventValidationError
from ledger.membership import MembershipError, PrefixOwnershipError, UnknownOrganisationError
from ledger.store.query import QueryError
from ledger.store.repository import ConflictError as TakenError
from wallets.errors import WalletError

log = logging.getLogger("tracechain.api")

PROBLEM_JSON: Final = "application/problem+json"
#: Where problem types live; ``type`` is this plus the slug (made absolute on our public URL).
PROBLEM_PATH: Final = "/problems/"

#: Titles of the problem types the API itself raises (ledger types are titled from their slug).
TITLES: Final[dict[str, str]] = {
    "bad-request": "Bad request",
    "request-validation": "The request does not match the API's schema",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "not-acceptable": "Not acceptable",
    "unsupported-media-type": "Unsupported media type",
    "payload-too-large": "Payload too large",
    "capture-limit-exceeded": "Too many events in one capture",
    "unauthorized": "Authentication required",
    "invalid-credentials": "Invalid or revoked API key",
    "forbidden": "Forbidden",
    "wrong-role": "The API key's role does not allow this",
    "not-prefix-owner": "The identifier belongs to another member's prefix",
    "unassigned-prefix": "The identifier is under no member's prefix",
    "member-suspended": "The member is suspended",
    "conflict": "Conflict",
    "chain-unavailable": "The chain is unavailable",
    "chain-rejected": "The chain rejected the transaction",
    "service-unavailable": "Service unavailable",
    "signing-key-unavailable": "A signing key of the service cannot be opened",
    "internal-error": "Internal error",
    "invalid-page-token": "Invalid nextPageToken",
}

#: EPCIS REST binding exception names for the problems GS1 names (an extension member).
EPCIS_EXCEPTIONS: Final[dict[int, str]] = {
    400: "epcisException:ValidationException",
    404: "epcisException:NoSuchNameException",
    413: "epcisException:CaptureLimitExceededException",
}


@dataclass(frozen=True, slots=True)
class Revert:
    """What a contract custom error (see contracts/*.sol) means for the caller."""

    status: int
    slug: str
    title: str
    detail: str


#: Contract custom errors by name. The ledger re-raises some as its own errors with the name
#: as their reason (``MembershipError("AlreadyRecalled")``); both are answered from here.
REVERTS: Final[dict[str, Revert]] = {
    "NotPrefixOwner": Revert(403, "not-prefix-owner", TITLES["not-prefix-owner"],
                             "the identifier is not under a prefix your member owns"),
    "SuspendedMember": Revert(403, "member-suspended", TITLES["member-suspended"],
                              "the member is suspended and may not record until reinstated"),
    "RevokedSigner": Revert(403, "revoked-signer", "The signing key was revoked",
                            "the signing address was revoked; use the member's current key"),
    "MissingMemberRole": Revert(403, "wrong-role", TITLES["wrong-role"],
                                "the member lacks the role this needs on the chain"),
    "UnknownMember": Revert(403, "unknown-signer", "Unknown signing key",
                            "the address is not a signing address of any member"),
    "AlreadyRecalled": Revert(409, "already-recalled", "Already recalled",
                              "the identifier is recalled already; lift the recall first to "
                              "recall it again"),
    "NotRecalled": Revert(409, "not-recalled", "Not recalled",
                          "the identifier is not recalled, so there is no recall to lift"),
    "MemberExists": Revert(409, "member-exists", "Already a member",
                           "the organisation is a member already"),
    "ActiveMember": Revert(409, "member-active", "The member is active already",
                           "only a suspended member can be reinstated"),
    "SignerExists": Revert(409, "signer-exists", "The signing address was used before",
                           "the address is or was a signing address already (addresses are "
                           "never reused)"),
    "TooManySigners": Revert(409, "too-many-signers", "Too many signing keys",
                             "the member holds the most signing addresses allowed; revoke one "
                             "first"),
    "PrefixTaken": Revert(409, "prefix-taken", "The prefix belongs to another member",
                          "the prefix is assigned to another member"),
    "AlreadyAnchored": Revert(409, "already-anchored", "Already anchored",
                              "this root or event hash is anchored already"),
    "UnknownOrganisation": Revert(404, "unknown-member", "Unknown member",
                                  "no member has this organisation id on the chain"),
    "UnknownPrefix": Revert(404, "unknown-prefix", "Unknown prefix",
                            "the prefix is not assigned to any member"),
    "InvalidRoles": Revert(400, "invalid-roles", "Invalid roles",
                           "the roles are none, or not roles the registry defines"),
    "EmptyValue": Revert(400, "empty-value", "Empty value",
                         "the organisation id, address or prefix is empty"),
    "EmptyHash": Revert(400, "empty-hash", "Empty hash", "a zero root or event hash was given"),
    "EmptyBatch": Revert(400, "empty-batch", "Empty batch", "a batch holds at least one event"),
}  # fmt: skip
for _revert in REVERTS.values():
    TITLES.setdefault(_revert.slug, _revert.title)
#: Titles of the ledger's own problem types whose slug alone says too little.
TITLES.update(
    {
        "membership": "Conflicts with the consortium's membership",
        "prefix-ownership": TITLES["not-prefix-owner"],
        "unknown-organisation": "Unknown member",
        "handle-prefix-not-served": "No member owns the handle's prefix",
    }
)


class FieldError(dict[str, str]):
    """One ``{"field": ..., "reason": ...}`` entry of a problem's ``errors``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field=field, reason=reason)


class ProblemError(Exception):
    """An error answered as problem+json (raise it from routes and dependencies)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        field: str | None = None,
        errors: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or TITLES.get(slug) or title_of(slug)
        if errors is None:
            errors = [FieldError(field, detail)] if field else []
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def title_of(slug: str) -> str:
    """A title from a slug: ``invalid-identifier-check-digit`` -> ``Invalid identifier check
    digit``."""
    words = slug.replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "Problem"


#: The HTTP status of each ledger error class; an error takes the status of the nearest class
#: of its MRO listed here (a contract revert's is its custom error's, see :data:`REVERTS`).
LEDGER_STATUSES: Final[dict[type, int]] = {
    InvalidInputError: 422,
    # The EPCIS REST binding answers ValidationException and QueryParameterException with 400.
    EventValidationError: 400,
    DocumentValidationError: 400,
    QueryError: 400,
    # ... and CaptureLimitExceededException with 413.
    TooManyEventsError: 413,
    ConflictError: 409,
    TakenError: 409,
    ForbiddenError: 403,
    MembershipError: 409,
    UnknownOrganisationError: 404,
    PrefixOwnershipError: 403,
    ConfigurationError: 503,
    ChainError: 503,
}


def status_of(exc: LedgerError) -> int:
    """The HTTP status answered for a ledger error: a contract revert's by its custom error
    (502 for one we do not know), else the nearest class of :data:`LEDGER_STATUSES`, else 400
    for the caller's errors and 500 for ours."""
    if isinstance(exc, ContractRevertError):
        revert = REVERTS.get(exc.name)
        return revert.status if revert else 502
    for klass in type(exc).__mro__:
        status = LEDGER_STATUSES.get(klass)
        if status is not None:
            return status
    return 400 if exc.client_error else 500


def _status_of_ledger_error(exc: LedgerError) -> tuple[int, str]:
    """The status and slug of a ledger error (a contract revert's slug is its custom error's,
    ``chain-rejected`` for one we do not know)."""
    if isinstance(exc, ContractRevertError):
        revert = REVERTS.get(exc.name)
        return status_of(exc), revert.slug if revert else "chain-rejected"
    return status_of(exc), exc.problem


def _revert_of(exc: LedgerError) -> Revert | None:
    """The contract error behind a ledger error: a revert, or a ledger error whose reason is
    a revert's name (as the ledger re-raises ``AlreadyRecalled`` and ``NotRecalled``)."""
    if isinstance(exc, ContractRevertError):
        return REVERTS.get(exc.name)
    return REVERTS.get(exc.reason) if exc.client_error else None


def problem_from_ledger_error(exc: LedgerError) -> ProblemError:
    """The problem answered for a ledger error (document errors list every field)."""
    revert = _revert_of(exc)
    if revert is not None:
        return ProblemError(
            revert.status,
            revert.slug,
            revert.detail,
            field=exc.field or "$",
            title=revert.title,
            extra={"revert": getattr(exc, "name", exc.reason)},
        )
    status, slug = _status_of_ledger_error(exc)
    nested: Iterable[Any] = getattr(exc, "errors", None) or ()
    errors = [
        FieldError(str(e.field or "$"), str(e.reason)) for e in nested if isinstance(e, LedgerError)
    ]
    if not errors and exc.field:
        errors = [FieldError(exc.field, exc.reason)]
    if status >= 500:
        # System trouble: say what kind, not the internals.
        detail = (
            f"the chain could not be used: {exc.reason}"
            if isinstance(exc, ChainError)
            else "the service is misconfigured or a dependency failed"
        )
        headers = {"Retry-After": "5"} if status == 503 else {}
        return ProblemError(status, slug, detail, errors=errors, headers=headers)
    return ProblemError(status, slug, exc.reason, errors=errors)


def problem_from_wallet_error(exc: WalletError) -> ProblemError:
    """The problem answered when a signing key of the service cannot be opened (a missing or
    corrupt keystore, a missing or wrong passphrase): 503, naming neither files nor secrets."""
    return ProblemError(
        503,
        "signing-key-unavailable",
        "a signing key of the service cannot be opened; the operator must check its keystore "
        "and passphrase",
    )


def _type_uri(request: Request, slug: str) -> str:
    base = getattr(request.app.state, "public_url", "") or str(request.base_url).rstrip("/")
    return f"{base}{PROBLEM_PATH}{slug}"


def problem_response(request: Request, problem: ProblemError) -> Response:
    """Render ``problem`` as an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": _type_uri(request, problem.slug),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "errors": problem.errors,
    }
    epcis = EPCIS_EXCEPTIONS.get(problem.status)
    if epcis and _is_epcis_path(request.url.path):
        body["epcisException"] = epcis
    body.update(problem.extra)
    if wants_page(request):
        return _problem_page(request, problem)
    headers = problem.headers
    if request.method in ("GET", "HEAD"):  # browsers get a page at the same URL
        headers = {"Vary": "Accept, Accept-Language", **headers}
    return JSONResponse(body, status_code=problem.status, headers=headers, media_type=PROBLEM_JSON)


def _problem_page(request: Request, problem: ProblemError) -> Response:
    """The problem as the HTML page a browser shows (same status and headers)."""
    page, language = render_problem_page(
        request,
        status=problem.status,
        slug=problem.slug,
        title=problem.title,
        detail=problem.detail,
        errors=problem.errors,
    )
    headers = {
        **problem.headers,
        "Content-Language": language,
        "Vary": "Accept, Accept-Language",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(page, status_code=problem.status, headers=headers)


def _is_epcis_path(path: str) -> bool:
    return path.startswith(("/capture", "/events"))


def _loc_to_field(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if (parts and parts[0] == "body") or (
        parts and parts[0] in ("query", "path", "header", "cookie") and len(parts) > 1
    ):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "$"


_HTTP_SLUGS: Final[dict[int, str]] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    503: "service-unavailable",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json answer."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(request, exc)

    async def on_ledger_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerError)
        problem = problem_from_ledger_error(exc)
        if problem.status >= 500:
            log.warning("%s %s failed: %r", request.method, request.url.path, exc)
        return problem_response(request, problem)

    async def on_wallet_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WalletError)
        log.warning(
            "%s %s failed: a signing key cannot be opened: %s",
            request.method, request.url.path, exc,
        )  # fmt: skip
        return problem_response(request, problem_from_wallet_error(exc))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for err in exc.errors():
            loc = err.get("loc", ())
            errors.append(FieldError(_loc_to_field(loc), str(err.get("msg", "invalid"))))
        first = errors[0] if errors else FieldError("$", "invalid request")
        detail = f"{first['field']}: {first['reason']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more problem(s))"
        return problem_response(
            request, ProblemError(422, "request-validation", detail, errors=errors)
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        slug = _HTTP_SLUGS.get(status, "bad-request" if status < 500 else "internal-error")
        if status == 404 and exc.detail in (None, "Not Found"):
            detail = f"nothing at {request.url.path}"
        else:
            detail = str(exc.detail)
        headers = dict(exc.headers or {})
        return problem_response(request, ProblemError(status, slug, detail, headers=headers))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, ProblemError(500, "internal-error", "an unexpected error occurred")
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(LedgerError, on_ledger_error)
    app.add_exception_handler(WalletError, on_wallet_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


#: OpenAPI description of a problem+json answer, for ``responses=`` of routes.
PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json answers for ``statuses``."""
    return {
        status: {
            "description": TITLES.get(_HTTP_SLUGS.get(status, ""), "Problem"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
