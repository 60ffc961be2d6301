"""What the routes share inside one app: settings, the database, the chain, caches, metrics.

One :class:`Services` per app (``app.state.services``), built by the app factory. The chain
client and the deployment record are opened lazily, so the API starts (and answers
``/healthz``, and reports itself not ready on ``/readyz``) while the chain is down.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import Final

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.cache import TrailCache
from api.metrics import Metrics
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Membership, MembershipReader
from ledger.settings import Settings
from ledger.store.db import make_engine, pool_options, session_factory
from ledger.verify import Verifier
from wallets.admin import AdminKey
from wallets.keyring import Keyring
from wallets.signer import Signer

#: Connections beyond the requests': the anchor worker's thread and asyncio's default executor
#: (the watcher, readiness checks, metrics), at most min(32, CPUs + 4) threads.
BACKGROUND_CONNECTIONS: Final = 1 + min(32, (os.cpu_count() or 1) + 4)


class Services:
    """The app's long-lived collaborators."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.public_url = settings.public_url.rstrip("/")
        url = settings.effective_database_url
        # One connection per request in progress (Admission lets api.threads in, each holding
        # at most one) plus the background threads', so requests never wait for the pool.
        pool = pool_options(
            url, settings.api.threads + BACKGROUND_CONNECTIONS, settings.database.pool_timeout_s
        )
        self.engine: Engine = make_engine(url, **pool)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.trails = TrailCache(ttl=settings.api.trail_cache_seconds)
        self.metrics = Metrics()
        self._deployment: Deployment | None = None
        self._admin: Signer | None = None
        self._membership: Membership | None = None
        self._reader: MembershipReader | None = None
        self._verifier: Verifier | None = None
        self._lock = threading.Lock()
        #: Events this process captured (their trails were invalidated at capture already),
        #: so the watcher, which follows other processes' captures, can pass them over.
        self._own_events: set[int] = set()

    @cached_property
    def chain(self) -> ChainClient:
        """The chain client (no connection is made until it is used)."""
        return ChainClient(self.settings.effective_rpc_urls)

    @cached_property
    def keyring(self) -> Keyring:
        """The members' signing keys under the data dir."""
        return Keyring(self.settings.data_dir, work_factor=self.settings.keystore_work_factor)

    def admin_signer(self) -> Signer | None:
        """The consortium admin's chain key (the devnet's keystore in the data dir), or None
        where this process holds none (then admin operations answer 503)."""
        with self._lock:
            if self._admin is None:
                admin = AdminKey(self.settings.data_dir)
                if not admin.exists():
                    return None
                self._admin = admin.signer()
            return self._admin

    def membership(self) -> Membership:
        """Membership operations (database and chain in step); the writes the admin signs
        open its key when they first need it, so reads never depend on it."""
        if self._membership is None:
            self._membership = Membership(
                self.engine, self.chain, self.deployment(), self.keyring,
                admin_key=self.admin_signer,
            )  # fmt: skip
        return self._membership

    def membership_reader(self) -> MembershipReader:
        """Membership reads (members, prefix owners, recall states): no key needed."""
        if self._reader is None:
            self._reader = MembershipReader(self.engine, self.chain, self.deployment())
        return self._reader

    def verifier(self) -> Verifier:
        """Verification of stored events against the chain (reads only)."""
        if self._verifier is None:
            self._verifier = Verifier(self.engine, self.chain, self.deployment())
        return self._verifier

    def deployment(self) -> Deployment:
        """The deployment record of the contracts (read once; raises ConfigurationError)."""
        with self._lock:
            if self._deployment is None:
                self._deployment = Deployment.load(self.settings.deployment_file)
            return self._deployment

    def forget_deployment(self) -> None:
        """Read the deployment record again next time (after a redeploy), dropping caches."""
        with self._lock:
            self._deployment = None
            self._membership = None
            self._reader = None
            self._verifier = None
        self.trails.clear()

    def captured_here(self, event_pks: list[int]) -> None:
        """Note events this process stored (and whose trails it invalidated itself)."""
        with self._lock:
            if len(self._own_events) > 100_000:  # events without identifiers never come back
                self._own_events.clear()
            self._own_events.update(event_pks)

    def foreign(self, event_pks: set[int]) -> set[int]:
        """The events of ``event_pks`` this process did not capture (forgetting the others)."""
        with self._lock:
            own = event_pks & self._own_events
            self._own_events -= own
        return event_pks - own

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
