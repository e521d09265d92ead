"""The service's own tables: API keys (hashed) and the cloud customers' latest KYC checks.

Tables are prefixed ``service_`` and live in the project database (``SLUICE_DATABASE_URL``), under
the ledger's Alembic migrations (revision ``0003_service_and_cloud_tables``): opening a ``Store``
migrates an empty database to the head revision, and refuses one at an older revision with
``DatabaseNotReady`` ("run `sluice db upgrade`"), as a writing ``Ledger`` does
(``sluicegate.ledger.database.ensure_schema``). The classes below are what the code reads and
writes; the migration defines the same tables. A key is ``sg_<key id>_<secret>``: the key id finds the row, the secret
is checked against ``sha256(salt || secret)`` in constant time. Keys are 256-bit random values, so
a fast salted hash is enough (a slow password hash protects guessable secrets, not random ones).
The record of calls is the ledger's audit chain (``sluicegate.service.audit``), not a table here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    String,
    Text,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

ROLES = ("exporter", "compliance", "auditor", "admin")
CACHE_SECONDS = 10.0


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "service_api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    consignees: Mapped[str] = mapped_column(String(4000), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class KycRecord(Base):
    """The latest KYC check of each cloud customer account (``POST /v1/cloud/kyc``): the record
    as sent (the monitor reads beneficial owners and headquarters from it) and the outcome."""

    __tablename__ = "service_cloud_customers"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    country: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(40))
    record: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    checked_by: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name, role, and (for exporters) the consignees it may see."""

    key_id: str
    name: str
    role: str
    consignees: frozenset[str] = frozenset()


class UserError(ValueError):
    """Invalid user input (``field`` names what)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


class Store:
    """API keys and cloud customers' KYC checks in the project database."""

    def __init__(self, url: str) -> None:
        from sluicegate.ledger.database import ensure_schema

        kwargs: dict[str, object] = {}
        if url.startswith("sqlite"):
            # the ledger writes to the same file: wait for its write lock as it does
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        self.engine: Engine = create_engine(url, **kwargs)
        try:
            # on this engine for an in-memory database (StaticPool: the one connection)
            ensure_schema(url, self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        # fingerprint -> (principal or None, expiry): revocation is immediate in this process
        # and reaches other worker processes within CACHE_SECONDS
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ keys
    def add_user(self, name: str, role: str, consignees: list[str] | None = None) -> str:
        """Create a key; return it (the only time it exists in clear)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise UserError("name", "give a name of 1 to 200 characters")
        if role not in ROLES:
            raise UserError("role", f"{role!r} is not a role; use one of {', '.join(ROLES)}")
        consignees = [c.strip() for c in consignees or [] if c.strip()]
        if consignees and role != "exporter":
            raise UserError(
                "consignees", f"only exporter keys are bound to consignees ({role} sees all)"
            )
        if any("," in c or len(c) > 512 for c in consignees):
            raise UserError("consignees", "a consignee id has no comma and at most 512 characters")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with Session(self.engine) as session:
            if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
                raise UserError("name", f"a key named {name!r} exists already")
            session.add(
                ApiKey(
                    key_id=key_id,
                    name=name,
                    role=role,
                    salt=salt,
                    digest=_digest(salt, secret),
                    consignees=",".join(consignees),
                    created=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    revoked=False,
                )
            )
            session.commit()
        return f"sg_{key_id}_{secret}"

    def replace_user(self, name: str, role: str) -> str:
        """Delete the key called ``name`` (if any) and create it afresh; return the new key."""
        with Session(self.engine) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is not None:
                session.delete(row)
                session.commit()
        with self._lock:
            self._cache.clear()
        return self.add_user(name, role)

    def list_users(self) -> list[dict[str, object]]:
        with Session(self.engine) as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created)).all()
            return [
                {
                    "name": r.name,
                    "role": r.role,
                    "key_id": r.key_id,
                    "consignees": [c for c in r.consignees.split(",") if c],
                    "created": r.created.isoformat() + "Z",
                    "revoked": r.revoked,
                }
                for r in rows
            ]

    def revoke(self, name: str) -> bool:
        with Session(self.engine) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                return False
            row.revoked = True
            session.commit()
        with self._lock:
            self._cache.clear()
        return True

    def authenticate(self, key: str) -> Principal | None:
        """The principal of a presented key, or None (unknown, malformed, wrong or revoked)."""
        fingerprint = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(fingerprint)
            if hit is not None and hit[1] > now:
                return hit[0]
        principal = self._lookup(key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[fingerprint] = (principal, now + CACHE_SECONDS)
        return principal

    def _lookup(self, key: str) -> Principal | None:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "sg" or not parts[1] or not parts[2]:
            return None
        with Session(self.engine) as session:
            row = session.get(ApiKey, parts[1])
            if row is None or row.revoked:
                return None
            if not hmac.compare_digest(row.digest, _digest(row.salt, parts[2])):
                return None
            return Principal(
                row.key_id,
                row.name,
                row.role,
                frozenset(c for c in row.consignees.split(",") if c),
            )

    # ------------------------------------------------------------ cloud customers
    def save_kyc(self, checked: list[tuple[dict[str, Any], dict[str, Any]]], by: str) -> None:
        """Keep the latest check of each account: (customer record, KYC result) pairs."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with Session(self.engine) as session:
            for record, result in checked:
                account = str(result["account"])
                row = session.get(KycRecord, account)
                if row is None:
                    row = KycRecord(account=account)
                    session.add(row)
                row.name = str(record.get("name") or "")[:500]
                row.country = str(record.get("country") or "")[:2].upper()
                row.outcome = str(result["outcome"])
                row.record = json.dumps(record, default=str, sort_keys=True)
                row.result = json.dumps(result, default=str, sort_keys=True)
                row.checked_at = now
                row.checked_by = by[:200]
            session.commit()

    def kyc_records(self) -> list[dict[str, Any]]:
        """Every account's latest check: account, name, country, outcome, when, by whom, and
        the full result (reasons, citations, trace)."""
        with Session(self.engine) as session:
            rows = session.scalars(select(KycRecord).order_by(KycRecord.account)).all()
            return [
                {
                    "account": r.account,
                    "name": r.name,
                    "country": r.country,
                    "outcome": r.outcome,
                    "checked_at": r.checked_at.isoformat() + "Z",
                    "checked_by": r.checked_by,
                    "result": json.loads(r.result),
                }
                for r in rows
            ]

    def customer_records(self) -> list[dict[str, Any]]:
        """The customer records as sent, for the monitor (owners, headquarters)."""
        with Session(self.engine) as session:
            return [json.loads(r) for r in session.scalars(select(KycRecord.record)).all()]
