"""Reads of the identifier index (``event_identifier``) beyond the EPCIS queries: when an
identifier was first recorded, and what the index gained since an event (the API's change
watcher, which follows other processes' captures)."""

from __future__ import annotations

from datetime import datetime
from typing import Final, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.store.tables import EVENT, EVENT_IDENTIFIER
from ledger.store.visibility import visible
from ledger.visibility import Reader

__all__ = ["MAX_MENTIONS", "Mention", "first_recorded", "last_mention_pk", "mentions_after"]

#: Most index rows :func:`mentions_after` returns at once.
MAX_MENTIONS: Final = 50_000


class Mention(NamedTuple):
    """One identifier an event mentions (one index row, its role and value left out)."""

    event_pk: int
    #: The identifier's canonical form.
    canonical: str
    #: The canonical form of its class (the LGTIN of a serialised item with a lot...), if any.
    class_canonical: str | None


def first_recorded(engine: Engine, canonical: str, *, reader: Reader) -> datetime | None:
    """The record time of the first stored event ``reader`` may read that mentions the
    identifier ``canonical`` (itself, or as the class of what it mentions); None if no such
    event does."""
    allowed = visible(reader)
    statement = (
        sa.select(sa.func.min(EVENT.c.record_time))
        .select_from(EVENT.join(EVENT_IDENTIFIER, EVENT_IDENTIFIER.c.event_pk == EVENT.c.id))
        .where(
            sa.or_(
                EVENT_IDENTIFIER.c.canonical == canonical,
                EVENT_IDENTIFIER.c.class_canonical == canonical,
            ),
            *([] if allowed is None else [allowed]),
        )
    )
    with engine.connect() as connection:
        first: datetime | None = connection.execute(statement).scalar()
    return first


def last_mention_pk(engine: Engine) -> int:
    """The highest event pk in the index (0 when it is empty)."""
    with engine.connect() as connection:
        value = connection.execute(sa.select(sa.func.max(EVENT_IDENTIFIER.c.event_pk))).scalar()
    return int(value or 0)


def mentions_after(engine: Engine, event_pk: int, *, limit: int = MAX_MENTIONS) -> list[Mention]:
    """The index rows of events after ``event_pk``, in event pk order, at most ``limit``."""
    statement = (
        sa.select(
            EVENT_IDENTIFIER.c.event_pk,
            EVENT_IDENTIFIER.c.canonical,
            EVENT_IDENTIFIER.c.class_canonical,
        )
        .where(EVENT_IDENTIFIER.c.event_pk > event_pk)
        .order_by(EVENT_IDENTIFIER.c.event_pk)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [Mention(int(pk), canonical, class_canonical) for pk, canonical, class_canonical in rows]
