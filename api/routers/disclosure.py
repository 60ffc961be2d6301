"""The public projection a brand owner chooses: set, list and delete its disclosure rules.

What a buyer's scan shows of the events on a product's trail that the buyer (or a member's key)
may not read in full is the brand owner's choice (:mod:`ledger.disclosure`): per GTIN or for a
whole prefix of its own, optionally per recording member and event type. A rule takes effect at
the next read: this node forgets its cached trails; other processes' caches expire within their
TTL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import MemberDep, RecorderDep, ServicesDep
from api.problems import ProblemError, problem_responses
from api.schemas import DisclosureIn, DisclosureOut, DisclosurePolicyOut, DisclosuresOut
from ledger.disclosure import DEFAULT_POLICY, DisclosureRule, PublicField
from ledger.store.disclosure import delete_rule, rules_of, set_rule

router = APIRouter(tags=["Access"])

RuleId = Annotated[str, Path(max_length=36, description="The rule's id.")]


def _groups(fields: frozenset[PublicField]) -> list[PublicField]:
    return [group for group in PublicField if group in fields]


def rule_out(rule: DisclosureRule) -> DisclosureOut:
    """The API shape of a rule."""
    return DisclosureOut(
        id=rule.id,
        owner=rule.owner,
        scope_kind=rule.scope_kind,
        scope=rule.scope_value,
        scope_key=rule.scope_key,
        recorder=rule.recorder,
        event_type=rule.event_type,
        fields=_groups(rule.policy.fields),
        commissioning=_groups(rule.policy.commissioning),
        created_at=rule.created_at,  # type: ignore[arg-type]  # stored rules have both
        updated_at=rule.updated_at,  # type: ignore[arg-type]
    )


@router.put(
    "/disclosure",
    response_model=DisclosureOut,
    summary="Choose what the public sees of a product's events",
    responses={
        201: {"description": "A new rule.", "model": DisclosureOut},
        **problem_responses(401, 403, 422),
    },
)
async def put_disclosure(
    body: DisclosureIn, services: ServicesDep, who: RecorderDep, response: Response
) -> DisclosureOut:
    """Set the brand owner's rule for ``scope`` (a GTIN of its prefix, or one of its
    prefixes), for events by ``recorder`` (null: any member) of ``event_type`` (null: any
    type): the public sees ``fields`` of them, and ``commissioning`` besides of the owner's own
    commissioning events. The rule for the same scope, recorder and type is replaced (200); a
    new one is 201. Only the member owning the prefix may set it (403 otherwise)."""
    rule, created = await run_in_threadpool(
        set_rule,
        services.engine,
        owner_id=who.member_id,
        scope_kind=body.scope_kind.value,
        scope=body.scope,
        recorder=body.recorder,
        event_type=body.event_type,
        fields=[group.value for group in body.fields],
        commissioning=[group.value for group in body.commissioning],
    )
    services.trails.clear()
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/disclosure/{rule.id}"
    return rule_out(rule)


@router.get(
    "/disclosure",
    response_model=DisclosuresOut,
    summary="The brand owner's disclosure rules",
    responses=problem_responses(401, 403),
)
async def list_disclosure(services: ServicesDep, who: MemberDep) -> DisclosuresOut:
    """This key's member's rules, oldest first, and the default projection that holds where
    none applies."""
    rules = await run_in_threadpool(rules_of, services.engine, who.member_id)
    return DisclosuresOut(
        rules=[rule_out(rule) for rule in rules],
        default=DisclosurePolicyOut(
            fields=_groups(DEFAULT_POLICY.fields),
            commissioning=_groups(DEFAULT_POLICY.commissioning),
        ),
    )


@router.delete(
    "/disclosure/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a disclosure rule",
    responses=problem_responses(401, 403, 404),
)
async def delete_disclosure(rule_id: RuleId, services: ServicesDep, who: RecorderDep) -> Response:
    """Delete one of this member's rules (the next broader rule, or the default, applies
    again). Another member's rule is answered as one that does not exist."""
    deleted = await run_in_threadpool(delete_rule, services.engine, who.member_id, rule_id)
    if not deleted:
        raise ProblemError(404, "not-found", f"no disclosure rule {rule_id}", field="rule_id")
    services.trails.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
