"""The store's tables as SQLAlchemy Core handles, one typed constant per table.

Every module that builds SQL over the store's tables imports its handles from here (the table
models of :mod:`ledger.store.models` declare them; their ``__table__`` is untyped)::

    from ledger.store.tables import EVENT, OUTBOX

    sa.select(EVENT.c.id).join(OUTBOX, OUTBOX.c.event_pk == EVENT.c.id)
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from ledger.store.models import (
    AccessGrant,
    AnchorBatch,
    ApiKey,
    CapabilityLink,
    CapabilityUse,
    Capture,
    DisclosurePolicyRow,
    Event,
    EventIdentifier,
    EventReader,
    EventScope,
    MemberLink,
    Organisation,
    Outbox,
    Prefix,
    SigningKey,
    metadata,
)

__all__ = [
    "ACCESS_GRANT",
    "ANCHOR_BATCH",
    "API_KEY",
    "CAPABILITY_LINK",
    "CAPABILITY_USE",
    "CAPTURE",
    "DISCLOSURE_POLICY",
    "EVENT",
    "EVENT_IDENTIFIER",
    "EVENT_READER",
    "EVENT_SCOPE",
    "MEMBER_LINK",
    "ORGANISATION",
    "OUTBOX",
    "PREFIX",
    "SIGNING_KEY",
]

#: ``organisation``: the consortium's members (:class:`~ledger.store.models.Organisation`).
ORGANISATION: Final[sa.Table] = metadata.tables[Organisation.__tablename__]
#: ``signing_key``: members' signing addresses (:class:`~ledger.store.models.SigningKey`).
SIGNING_KEY: Final[sa.Table] = metadata.tables[SigningKey.__tablename__]
#: ``prefix``: identifier prefixes assigned to members (:class:`~ledger.store.models.Prefix`).
PREFIX: Final[sa.Table] = metadata.tables[Prefix.__tablename__]
#: ``capture``: capture requests, accepted or failed (:class:`~ledger.store.models.Capture`).
CAPTURE: Final[sa.Table] = metadata.tables[Capture.__tablename__]
#: ``anchor_batch``: Merkle roots on their way to the chain
#: (:class:`~ledger.store.models.AnchorBatch`).
ANCHOR_BATCH: Final[sa.Table] = metadata.tables[AnchorBatch.__tablename__]
#: ``event``: stored EPCIS events (:class:`~ledger.store.models.Event`).
EVENT: Final[sa.Table] = metadata.tables[Event.__tablename__]
#: ``event_identifier``: the identifiers each event mentions
#: (:class:`~ledger.store.models.EventIdentifier`).
EVENT_IDENTIFIER: Final[sa.Table] = metadata.tables[EventIdentifier.__tablename__]
#: ``outbox``: events waiting to be anchored (:class:`~ledger.store.models.Outbox`).
OUTBOX: Final[sa.Table] = metadata.tables[Outbox.__tablename__]
#: ``api_key``: hashed API keys (:class:`~ledger.store.models.ApiKey`).
API_KEY: Final[sa.Table] = metadata.tables[ApiKey.__tablename__]
#: ``event_reader``: members named readers of an event (:class:`~ledger.store.models.EventReader`).
EVENT_READER: Final[sa.Table] = metadata.tables[EventReader.__tablename__]
#: ``event_scope``: what each event is about, for the visibility rule
#: (:class:`~ledger.store.models.EventScope`).
EVENT_SCOPE: Final[sa.Table] = metadata.tables[EventScope.__tablename__]
#: ``member_link``: what each member is linked to (:class:`~ledger.store.models.MemberLink`).
MEMBER_LINK: Final[sa.Table] = metadata.tables[MemberLink.__tablename__]
#: ``access_grant``: members' read grants (:class:`~ledger.store.models.AccessGrant`).
ACCESS_GRANT: Final[sa.Table] = metadata.tables[AccessGrant.__tablename__]
#: ``capability_link``: regulators' links (:class:`~ledger.store.models.CapabilityLink`).
CAPABILITY_LINK: Final[sa.Table] = metadata.tables[CapabilityLink.__tablename__]
#: ``capability_use``: each use of a capability link (:class:`~ledger.store.models.CapabilityUse`).
CAPABILITY_USE: Final[sa.Table] = metadata.tables[CapabilityUse.__tablename__]
#: ``disclosure_policy``: brand owners' public projections
#: (:class:`~ledger.store.models.DisclosurePolicyRow`).
DISCLOSURE_POLICY: Final[sa.Table] = metadata.tables[DisclosurePolicyRow.__tablename__]
