"""Authentication, roles and rate limits of the service.

A request presents ``Authorization: Bearer KEY`` (the dashboard sends the key from an HttpOnly,
SameSite=Strict cookie instead; cookie-authenticated calls that change state must also carry the
``X-Sluice-Request: 1`` header, which a cross-site form cannot set). ``allow(*roles)`` is the
FastAPI dependency routes use; it authenticates through ``Store.authenticate``, checks the role and
takes one token from the key's bucket (429 when empty). The role matrix lives in ``ROLE_MATRIX`` so
docs/security.md and the tests read the same table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request

from sluicegate.service.errors import ApiError
from sluicegate.service.store import Principal

COOKIE = "sluice_key"
CSRF_HEADER = "x-sluice-request"

# capability -> roles allowed (docs/security.md has the same table, with the routes)
ROLE_MATRIX: dict[str, tuple[str, ...]] = {
    "reference": ("exporter", "compliance", "auditor", "admin"),  # regimes, chips, scenarios
    "decide": ("exporter", "compliance"),
    "decision-jobs": ("exporter", "compliance"),  # exporter: own jobs only
    "reserve": ("exporter", "compliance"),  # exporter: own consignees only
    "ledger-manage": ("compliance",),  # confirm, release, attrition
    "ledger-read": ("exporter", "compliance", "auditor"),  # exporter: own consignees only
    "audit": ("compliance", "auditor"),  # verify and export the audit chain
    "screen": ("exporter", "compliance"),
    "parties": ("exporter", "compliance", "auditor"),  # exporter: own consignees only
    "cloud": ("compliance",),  # KYC, telemetry uploads and their jobs
    "cloud-read": ("compliance", "auditor"),  # KYC outcomes kept, alerts
    "simulate": ("compliance",),
    "simulation-results": ("compliance", "auditor"),
    "users": ("admin",),
    "events": ("auditor", "admin"),  # the api-call records of the audit chain
}


class TokenBuckets:
    """One token bucket per key, in memory: ``rate`` tokens a second up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when a token was taken, else seconds until one is available."""
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


def presented_key(request: Request) -> tuple[str | None, bool]:
    """The key the request presents and whether it came from the dashboard cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "use 'Authorization: Bearer KEY'", "authorization")
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def current_principal(request: Request) -> Principal | None:
    """Authenticate without a role check (the dashboard uses it to pick pages)."""
    key, _ = presented_key(request)
    if not key:
        return None
    principal: Principal | None = request.app.state.store.authenticate(key)
    return principal


def allow(capability: str) -> Callable[[Request], Any]:
    """Dependency: the caller must hold a role allowed for ``capability``."""
    roles = ROLE_MATRIX[capability]

    async def dependency(request: Request) -> Principal:
        key, from_cookie = presented_key(request)
        if not key:
            raise ApiError(
                401,
                "authentication required: send 'Authorization: Bearer KEY'",
                "authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = request.app.state.store.authenticate(key)
        if principal is None:
            client = request.client.host if request.client else "unknown"
            if request.app.state.buckets.take(f"unknown-key:{client}") > 0:
                raise ApiError(429, "too many requests with unknown keys from this address")
            raise ApiError(
                401,
                "unknown or revoked API key",
                "authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.principal = principal
        if (
            from_cookie
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and request.headers.get(CSRF_HEADER) != "1"
        ):
            raise ApiError(403, "cookie-authenticated changes need the X-Sluice-Request header")
        if principal.role not in roles:
            raise ApiError(
                403,
                f"role {principal.role!r} may not use {capability}; allowed: {', '.join(roles)}",
            )
        wait = request.app.state.buckets.take(principal.key_id)
        if wait > 0:
            raise ApiError(
                429,
                "rate limit exceeded for this key",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return principal

    return dependency
