"""Shared fixtures. Services (PostgreSQL, Chromium) are required when SLUICE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REQUIRE_SERVICES = os.environ.get("SLUICE_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (SLUICE_REQUIRE_SERVICES=1) a missing service is a failure."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the test PostgreSQL server (``SLUICE_TEST_POSTGRES_URL``) whose search_path is a
    schema of this test's own, dropped afterwards, so that tests never share tables. Skipped when
    the server cannot be reached (a failure under SLUICE_REQUIRE_SERVICES=1). Parametrised
    fixtures ask for it only on their PostgreSQL leg: ``request.getfixturevalue("postgres_url")``."""
    try:
        import psycopg
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install -e '.[postgres]')")
    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3):
            pass
    except Exception as exc:
        skip_or_fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    schema = f"sg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
