"""Every list format in ../shared/data loads into the one entity model; broken files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.screening.loaders import ListLoadError, detect_format, read_list

EXPECTED = {
    "ofac-sdn-2021/sdn.csv": ("ofac", 8976),
    "ofac-consolidated-nonsdn-2025/cons_prim.csv": ("ofac", 442),
    "bis-dpl-2022/dpl.txt": ("dpl", 581),
    "bis-entity-list/bis_entity_list.csv": ("entity-list", 3409),
    "trade-csl-samples/csl_2019_sample.csv": ("csl", 115),
    "trade-csl-samples/consolidated_2025_sample.csv": ("csl", 13),
    "opensanctions-us-lists/us_dod_1260h_chinese_military_companies.csv": ("1260h", 397),
    "opensanctions-us-lists/us_bis_mieu.csv": ("mieu", 13),
    "opensanctions-us-lists/us_ndaa_section_889.csv": ("889", 5),
    "opensanctions-us-lists/us_fcc_covered_list.csv": ("fcc", 12),
}


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_every_shared_format_loads(shared_data: Path, rel: str) -> None:
    kind, count = EXPECTED[rel]
    path = shared_data / rel
    assert detect_format(path) == kind
    loaded = read_list(path)
    assert len(loaded.entities) == count
    assert all(e.name.strip() for e in loaded.entities)
    assert len({e.id for e in loaded.entities}) == count


def test_ofac_reads_aliases_addresses_and_remarks(shared_data: Path) -> None:
    loaded = read_list(shared_data / "ofac-sdn-2021/sdn.csv")
    bnc = next(e for e in loaded.entities if e.id == "ofac-sdn:306")
    assert bnc.name == "BANCO NACIONAL DE CUBA"
    assert "NATIONAL BANK OF CUBA" in {a.name for a in bnc.aliases}
    assert "BNC" in {a.name for a in bnc.aliases}  # from the remarks' a.k.a.
    assert bnc.program == ["CUBA"]
    assert bnc.countries


def test_1260h_keeps_parents(shared_data: Path) -> None:
    loaded = read_list(
        shared_data / "opensanctions-us-lists/us_dod_1260h_chinese_military_companies.csv"
    )
    with_parent = [e for e in loaded.entities if e.parents]
    assert len(with_parent) == 197
    jonhon = next(e for e in loaded.entities if e.name.startswith("AVIC Jonhon"))
    assert jonhon.parents[0].name.startswith("Aviation Industry Corporation of China")


def test_csl_maps_sources_to_list_codes(shared_data: Path) -> None:
    loaded = read_list(shared_data / "trade-csl-samples/csl_2019_sample.csv")
    codes = {e.list for e in loaded.entities}
    assert {"ofac-sdn", "bis-entity-list", "bis-dpl", "bis-uvl", "state-isn", "state-dtc"} <= codes
    el = [e for e in loaded.entities if e.list == "bis-entity-list" and e.license_review_policy]
    assert el


def test_broken_csv_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "entity.csv"
    path.write_text(
        "name,aliases,addresses,country,license_requirement,license_review_policy,"
        "federal_register_citation,source_snapshot_date,country_name\n"
        "Good Co,,Somewhere,CN,all,,1 FR 1,2026-07-09,China\n"
        ",,Nowhere,CN,all,,1 FR 1,2026-07-09,China\n",
        encoding="utf-8",
    )
    with pytest.raises(ListLoadError) as info:
        read_list(path)
    assert info.value.line == 3
    assert str(path) in str(info.value)
    assert "name" in info.value.message


def test_ofac_wrong_field_count(tmp_path: Path) -> None:
    path = tmp_path / "sdn.csv"
    path.write_text('36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA"\n', encoding="latin-1")
    with pytest.raises(ListLoadError) as info:
        read_list(path)
    assert info.value.line == 1


def test_binary_and_unknown_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02\xff" * 100)
    with pytest.raises(ListLoadError, match="binary"):
        read_list(junk)
    unknown = tmp_path / "other.csv"
    unknown.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ListLoadError, match="unrecognised"):
        read_list(unknown)
    with pytest.raises(ListLoadError, match="no such file"):
        read_list(tmp_path / "missing.csv")


def test_ofac_sibling_file_alone_is_explained(shared_data: Path) -> None:
    with pytest.raises(ListLoadError, match="primary file"):
        read_list(shared_data / "ofac-sdn-2021/alt.csv")
