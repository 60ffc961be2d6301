"""The answers every route may give, written into the OpenAPI description (so it is the truth).

FastAPI documents each route's own answers and a 422 of its validation-error shape; what the app
answers besides is added here, for every operation it applies to:

* 422 is the app's problem+json (``request-validation``), not FastAPI's ``HTTPValidationError``;
* a path that no route matches is a 404 (a path parameter holding a line break, say);
* a request body that cannot be parsed is a 400 and one over the body limit a 413;
* an operation behind an API key answers 401 (no key, an unknown or revoked one) and 403
  (a key of the wrong role or member);
* any operation but the probes may answer 503 + ``Retry-After`` when the service is too busy
  (admission control) or its database or chain is unreachable;
* a problem answered to a ``GET`` is the HTML error page for a browser (``Accept: text/html``).
"""

from __future__ import annotations

from typing import Any, Final

from api.overload import BYPASS
from api.problems import PROBLEM_JSON, problem_responses

_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_FASTAPI_VALIDATION: Final = ("HTTPValidationError", "ValidationError")
_PAGE: Final = {"text/html": {"schema": {"type": "string"}}}


#: Descriptions of the statuses ``problem_responses`` only calls "Problem".
_DESCRIPTIONS: Final = {
    422: "Invalid input: a parameter or body field (named in errors) is not valid",
}


def _problem(status: int) -> dict[str, Any]:
    response = problem_responses(status)[status]
    if status in _DESCRIPTIONS:
        response["description"] = _DESCRIPTIONS[status]
    return response


def _add(responses: dict[str, Any], status: int) -> None:
    if str(status) not in responses:
        responses[str(status)] = _problem(status)


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses or operation.get("parameters") or "requestBody" in operation:
        responses["422"] = _problem(422)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        _add(responses, 404)
    if "requestBody" in operation:
        _add(responses, 400)
        _add(responses, 413)
    if operation.get("security"):
        _add(responses, 401)
        _add(responses, 403)
    if path not in BYPASS:
        _add(responses, 503)
    if method in ("get", "head"):
        for status, response in responses.items():
            content = response.get("content", {})
            if status[:1] in "45" and PROBLEM_JSON in content:
                content.update(_PAGE)


def document_common_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document from FastAPI) with the answers above on every operation,
    and without FastAPI's validation-error components, which nothing answers."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _complete(path, method, operation)
    components = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        components.pop(name, None)
    return schema
