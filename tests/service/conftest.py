"""Fixtures of the service tests: an app on a temporary SQLite database with one key per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluicegate.service.app import create_app
from sluicegate.service.settings import Settings

ROLES = ("exporter", "compliance", "auditor", "admin")
TXN: dict[str, Any] = {
    "id": "order-1",
    "date": "2025-06-01",
    "destination": "IN",
    "item": {"chip": "nvidia-h100-sxm"},
    "quantity": 1000,
    "consignee": {"id": "acme-in", "name": "Acme Compute", "headquarters": "IN"},
}
PARTY = "bis-entity-list:cn-huawei-technologies-co-ltd"
POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def database_url(backend: str, tmp: Path) -> Iterator[str]:
    """A fresh database on ``backend``: a SQLite file in ``tmp``, or a PostgreSQL schema
    dropped afterwards (skipped when the server is unreachable, unless
    SLUICE_REQUIRE_SERVICES=1)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/service.db"
        return
    import psycopg

    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3):
            pass
    except Exception as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("SLUICE_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (SLUICE_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    schema = f"sg_service_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_app(tmp: Path, **overrides: Any) -> Any:
    settings = Settings(
        database_url=f"sqlite:///{tmp}/service.db",
        jobs_dir=tmp / "jobs",
        rate_per_second=1000.0,
        rate_burst=1000,
        batch_job_threshold=50,
        max_simulation_draws=200,
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return create_app(settings)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One app for a test module: client (no auth) and a key per role (exporter sees PARTY)."""
    tmp = tmp_path_factory.mktemp("service")
    app = make_app(tmp)
    keys = {
        role: app.state.store.add_user(
            f"{role}-key", role, [PARTY, "acme-in"] if role == "exporter" else []
        )
        for role in ROLES
    }
    with TestClient(app) as client:
        yield {"app": app, "client": client, "keys": keys, "tmp": tmp}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
