"""Authenticating a call: the caller's `Authorization: Bearer KEY` → the tenant and limits of that key.

The rule lives here, in the service's process, for both faces: the bridge
passes the caller's credential through (in-process, or as gRPC
`authorization` metadata) and never decides. Lookups are cached for
`cache_seconds` (positive and negative), so a key revoked on one replica
stops working on every replica within that time, and a request costs a dict
lookup, not a query.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from responses_gateway.config import Settings
from responses_gateway.errors import Unauthenticated
from responses_gateway.security.keys import hash_key
from responses_gateway.security.limits import Limits
from responses_gateway.store import Store, keys

AuthMode = Literal["required", "open"]

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
# Never echoes the key (OpenAI shows a masked one; a gateway's logs and clients need none of it).
INCORRECT_KEY_MESSAGE = "Incorrect API key provided."
# Distinct keys remembered at most; past it the cache starts over (a flood of random keys cannot grow it).
MAX_CACHED_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call is from: a tenant, and the key (with its limits) when one was required."""

    tenant_id: str
    key_id: str | None = None
    limits: Limits = Limits()
    monthly_tokens: int | None = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def auth_mode(settings: Settings) -> tuple[AuthMode, str]:
    """The mode in force and why: as configured, else open only when every listener binds loopback."""
    if settings.auth.mode is not None:
        return settings.auth.mode, "configured"
    public = [h for h in (settings.http_host, settings.grpc_host) if not _is_loopback(h)]
    if public:
        return "required", f"a listener binds {public[0]}, which is not loopback"
    return "open", "both listeners bind loopback"


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


class Authenticator:
    """Turns a caller's credential into a Principal, or raises Unauthenticated (OpenAI's 401 `invalid_api_key`)."""

    def __init__(
        self,
        store: Store,
        *,
        mode: AuthMode,
        open_tenant: str = "default",
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = mode
        self._store = store
        self._open = Principal(tenant_id=open_tenant)
        self._ttl = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header value (`Bearer KEY`); in open mode, the open tenant."""
        if self.mode == "open":
            return self._open
        now = self._clock()
        # Cached by the header as sent: a repeat caller costs one dict lookup, no parsing or hashing.
        cached = self._cache.get(authorization) if authorization else None
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            key = _bearer(authorization)
            if key is None:
                raise Unauthenticated(MISSING_KEY_MESSAGE, code="invalid_api_key")
            assert authorization is not None
            principal = await self._look_up(hash_key(key))
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[authorization] = (principal, now + self._ttl)
        if principal is None:
            raise Unauthenticated(INCORRECT_KEY_MESSAGE, code="invalid_api_key")
        return principal

    async def _look_up(self, digest: str) -> Principal | None:
        async with self._store.session() as session:
            record = await keys.find_by_hash(session, digest)
        # The index found the row by its hash; the comparison that decides is constant-time all the same.
        if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
            return None
        return Principal(
            tenant_id=record.tenant_id,
            key_id=record.id,
            limits=Limits(rpm=record.rpm, tpm=record.tpm),
            monthly_tokens=record.monthly_tokens,
        )
