"""Fixtures for the cloud tests: the demonstration data, a small Dask cluster, fake screening."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sluicegate.cloud import kyc
from sluicegate.cloud.sample import write_sample


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@dataclass
class FakeMatch:
    list: str
    entity_id: str
    name: str
    matched_name: str
    score: float
    effect: str = "block"
    review_policy: str | None = None
    citation: str | None = "15 CFR 744 supp. 4 (Entity List)"


@dataclass
class FakeResult:
    decision: str
    matches: list[FakeMatch] = field(default_factory=list)


class FakeScreen:
    """Blocks names containing 'blocked', asks review for 'similar'; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None]] = []

    def __call__(self, name: str, country: str | None = None, address: str | None = None) -> Any:
        self.calls.append((name, country, address))
        lowered = name.lower()
        if "blocked" in lowered:
            return FakeResult("block", [FakeMatch("entity-list", "E-1", name, name, 0.99)])
        if "similar" in lowered:
            return FakeResult(
                "review", [FakeMatch("sdn", "S-9", name, name + " Co", 0.88, effect="review")]
            )
        return FakeResult("clear")


@pytest.fixture
def fake_screen(monkeypatch: pytest.MonkeyPatch) -> FakeScreen:
    fake = FakeScreen()
    monkeypatch.setattr(kyc, "_screen_party", fake)
    return fake
