"""Shared fixtures: the shipped bundle's screener (built once) and the shared reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.screening.screener import Screener
from sluicegate.screening.store import bundle_path, read_set

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def bundle_screener() -> Screener:
    return Screener(read_set(bundle_path()))


@pytest.fixture()
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture()
def lists_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "lists"
    monkeypatch.setenv("SLUICE_LISTS_DIR", str(target))
    return target
