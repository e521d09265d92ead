"""Turn transactions (JSON records or a flat CSV/Parquet table) into the evaluator's columns.

Both input paths end in the same :func:`prepare` over a flat polars table, so JSON and batch input
get the same checks and the same error messages. JSON records are first shape-checked by the
contract models (``sluicegate.domain``); then every record, valid or not, keeps its row, so that
each input record yields exactly one output record. Facts that need the law as data (is this a
country, a catalogue chip, a date with a regime) are checked here against the regime files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from pydantic import ValidationError

from sluicegate.domain.models import CATEGORIES, END_USES, KINDS, Transaction
from sluicegate.regimes.catalogue import catalogue, suggest_chip
from sluicegate.regimes.countries import countries

# Flat columns of the batch format (contract §3: consignee.headquarters -> consignee_headquarters).
STRING_COLUMNS = [
    "id", "date", "kind", "origin", "destination", "chip", "category",
    "consignee_id", "consignee_name", "consignee_country", "consignee_headquarters",
    "consignee_ultimate_parent_headquarters", "consignee_authorizations", "end_use",
]
FLOAT_COLUMNS = [
    "tpp", "die_area_mm2", "performance_density", "interconnect_gbs", "memory_bandwidth_gbs",
    "hbm_bandwidth_density", "training_ops", "most_capable_published_ops",
]
INT_COLUMNS = ["quantity", "chips_per_unit"]
BOOL_COLUMNS = [
    "datacenter", "published", "approved_designer", "consignee_government_end_user",
    "consignee_private_sector", "consignee_storage_meets_supp10", "via_distributor",
]
ALL_COLUMNS = STRING_COLUMNS + FLOAT_COLUMNS + INT_COLUMNS + BOOL_COLUMNS
# accepted spellings of flat column names -> canonical
ALIASES = {f"item_{c}": c for c in ["chip", "category", *FLOAT_COLUMNS, "chips_per_unit",
                                    "datacenter", "published", "approved_designer"]}
ALIASES.update({"consignee_government": "consignee_government_end_user"})

# What a column means when the contract's nested JSON is flattened (for error messages).
JSON_FIELD = {c: c for c in ALL_COLUMNS}
JSON_FIELD.update({c: f"item.{c}" for c in ["chip", "category", *FLOAT_COLUMNS, "chips_per_unit",
                                          "datacenter", "published", "approved_designer"]})
JSON_FIELD.update({
    c: "consignee." + c.removeprefix("consignee_")
    for c in ALL_COLUMNS if c.startswith("consignee_")
})

KIND_CODE = {k: i for i, k in enumerate(KINDS)}
CATEGORY_CODE = {k: i for i, k in enumerate(CATEGORIES)}
END_USE_CODE = {k: i for i, k in enumerate(END_USES)}


@dataclass
class Batch:
    """Columns for the evaluator. Country columns are indices into the country registry."""

    n: int
    ids: list[Any]
    valid: np.ndarray  # bool
    error_field: list[str | None]
    error_message: list[str | None]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    assumptions: dict[str, np.ndarray] = field(default_factory=dict)  # name -> bool per row

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(
            n=len(rows),
            ids=[self.ids[i] for i in rows],
            valid=self.valid[rows],
            error_field=[self.error_field[i] for i in rows],
            error_message=[self.error_message[i] for i in rows],
            columns={k: v[rows] for k, v in self.columns.items()},
            assumptions={k: v[rows] for k, v in self.assumptions.items()},
        )


def flatten_record(txn: Transaction) -> dict[str, Any]:
    item, cons = txn.item, txn.consignee
    return {
        "id": None if txn.id is None else str(txn.id),
        "date": txn.date.isoformat(),
        "kind": txn.kind,
        "origin": txn.origin,
        "destination": txn.destination,
        "chip": item.chip,
        "category": item.category,
        "tpp": item.tpp,
        "die_area_mm2": item.die_area_mm2,
        "performance_density": item.performance_density,
        "interconnect_gbs": item.interconnect_gbs,
        "memory_bandwidth_gbs": item.memory_bandwidth_gbs,
        "hbm_bandwidth_density": item.hbm_bandwidth_density,
        "training_ops": item.training_ops,
        "most_capable_published_ops": item.most_capable_published_ops,
        "quantity": txn.quantity,
        "chips_per_unit": item.chips_per_unit,
        "datacenter": item.datacenter,
        "published": item.published,
        "approved_designer": item.approved_designer,
        "consignee_id": cons.id,
        "consignee_name": cons.name,
        "consignee_country": cons.country,
        "consignee_headquarters": cons.headquarters,
        "consignee_ultimate_parent_headquarters": cons.ultimate_parent_headquarters,
        "consignee_authorizations": ",".join(cons.authorizations),
        "consignee_government_end_user": cons.government_end_user,
        "consignee_private_sector": cons.private_sector,
        "consignee_storage_meets_supp10": cons.storage_meets_supp10,
        "end_use": txn.end_use,
        "via_distributor": txn.via_distributor,
    }


def _pydantic_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int) or True]
    path = ".".join(loc) or "record"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not in the transaction contract)"
    elif err["type"] == "missing":
        msg = "is required"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return path, msg


def records_to_frame(records: list[Any]) -> tuple[pl.DataFrame, list[Any], list[tuple[str, str] | None]]:
    """Shape-check JSON records; return a flat frame (one row per record) and shape errors."""
    rows: list[dict[str, Any]] = []
    ids: list[Any] = []
    errors: list[tuple[str, str] | None] = []
    empty = dict.fromkeys(ALL_COLUMNS)
    for rec in records:
        rid = rec.get("id") if isinstance(rec, dict) else None
        if isinstance(rec, _ParseFailure):
            ids.append(None)
            errors.append(("record", rec.message))
            rows.append(empty)
            continue
        if not isinstance(rec, dict):
            ids.append(None)
            errors.append(("record", f"expected a JSON object, got {type(rec).__name__}"))
            rows.append(empty)
            continue
        ids.append(rid)
        try:
            txn = Transaction.model_validate(rec)
        except ValidationError as exc:
            errors.append(_pydantic_error(exc))
            rows.append(empty)
            continue
        errors.append(None)
        rows.append(flatten_record(txn))
    frame = pl.DataFrame(rows, schema=FLAT_SCHEMA, orient="row") if rows else pl.DataFrame(schema=FLAT_SCHEMA)
    return frame, ids, errors


FLAT_SCHEMA: dict[str, Any] = {
    **{c: pl.Utf8 for c in STRING_COLUMNS},
    **{c: pl.Float64 for c in FLOAT_COLUMNS},
    **{c: pl.Int64 for c in INT_COLUMNS},
    **{c: pl.Boolean for c in BOOL_COLUMNS},
}
FLAT_SCHEMA = {c: FLAT_SCHEMA[c] for c in ALL_COLUMNS}


class _ParseFailure:
    """A JSON Lines line that did not parse; kept so it still yields one output line."""

    def __init__(self, message: str) -> None:
        self.message = message


def parse_json_lines(text_lines: list[str]) -> list[Any]:
    out: list[Any] = []
    for number, line in enumerate(text_lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            out.append(_ParseFailure(f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}"))
    return out


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def normalise_frame(df: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple[str, str] | None]]:
    """Bring a user's CSV/Parquet table to the flat schema, with per-row type errors."""
    renamed = {c: ALIASES.get(c.strip().lower().replace(".", "_"), c.strip().lower().replace(".", "_"))
               for c in df.columns}
    df = df.rename(renamed)
    unknown = [c for c in df.columns if c not in FLAT_SCHEMA]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; expected some of: {', '.join(ALL_COLUMNS)}"
        )
    missing_required = [c for c in ("date", "destination") if c not in df.columns]
    if missing_required:
        raise ValueError(f"missing required column(s): {', '.join(missing_required)}")
    n = df.height
    errors: list[tuple[str, str] | None] = [None] * n
    exprs = []
    checks: list[tuple[str, pl.Expr, str]] = []
    for col, dtype in FLAT_SCHEMA.items():
        if col not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(col))
            continue
        src = pl.col(col)
        current = df.schema[col]
        if dtype == pl.Utf8:
            exprs.append(src.cast(pl.Utf8).str.strip_chars().replace("", None).alias(col))
        elif dtype == pl.Boolean:
            if current == pl.Boolean:
                exprs.append(src.alias(col))
            else:
                text = src.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
                exprs.append(
                    pl.when(text.is_in(list(_TRUE))).then(True)
                    .when(text.is_in(list(_FALSE - {""}))).then(False)
                    .otherwise(None).alias(col)
                )
                bad = text.is_not_null() & ~text.is_in(list(_TRUE | _FALSE))
                checks.append((col, bad, "is not true/false"))
        else:
            if current in (pl.Utf8, pl.String):
                text = src.str.strip_chars().replace("", None)
                cast = text.cast(dtype, strict=False)
                if dtype == pl.Int64:
                    cast = text.cast(pl.Float64, strict=False)
                    bad_int = cast.is_not_null() & (cast != cast.round(0))
                    checks.append((col, bad_int, "must be a whole number"))
                    cast = cast.cast(pl.Int64, strict=False)
                checks.append((col, text.is_not_null() & cast.is_null(), "is not a number"))
                exprs.append(cast.alias(col))
            else:
                cast = src.cast(dtype, strict=False)
                if dtype == pl.Int64 and current.is_float():
                    checks.append((col, src.is_not_null() & (src != src.round(0)), "must be a whole number"))
                exprs.append(cast.alias(col))
    if checks:
        flags = df.select([c[1].fill_null(False).alias(f"__bad{i}") for i, c in enumerate(checks)])
        for i, (col, _, msg) in enumerate(checks):
            for row in np.flatnonzero(flags[f"__bad{i}"].to_numpy()):
                if errors[row] is None:
                    value = df[col][int(row)]
                    errors[row] = (JSON_FIELD[col], f"{value!r} {msg}")
    out = df.select(exprs)
    return out, errors


def prepare(
    df: pl.DataFrame,
    ids: list[Any],
    shape_errors: list[tuple[str, str] | None],
    *,
    explicit_regime: bool,
    first_date: dt.date,
) -> Batch:
    """Check facts against the law as data and build the evaluator's columns."""
    n = df.height
    reg = countries()
    cat = catalogue()
    err_field: list[str | None] = [e[0] if e else None for e in shape_errors]
    err_msg: list[str | None] = [e[1] if e else None for e in shape_errors]

    def fail(rows: np.ndarray, fieldname: str, message_for: Any) -> None:
        for r in rows:
            r = int(r)
            if err_field[r] is None:
                err_field[r] = fieldname
                err_msg[r] = message_for(r)

    # dates
    date_text = df["date"]
    dates = date_text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    date_np = dates.to_numpy().astype("datetime64[D]")
    bad = np.flatnonzero(dates.is_null().to_numpy() & date_text.is_not_null().to_numpy())
    fail(bad, "date", lambda r: f"{date_text[r]!r} is not a date in YYYY-MM-DD form")
    fail(np.flatnonzero(date_text.is_null().to_numpy()), "date", lambda r: "is required")
    if not explicit_regime:
        early = np.flatnonzero(~np.isnat(date_np) & (date_np < np.datetime64(first_date, "D")))
        fail(early, "date", lambda r: (
            f"{date_text[r]} is before the first advanced-computing regime in sluicegate "
            f"(us-2022-10-07, effective {first_date}); no 3A090/4A090 controls existed then. "
            "Pass --regime ID to evaluate it under a later regime as a what-if"))

    # countries: destination required; others default per contract §1
    def country_col(name: str, default: np.ndarray | None) -> np.ndarray:
        col = df[name]
        upper = col.str.to_uppercase()
        idx = upper.replace_strict(reg.index, default=-1, return_dtype=pl.Int32).to_numpy()
        present = upper.is_not_null().to_numpy()
        bad_rows = np.flatnonzero(present & (idx < 0))
        fail(bad_rows, JSON_FIELD[name], lambda r: (
            f"{col[r]!r} is not an ISO 3166-1 alpha-2 code ({reg.suggest(str(col[r]))})"))
        if default is not None:
            idx = np.where(present & (idx >= 0), idx, default)
        return idx.astype(np.int32)

    dest = country_col("destination", None)
    fail(np.flatnonzero(df["destination"].is_null().to_numpy()), "destination", lambda r: "is required")
    origin = country_col("origin", np.full(n, reg.index["US"], dtype=np.int32))
    loc = country_col("consignee_country", dest)
    hq = country_col("consignee_headquarters", loc)
    uphq = country_col("consignee_ultimate_parent_headquarters", hq)

    # vocabularies
    def vocab(name: str, codes: dict[str, int], default: str) -> np.ndarray:
        col = df[name].str.to_lowercase()
        idx = col.replace_strict(codes, default=-1, return_dtype=pl.Int32).to_numpy()
        present = col.is_not_null().to_numpy()
        fail(np.flatnonzero(present & (idx < 0)), JSON_FIELD[name], lambda r: (
            f"{df[name][r]!r} is not one of {', '.join(codes)}"))
        return np.where(present & (idx >= 0), idx, codes[default]).astype(np.int8)

    kind = vocab("kind", KIND_CODE, "export")
    end_use = vocab("end_use", END_USE_CODE, "other")
    category_given = df["category"].str.to_lowercase()
    category_idx = category_given.replace_strict(CATEGORY_CODE, default=-1, return_dtype=pl.Int32).to_numpy()
    fail(np.flatnonzero(category_given.is_not_null().to_numpy() & (category_idx < 0)), "item.category",
         lambda r: f"{df['category'][r]!r} is not one of {', '.join(CATEGORY_CODE)}")

    # catalogue chips
    chip_ids = list(cat)
    chip_index = {cid: i for i, cid in enumerate(chip_ids)}
    chip_col = df["chip"].str.to_lowercase()
    chip_idx = chip_col.replace_strict(chip_index, default=-1, return_dtype=pl.Int32).to_numpy()
    chip_present = chip_col.is_not_null().to_numpy()

    def chip_msg(r: int) -> str:
        close = suggest_chip(str(chip_col[r]))
        hint = f"; did you mean {', '.join(close)}?" if close else "; `sluice chips list` shows them"
        return f"{df['chip'][r]!r} is not in the accelerator catalogue{hint}"

    fail(np.flatnonzero(chip_present & (chip_idx < 0)), "item.chip", chip_msg)

    def cat_array(key: str, dtype: Any, missing: Any) -> np.ndarray:
        values = np.array([missing if cat[c].get(key) is None else cat[c].get(key) for c in chip_ids]
                          + [missing], dtype=dtype)
        return values[np.where(chip_idx >= 0, chip_idx, len(chip_ids))]

    def num(name: str) -> np.ndarray:
        return df[name].cast(pl.Float64).to_numpy().astype(np.float64)

    def merge(name: str, cat_key: str) -> np.ndarray:
        given = num(name)
        return np.where(np.isnan(given), cat_array(cat_key, np.float64, np.nan), given)

    tpp = merge("tpp", "tpp")
    die = merge("die_area_mm2", "die_area_mm2")
    pd_given = num("performance_density")
    pd_cat = cat_array("performance_density", np.float64, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pd_derived = np.where((die > 0) & ~np.isnan(tpp), tpp / die, np.nan)
    tpp_overridden = ~np.isnan(num("tpp"))
    pd = np.where(~np.isnan(pd_given), pd_given,
                  np.where(tpp_overridden | np.isnan(pd_cat), np.round(pd_derived, 2), pd_cat))
    interconnect = merge("interconnect_gbs", "interconnect_gbs")
    mem_bw = merge("memory_bandwidth_gbs", "memory_bandwidth_gbs")
    hbm_density = merge("hbm_bandwidth_density", "hbm_bandwidth_density")
    training_ops = num("training_ops")
    frontier_override = num("most_capable_published_ops")

    def boolean(name: str) -> tuple[np.ndarray, np.ndarray]:
        col = df[name]
        known = col.is_not_null().to_numpy()
        return col.fill_null(False).to_numpy().astype(bool), known

    dc_given, dc_known = boolean("datacenter")
    dc_cat = cat_array("datacenter", object, None)
    dc_cat_known = np.array([v is not None for v in dc_cat])
    datacenter = np.where(dc_known, dc_given, np.where(dc_cat_known, dc_cat == True, True)).astype(bool)  # noqa: E712
    datacenter_assumed = ~dc_known & ~dc_cat_known
    published, _ = boolean("published")
    approved, approved_known = boolean("approved_designer")
    approved = np.where(approved_known, approved, True)
    government, _ = boolean("consignee_government_end_user")
    private_given, private_known = boolean("consignee_private_sector")
    private_sector = np.where(private_known, private_given, ~government)
    storage_ok, _ = boolean("consignee_storage_meets_supp10")
    via_distributor, _ = boolean("via_distributor")

    # category: explicit > chip (ic) > inferred from parameters
    inferred = np.full(n, CATEGORY_CODE["ic"], dtype=np.int8)
    inferred = np.where(~chip_present & ~np.isnan(training_ops), CATEGORY_CODE["model-weights"], inferred)
    inferred = np.where(~chip_present & np.isnan(training_ops) & ~np.isnan(num("hbm_bandwidth_density")),
                        CATEGORY_CODE["hbm"], inferred)
    category = np.where(category_idx >= 0, category_idx, inferred).astype(np.int8)

    quantity_col = df["quantity"]
    quantity = quantity_col.fill_null(1).to_numpy().astype(np.int64)
    fail(np.flatnonzero(quantity_col.is_not_null().to_numpy() & (quantity < 1)), "quantity",
         lambda r: f"{quantity[r]} is not allowed: quantity must be an integer of at least 1")
    cpu_col = df["chips_per_unit"]
    chips_per_unit = cpu_col.fill_null(1).to_numpy().astype(np.int64)
    fail(np.flatnonzero(cpu_col.is_not_null().to_numpy() & (chips_per_unit < 1)), "item.chips_per_unit",
         lambda r: "must be at least 1")
    is_computer = category == CATEGORY_CODE["computer"]
    fail(np.flatnonzero(is_computer & cpu_col.is_null().to_numpy()), "item.chips_per_unit",
         lambda r: "is required when item.category is 'computer' (accelerators per computer)")
    is_ic_like = (category == CATEGORY_CODE["ic"]) | is_computer
    fail(np.flatnonzero(is_ic_like & np.isnan(tpp)), "item.tpp",
         lambda r: "is required: give item.chip (a catalogue id) or item.tpp")
    is_weights = category == CATEGORY_CODE["model-weights"]
    fail(np.flatnonzero(is_weights & np.isnan(training_ops)), "item.training_ops",
         lambda r: "is required for model weights (operations used to train, fine-tuning included)")
    is_hbm = category == CATEGORY_CODE["hbm"]
    fail(np.flatnonzero(is_hbm & np.isnan(hbm_density)), "item.hbm_bandwidth_density",
         lambda r: "is required for HBM (memory bandwidth in GB/s divided by package or stack area in mm²)")
    for name in ("tpp", "performance_density", "interconnect_gbs", "memory_bandwidth_gbs",
                 "hbm_bandwidth_density", "training_ops", "die_area_mm2"):
        values = num(name)
        fail(np.flatnonzero(values < 0), JSON_FIELD[name], lambda r: "must not be negative")

    # consignee key for quota pools
    cid = df["consignee_id"].fill_null(df["consignee_name"])
    unidentified = cid.is_null().to_numpy()
    dest_codes = np.array(reg.codes, dtype=object)[np.maximum(dest, 0)]
    cid_np = cid.to_numpy().astype(object)
    cid_np = np.where(unidentified, "unidentified@" + dest_codes.astype(str), cid_np)

    auths = df["consignee_authorizations"].fill_null("").str.to_uppercase()
    has_uveu = auths.str.contains("UVEU").to_numpy()
    has_nveu = auths.str.contains("NVEU").to_numpy()

    tpp_unit_chip = tpp
    tpp_per_unit = np.where(is_computer, tpp * chips_per_unit, tpp)
    tpp_per_unit = np.where(is_ic_like, tpp_per_unit, np.nan)
    tpp_total = tpp_per_unit * quantity

    valid = np.array([f is None for f in err_field], dtype=bool)
    ids_out = [i if i is not None else (df["id"][k] if df["id"][k] is not None else None)
               for k, i in enumerate(ids)]
    columns = {
        "date": date_np, "year": np.where(np.isnat(date_np), 0,
                                          date_np.astype("datetime64[Y]").astype(np.int64) + 1970),
        "kind": kind, "origin": origin, "dest": dest, "loc": loc, "hq": hq, "uphq": uphq,
        "category": category, "chip_idx": chip_idx.astype(np.int32),
        "tpp": tpp_unit_chip, "pd": pd, "interconnect": interconnect, "mem_bw": mem_bw,
        "hbm_density": hbm_density, "training_ops": training_ops,
        "frontier_override": frontier_override, "published": published,
        "datacenter": datacenter, "approved_designer": approved, "government": government,
        "private_sector": private_sector, "storage_ok": storage_ok,
        "via_distributor": via_distributor, "end_use": end_use, "quantity": quantity,
        "chips_per_unit": chips_per_unit, "tpp_per_unit": tpp_per_unit, "tpp_total": tpp_total,
        "consignee": cid_np, "has_uveu": has_uveu, "has_nveu": has_nveu,
    }
    assumptions = {
        "datacenter_assumed": datacenter_assumed & is_ic_like,
        "pd_unknown": np.isnan(pd) & is_ic_like,
        "interconnect_unknown": np.isnan(interconnect) & is_ic_like,
        "designer_assumed": ~approved_known & is_ic_like,
        "consignee_unidentified": unidentified,
        "mem_bw_unknown": np.isnan(mem_bw) & is_ic_like,
    }
    return Batch(n=n, ids=ids_out, valid=valid, error_field=err_field, error_message=err_msg,
                 columns=columns, assumptions=assumptions)
