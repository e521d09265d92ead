"""The ledger's database: URL selection, engine set-up per backend, schema revision checks and
Alembic migrations run in-process.

SQLite (default ``./sluicegate.db``) runs in WAL mode with a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE`` so that writers queue instead of failing half-way. PostgreSQL
(``postgresql+psycopg://...``) runs at READ COMMITTED and the ledger takes row locks
(``SELECT ... FOR UPDATE``). The reserve path runs its transactions on the pooled DBAPI
connection (``run_transaction(hot=True)``), on PostgreSQL in pipeline mode with group commit
(``_hot_postgresql``). ``sluicegate.ledger.core`` is the main user; ``ensure_schema`` brings the
whole project database (the ledger's tables and those of ``service.store`` and ``cloud.state``,
all under the same migrations) to the head revision for the other modules that open it.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from sluicegate.ledger.errors import DatabaseNotReady
from sluicegate.ledger.settings import load_settings

VERSION_TABLE = "ledger_alembic_version"
T = TypeVar("T")


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``SLUICE_DATABASE_URL``, else ``./sluicegate.db``."""
    return url or os.environ.get("SLUICE_DATABASE_URL") or load_settings().default_url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other backends and for in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine configured for the ledger's locking discipline on this backend."""
    settings = load_settings()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000}
        )
        try:
            synchronous = settings.sqlite_synchronous
        except ValueError as exc:
            raise DatabaseNotReady(
                "SLUICE_SQLITE_SYNCHRONOUS", str(exc).partition(": ")[2]
            ) from None

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's
            # deferred BEGIN: a writer then takes the lock before reading any balance.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # Readers (see read_connection) take a deferred snapshot and never wait for writers.
            if connection.get_execution_options().get("ledger_read"):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if backend == "postgresql":
        try:
            settings.postgresql_commit  # noqa: B018 - validated here, read by the ledger
        except ValueError as exc:
            raise DatabaseNotReady("SLUICE_POSTGRES_COMMIT", str(exc).partition(": ")[2]) from None
        return create_engine(url, isolation_level="READ COMMITTED", pool_pre_ping=False)
    raise DatabaseNotReady(
        "database_url",
        f"{url!r}: unsupported backend {backend!r}; use sqlite:///FILE or "
        "postgresql+psycopg://USER@HOST:PORT/DB",
    )


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reading only, all of whose statements see one snapshot: on SQLite a
    deferred WAL read transaction (it neither takes nor waits for the write lock), on PostgreSQL
    REPEATABLE READ."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # One snapshot for the whole read: verify compares the chain, its head and the pools.
            connection.execution_options(isolation_level="REPEATABLE READ")
        connection.execution_options(ledger_read=True)
        yield connection


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("sluicegate.ledger").joinpath("migrations"))
    )
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    """The revision scripts shipped with the package (read once per process: they do not change
    while it runs, and ``Store``/``MonitorState`` check the revision each time they open)."""
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of sluicegate knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in _scripts().walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (None when the ledger schema is absent)."""
    with read_connection(engine) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        revision = context.get_current_revision()
        connection.rollback()
    return revision


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the schema to the newest revision; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes migrating a fresh database at once must not both create tables.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7472917001)")
        command.upgrade(_alembic_config(connection), "head")
    return before, head_revision()


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def check_ready(engine: Engine, url: str, *, create: bool) -> None:
    """Raise ``DatabaseNotReady`` unless the schema is at the head revision. With ``create``, an
    empty database (no ledger tables at all) is migrated to head first."""
    head = head_revision()
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        raise DatabaseNotReady(
            "database_url", f"cannot open {describe(url)}: {_first_line(exc)}"
        ) from exc
    if revision == head:
        return
    if revision is None:
        with read_connection(engine) as connection:
            tables = set(inspect(connection).get_table_names())
            connection.rollback()
        ours = {"ledger_pools", "audit_log"}
        if tables & ours:
            raise DatabaseNotReady(
                "database_url",
                f"{describe(url)} has ledger tables but no schema revision; it was not created by "
                "sluicegate (or its version table was dropped) — restore it or use a new database",
            )
        if create:
            try:
                upgrade(engine)
            except DBAPIError:
                # Another process may have created it at the same moment: look again.
                if current_revision(engine) != head:
                    raise
            return
        raise DatabaseNotReady(
            "database_url",
            f"{describe(url)} has no ledger schema; run `sluice db upgrade` to create it",
        )
    if revision in known_revisions():
        raise DatabaseNotReady(
            "database_url",
            f"{describe(url)} is at schema revision {revision}, this sluicegate expects {head}; "
            "run `sluice db upgrade`",
        )
    raise DatabaseNotReady(
        "database_url",
        f"{describe(url)} is at schema revision {revision!r}, unknown to this sluicegate "
        f"(expects {head}); it was written by a newer or different version — upgrade sluicegate",
    )


def ensure_schema(url: str, engine: Engine | None = None) -> None:
    """Make sure the project database at ``url`` is at the head revision, for the modules that
    keep tables beside the ledger's (``service.store``, ``cloud.state``): the same rule as a
    writing ``Ledger`` (``check_ready(create=True)``) — an empty database, or one holding only
    tables that earlier versions made with ``create_all``, is migrated to head; a database at an
    older revision raises ``DatabaseNotReady`` ("run `sluice db upgrade`"), one at an unknown
    revision says to upgrade sluicegate.

    ``engine`` is the caller's own engine: when it already sees the head revision, nothing else
    happens (one query). Migrations run on a ledger engine (``make_engine``: on SQLite one
    ``BEGIN IMMEDIATE`` transaction, on PostgreSQL under an advisory lock), so that processes
    opening a new database at once do not trip over each other — except for an in-memory SQLite
    database, which only the caller's engine can see (a ``StaticPool`` engine in tests)."""
    if engine is not None:
        try:
            if current_revision(engine) == head_revision():
                return
        except DBAPIError:
            pass  # check_ready below says why, on an engine of its own
        if make_url(url).get_backend_name() == "sqlite" and sqlite_path(url) is None:
            check_ready(engine, url, create=True)
            return
    path = sqlite_path(url)
    if path is not None and not path.parent.exists():
        raise DatabaseNotReady("database_url", f"directory {path.parent} does not exist")
    migrator = make_engine(url)
    try:
        check_ready(migrator, url, create=True)
    finally:
        migrator.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Lock timeouts, deadlocks and serialisation failures: the transaction can simply rerun."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in {"40P01", "40001", "55P03"}:
        return True
    if isinstance(exc, OperationalError):
        text = str(orig or exc).lower()
        return "database is locked" in text or "database is busy" in text
    return False


class HotConnection:
    """The part of SQLAlchemy's ``Connection`` that the hot path (``sql.run``) uses — the dialect
    and the pooled DBAPI connection — without SQLAlchemy's per-transaction machinery (events,
    savepoint bookkeeping, result wrapping), which cost more than the SQL of a reservation."""

    def __init__(self, connection: Any, dialect: Any, cursor: Any = None) -> None:
        self.connection = connection
        self.dialect = dialect
        self.hot_cursor = cursor if cursor is not None else connection.cursor()


def _hot_sqlite(engine: Engine, work: Callable[[Any], T]) -> T:
    raw = engine.raw_connection()  # pysqlite with isolation_level None (see make_engine)
    dbapi = engine.dialect.loaded_dbapi
    try:
        try:
            hot = HotConnection(raw, engine.dialect)
            hot.hot_cursor.execute("BEGIN IMMEDIATE")
            result = work(hot)
            raw.commit()
        except BaseException:
            _rollback(raw)
            raise
    except dbapi.Error as exc:
        raise DBAPIError.instance("(transaction)", None, exc, dbapi.Error) from exc
    finally:
        raw.close()  # back to the pool
    return result


#: The durability barrier of group commit: a statement that takes a transaction id *and* writes
#: WAL (a transactional logical-decoding message of a few bytes, ignored unless someone decodes
#: it), so that its commit — under the server's own ``synchronous_commit`` — waits for the WAL
#: flush. A transaction that only takes an id (``pg_current_xact_id()``) writes no WAL of its
#: own and PostgreSQL commits it without flushing (see ``RecordTransactionCommit``).
DURABILITY_BARRIER = "SELECT pg_logical_emit_message(true, 'sluicegate', 'flushed')"


class CommitUnconfirmed(RuntimeError):
    """The reservation was committed but the wait for its flush to disk failed (the connection
    broke in between). Never retried: running the work again would reserve twice."""


def group_commit_available(engine: Engine) -> bool:
    """Can this role run the durability barrier (``pg_logical_emit_message`` may be revoked)?"""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(DURABILITY_BARRIER)
            connection.rollback()
        return True
    except DBAPIError:
        return False


def _hot_postgresql(engine: Engine, work: Callable[[Any], T], group_commit: bool) -> T:
    """One reservation in psycopg pipeline mode: BEGIN, the reads (each ``fetchone`` is a round
    trip), then every write, the audit append and the COMMIT in one round trip.

    With ``group_commit`` the transaction commits with ``synchronous_commit = off``: its row
    locks — above all the audit head's, the serial part of every write — are released as soon as
    the commit record is in the WAL, not after the disk flush. Before returning, a second
    transaction (``DURABILITY_BARRIER``) commits under the server's own ``synchronous_commit``,
    which makes it wait until the WAL is flushed past its commit record, hence past ours: the
    reservation is acknowledged only once it is as durable as a synchronous commit. Concurrent
    writers' barriers then share one fsync (PostgreSQL's group commit) instead of each holding
    the head lock through an fsync of its own."""
    raw = engine.raw_connection()
    driver: Any = raw.driver_connection
    dbapi = engine.dialect.loaded_dbapi
    committed = False
    try:
        try:
            # Explicit BEGIN/COMMIT statements: psycopg then sends no BEGIN of its own (which
            # would cost a round trip of its own in pipeline mode).
            driver.autocommit = True
            hot = HotConnection(raw, engine.dialect)
            cursor = hot.hot_cursor
            with driver.pipeline():
                cursor.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                if group_commit:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                result = work(hot)
                cursor.execute("COMMIT")
            committed = True
            if group_commit:
                cursor.execute(DURABILITY_BARRIER)  # autocommit: a transaction of its own
        except BaseException:
            _rollback(raw)
            raise
        finally:
            if raw.is_valid:
                if driver.pgconn.transaction_status == 0:  # IDLE
                    driver.autocommit = False
                else:  # never hand a connection in an unknown state back to the pool
                    raw.invalidate()
    except dbapi.Error as exc:
        if committed:
            raise CommitUnconfirmed(
                f"the reservation was committed, but waiting for it to reach the disk failed: {exc}"
            ) from exc
        raise DBAPIError.instance("(transaction)", None, exc, dbapi.Error) from exc
    finally:
        raw.close()
    return result


def _rollback(raw: Any) -> None:
    try:
        raw.rollback()
    except Exception:
        raw.invalidate()  # a broken connection is not returned to the pool


class WriterQueue:
    """Fair, prompt hand-over of the SQLite write lock between processes.

    SQLite's busy handler makes a waiting writer sleep in growing steps (up to 100 ms) and retry,
    so under contention the lock sits idle most of the time. Writers queue instead on an
    ``fcntl.flock`` of ``<database>.lock`` (the kernel wakes the next one as soon as it is
    released), then take ``BEGIN IMMEDIATE``, which is then uncontended. Where ``fcntl`` is
    missing, or for PostgreSQL, it does nothing."""

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        self._path = None if path is None else Path(f"{path}.lock")
        self._fd: int | None = None
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()

    def __enter__(self) -> WriterQueue:
        if self._path is None or fcntl is None:
            return self
        self._thread_lock.acquire()
        try:
            if self._fd is not None and self._pid != os.getpid():
                # A forked child must not share the parent's open file description: flock
                # locks belong to it, so parent and child would not exclude each other.
                os.close(self._fd)
                self._fd = None
            if self._fd is None:
                self._pid = os.getpid()
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._path is None or fcntl is None or self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def run_transaction(
    engine: Engine,
    work: Callable[[Any], T],
    retries: int,
    queue: WriterQueue | None = None,
    *,
    hot: bool = False,
    group_commit: bool = True,
) -> T:
    """Run ``work`` inside one transaction, rerunning it from scratch when the database reports a
    lock timeout or deadlock. ``work`` must have no effect outside the transaction.

    With ``hot`` (the reserve path), ``work`` receives a ``HotConnection`` and may only use
    ``sql.run`` (reading with ``fetch*()``): the transaction runs on the raw DBAPI connection, in
    psycopg pipeline mode on PostgreSQL (see ``_hot_postgresql``, and there ``group_commit``)."""
    attempt = 0
    postgres = engine.dialect.name == "postgresql"
    while True:
        try:
            if hot and postgres:
                return _hot_postgresql(engine, work, group_commit)
            if hot:
                if queue is None:
                    return _hot_sqlite(engine, work)
                with queue:
                    return _hot_sqlite(engine, work)
            if queue is None or postgres:
                with engine.begin() as connection:
                    return work(connection)
            with queue, engine.begin() as connection:
                return work(connection)
        except DBAPIError as exc:
            attempt += 1
            if not is_retryable(exc) or attempt > retries:
                raise
            time.sleep(min(0.2, 0.002 * attempt) * (0.5 + random.random()))
