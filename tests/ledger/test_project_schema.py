"""The whole project database under the migrations (revision 0003): the service's and the cloud
monitor's tables are made by ``sluice db upgrade`` (and on first use) as their models define
them; a database whose tables ``create_all`` made before 0003 keeps them and their rows through
the upgrade, a downgrade and a second upgrade; ``Store`` and ``MonitorState`` refuse a database
at an older revision with the command that fixes it. On SQLite and PostgreSQL (a schema each)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, inspect, select
from typer.testing import CliRunner

from sluicegate.cli import app
from sluicegate.cloud import state as cloud_state
from sluicegate.cloud.state import MonitorState
from sluicegate.ledger import Ledger, database
from sluicegate.ledger.errors import DatabaseNotReady
from sluicegate.ledger.schema import metadata as ledger_metadata
from sluicegate.service.store import ApiKey, Base, KycRecord, Store, _digest

runner = CliRunner()
OLD = "0002_lighter_rows"
NEW = "0003_service_and_cloud_tables"
SERVICE_TABLES = {"service_api_keys", "service_cloud_customers"}
CLOUD_TABLES = {
    "cloud_job_days",
    "cloud_capacity",
    "cloud_seen_rows",
    "cloud_batches",
    "cloud_batch_reforms",
}
LEDGER_TABLES = set(ledger_metadata.tables)
SALT = "00" * 16
KEY = "sg_k1_the-secret"


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return database.current_revision(engine)
    finally:
        engine.dispose()


def schema_differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database match every model (none, if the
    migrations make exactly the tables the code defines)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"version_table": database.VERSION_TABLE, "compare_server_default": True},
            )
            return list(
                compare_metadata(context, [ledger_metadata, Base.metadata, cloud_state.metadata])
            )
    finally:
        engine.dispose()


def migrate(url: str, target: str, *, down: bool = False) -> None:
    engine = database.make_engine(url)
    try:
        with engine.begin() as connection:
            step = command.downgrade if down else command.upgrade
            step(database._alembic_config(connection), target)
    finally:
        engine.dispose()


def made_the_old_way(url: str, *, ledger: bool = True, reforms_table: bool = True) -> None:
    """A database as sluicegate made it before revision 0003: the ledger migrated to 0002
    (unless ``ledger`` is False: a monitor state database of its own), the service's and cloud
    tables made by ``create_all`` (``cloud_batch_reforms`` missing when ``reforms_table`` is
    False: it came later), with a row in each."""
    if ledger:
        migrate(url, OLD)
    engine = create_engine(url)
    try:
        if ledger:
            Base.metadata.create_all(engine)
        cloud = list(cloud_state.metadata.sorted_tables)
        if not reforms_table:
            cloud = [t for t in cloud if t.name != "cloud_batch_reforms"]
        cloud_state.metadata.create_all(engine, tables=cloud)
        with engine.begin() as connection:
            if ledger:
                connection.execute(
                    insert(ApiKey.__table__),  # type: ignore[arg-type]
                    {
                        "key_id": "k1",
                        "name": "ops",
                        "role": "compliance",
                        "salt": SALT,
                        "digest": _digest(SALT, "the-secret"),
                        "consignees": "",
                        "created": dt.datetime(2026, 1, 2, 3, 4, 5),
                        "revoked": False,
                    },
                )
                connection.execute(
                    insert(KycRecord.__table__),  # type: ignore[arg-type]
                    {
                        "account": "acct-1",
                        "name": "Acme Cloud",
                        "country": "IN",
                        "outcome": "approve",
                        "record": json.dumps({"account": "acct-1", "name": "Acme Cloud"}),
                        "result": json.dumps({"account": "acct-1", "outcome": "approve"}),
                        "checked_at": dt.datetime(2026, 1, 2, 3, 4, 5),
                        "checked_by": "ops",
                    },
                )
            connection.execute(
                insert(cloud_state.job_days),
                {
                    "account": "acct-1",
                    "job": "job-1",
                    "day": 20000,
                    "rows": 3,
                    "ops_low": 10**15,
                    "ops_mid": 2 * 10**15,
                    "ops_high": 3 * 10**15,
                    "bio_ops_mid": 0,
                    "accelerator_seconds": 86400,
                    "first_us": 1,
                    "last_end_us": 2,
                    "parent_job": None,
                },
            )
            connection.execute(
                insert(cloud_state.capacity),
                {
                    "account": "acct-1",
                    "hour": 480000,
                    "capacity_units": 7,
                    "accelerator_seconds": 3600,
                    "network_gbps": 400.0,
                },
            )
            connection.execute(
                insert(cloud_state.batches),
                {
                    "processed_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                    "files": "[]",
                    "rows_read": 3,
                    "rows_accepted": 3,
                    "rows_rejected": 0,
                    "rows_duplicate": 0,
                },
            )
            connection.execute(
                insert(cloud_state.seen_rows), {"fingerprint": "f" * 32, "batch_id": 1}
            )
    finally:
        engine.dispose()


def rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = sorted(
                (SERVICE_TABLES | CLOUD_TABLES) & set(inspect(connection).get_table_names())
            )
            return {
                name: connection.execute(
                    select(func.count()).select_from(
                        (Base.metadata.tables | cloud_state.metadata.tables)[name]
                    )
                ).scalar_one()
                for name in names
            }
    finally:
        engine.dispose()


def the_old_rows_are_there(url: str) -> None:
    store = Store(url)
    try:
        principal = store.authenticate(KEY)
        assert principal is not None and (principal.name, principal.role) == ("ops", "compliance")
        assert [r["account"] for r in store.kyc_records()] == ["acct-1"]
    finally:
        store.engine.dispose()
    state = MonitorState(url)
    try:
        days = state.days()
        assert days.height == 1 and days["ops_mid"].to_list() == [2 * 10**15]
        assert state.capacity()["network_gbps"].to_list() == [400.0]
        assert state.seen(["f" * 32, "0" * 32]) == {"f" * 32}
    finally:
        state.engine.dispose()


def sluice(*args: str) -> Any:
    return runner.invoke(app, list(args))


# ---------------------------------------------------------------------------- fresh databases
def test_db_upgrade_makes_every_table_as_the_models_define_it(db_url: str) -> None:
    result = sluice("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "database": database.describe(db_url),
        "from": None,
        "to": NEW,
    }
    assert database.head_revision() == NEW
    assert tables(db_url) >= LEDGER_TABLES | SERVICE_TABLES | CLOUD_TABLES
    assert schema_differences(db_url) == []
    again = sluice("db", "upgrade")
    assert json.loads(again.stdout)["from"] == NEW


@pytest.mark.parametrize("opener", ["store", "monitor", "ledger"])
def test_first_use_by_any_module_makes_the_whole_database(db_url: str, opener: str) -> None:
    if opener == "store":
        Store(db_url).engine.dispose()
    elif opener == "monitor":
        MonitorState(db_url).engine.dispose()
    else:
        Ledger(db_url, create=True).close()
    assert revision(db_url) == NEW
    assert tables(db_url) >= LEDGER_TABLES | SERVICE_TABLES | CLOUD_TABLES


def test_in_memory_store_is_migrated_on_its_own_connection() -> None:
    """``sqlite://`` is a database per connection: the migrations must run on the Store's
    StaticPool engine, not on an engine of their own."""
    store = Store("sqlite://")
    assert database.current_revision(store.engine) == NEW
    with store.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= SERVICE_TABLES | CLOUD_TABLES
    key = store.add_user("ops", "admin")
    principal = store.authenticate(key)
    assert principal is not None and principal.role == "admin"
    assert Store("sqlite://").list_users() == []  # another in-memory database
    state = MonitorState("sqlite://")
    assert database.current_revision(state.engine) == NEW and state.days().height == 0


# ---------------------------------------------------------------------------- databases in use
def test_tables_made_by_create_all_keep_their_rows_through_upgrade_and_downgrade(
    db_url: str,
) -> None:
    made_the_old_way(db_url, reforms_table=False)
    before = rows(db_url)
    assert "cloud_batch_reforms" not in before and sum(before.values()) == 6

    for open_it in (lambda: Store(db_url), lambda: MonitorState(db_url)):
        with pytest.raises(DatabaseNotReady) as refused:
            open_it()
        assert OLD in refused.value.message and NEW in refused.value.message
        assert "run `sluice db upgrade`" in refused.value.message
    assert revision(db_url) == OLD and rows(db_url) == before  # refusing changed nothing

    result = sluice("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "database": database.describe(db_url),
        "from": OLD,
        "to": NEW,
    }
    assert rows(db_url) == before | {"cloud_batch_reforms": 0}  # the missing one made, empty
    assert schema_differences(db_url) == []
    the_old_rows_are_there(db_url)
    with Ledger(db_url, create=False) as ledger:
        assert ledger.verify_audit().intact

    # Downgrading keeps the tables and rows (0002-era code makes and uses them itself) ...
    migrate(db_url, OLD, down=True)
    assert revision(db_url) == OLD
    assert rows(db_url) == before | {"cloud_batch_reforms": 0}
    # ... and upgrading again finds them as they were.
    assert json.loads(sluice("db", "upgrade").stdout)["from"] == OLD
    assert revision(db_url) == NEW
    the_old_rows_are_there(db_url)


def test_a_monitor_state_database_of_its_own_is_migrated_on_first_use(db_url: str) -> None:
    """A ``--state-db`` that only ever held the monitor's tables (no ledger, no revision) is
    'empty' for the migrations: opening it makes the rest and keeps the monitor's rows."""
    made_the_old_way(db_url, ledger=False)
    assert revision(db_url) is None
    state = MonitorState(db_url)
    try:
        assert state.days()["ops_mid"].to_list() == [2 * 10**15]
        assert state.seen(["f" * 32]) == {"f" * 32}
    finally:
        state.engine.dispose()
    assert revision(db_url) == NEW
    assert tables(db_url) >= LEDGER_TABLES | SERVICE_TABLES | CLOUD_TABLES


def test_an_existing_table_without_a_column_stops_the_upgrade_and_changes_nothing(
    db_url: str,
) -> None:
    migrate(db_url, OLD)
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE cloud_capacity (account VARCHAR(200) PRIMARY KEY, hour BIGINT)"
        )
    engine.dispose()
    result = sluice("db", "upgrade")
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["field"] == "database_url"
    assert "cloud_capacity" in error["message"] and "capacity_units" in error["message"]
    assert revision(db_url) == OLD
    assert not tables(db_url) & (SERVICE_TABLES | CLOUD_TABLES - {"cloud_capacity"})


# ---------------------------------------------------------------------------- the CLI verbs
def test_verbs_on_a_database_at_an_older_revision_exit_2_with_the_fix(
    db_url: str, tmp_path: Path, sample_telemetry: Path
) -> None:
    made_the_old_way(db_url)
    for verb in (
        ("users", "list"),
        ("users", "add", "new", "--role", "admin"),
        ("cloud", "monitor", str(sample_telemetry)),
        ("serve", "--port", "1"),
    ):
        result = sluice(*verb)
        assert result.exit_code == 2, (verb, result.output)
        assert "database_url" in result.stderr and "run `sluice db upgrade`" in result.stderr
        assert "Traceback" not in result.output
    assert revision(db_url) == OLD and rows(db_url)["cloud_batches"] == 1
    assert sluice("db", "upgrade").exit_code == 0
    listed = sluice("users", "list", "--json")
    assert listed.exit_code == 0 and [u["name"] for u in json.loads(listed.stdout)] == ["ops"]


@pytest.fixture
def sample_telemetry(tmp_path: Path) -> Path:
    from sluicegate.cloud.sample import write_sample

    return Path(write_sample(tmp_path / "sample")["telemetry"])
