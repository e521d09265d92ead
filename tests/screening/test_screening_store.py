"""The active list set: atomic loading, list-by-list replacement, status and diff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sluicegate.screening.loaders import ListLoadError
from sluicegate.screening.store import (
    active_set,
    bundle_path,
    diff,
    load_any,
    load_into_store,
    status,
    store_path,
)

DPL_HEADER = (
    '"Name"\t"Street_Address"\t"City"\t"State"\t"Country"\t"Postal_Code"\t"Effective_Date"\t'
    '"Expiration_Date"\t"Standard_Order"\t"Last_Update"\t"Action"\t"FR_Citation"\n'
)


def _dpl(path: Path, *names: str) -> Path:
    rows = "".join(
        f'"{n}"\t"1 Main St"\t"Town"\t""\t"US"\t"1"\t"01/02/2020"\t"01/02/2030"\t"Y"\t'
        f'"2026-11-01"\t"ADDED"\t"85 F.R. 1"\n'
        for n in names
    )
    path.write_text(DPL_HEADER + rows, encoding="utf-8")
    return path


def test_nothing_loaded_means_the_bundle(lists_dir: Path) -> None:
    assert not store_path().exists()
    assert active_set().origin == str(bundle_path())


def test_load_replaces_only_the_lists_it_holds(lists_dir: Path, tmp_path: Path) -> None:
    before = active_set()
    new, _loaded = load_into_store([_dpl(tmp_path / "dpl.txt", "ALPHA TRADER", "BETA BROKER")])
    assert store_path().exists()
    dpl = [e for e in new.entities if e.list == "bis-dpl"]
    assert {e.name for e in dpl} == {"ALPHA TRADER", "BETA BROKER"}
    sdn_before = sum(1 for e in before.entities if e.list == "ofac-sdn")
    assert sum(1 for e in new.entities if e.list == "ofac-sdn") == sdn_before
    assert new.lists["bis-dpl"]["snapshot"] == "2026-11-01"
    assert active_set().lists["bis-dpl"]["count"] == 2


def test_a_broken_file_loads_nothing(lists_dir: Path, tmp_path: Path) -> None:
    load_into_store([_dpl(tmp_path / "dpl.txt", "ALPHA TRADER")])
    stored = store_path().read_bytes()
    good = _dpl(tmp_path / "dpl2.txt", "GAMMA")
    broken = tmp_path / "entity.csv"
    broken.write_text(
        "name,aliases,addresses,country,license_requirement,license_review_policy,"
        "federal_register_citation,source_snapshot_date,country_name\n,,x,CN,,,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ListLoadError) as info:
        load_into_store([good, broken])
    assert info.value.path == str(broken) and info.value.line == 2
    assert store_path().read_bytes() == stored  # untouched
    assert not [p for p in lists_dir.iterdir() if p.name.endswith(".tmp")]


def test_replace_starts_empty(lists_dir: Path, tmp_path: Path) -> None:
    new, _ = load_into_store([_dpl(tmp_path / "dpl.txt", "ALPHA TRADER")], replace=True)
    assert set(new.lists) == {"bis-dpl"}


def test_ownership_file_is_stored(lists_dir: Path, tmp_path: Path) -> None:
    owners = tmp_path / "owners.csv"
    owners.write_text("owner,owned,percent\nofac-sdn:306,acme,60\n", encoding="utf-8")
    new, _ = load_into_store([owners])
    assert new.ownership[0]["owned"] == "acme"
    bad = tmp_path / "bad.csv"
    bad.write_text("owner,owned,percent\na,b,150\n", encoding="utf-8")
    with pytest.raises(ListLoadError, match="percent"):
        load_into_store([bad])


def test_status_warns_when_stale(lists_dir: Path) -> None:
    rows = status(active_set(), today=dt.date(2026, 11, 26))
    by_list = {r["list"]: r for r in rows}
    assert by_list["ofac-sdn"]["warning"].startswith("stale")
    assert by_list["ofac-sdn"]["count"] > 8000
    fresh = status(active_set(), today=dt.date(2026, 8, 21), stale_days=365)
    assert {r["list"]: r for r in fresh}["dod-1260h"]["warning"] is None


def test_diff_reports_added_removed_changed(tmp_path: Path) -> None:
    old = _dpl(tmp_path / "old.txt", "ALPHA TRADER", "BETA BROKER")
    new = tmp_path / "new.txt"
    new.write_text(
        DPL_HEADER
        + '"ALPHA TRADER"\t"2 Other St"\t"Town"\t""\t"US"\t"1"\t"01/02/2020"\t"01/02/2030"\t"Y"\t'
        '"2026-11-01"\t"ADDED"\t"85 F.R. 1"\n'
        + '"DELTA"\t"1 Main St"\t"Town"\t""\t"US"\t"1"\t"01/02/2020"\t"01/02/2030"\t"Y"\t'
        '"2026-11-01"\t"ADDED"\t"85 F.R. 1"\n',
        encoding="utf-8",
    )
    result = diff(load_any(old), load_any(new))
    assert result["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert result["changed"][0]["fields"]["addresses"]
