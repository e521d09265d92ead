"""Data tests for the accelerator catalogue and the 4E091 published-frontier series.

They read src/sluicegate/regimes/data/accelerators.yaml and published_frontier.yaml directly
with PyYAML (not through sluicegate.regimes), check the contract ids and the fact-base figures
(regulation.md §6), the TPP/PD arithmetic, the sources, agreement with Epoch AI's CSVs in
../shared/data/epoch-ai, and that the committed files are what tools/ would regenerate.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import math
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src/sluicegate/regimes/data"
EPOCH = REPO.parent / "shared/data/epoch-ai"
HARDWARE_CSV = EPOCH / "ml_hardware.csv"
MODELS_CSV = EPOCH / "notable_ai_models.csv"

CONTRACT_IDS = [
    "nvidia-h100-sxm",
    "nvidia-h100-pcie",
    "nvidia-h800",
    "nvidia-h20",
    "nvidia-h200",
    "nvidia-a100",
    "nvidia-a800",
    "nvidia-b200",
    "nvidia-l40s",
    "nvidia-l4",
    "nvidia-rtx-4090",
    "nvidia-rtx-4090d",
    "amd-mi250x",
    "amd-mi300x",
    "amd-mi325x",
    "intel-gaudi-2",
    "intel-gaudi-3",
    "huawei-ascend-910b",
    "huawei-ascend-910c",
    "google-tpu-v5p",
]
BITS = {
    "fp64": 64,
    "fp32": 32,
    "tf32": 19,  # 1 sign + 8 exponent + 10 mantissa bits, as Epoch counts it
    "fp16": 16,
    "bf16": 16,
    "fp8": 8,
    "fp4": 4,
    "int16": 16,
    "int8": 8,
    "int4": 4,
}
FIGURES = [
    "release_date",
    "datacenter",
    "tpp",
    "tpp_precision",
    "die_area_mm2",
    "performance_density",
    "memory_bandwidth_gbs",
    "interconnect_gbs",
    "memory_gb",
    "tdp_w",
    "peak_ops_per_s",
]

needs_epoch = pytest.mark.skipif(
    not HARDWARE_CSV.exists() or not MODELS_CSV.exists(),
    reason=f"Epoch AI CSVs not found under {EPOCH} (the shared data folder beside the repo)",
)


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return yaml.safe_load((DATA / "accelerators.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def chips(catalogue: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in catalogue["accelerators"]}


@pytest.fixture(scope="module")
def frontier() -> dict[str, Any]:
    return yaml.safe_load((DATA / "published_frontier.yaml").read_text(encoding="utf-8"))


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- catalogue: identity and attribution ----


def test_header_credits_epoch_ai(catalogue: dict[str, Any]) -> None:
    assert catalogue["attribution"].startswith(
        "Data: Epoch AI, 'Data on Machine Learning Hardware', published online at epoch.ai"
    )
    assert "CC BY 4.0" in catalogue["attribution"]
    assert catalogue["generated_by"] == "tools/build_catalogue.py"
    assert catalogue["licence_note"]


def test_ids_are_unique_lower_case_kebab(catalogue: dict[str, Any]) -> None:
    ids = [entry["id"] for entry in catalogue["accelerators"]]
    assert len(ids) == len(set(ids))
    for entry_id in ids:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", entry_id), entry_id


def test_all_contract_ids_present(chips: dict[str, dict[str, Any]]) -> None:
    missing = [entry_id for entry_id in CONTRACT_IDS if entry_id not in chips]
    assert not missing
    for entry_id in CONTRACT_IDS:
        assert chips[entry_id]["origin"] == "curated"


# ---- catalogue: figures from regulation.md §6 ----


def test_h100_sxm(chips: dict[str, dict[str, Any]]) -> None:
    h100 = chips["nvidia-h100-sxm"]
    assert h100["tpp"] == 15832
    assert h100["die_area_mm2"] == 814
    assert h100["performance_density"] == 19.45
    assert h100["datacenter"] is True
    assert h100["interconnect_gbs"] == 900
    assert h100["peak_ops_per_s"]["fp8"] == pytest.approx(1.979e15)
    assert "Epoch: 15832" in h100["sources"]["tpp"]


def test_a100(chips: dict[str, dict[str, Any]]) -> None:
    a100 = chips["nvidia-a100"]
    assert (a100["tpp"], a100["performance_density"]) == (4992, 6.04)
    assert a100["interconnect_gbs"] == 600  # caught by the Oct 2022 rule (>= 600 GB/s)


def test_h20_is_below_the_3a090_parameters(chips: dict[str, dict[str, Any]]) -> None:
    h20 = chips["nvidia-h20"]
    assert h20["tpp"] == 2368
    assert h20["performance_density"] == 2.91
    assert h20["tpp"] < 2400 and h20["performance_density"] < 3.2


def test_consumer_cards(chips: dict[str, dict[str, Any]]) -> None:
    rtx4090 = chips["nvidia-rtx-4090"]
    assert rtx4090["tpp"] == pytest.approx(5286, abs=1)
    assert rtx4090["datacenter"] is False
    rtx4090d = chips["nvidia-rtx-4090d"]
    assert rtx4090d["tpp"] == 4707
    assert rtx4090d["datacenter"] is False
    assert rtx4090d["tpp"] < 4800 <= rtx4090["tpp"]


def test_l4_is_caught_by_density_not_tpp(chips: dict[str, dict[str, Any]]) -> None:
    l4 = chips["nvidia-l4"]
    assert l4["datacenter"] is True
    assert 1600 <= l4["tpp"] < 4800
    assert l4["performance_density"] >= 5.92


def test_interconnect_for_the_2022_rule(chips: dict[str, dict[str, Any]]) -> None:
    assert chips["nvidia-a800"]["interconnect_gbs"] == 400
    assert chips["nvidia-h800"]["interconnect_gbs"] == 400
    assert chips["nvidia-a800"]["tpp"] >= 4800 and chips["nvidia-h800"]["tpp"] >= 4800


def test_memory_bandwidth_for_the_2026_china_lane(chips: dict[str, dict[str, Any]]) -> None:
    for entry_id in ("nvidia-h200", "amd-mi325x"):  # the examples Morgan Lewis names
        chip = chips[entry_id]
        assert chip["tpp"] < 21000 and chip["memory_bandwidth_gbs"] < 6500, entry_id
    assert chips["nvidia-h200"]["memory_bandwidth_gbs"] == 4800
    assert chips["amd-mi325x"]["memory_bandwidth_gbs"] == 6000
    assert chips["nvidia-b200"]["memory_bandwidth_gbs"] >= 6500


# ---- catalogue: arithmetic and sources for every entry ----


def test_every_entry_sources_its_tpp(catalogue: dict[str, Any]) -> None:
    for entry in catalogue["accelerators"]:
        assert isinstance(entry["tpp"], int | float) and entry["tpp"] > 0, entry["id"]
        assert entry["sources"].get("tpp"), entry["id"]


def test_every_filled_figure_has_a_source(catalogue: dict[str, Any]) -> None:
    for entry in catalogue["accelerators"]:
        for field in FIGURES:
            if entry[field] not in (None, {}):
                assert entry["sources"].get(field), (entry["id"], field)


def test_performance_density_is_tpp_over_die_area(catalogue: dict[str, Any]) -> None:
    for entry in catalogue["accelerators"]:
        if entry["die_area_mm2"]:
            expected = round(entry["tpp"] / entry["die_area_mm2"], 2)
            assert entry["performance_density"] == expected, entry["id"]
        else:
            assert entry["performance_density"] is None, entry["id"]


def test_no_peak_exceeds_tpp(catalogue: dict[str, Any]) -> None:
    """TPP is the largest dense peak x bit length; a larger product means a sparse figure or an
    inconsistent source row, which the entry must then flag under sources.doubt."""
    for entry in catalogue["accelerators"]:
        for precision, ops in entry["peak_ops_per_s"].items():
            assert ops > 0, (entry["id"], precision)
            if ops * BITS[precision] / 1e12 > entry["tpp"] * 1.001:
                assert entry["origin"] == "epoch", (entry["id"], precision)
                assert "doubt" in entry["sources"], (entry["id"], precision)


def test_unconfirmed_names_figures(catalogue: dict[str, Any]) -> None:
    for entry in catalogue["accelerators"]:
        for field in entry["unconfirmed"]:
            assert field in entry, (entry["id"], field)


def test_datacenter_flag_of_consumer_lines(catalogue: dict[str, Any]) -> None:
    for entry in catalogue["accelerators"]:
        if re.search(r"geforce|radeon rx", entry["name"], re.IGNORECASE):
            assert entry["datacenter"] is False, entry["id"]


@needs_epoch
def test_epoch_tpp_is_the_csv_value(catalogue: dict[str, Any]) -> None:
    with HARDWARE_CSV.open(encoding="utf-8") as handle:
        rows = {row["Hardware name"].strip(): row for row in csv.DictReader(handle)}
    column = "Total processing performance (bit-OP/s)"
    for entry in catalogue["accelerators"]:
        if entry["origin"] == "epoch":
            expected = float(rows[entry["epoch_name"]][column]) / 1e12
            assert math.isclose(entry["tpp"], expected, rel_tol=1e-9), entry["id"]
        elif entry["epoch_name"] is not None and rows[entry["epoch_name"]][column]:
            assert "Epoch: " in entry["sources"]["tpp"], entry["id"]
    # every CSV row is either an entry or listed as excluded, exactly once
    accounted = [entry["epoch_name"] for entry in catalogue["accelerators"] if entry["epoch_name"]]
    accounted += [row["epoch_name"] for row in catalogue["excluded_epoch_rows"]]
    assert sorted(accounted) == sorted(rows)


@needs_epoch
def test_catalogue_is_regenerated_from_its_inputs() -> None:
    tool = load_tool("build_catalogue")
    document = tool.build(HARDWARE_CSV, REPO / "tools/catalogue_curated.yaml")
    committed = (DATA / "accelerators.yaml").read_text(encoding="utf-8")
    assert tool.render(document) == committed, "run: python tools/build_catalogue.py"


# ---- published frontier (ECCN 4E091 Note 2 stand-in) ----


def test_frontier_header(frontier: dict[str, Any]) -> None:
    assert "Epoch AI" in frontier["attribution"] and "CC BY 4.0" in frontier["attribution"]
    assert "UNCONFIRMED" in frontier["assumption"]
    assert "4E091" in frontier["description"]
    assert frontier["snapshot"]["snapshot_date"].isoformat() == "2026-01-26"


def test_frontier_rises_in_date_and_operations(frontier: dict[str, Any]) -> None:
    steps = frontier["steps"]
    assert steps
    for earlier, later in itertools.pairwise(steps):
        assert earlier["date"] < later["date"]
        assert earlier["training_ops"] < later["training_ops"]
    for step in steps:
        assert step["model"] and step["organization"]
        assert step["model_accessibility"].startswith("Open weights")
        assert step["date"] <= frontier["snapshot"]["snapshot_date"]


@needs_epoch
def test_frontier_is_the_running_maximum_of_the_csv(frontier: dict[str, Any]) -> None:
    tool = load_tool("build_published_frontier")
    assert tool.build(MODELS_CSV) == frontier
    counts = frontier["snapshot"]["counts"]
    assert (
        counts["not_open_weights"] + counts["no_training_compute"] + counts["candidates"]
        == counts["rows"]
    )
    last = frontier["steps"][-1]
    assert last["model"] == "Llama 3.1-405B" and last["training_ops"] == pytest.approx(3.8e25)
