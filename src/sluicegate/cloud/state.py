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
    delete,
    insert,
    select,
    tuple_,
)

from sluicegate.cloud.ingest import (
    CAPACITY_KEYS,
    CAPACITY_SCHEMA,
    DAY_KEYS,
    DAYS_SCHEMA,
    Aggregates,
    canonical_capacity,
    canonical_days,
    merge_capacity,
    merge_days,
)

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


def database_url(url: str | None = None) -> str:
    """The state database: ``url``, else ``SLUICE_DATABASE_URL``, else ./sluicegate.db."""
    return url or os.environ.get("SLUICE_DATABASE_URL") or DEFAULT_URL


class MonitorState:
    """Running totals of the monitor, in the project database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        from sluicegate.ledger.database import ensure_schema

        self.engine: Engine = create_engine(self.url, future=True)
        try:
            ensure_schema(self.url, self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def seen(self, fingerprints: list[str]) -> set[str]:
        """The fingerprints among ``fingerprints`` already processed in an earlier batch."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(fingerprints), CHUNK):
                chunk = fingerprints[start : start + CHUNK]
                rows = conn.execute(
                    select(seen_rows.c.fingerprint).where(seen_rows.c.fingerprint.in_(chunk))
                )
                found.update(r[0] for r in rows)
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
            rows = conn.execute(select(*[job_days.c[k] for k in DAYS_SCHEMA])).all()
        return canonical_days(
            pl.DataFrame([tuple(r) for r in rows], schema=DAYS_SCHEMA, orient="row")
        )

    def capacity(self) -> pl.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*[capacity.c[k] for k in CAPACITY_SCHEMA])).all()
        return canonical_capacity(
            pl.DataFrame([tuple(r) for r in rows], schema=CAPACITY_SCHEMA, orient="row")
        )

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
            self._merge(conn, job_days, DAY_KEYS, batch.days, merge_days)
            self._merge(conn, capacity, CAPACITY_KEYS, batch.capacity, merge_capacity)
            for start in range(0, len(batch.new_fingerprints), CHUNK):
                chunk = batch.new_fingerprints[start : start + CHUNK]
                conn.execute(
                    insert(seen_rows), [{"fingerprint": f, "batch_id": batch_id} for f in chunk]
                )
        return int(batch_id)

    @staticmethod
    def _merge(conn: Any, table: Table, keys: list[str], new: pl.DataFrame, merge: Any) -> None:
        """Read the stored rows with the new rows' keys, merge exactly, write them back."""
        if new.height == 0:
            return
        key_cols = tuple(table.c[k] for k in keys)
        new_keys = [tuple(r) for r in new.select(keys).iter_rows()]
        old_rows: list[tuple[Any, ...]] = []
        for start in range(0, len(new_keys), CHUNK):
            chunk = new_keys[start : start + CHUNK]
            old_rows += [
                tuple(r)
                for r in conn.execute(
                    select(*[table.c[c] for c in new.columns]).where(tuple_(*key_cols).in_(chunk))
                ).all()
            ]
            conn.execute(delete(table).where(tuple_(*key_cols).in_(chunk)))
        old = pl.DataFrame(old_rows, schema=dict(new.schema), orient="row")
        merged = merge([old, new])
        conn.execute(insert(table), merged.to_dicts())
