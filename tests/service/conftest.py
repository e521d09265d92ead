"""Fixtures of the service tests: an app on a temporary SQLite database with one key per role."""

from __future__ import annotations

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


def database_url(request: pytest.FixtureRequest, backend: str, tmp: Path) -> str:
    """A fresh database on ``backend``: a SQLite file in ``tmp``, or a PostgreSQL schema of the
    test's own (the ``postgres_url`` fixture of tests/conftest.py)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp}/service.db"
    return str(request.getfixturevalue("postgres_url"))


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
