"""``/problems/{slug}``: what each problem ``type`` URI of our problem+json answers means."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.problems import TITLES, ProblemError, problem_responses, title_of
from ledger.errors import LedgerError

router = APIRouter(tags=["Operations"])


class ProblemType(BaseModel):
    """A problem type."""

    type: str
    title: str
    description: str


def _ledger_problem_types() -> dict[str, str]:
    found: dict[str, str] = {}
    pending: list[type[LedgerError]] = [LedgerError]
    while pending:
        cls = pending.pop()
        doc = (cls.__doc__ or "").strip().split("\n\n", 1)[0].replace("\n", " ")
        found.setdefault(cls.problem, doc)
        pending.extend(cls.__subclasses__())
    return found


@router.get(
    "/problems/{slug}",
    response_model=ProblemType,
    summary="Describe a problem type",
    responses=problem_responses(404),
)
def problem_type(slug: str) -> ProblemType:
    """The title and meaning of the problem type ``slug``."""
    ledger_types = _ledger_problem_types()
    if slug in TITLES:
        return ProblemType(type=slug, title=TITLES[slug], description=TITLES[slug] + ".")
    if slug in ledger_types:
        return ProblemType(type=slug, title=title_of(slug), description=ledger_types[slug])
    raise ProblemError(404, "not-found", f"no problem type {slug!r}", field="slug")
