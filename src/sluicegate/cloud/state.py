"""The monitor's state in the project database: running totals and seen-row fingerprints.

Tables (all prefixed ``cloud_``, under the ledger's Alembic migrations since revision
``0003_service_and_cloud_tables``; before it they were made with ``create_all``): ``cloud_job_days`` (per account, job
and UTC day: operations low/central/high, biological-data operations, accelerator-seconds, first
and last timestamps, parent job), ``cloud_capacity`` (per account and clock hour: OP/s,
accelerator-seconds, networking), ``cloud_seen_rows`` (MD5 fingerprints of every accepted row,
so a row delivered twice counts once), ``cloud_batches`` (one line per processed batch) and
``cloud_batch_reforms`` (the reform, with its content hash, a batch was run under).
A batch is committed in one transaction, so a failure leaves the state as it was. The database is
``SLUICE_DATABASE_URL`` or ``sqlite:///./sluicegate.db`` (contract §3). Opening ``MonitorState``
migrates an empty database to the head revision (the ledger's tables too: it is the project
database) and refuses one at an older revision with ``DatabaseNotReady`` ("run `sluice db
upgrade`"), as a writing ``Ledger`` does (``sluicegate.ledger.database.ensure_schema``). The
tables below are what the code reads and writes; the migration defines the same tables.
``monitor.py`` uses it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)
from sqlalchemy.exc import ArgumentError

from sluicegate.cloud.ingest import (
    CAPACITY_KEYS,
    CAPACITY_MERGE,
    CAPACITY_SCHEMA,
    DAY_KEYS,
    DAY_MERGE,
    DAYS_SCHEMA,
    Aggregates,
    canonical_capacity,
    canonical_days,
)
from sluicegate.ledger.errors import DatabaseNotReady

DEFAULT_URL = "sqlite:///./sluicegate.db"
metadata = MetaData()

job_days = Table(
    "cloud_job_days",
    metadata,
    Column("account", String(200), primary_key=True),
    Column("job", String(200), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("ops_low", BigInteger, nullable=False),
    Column("ops_mid", BigInteger, nullable=False),
    Column("ops_high", BigInteger, nullable=False),
    Column("bio_ops_mid", BigInteger, nullable=False),
    Column("accelerator_seconds", BigInteger, nullable=False),
    Column("first_us", BigInteger, nullable=False),
    Column("last_end_us", BigInteger, nullable=False),
    Column("parent_job", String(200), nullable=True),
)
capacity = Table(
    "cloud_capacity",
    metadata,
    Column("account", String(200), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("capacity_units", BigInteger, nullable=False),
    Column("accelerator_seconds", BigInteger, nullable=False),
    Column("network_gbps", Float, nullable=True),
)
seen_rows = Table(
    "cloud_seen_rows",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("batch_id", Integer, nullable=False),
)
batches = Table(
    "cloud_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Column("files", Text, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_accepted", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("rows_duplicate", BigInteger, nullable=False),
)
# the reform a batch's alerts were computed under (``--reform``): one row per such batch; a
# table of its own so that state databases made before it keep working
batch_reforms = Table(
    "cloud_batch_reforms",
    metadata,
    Column("batch_id", Integer, primary_key=True),
    Column("reform_id", String(200), nullable=False),
    Column("reform_of", String(200), nullable=False),
    Column("reform_hash", String(64), nullable=False),
)
CHUNK = 500
SQLITE_CHUNK = 30_000  # parameters per look-up statement on SQLite (its limit allowing)


def database_url(url: str | None = None) -> str:
    """The state database: ``url``, else ``SLUICE_DATABASE_URL``, else ./sluicegate.db."""
    return url or os.environ.get("SLUICE_DATABASE_URL") or DEFAULT_URL


class UnusableStateDatabase(DatabaseNotReady, ValueError):
    """The state database's URL names no backend this code can use (or cannot be parsed)."""


class MonitorState:
    """Running totals of the monitor, in the project database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        from sluicegate.ledger.database import ensure_schema

        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except (ArgumentError, ImportError) as exc:  # not a URL, or no driver for it
            raise UnusableStateDatabase(
                "state_db", f"cannot use {self.url!r} as the state database: {exc}"
            ) from None
        # the merges are INSERT ... ON CONFLICT DO UPDATE: refuse, before any work, a database
        # without it rather than fail at the end of a batch
        backend = self.engine.dialect.name
        problem = None
        if backend not in ("sqlite", "postgresql"):
            problem = (
                f"unsupported backend {backend!r}; use sqlite:///FILE or "
                "postgresql+psycopg://USER@HOST:PORT/DB"
            )
        elif backend == "sqlite" and sqlite3.sqlite_version_info < (3, 24):
            problem = (
                f"SQLite {sqlite3.sqlite_version} is older than 3.24 (no INSERT ... ON CONFLICT)"
            )
        if problem is not None:
            self.engine.dispose()
            raise UnusableStateDatabase(
                "state_db", f"state database {self.engine.url!r}: {problem}"
            )
        try:
            ensure_schema(self.url, self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def seen(self, fingerprints: list[str]) -> set[str]:
        """The fingerprints among ``fingerprints`` already processed in an earlier batch."""
        found: set[str] = set()
        if not fingerprints:
            return found
        with self.engine.connect() as conn:
            if _copies(conn):
                # PostgreSQL: COPY them to a temporary table and join; with its statistics
                # the planner chooses between index probes and a hash join
                temp = _temp_table(
                    conn,
                    "sluice_seen_lookup",
                    seen_rows,
                    ["fingerprint"],
                    ((f,) for f in fingerprints),
                )
                conn.exec_driver_sql(f"ANALYZE {temp}")
                rows = conn.exec_driver_sql(
                    f"SELECT s.fingerprint FROM {temp} k "
                    f"JOIN {seen_rows.name} s ON s.fingerprint = k.fingerprint"
                )
                return {r[0] for r in rows}
            size = _max_parameters(conn)
            mark = _placeholder(conn)
            cursor = conn.connection.cursor()
            try:
                for start in range(0, len(fingerprints), size):
                    chunk = fingerprints[start : start + size]
                    cursor.execute(
                        f"SELECT fingerprint FROM {seen_rows.name} WHERE fingerprint IN "
                        f"({', '.join([mark] * len(chunk))})",
                        chunk,
                    )
                    found.update(r[0] for r in cursor.fetchall())
            finally:
                cursor.close()
        return found

    def batch_reform(self, batch_id: int) -> dict[str, str] | None:
        """The reform recorded with a batch, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(batch_reforms).where(batch_reforms.c.batch_id == batch_id)
            ).first()
        if row is None:
            return None
        return {"id": row.reform_id, "reform_of": row.reform_of, "reform_hash": row.reform_hash}

    def days(self) -> pl.DataFrame:
        with self.engine.connect() as conn:
            return canonical_days(_read_table(conn, job_days, DAYS_SCHEMA))

    def capacity(self) -> pl.DataFrame:
        with self.engine.connect() as conn:
            return canonical_capacity(_read_table(conn, capacity, CAPACITY_SCHEMA))

    def commit(
        self, batch: Aggregates, files: Iterable[str], reform: dict[str, str] | None = None
    ) -> int:
        """Fold one batch into the totals, all or nothing; returns the batch id. ``reform``
        (``CloudConfig.reform_record()``) is recorded with the batch when one was applied."""
        with self.engine.begin() as conn:
            batch_id = conn.execute(
                insert(batches).values(
                    processed_at=dt.datetime.now(dt.UTC),
                    files=json.dumps([str(f) for f in files]),
                    rows_read=batch.rows_read,
                    rows_accepted=batch.rows_accepted,
                    rows_rejected=len(batch.rejects) - batch.rows_duplicate,
                    rows_duplicate=batch.rows_duplicate,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if reform is not None:
                conn.execute(
                    insert(batch_reforms).values(
                        batch_id=batch_id,
                        reform_id=reform["id"],
                        reform_of=reform["reform_of"],
                        reform_hash=reform["reform_hash"],
                    )
                )
            self._merge(conn, job_days, DAY_KEYS, batch.days, DAY_MERGE)
            self._merge(conn, capacity, CAPACITY_KEYS, batch.capacity, CAPACITY_MERGE)
            _insert(
                conn,
                seen_rows,
                ["fingerprint", "batch_id"],
                ((f, batch_id) for f in batch.new_fingerprints),
            )
        return int(batch_id)

    @staticmethod
    def _merge(
        conn: Any, table: Table, keys: list[str], new: pl.DataFrame, rules: dict[str, str]
    ) -> None:
        """Fold the batch's rows into ``table``: one ``INSERT … ON CONFLICT DO UPDATE`` (SQLite
        and PostgreSQL both have it) that adds a new key's row and combines an existing one's
        columns by ``rules`` (``ingest.DAY_MERGE``/``CAPACITY_MERGE``, the rules of
        ``merge_days``/``merge_capacity``), in the database: nothing is read back."""
        if new.height == 0:
            return
        q = conn.dialect.identifier_preparer.quote
        columns = list(new.columns)
        names = ", ".join(q(c) for c in columns)
        updates = ", ".join(
            f"{q(c)} = {_combine_sql(conn, table, c, rule)}" for c, rule in rules.items()
        )
        conflict = f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {updates}"
        rows = new.select(columns).rows()
        if _copies(conn):  # COPY to a temporary table, then one statement
            temp = _temp_table(conn, "sluice_merge_rows", table, columns, rows)
            conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {temp} {conflict}"
            )
            conn.exec_driver_sql(f"DROP TABLE {temp}")
            return
        mark = _placeholder(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO {table.name} ({names}) "
                f"VALUES ({', '.join([mark] * len(columns))}) {conflict}",
                rows,
            )
        finally:
            cursor.close()


# --------------------------------------------------------------------------- bulk helpers


def _combine_sql(conn: Any, table: Table, column: str, rule: str) -> str:
    """SQL for the stored value of ``column`` combined with the incoming one (``excluded``) by
    ``rule``: a sum, or the smaller/larger with nulls ignored, text compared byte by byte (as
    polars does), whatever the database's collation."""
    q = conn.dialect.identifier_preparer.quote
    old, new = f"{table.name}.{q(column)}", f"excluded.{q(column)}"
    if rule == "sum":
        return f"{old} + {new}"
    if rule not in ("min", "max"):
        raise ValueError(f"merge rule for {column}: {rule!r} is not one of sum, min, max")
    collate = ""
    if isinstance(table.c[column].type, String):
        collate = ' COLLATE "C"' if conn.dialect.name == "postgresql" else " COLLATE BINARY"
    op = "<" if rule == "min" else ">"
    return (
        f"CASE WHEN {new} IS NULL THEN {old} WHEN {old} IS NULL THEN {new} "
        f"WHEN {new}{collate} {op} {old}{collate} THEN {new} ELSE {old} END"
    )


def _copies(conn: Any) -> bool:
    """Whether bulk rows go through COPY (PostgreSQL with psycopg 3)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _placeholder(conn: Any) -> str:
    """The DBAPI driver's parameter marker (raw SQL goes to the driver's own cursor)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"state database: parameter style {style!r} is not supported")


def _max_parameters(conn: Any) -> int:
    """How many parameters one statement may carry (SQLite's limit is set at compile time)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        getlimit = getattr(raw, "getlimit", None)
        if getlimit is not None:
            return max(1, min(SQLITE_CHUNK, getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)))
        return 999  # the smallest limit SQLite has had
    return CHUNK


def _insert(conn: Any, table: Table, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Append ``rows`` (tuples in ``columns`` order) to ``table``: PostgreSQL's COPY with
    psycopg, else the driver's ``executemany``."""
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    cursor = conn.connection.cursor()
    try:
        if _copies(conn):
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        mark = _placeholder(conn)
        cursor.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(columns))})",
            rows,
        )
    finally:
        cursor.close()


def _temp_table(
    conn: Any, name: str, like: Table, columns: list[str], rows: Iterable[tuple[Any, ...]]
) -> str:
    """PostgreSQL: a temporary table ``name`` with ``like``'s types for ``columns``, holding
    ``rows`` (by COPY) and dropped at the end of the transaction at the latest; returns its
    qualified name."""
    temp = Table(
        name,
        MetaData(),
        *[Column(c, like.c[c].type) for c in columns],
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    temp.create(conn)
    _insert(conn, temp, columns, rows)
    return f"pg_temp.{name}"


def _read_table(conn: Any, table: Table, schema: dict[str, Any]) -> pl.DataFrame:
    """All of ``table``'s rows in ``schema``'s columns, through the driver's cursor."""
    cursor = conn.connection.cursor()
    try:
        q = conn.dialect.identifier_preparer.quote
        cursor.execute(f"SELECT {', '.join(q(c) for c in schema)} FROM {table.name}")
        return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")
    finally:
        cursor.close()
