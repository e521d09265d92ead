"""Fixtures for the ledger suite: a database per test on each backend (SQLite file; PostgreSQL
schema on 127.0.0.1:5432, dropped afterwards) and, until the rules engine is installed, the
``ledger_stand_in`` engine patched in as ``sluicegate.rules.decide_records``.

PostgreSQL tests skip when the server is unreachable, unless SLUICE_REQUIRE_SERVICES=1, when they
fail instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The helpers beside this file, importable under any pytest import mode (importlib included).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ledger_stand_in as stand_in


def real_engine_available() -> bool:
    if os.environ.get("SLUICE_LEDGER_STAND_IN") == "1":
        return False
    try:
        from sluicegate import rules
    except ImportError:
        return False
    return hasattr(rules, "decide_records")


@pytest.fixture(autouse=True)
def rules_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """'real' when sluicegate.rules.decide_records exists, else patch in the stand-in."""
    if real_engine_available():
        return "real"
    from sluicegate import rules

    monkeypatch.setattr(rules, "decide_records", stand_in.decide_records, raising=False)
    return "stand-in"


@pytest.fixture
def stand_in_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the stand-in (tests of ledger mechanics that need its NVEU / UVEU draws)."""
    from sluicegate import rules

    monkeypatch.setattr(rules, "decide_records", stand_in.decide_records, raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(  # type: ignore[no-untyped-def]
    backend: str, tmp_path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A fresh, empty database on the backend; SLUICE_DATABASE_URL points at it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")  # a schema of its own (tests/conftest.py)
    monkeypatch.setenv("SLUICE_DATABASE_URL", url)
    return url


@pytest.fixture
def ledger(db_url: str):  # type: ignore[no-untyped-def]
    from sluicegate.ledger import Ledger

    instance = Ledger(db_url, actor="tester")
    yield instance
    instance.close()
