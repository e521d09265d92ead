"""Turn transactions (JSON records or a flat CSV/Parquet table) into the evaluator's columns.

Two front ends read the input — :class:`RecordSource` over shape-checked JSON records and
:class:`FrameSource` over a polars table — and offer the same few primitives (look a string up in a
vocabulary, read numbers, booleans, dates). Everything else happens once, in :func:`prepare`: the
contract's defaults, the checks against the law as data (is this a country, a catalogue chip, a
date with a regime) and the error messages. So JSON and batch input get the same checks and the
same errors, and every input record keeps its row and yields exactly one output record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
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
    "id",
    "date",
    "kind",
    "origin",
    "destination",
    "chip",
    "category",
    "consignee_id",
    "consignee_name",
    "consignee_country",
    "consignee_headquarters",
    "consignee_ultimate_parent_headquarters",
    "consignee_authorizations",
    "end_use",
]
FLOAT_COLUMNS = [
    "tpp",
    "die_area_mm2",
    "performance_density",
    "interconnect_gbs",
    "memory_bandwidth_gbs",
    "hbm_bandwidth_density",
    "training_ops",
    "most_capable_published_ops",
]
INT_COLUMNS = ["quantity", "chips_per_unit"]
BOOL_COLUMNS = [
    "datacenter",
    "published",
    "approved_designer",
    "consignee_government_end_user",
    "consignee_private_sector",
    "consignee_storage_meets_supp10",
    "via_distributor",
]
ALL_COLUMNS = STRING_COLUMNS + FLOAT_COLUMNS + INT_COLUMNS + BOOL_COLUMNS
ITEM_FIELDS = [
    "chip",
    "category",
    *FLOAT_COLUMNS,
    "chips_per_unit",
    "datacenter",
    "published",
    "approved_designer",
]
ALIASES = {f"item_{c}": c for c in ITEM_FIELDS}
ALIASES.update({"consignee_government": "consignee_government_end_user"})
UPPER_COLUMNS = {
    "origin",
    "destination",
    "consignee_country",
    "consignee_headquarters",
    "consignee_ultimate_parent_headquarters",
    "consignee_authorizations",
}
LOWER_COLUMNS = {"kind", "chip", "category", "end_use"}

# What a flat column is called in the contract's nested JSON (for error messages).
JSON_FIELD = {c: c for c in ALL_COLUMNS}
JSON_FIELD.update({c: f"item.{c}" for c in ITEM_FIELDS})
JSON_FIELD.update(
    {
        c: "consignee." + c.removeprefix("consignee_")
        for c in ALL_COLUMNS
        if c.startswith("consignee_")
    }
)

KIND_CODE = {k: i for i, k in enumerate(KINDS)}
CATEGORY_CODE = {k: i for i, k in enumerate(CATEGORIES)}
END_USE_CODE = {k: i for i, k in enumerate(END_USES)}

FLAT_SCHEMA: dict[str, Any] = {
    **{c: pl.Utf8 for c in STRING_COLUMNS},
    **{c: pl.Float64 for c in FLOAT_COLUMNS},
    **{c: pl.Int64 for c in INT_COLUMNS},
    **{c: pl.Boolean for c in BOOL_COLUMNS},
}
FLAT_SCHEMA = {c: FLAT_SCHEMA[c] for c in ALL_COLUMNS}


# ---------------------------------------------------------------- the two front ends


class RecordSource:
    """Columns over flattened JSON records (plain Python lists: fast for small calls)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.n = len(rows)
        self.data = {c: [r.get(c) for r in rows] for c in ALL_COLUMNS}

    def present(self, col: str) -> np.ndarray:
        return np.fromiter((v is not None for v in self.data[col]), dtype=bool, count=self.n)

    def lookup(self, col: str, mapping: dict[str, int]) -> np.ndarray:
        return np.fromiter(
            (-1 if v is None else mapping.get(v, -1) for v in self.data[col]),
            dtype=np.int64,
            count=self.n,
        )

    def factorize(self, col: str) -> tuple[np.ndarray, list[str]]:
        seen: dict[str, int] = {}
        codes = np.fromiter(
            (-1 if v is None else seen.setdefault(v, len(seen)) for v in self.data[col]),
            dtype=np.int64,
            count=self.n,
        )
        return codes, list(seen)

    def floats(self, col: str) -> np.ndarray:
        return np.fromiter(
            (np.nan if v is None else v for v in self.data[col]), dtype=np.float64, count=self.n
        )

    def ints(self, col: str, default: int) -> np.ndarray:
        return np.fromiter(
            (default if v is None else v for v in self.data[col]), dtype=np.int64, count=self.n
        )

    def bools(self, col: str) -> np.ndarray:
        return np.fromiter((bool(v) for v in self.data[col]), dtype=bool, count=self.n)

    def dates(self) -> np.ndarray:
        return np.array(
            [np.datetime64(v, "D") if v else np.datetime64("NaT") for v in self.data["date"]],
            dtype="datetime64[D]",
        )

    def contains(self, col: str, needle: str) -> np.ndarray:
        return np.fromiter(
            (v is not None and needle in v for v in self.data[col]), dtype=bool, count=self.n
        )

    def raw(self, col: str, row: int) -> Any:
        return self.data[col][row]


class FrameSource:
    """Columns over a polars table (vectorised: fast for millions of rows).

    String columns are looked up through their distinct values only: each distinct value is
    normalised (trimmed, cased) once, so ten million rows cost little more than the vocabulary.
    """

    def __init__(self, df: pl.DataFrame) -> None:
        self.n = df.height
        self.df = df
        self._cats: dict[str, tuple[np.ndarray, list[str | None]]] = {}
        counts = df.null_count().row(0) if df.width else ()
        self._empty = {c for c, k in zip(df.columns, counts, strict=True) if k == self.n}

    def _categories(self, col: str) -> tuple[np.ndarray, list[str | None]]:
        """Physical code of each row (-1 null) and the normalised distinct values."""
        if col not in self._cats:
            series = self.df[col].cast(pl.Utf8)
            if series.null_count() == self.n:
                values: list[Any] = []
                codes = np.zeros(self.n, dtype=np.int64)
            else:
                values = series.drop_nulls().unique().to_list()
                physical = series.cast(pl.Enum(values)).to_physical()
                codes = physical.fill_null(len(values)).to_numpy().astype(np.int64)
            normalised: list[str | None] = []
            for v in values:
                text = v.strip() if isinstance(v, str) else v
                if text and col in UPPER_COLUMNS:
                    text = text.upper()
                elif text and col in LOWER_COLUMNS:
                    text = text.lower()
                normalised.append(text or None)
            normalised.append(None)  # the null slot
            self._cats[col] = (codes, normalised)
        return self._cats[col]

    def present(self, col: str) -> np.ndarray:
        if col in self._empty:
            return np.zeros(self.n, dtype=bool)
        if self.df.schema[col] != pl.Utf8:
            return self.df[col].is_not_null().to_numpy()
        codes, values = self._categories(col)
        mask = np.array([v is not None for v in values], dtype=bool)
        return mask[codes]

    def lookup(self, col: str, mapping: dict[str, int]) -> np.ndarray:
        codes, values = self._categories(col)
        table = np.array([-1 if v is None else mapping.get(v, -1) for v in values], dtype=np.int64)
        return table[codes]

    def factorize(self, col: str) -> tuple[np.ndarray, list[str]]:
        codes, values = self._categories(col)
        distinct: dict[str, int] = {}
        table = np.array(
            [-1 if v is None else distinct.setdefault(v, len(distinct)) for v in values],
            dtype=np.int64,
        )
        return table[codes], list(distinct)

    def floats(self, col: str) -> np.ndarray:
        if col in self._empty:
            return np.full(self.n, np.nan)
        return self.df[col].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def ints(self, col: str, default: int) -> np.ndarray:
        if col in self._empty:
            return np.full(self.n, default, dtype=np.int64)
        return self.df[col].fill_null(default).to_numpy().astype(np.int64)

    def bools(self, col: str) -> np.ndarray:
        if col in self._empty:
            return np.zeros(self.n, dtype=bool)
        return self.df[col].fill_null(False).to_numpy().astype(bool)

    def dates(self) -> np.ndarray:
        codes, values = self._categories("date")
        parsed = np.array([_parse_date(v) for v in values], dtype="datetime64[D]")
        return parsed[codes]

    def contains(self, col: str, needle: str) -> np.ndarray:
        codes, values = self._categories(col)
        table = np.array([v is not None and needle in v for v in values], dtype=bool)
        return table[codes]

    def raw(self, col: str, row: int) -> Any:
        return self.df[col][row]


def _parse_date(value: str | None) -> np.datetime64:
    if not value:
        return np.datetime64("NaT")
    try:
        return np.datetime64(dt.date.fromisoformat(value), "D")
    except ValueError:
        return np.datetime64("NaT")


Source = RecordSource | FrameSource


# ---------------------------------------------------------------- reading input


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
            out.append(
                _ParseFailure(f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}")
            )
    return out


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
        "consignee_authorizations": ",".join(cons.authorizations) or None,
        "consignee_government_end_user": cons.government_end_user,
        "consignee_private_sector": cons.private_sector,
        "consignee_storage_meets_supp10": cons.storage_meets_supp10,
        "end_use": txn.end_use,
        "via_distributor": txn.via_distributor,
    }


def _pydantic_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"]) or "record"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not in the transaction contract)"
    elif err["type"] == "missing":
        msg = "is required"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif "input" in err:
        shown = repr(err["input"])
        msg = f"{shown if len(shown) < 60 else shown[:57] + '...'}: {msg}"
    return path, msg


def read_records(records: list[Any]) -> tuple[RecordSource, list[Any], dict[int, tuple[str, str]]]:
    """Shape-check JSON records; one row per record, shape errors by row."""
    rows: list[dict[str, Any]] = []
    ids: list[Any] = []
    errors: dict[int, tuple[str, str]] = {}
    for k, rec in enumerate(records):
        if isinstance(rec, _ParseFailure):
            ids.append(None)
            errors[k] = ("record", rec.message)
            rows.append({})
            continue
        if not isinstance(rec, dict):
            ids.append(None)
            errors[k] = ("record", f"expected a JSON object, got {type(rec).__name__}")
            rows.append({})
            continue
        ids.append(rec.get("id"))
        try:
            txn = Transaction.model_validate(rec)
        except ValidationError as exc:
            errors[k] = _pydantic_error(exc)
            rows.append({})
            continue
        rows.append(flatten_record(txn))
    return RecordSource(rows), ids, errors


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def read_frame(df: pl.DataFrame) -> tuple[FrameSource, pl.Series, dict[int, tuple[str, str]]]:
    """Bring a user's CSV/Parquet table to the flat schema, with per-row type errors."""
    renamed = {}
    for c in df.columns:
        key = c.strip().lower().replace(".", "_")
        renamed[c] = ALIASES.get(key, key)
    df = df.rename(renamed)
    unknown = [c for c in df.columns if c not in FLAT_SCHEMA]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; expected some of: {', '.join(ALL_COLUMNS)}"
        )
    missing = [c for c in ("date", "destination") if c not in df.columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)}")
    errors: dict[int, tuple[str, str]] = {}
    exprs = []
    checks: list[tuple[str, pl.Expr, str]] = []
    for col, dtype in FLAT_SCHEMA.items():
        if col not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(col))
            continue
        src = pl.col(col)
        current = df.schema[col]
        if dtype == pl.Utf8:
            exprs.append(src if current == pl.Utf8 else src.cast(pl.Utf8))
        elif dtype == pl.Boolean:
            if current == pl.Boolean:
                exprs.append(src.alias(col))
                continue
            text = src.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
            exprs.append(
                pl.when(text.is_in(list(_TRUE)))
                .then(True)
                .when(text.is_in(list(_FALSE)))
                .then(False)
                .otherwise(None)
                .alias(col)
            )
            checks.append(
                (
                    col,
                    text.is_not_null() & (text != "") & ~text.is_in(list(_TRUE | _FALSE)),
                    "is not true/false",
                )
            )
        elif current in (pl.Utf8, pl.String):
            text = src.str.strip_chars()
            text = pl.when(text == "").then(None).otherwise(text)
            number = text.cast(pl.Float64, strict=False)
            checks.append((col, text.is_not_null() & number.is_null(), "is not a number"))
            if dtype == pl.Int64:
                checks.append(
                    (
                        col,
                        number.is_not_null() & (number != number.round(0)),
                        "must be a whole number",
                    )
                )
            exprs.append(number.cast(dtype, strict=False).alias(col))
        else:
            if dtype == pl.Int64 and current.is_float():
                checks.append(
                    (col, src.is_not_null() & (src != src.round(0)), "must be a whole number")
                )
            exprs.append(src.cast(dtype, strict=False).alias(col))
    if checks:
        flags = df.select([c[1].fill_null(False).alias(f"bad{i}") for i, c in enumerate(checks)])
        for i, (col, _, msg) in enumerate(checks):
            for row in np.flatnonzero(flags[f"bad{i}"].to_numpy()):
                errors.setdefault(int(row), (JSON_FIELD[col], f"{df[col][int(row)]!r} {msg}"))
    out = df.select(exprs)
    return FrameSource(out), out["id"], errors


# ---------------------------------------------------------------- checks and columns


@dataclass
class Batch:
    """Columns for the evaluator. Country columns are indices into the country registry."""

    n: int
    valid: np.ndarray
    errors: dict[int, tuple[str, str]]
    columns: dict[str, np.ndarray]
    assumptions: dict[str, np.ndarray]
    consignees: list[str]  # consignee code -> pool-key name
    ids: Any = None  # list (records) or polars Series (frames)
    id_of: Callable[[int], Any] = field(default=lambda r: None)

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(
            n=len(rows),
            valid=self.valid[rows],
            errors={},
            columns={k: v[rows] for k, v in self.columns.items()},
            assumptions={k: v[rows] for k, v in self.assumptions.items()},
            consignees=self.consignees,
            ids=None,
            id_of=_shifted(self.id_of, rows),
        )


def _shifted(id_of: Callable[[int], Any], rows: np.ndarray) -> Callable[[int], Any]:
    def inner(r: int) -> Any:
        return id_of(int(rows[r]))

    return inner


def prepare(
    src: Source, errors: dict[int, tuple[str, str]], *, explicit_regime: bool, first_date: dt.date
) -> Batch:
    """Apply the contract's defaults and check facts against the law as data."""
    n = src.n
    reg = countries()
    cat = catalogue()

    def fail(rows: np.ndarray, fieldname: str, message_for: Callable[[int], str]) -> None:
        for r in rows:
            r = int(r)
            if r not in errors:
                errors[r] = (fieldname, message_for(r))

    # dates
    date = src.dates()
    given = src.present("date")
    fail(np.flatnonzero(~given), "date", lambda r: "is required")
    fail(
        np.flatnonzero(given & np.isnat(date)),
        "date",
        lambda r: f"{src.raw('date', r)!r} is not a date in YYYY-MM-DD form",
    )
    if not explicit_regime:
        early = np.flatnonzero(~np.isnat(date) & (date < np.datetime64(first_date, "D")))
        fail(
            early,
            "date",
            lambda r: (
                f"{src.raw('date', r)} is before the first advanced-computing regime in sluicegate "
                f"(us-2022-10-07, effective {first_date}); no 3A090/4A090 controls existed then. "
                "Pass --regime ID to evaluate it under a later regime as a what-if"
            ),
        )

    def country(col: str, default: np.ndarray | None) -> np.ndarray:
        idx = src.lookup(col, reg.index)
        present = src.present(col)
        fail(
            np.flatnonzero(present & (idx < 0)),
            JSON_FIELD[col],
            lambda r: (
                f"{src.raw(col, r)!r} is not an ISO 3166-1 alpha-2 code ({reg.suggest(str(src.raw(col, r)))})"
            ),
        )
        if default is not None:
            idx = np.where(present & (idx >= 0), idx, default)
        return np.maximum(idx, 0).astype(np.int32)

    fail(np.flatnonzero(~src.present("destination")), "destination", lambda r: "is required")
    dest = country("destination", None)
    origin = country("origin", np.full(n, reg.index["US"], dtype=np.int32))
    loc = country("consignee_country", dest)
    hq = country("consignee_headquarters", loc)
    uphq = country("consignee_ultimate_parent_headquarters", hq)

    def vocab(col: str, codes: dict[str, int], default: str) -> np.ndarray:
        idx = src.lookup(col, codes)
        present = src.present(col)
        fail(
            np.flatnonzero(present & (idx < 0)),
            JSON_FIELD[col],
            lambda r: f"{src.raw(col, r)!r} is not one of {', '.join(codes)}",
        )
        return np.where(present & (idx >= 0), idx, codes[default]).astype(np.int8)

    kind = vocab("kind", KIND_CODE, "export")
    end_use = vocab("end_use", END_USE_CODE, "other")
    category_idx = src.lookup("category", CATEGORY_CODE)
    fail(
        np.flatnonzero(src.present("category") & (category_idx < 0)),
        "item.category",
        lambda r: f"{src.raw('category', r)!r} is not one of {', '.join(CATEGORY_CODE)}",
    )

    chip_ids = list(cat)
    chip_idx = src.lookup("chip", {cid: i for i, cid in enumerate(chip_ids)})
    chip_present = src.present("chip")

    def chip_msg(r: int) -> str:
        close = suggest_chip(str(src.raw("chip", r)))
        hint = (
            f"; did you mean {', '.join(close)}?" if close else "; `sluice chips list` shows them"
        )
        return f"{src.raw('chip', r)!r} is not in the accelerator catalogue{hint}"

    fail(np.flatnonzero(chip_present & (chip_idx < 0)), "item.chip", chip_msg)
    table = _catalogue_table(tuple(chip_ids))
    pick = np.where(chip_idx >= 0, chip_idx, len(chip_ids))

    def merge(col: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        given_values = src.floats(col)
        return np.where(np.isnan(given_values), table[key][pick], given_values), given_values

    tpp, tpp_given = merge("tpp", "tpp")
    die, _ = merge("die_area_mm2", "die_area_mm2")
    pd_given = src.floats("performance_density")
    with np.errstate(divide="ignore", invalid="ignore"):
        pd_derived = np.round(np.where(die > 0, tpp / die, np.nan), 2)
    pd_cat = table["performance_density"][pick]
    pd = np.where(
        ~np.isnan(pd_given),
        pd_given,
        np.where(~np.isnan(tpp_given) | np.isnan(pd_cat), pd_derived, pd_cat),
    )
    interconnect, _ = merge("interconnect_gbs", "interconnect_gbs")
    mem_bw, _ = merge("memory_bandwidth_gbs", "memory_bandwidth_gbs")
    hbm_density, hbm_given = merge("hbm_bandwidth_density", "hbm_bandwidth_density")
    training_ops = src.floats("training_ops")

    dc_known = src.present("datacenter")
    dc_cat_known = table["datacenter_known"][pick]
    datacenter = np.where(
        dc_known, src.bools("datacenter"), np.where(dc_cat_known, table["datacenter"][pick], True)
    )
    approved_known = src.present("approved_designer")
    approved = np.where(approved_known, src.bools("approved_designer"), True)
    government = src.bools("consignee_government_end_user")
    private_sector = np.where(
        src.present("consignee_private_sector"), src.bools("consignee_private_sector"), ~government
    )

    inferred = np.full(n, CATEGORY_CODE["ic"], dtype=np.int8)
    inferred[~chip_present & ~np.isnan(training_ops)] = CATEGORY_CODE["model-weights"]
    inferred[~chip_present & np.isnan(training_ops) & ~np.isnan(hbm_given)] = CATEGORY_CODE["hbm"]
    category = np.where(category_idx >= 0, category_idx, inferred).astype(np.int8)

    quantity = src.ints("quantity", 1)
    fail(
        np.flatnonzero(quantity < 1),
        "quantity",
        lambda r: f"{quantity[r]} is not allowed: quantity must be an integer of at least 1",
    )
    chips_per_unit = src.ints("chips_per_unit", 1)
    fail(np.flatnonzero(chips_per_unit < 1), "item.chips_per_unit", lambda r: "must be at least 1")
    is_computer = category == CATEGORY_CODE["computer"]
    fail(
        np.flatnonzero(is_computer & ~src.present("chips_per_unit")),
        "item.chips_per_unit",
        lambda r: "is required when item.category is 'computer' (accelerators per computer)",
    )
    is_ic_like = (category == CATEGORY_CODE["ic"]) | is_computer
    fail(
        np.flatnonzero(is_ic_like & np.isnan(tpp)),
        "item.tpp",
        lambda r: "is required: give item.chip (a catalogue id) or item.tpp",
    )
    fail(
        np.flatnonzero((category == CATEGORY_CODE["model-weights"]) & np.isnan(training_ops)),
        "item.training_ops",
        lambda r: "is required for model weights (operations used to train, fine-tuning included)",
    )
    fail(
        np.flatnonzero((category == CATEGORY_CODE["hbm"]) & np.isnan(hbm_density)),
        "item.hbm_bandwidth_density",
        lambda r: "is required for HBM (bandwidth in GB/s divided by package or stack area in mm²)",
    )
    for col in (
        "tpp",
        "performance_density",
        "interconnect_gbs",
        "memory_bandwidth_gbs",
        "hbm_bandwidth_density",
        "training_ops",
        "die_area_mm2",
    ):
        fail(np.flatnonzero(src.floats(col) < 0), JSON_FIELD[col], lambda r: "must not be negative")

    # the consignee named in quota pools: id, else name, else 'unidentified@<destination>'
    by_id, id_names = src.factorize("consignee_id")
    by_name, names = src.factorize("consignee_name")
    consignees = [*id_names, *names, *(f"unidentified@{c}" for c in reg.codes)]
    consignee = np.where(
        by_id >= 0,
        by_id,
        np.where(by_name >= 0, len(id_names) + by_name, len(id_names) + len(names) + dest),
    ).astype(np.int64)

    tpp_per_unit = np.where(is_ic_like, np.where(is_computer, tpp * chips_per_unit, tpp), np.nan)
    valid = np.ones(n, dtype=bool)
    if errors:
        valid[list(errors)] = False
    columns = {
        "date": date,
        "year": np.where(np.isnat(date), 0, date.astype("datetime64[Y]").astype(np.int64) + 1970),
        "kind": kind,
        "origin": origin,
        "dest": dest,
        "loc": loc,
        "hq": hq,
        "uphq": uphq,
        "category": category,
        "tpp": tpp,
        "pd": pd,
        "interconnect": interconnect,
        "mem_bw": mem_bw,
        "hbm_density": hbm_density,
        "training_ops": training_ops,
        "frontier_override": src.floats("most_capable_published_ops"),
        "published": src.bools("published"),
        "datacenter": datacenter.astype(bool),
        "approved_designer": approved.astype(bool),
        "government": government,
        "private_sector": private_sector.astype(bool),
        "storage_ok": src.bools("consignee_storage_meets_supp10"),
        "via_distributor": src.bools("via_distributor"),
        "end_use": end_use,
        "quantity": quantity,
        "chips_per_unit": chips_per_unit,
        "tpp_per_unit": tpp_per_unit,
        "tpp_total": tpp_per_unit * quantity,
        "consignee": consignee,
        "has_uveu": src.contains("consignee_authorizations", "UVEU"),
        "has_nveu": src.contains("consignee_authorizations", "NVEU"),
    }
    assumptions = {
        "datacenter_assumed": ~dc_known & ~dc_cat_known & is_ic_like,
        "pd_unknown": np.isnan(pd) & is_ic_like,
        "interconnect_unknown": np.isnan(interconnect) & is_ic_like,
        "designer_assumed": ~approved_known & is_ic_like,
        "consignee_unidentified": (by_id < 0) & (by_name < 0),
        "mem_bw_unknown": np.isnan(mem_bw) & is_ic_like,
    }
    return Batch(
        n=n,
        valid=valid,
        errors=errors,
        columns=columns,
        assumptions=assumptions,
        consignees=consignees,
    )


_TABLES: dict[tuple[str, ...], dict[str, np.ndarray]] = {}


def _catalogue_table(ids: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Catalogue figures as arrays (last slot = 'no chip'), built once."""
    if ids not in _TABLES:
        cat = catalogue()

        def floats(key: str) -> np.ndarray:
            return np.array(
                [np.nan if cat[c].get(key) is None else float(cat[c][key]) for c in ids] + [np.nan]
            )

        _TABLES[ids] = {
            **{
                k: floats(k)
                for k in (
                    "tpp",
                    "die_area_mm2",
                    "performance_density",
                    "interconnect_gbs",
                    "memory_bandwidth_gbs",
                    "hbm_bandwidth_density",
                )
            },
            "datacenter": np.array([bool(cat[c].get("datacenter")) for c in ids] + [True]),
            "datacenter_known": np.array(
                [cat[c].get("datacenter") is not None for c in ids] + [False]
            ),
        }
    return _TABLES[ids]
