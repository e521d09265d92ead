"""Regenerate src/sluicegate/regimes/data/accelerators.yaml, the accelerator catalogue.

The catalogue is law-adjacent data: the per-chip figures (TPP, die area, performance density,
datacenter flag, interconnect and memory bandwidth) that the 3A090 tests and the Jan-2026 China
lane read. Two inputs: the curated figures of tools/catalogue_curated.yaml (taken from the fact
base, spec/regulation.md §6, with their sources) and Epoch AI's 'Data on Machine Learning
Hardware' (CC BY 4.0), a copy of which sits at ../shared/data/epoch-ai/ml_hardware.csv. Curated
entries win over the Epoch row they match (Epoch's TPP is recorded in their sources); every other
Epoch row with a filled 'Total processing performance (bit-OP/s)' becomes its own entry, and every
Epoch row left out is listed with the reason. The output is committed; sluicegate.regimes reads
it at run time and never reads the CSV. Run: `python tools/build_catalogue.py`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EPOCH_CSV = REPO.parent / "shared/data/epoch-ai/ml_hardware.csv"
DEFAULT_CURATED = REPO / "tools/catalogue_curated.yaml"
DEFAULT_OUTPUT = REPO / "src/sluicegate/regimes/data/accelerators.yaml"

ATTRIBUTION = (
    "Data: Epoch AI, 'Data on Machine Learning Hardware', published online at epoch.ai "
    "(CC BY 4.0); curated figures cite their own sources"
)
LICENCE_NOTE = (
    "Rows marked origin: epoch are derived from Epoch AI's 'Data on Machine Learning Hardware' "
    "(Creative Commons Attribution 4.0; free to use, distribute and reproduce provided the source "
    "and authors are credited). Units were converted (TPP = bit-OP/s / 1e12; bandwidths byte/s / "
    "1e9; memory bytes / 1e9) and a datacenter flag was derived from the product name. Rows marked "
    "origin: curated come from the sluicegate fact base (regulation.md §6) and the sources named "
    "in each entry; where such a row matches an Epoch row, the Epoch values it uses are credited "
    "the same way."
)
EPOCH_ORIGIN = (
    "joshyou/clod ml_hardware.csv at commit 2af7774 (2025-12-24), a copy of Epoch AI's "
    "'Data on Machine Learning Hardware' (epoch.ai/data/machine-learning-hardware)"
)

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Consumer product lines: not "designed or marketed for use in datacenters".
CONSUMER_PATTERN = re.compile(r"geforce|radeon rx|\btitan\b", re.IGNORECASE)
# NVIDIA parts with tensor cores but without BF16 support (Volta, Turing): Epoch's combined
# 'Tensor-FP16/BF16' column is FP16 only for them.
NO_BF16_PATTERN = re.compile(r"V100|Titan V|RTX 20\d\d|Quadro RTX|Tesla T4", re.IGNORECASE)

TPP_COLUMN = "Total processing performance (bit-OP/s)"
TENSOR_16_COLUMN = "Tensor-FP16/BF16 performance (FLOP/s)"
# Epoch peak column -> (precision key, bit length used by the TPP formula).
PEAK_COLUMNS: dict[str, tuple[str, int]] = {
    "FP64 (double precision) performance (FLOP/s)": ("fp64", 64),
    "FP32 (single precision) performance (FLOP/s)": ("fp32", 32),
    # TF32 carries 19 bits (1 sign, 8 exponent, 10 mantissa); Epoch's TPP counts it so.
    "TF32 (TensorFloat-32) performance (FLOP/s)": ("tf32", 19),
    TENSOR_16_COLUMN: ("fp16", 16),
    "FP16 (half precision) performance (FLOP/s)": ("fp16", 16),
    "FP8 performance (FLOP/s)": ("fp8", 8),
    "FP4 performance (FLOP/s)": ("fp4", 4),
    "INT16 performance (OP/s)": ("int16", 16),
    "INT8 performance (OP/s)": ("int8", 8),
    "INT4 performance (OP/s)": ("int4", 4),
}
PRECISION_ORDER = ["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "fp4", "int16", "int8", "int4"]

# Catalogue field -> (Epoch column, divisor, decimals) for plain unit conversions.
EPOCH_SCALARS: dict[str, tuple[str, float, int]] = {
    "die_area_mm2": ("Die Size (mm^2)", 1.0, 1),
    "memory_bandwidth_gbs": ("Memory bandwidth (byte/s)", 1e9, 1),
    "interconnect_gbs": ("Intranode bandwidth (byte/s)", 1e9, 1),
    "memory_gb": ("Memory (bytes)", 1e9, 2),
    "tdp_w": ("TDP (W)", 1.0, 1),
}
# Figures that need a `sources` entry whenever they are not null.
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
CURATED_KEYS = {
    "id",
    "name",
    "manufacturer",
    "release_date",
    "category",
    "datacenter",
    "tpp",
    "tpp_precision",
    "die_area_mm2",
    "memory_bandwidth_gbs",
    "interconnect_gbs",
    "memory_gb",
    "tdp_w",
    "peak_ops_per_s",
    "sources",
    "unconfirmed",
    "epoch_name",
}
CATEGORIES = {"ic", "computer", "hbm"}


class CatalogueError(ValueError):
    """A curated or Epoch record that cannot become a catalogue entry; names field and reason."""


def kebab(name: str) -> str:
    """Lower-case kebab id of a hardware name: 'NVIDIA H100 PCIe' -> 'nvidia-h100-pcie'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def number(cell: str | None) -> float | None:
    """A numeric CSV cell as float, or None when empty."""
    if cell is None or not cell.strip():
        return None
    return float(cell)


def tidy(value: float, decimals: int) -> int | float:
    """Round, and write whole numbers as int so the YAML reads 15832 rather than 15832.0."""
    rounded = round(value, decimals)
    if math.isclose(rounded, round(rounded), rel_tol=0, abs_tol=1e-9):
        return round(rounded)
    return rounded


def density(tpp: float | None, die_area: float | None) -> float | None:
    """Performance density per the 3A090 note: TPP / applicable die area, 2 decimals."""
    if tpp is None or not die_area:
        return None
    return round(tpp / die_area, 2)


def epoch_date(cell: str) -> dt.date | None:
    return dt.date.fromisoformat(cell.strip()) if cell.strip() else None


def cite(row: dict[str, str], column: str) -> str:
    return f"Epoch AI ml_hardware.csv, '{row['Hardware name']}': {column} = {row[column]}"


def epoch_peaks(row: dict[str, str]) -> tuple[dict[str, float], str]:
    """Peak OP/s by precision from Epoch's columns, and the sentence that sources them."""
    peaks: dict[str, float] = {}
    tensor = number(row[TENSOR_16_COLUMN])
    for column, (key, _bits) in PEAK_COLUMNS.items():
        value = number(row[column])
        if value is None or value <= 0:
            continue
        value = float(f"{value:.6g}")  # Epoch cells carry float noise such as 65129999999999.9
        if column == TENSOR_16_COLUMN:
            peaks["fp16"] = value
            if not NO_BF16_PATTERN.search(row["Hardware name"]):
                peaks["bf16"] = value
        elif key == "fp16" and tensor is not None:
            continue  # the vector FP16 figure is lower than the tensor one
        else:
            peaks[key] = value
    notes = row["Notes"].lower()
    if "without sparsity" in notes:
        sparsity = "dense per Epoch's note ('Listed performance figures are without sparsity')"
    elif "sparse" in notes:
        sparsity = "Epoch halved sparse figures to dense (its note)"
    else:
        sparsity = "Epoch does not say whether dense or sparse; treated as dense, as Epoch's TPP is"
    text = (
        "Epoch AI ml_hardware.csv peak columns; 'Tensor-FP16/BF16' is one column in Epoch, used "
        f"for fp16 (and bf16 where the part supports it); {sparsity}"
    )
    ordered = {key: peaks[key] for key in PRECISION_ORDER if key in peaks}
    return ordered, text


def epoch_tpp_precision(row: dict[str, str], tpp: float) -> str:
    """Which Epoch peak column x bit length reproduces Epoch's TPP (within 0.1%)."""
    for column, (_key, bits) in PEAK_COLUMNS.items():
        value = number(row[column])
        if value and math.isclose(value * bits / 1e12, tpp, rel_tol=1e-3):
            label = column.split(" performance")[0].split(" (")[0]
            unit = "TOPS" if column.startswith("INT") else "TFLOPS"
            return f"Epoch: {label} dense {tidy(value / 1e12, 3)} {unit} x {bits}"
    return "Epoch TPP; not reproduced by Epoch's own peak columns"


def datacenter_flag(name: str) -> tuple[bool, str]:
    if CONSUMER_PATTERN.search(name):
        return False, (
            "derived from the name: consumer product line (GeForce, Radeon RX or TITAN) -> not "
            "designed or marketed for datacenters"
        )
    return True, (
        "derived from the name: no consumer product line (GeForce, Radeon RX, TITAN) -> treated "
        "as designed or marketed for datacenters (conservative default: PD and 3A090.b then apply)"
    )


def epoch_entry(
    row: dict[str, str], entry_id: str, overrides: dict[str, Any], doubt: str | None
) -> dict[str, Any]:
    """A catalogue entry from one Epoch row (TPP filled)."""
    name = row["Hardware name"].strip()
    tpp_raw = number(row[TPP_COLUMN])
    assert tpp_raw is not None
    tpp = tidy(tpp_raw / 1e12, 6)
    sources: dict[str, str] = {}
    release = epoch_date(row["Release date"])
    if release is not None:
        sources["release_date"] = cite(row, "Release date")
    is_datacenter, why = datacenter_flag(name)
    sources["datacenter"] = why
    sources["tpp"] = cite(row, TPP_COLUMN) + " -> / 1e12"
    sources["tpp_precision"] = "reproduced from Epoch AI peak columns"
    scalars: dict[str, int | float | None] = {}
    for field, (column, divisor, decimals) in EPOCH_SCALARS.items():
        value = number(row[column])
        scalars[field] = tidy(value / divisor, decimals) if value else None
        if scalars[field] is not None:
            sources[field] = cite(row, column)
    pd = density(tpp, scalars["die_area_mm2"])
    if pd is not None:
        sources["performance_density"] = "computed: tpp / die_area_mm2, 2 decimals"
    peaks, peak_text = epoch_peaks(row)
    if peaks:
        sources["peak_ops_per_s"] = peak_text
    entry: dict[str, Any] = {
        "id": entry_id,
        "name": name,
        "manufacturer": overrides.get("manufacturer") or row["Manufacturer"].strip() or None,
        "release_date": release,
        "category": "ic",
        "datacenter": is_datacenter,
        "tpp": tpp,
        "tpp_precision": epoch_tpp_precision(row, tpp),
        "die_area_mm2": scalars["die_area_mm2"],
        "performance_density": pd,
        "memory_bandwidth_gbs": scalars["memory_bandwidth_gbs"],
        "interconnect_gbs": scalars["interconnect_gbs"],
        "memory_gb": scalars["memory_gb"],
        "tdp_w": scalars["tdp_w"],
        "peak_ops_per_s": peaks,
        "sources": sources,
        "unconfirmed": [],
        "epoch_name": name,
        "origin": "epoch",
    }
    sources.update(overrides.get("sources", {}))
    if doubt:
        sources["doubt"] = doubt
    return entry


def curated_entry(
    record: dict[str, Any], row: dict[str, str] | None, tags: dict[str, str]
) -> dict[str, Any]:
    """A catalogue entry from one curated record, completed from its Epoch row where named."""
    entry_id = record.get("id")
    where = f"curated accelerator {entry_id!r}"
    unknown = set(record) - CURATED_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {sorted(unknown)}")
    for required in ("id", "name", "manufacturer", "category", "datacenter", "tpp", "sources"):
        if record.get(required) is None:
            raise CatalogueError(f"{where}: field {required!r} is required")
    if not isinstance(record["tpp"], int | float) or record["tpp"] <= 0:
        raise CatalogueError(f"{where}: field 'tpp' must be a positive number")
    if record["category"] not in CATEGORIES:
        raise CatalogueError(f"{where}: field 'category' must be one of {sorted(CATEGORIES)}")
    labels = {tag: f"[{tag}]" for tag in tags}
    try:
        sources = {key: str(text).format_map(labels) for key, text in record["sources"].items()}
    except KeyError as missing:
        raise CatalogueError(f"{where}: field 'sources' uses unknown tag {missing}") from None

    def pick(field: str, epoch_value: Any, epoch_source: str | None) -> Any:
        if field in record:
            return record[field]
        if epoch_value is not None and epoch_source is not None:
            sources.setdefault(field, epoch_source)
        return epoch_value

    release = pick(
        "release_date",
        epoch_date(row["Release date"]) if row else None,
        cite(row, "Release date") if row else None,
    )
    scalars: dict[str, Any] = {}
    for field, (column, divisor, decimals) in EPOCH_SCALARS.items():
        value = number(row[column]) if row else None
        converted = tidy(value / divisor, decimals) if value else None
        scalars[field] = pick(field, converted, cite(row, column) if row else None)
    tpp = record["tpp"]
    if row is not None and number(row[TPP_COLUMN]) is not None:
        epoch_tpp = tidy(float(row[TPP_COLUMN]) / 1e12, 6)
        sources["tpp"] = f"{sources.get('tpp', '')}; Epoch: {epoch_tpp}".lstrip("; ")
    peaks: dict[str, float] = {}
    if row is not None:
        peaks, peak_text = epoch_peaks(row)
        if peaks:
            sources.setdefault("peak_ops_per_s", peak_text)
    peaks.update({key: float(value) for key, value in (record.get("peak_ops_per_s") or {}).items()})
    peaks = {key: peaks[key] for key in PRECISION_ORDER if key in peaks} | {
        key: value for key, value in peaks.items() if key not in PRECISION_ORDER
    }
    pd = density(tpp, scalars["die_area_mm2"])
    if pd is not None:
        sources["performance_density"] = "computed: tpp / die_area_mm2, 2 decimals"
    unconfirmed = list(record.get("unconfirmed") or [])
    for field in unconfirmed:
        if field not in FIGURES and field not in ("memory_gb", "name"):
            raise CatalogueError(f"{where}: field 'unconfirmed' names unknown figure {field!r}")
    if pd is not None and {"tpp", "die_area_mm2"} & set(unconfirmed):
        unconfirmed.append("performance_density")
    return {
        "id": entry_id,
        "name": record["name"],
        "manufacturer": record["manufacturer"],
        "release_date": release,
        "category": record["category"],
        "datacenter": bool(record["datacenter"]),
        "tpp": tpp,
        "tpp_precision": record.get("tpp_precision"),
        "die_area_mm2": scalars["die_area_mm2"],
        "performance_density": pd,
        "memory_bandwidth_gbs": scalars["memory_bandwidth_gbs"],
        "interconnect_gbs": scalars["interconnect_gbs"],
        "memory_gb": scalars["memory_gb"],
        "tdp_w": scalars["tdp_w"],
        "peak_ops_per_s": peaks,
        "sources": sources,
        "unconfirmed": unconfirmed,
        "epoch_name": row["Hardware name"].strip() if row else None,
        "origin": "curated",
    }


def references(entries: list[dict[str, Any]], tags: dict[str, str]) -> dict[str, str]:
    """The full citation of every [TAG] that some entry's sources use."""
    used = {
        tag
        for entry in entries
        for text in entry["sources"].values()
        for tag in re.findall(r"\[([A-Z0-9_]+)\]", text)
    }
    return {tag: tags[tag] for tag in tags if tag in used}


def check_sources(entry: dict[str, Any]) -> None:
    """Every figure that is filled has a source."""
    for field in FIGURES:
        value = entry[field]
        if value is None or value == {}:
            continue
        if not entry["sources"].get(field):
            raise CatalogueError(
                f"accelerator {entry['id']!r}: field {field!r} is set but has no sources entry"
            )


def build(epoch_csv: Path, curated_path: Path) -> dict[str, Any]:
    """The whole catalogue document, ready to dump."""
    raw = epoch_csv.read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    by_name: dict[str, dict[str, str]] = {}
    for number_in_file, csv_row in enumerate(rows, start=2):
        name = csv_row["Hardware name"].strip()
        if name in by_name:
            raise CatalogueError(f"{epoch_csv}:{number_in_file}: duplicate Hardware name {name!r}")
        by_name[name] = csv_row
    curated = yaml.safe_load(curated_path.read_text(encoding="utf-8"))
    tags: dict[str, str] = curated.get("source_tags", {})
    id_overrides: dict[str, str] = curated.get("epoch_id_overrides", {})
    epoch_overrides: dict[str, dict[str, Any]] = curated.get("epoch_overrides", {})
    doubts: dict[str, str] = curated.get("epoch_doubts", {})
    for name in [*id_overrides, *epoch_overrides, *doubts]:
        if name not in by_name:
            raise CatalogueError(f"{curated_path}: Epoch row {name!r} not found in {epoch_csv}")

    entries: list[dict[str, Any]] = []
    consumed: dict[str, str] = {}
    for record in curated["accelerators"]:
        epoch_name = record.get("epoch_name")
        row: dict[str, str] | None = None
        if epoch_name is not None:
            if epoch_name not in by_name:
                raise CatalogueError(
                    f"curated accelerator {record.get('id')!r}: field 'epoch_name': "
                    f"{epoch_name!r} is not a Hardware name in {epoch_csv}"
                )
            if epoch_name in consumed:
                raise CatalogueError(
                    f"curated accelerator {record.get('id')!r}: field 'epoch_name': "
                    f"{epoch_name!r} is already matched by {consumed[epoch_name]!r}"
                )
            row = by_name[epoch_name]
            consumed[epoch_name] = record["id"]
        entries.append(curated_entry(record, row, tags))

    excluded: list[dict[str, str]] = []
    epoch_entries: list[dict[str, Any]] = []
    for name, epoch_row in by_name.items():
        if name in consumed:
            continue
        tpp = number(epoch_row[TPP_COLUMN])
        if tpp is None or tpp <= 0:
            excluded.append({"epoch_name": name, "reason": f"'{TPP_COLUMN}' is empty"})
            continue
        entry_id = id_overrides.get(name, kebab(name))
        epoch_entries.append(
            epoch_entry(epoch_row, entry_id, epoch_overrides.get(name, {}), doubts.get(name))
        )
    entries.extend(sorted(epoch_entries, key=lambda entry: entry["id"]))

    seen: set[str] = set()
    for entry in entries:
        if not ID_PATTERN.match(entry["id"] or ""):
            raise CatalogueError(f"accelerator {entry['id']!r}: field 'id' is not lower-case kebab")
        if entry["id"] in seen:
            raise CatalogueError(f"accelerator {entry['id']!r}: field 'id' is not unique")
        seen.add(entry["id"])
        check_sources(entry)

    last_modified = max(r["Last modified"][:10] for r in rows if r["Last modified"])
    return {
        "attribution": ATTRIBUTION,
        "licence_note": LICENCE_NOTE,
        "generated_by": "tools/build_catalogue.py",
        "epoch_snapshot": {
            "file": "ml_hardware.csv",
            "origin": EPOCH_ORIGIN,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "rows": len(rows),
            "last_modified_max": last_modified,
        },
        "units": {
            "tpp": "per chip: dense peak x bit length (bit-OP/s / 1e12), sparsity never counted",
            "die_area_mm2": "applicable die area (logic dies on non-planar processes), mm²",
            "performance_density": "tpp / die_area_mm2, 2 decimals",
            "memory_bandwidth_gbs": "DRAM/HBM bandwidth, GB/s (1e9 byte/s)",
            "interconnect_gbs": "aggregate bidirectional chip-to-chip I/O as published (NVLink, "
            "Infinity Fabric, RoCE ports; host PCIe only where no such link exists), GB/s",
            "memory_gb": "GB (1e9 bytes)",
            "tdp_w": "W",
            "peak_ops_per_s": "dense peak operations per second by precision",
        },
        "references": references(entries, tags),
        "accelerators": entries,
        "excluded_epoch_rows": excluded,
    }


HEADER = """\
# sluicegate accelerator catalogue. GENERATED FILE: do not edit by hand.
# Regenerate with `python tools/build_catalogue.py` from tools/catalogue_curated.yaml and Epoch AI's
# ml_hardware.csv (see docs/catalogue.md). Data: Epoch AI, 'Data on Machine Learning Hardware',
# published online at epoch.ai (CC BY 4.0); curated figures cite their own sources.
"""


def render(document: dict[str, Any]) -> str:
    body = yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epoch-csv", type=Path, default=DEFAULT_EPOCH_CSV)
    parser.add_argument("--curated", type=Path, default=DEFAULT_CURATED)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        document = build(args.epoch_csv, args.curated)
    except CatalogueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(document), encoding="utf-8")
    curated = sum(1 for entry in document["accelerators"] if entry["origin"] == "curated")
    print(
        f"wrote {len(document['accelerators'])} accelerators ({curated} curated) to "
        f"{args.output}; {len(document['excluded_epoch_rows'])} Epoch rows excluded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
