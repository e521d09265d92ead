"""The service's own tables: API keys (hashed) and the event record of state-changing calls.

Tables are prefixed ``service_`` and created with ``metadata.create_all`` in the project database
(``SLUICE_DATABASE_URL``). A key is ``sg_<key id>_<secret>``: the key id finds the row, the secret
is checked against ``sha256(salt || secret)`` in constant time. Keys are 256-bit random values, so
a fast salted hash is enough (a slow password hash protects guessable secrets, not random ones).
``record_event`` is the one place calls are recorded; the ledger's audit chain will replace it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
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


class ServiceEvent(Base):
    __tablename__ = "service_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime)
    key_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[int] = mapped_column(Integer)


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
    """Keys and events in one SQLAlchemy database."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, object] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        self.engine: Engine = create_engine(url, **kwargs)
        Base.metadata.create_all(self.engine)
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
                    consignees=",".join(c.strip() for c in consignees or [] if c.strip()),
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

    # ------------------------------------------------------------ events
    def record_event(
        self, principal: Principal | None, method: str, path: str, status: int
    ) -> None:
        """Record one state-changing call with the key's identity."""
        with Session(self.engine) as session:
            session.add(
                ServiceEvent(
                    time=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    key_name=principal.name if principal else "-",
                    role=principal.role if principal else "-",
                    method=method,
                    path=path[:2000],
                    status=status,
                )
            )
            session.commit()

    def events(self, limit: int = 100) -> list[dict[str, object]]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(ServiceEvent).order_by(ServiceEvent.id.desc()).limit(limit)
            ).all()
            return [
                {
                    "time": r.time.isoformat() + "Z",
                    "key_name": r.key_name,
                    "role": r.role,
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                }
                for r in rows
            ]
