"""Load regime vintages and reforms, resolve ``extends``, hash them, and select one "as of" a date.

Selection follows contract §4: by default, the latest regime whose obligations are binding on the
date (compliance date reached, not ended). The AI Diffusion rule was never binding, so it is only
chosen explicitly. A regime's binding interval ends where the next binding regime's begins, so
every date from the first regime on selects exactly one.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sluicegate.regimes.countries import DATA
from sluicegate.regimes.errors import RegimeDataError, UnknownRegimeError
from sluicegate.regimes.model import Provision, ReformFile, Regime

REGIME_DIR = DATA / "regimes"


def canonical_json(obj: Any) -> str:
    """Stable JSON used for every content hash (sorted keys, no whitespace, ISO dates)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def sha256_of(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def _format_validation(file: str, exc: ValidationError) -> RegimeDataError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return RegimeDataError(file, key, f"{first['msg']}{more}")


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_raw(path: Any, name: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegimeDataError(name, "", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RegimeDataError(name, "", "expected a mapping at the top level")
    return raw


@cache
def _raw_regimes() -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(REGIME_DIR.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yaml"):
            continue
        raw = _read_raw(path, path.name)
        rid = raw.get("id")
        if not isinstance(rid, str):
            raise RegimeDataError(path.name, "id", "missing")
        if rid in out:
            raise RegimeDataError(path.name, "id", f"{rid!r} also defined in {out[rid][0]}")
        if path.name != f"{rid}.yaml":
            raise RegimeDataError(path.name, "id", f"file name should be {rid}.yaml")
        out[rid] = (path.name, raw)
    return out


def _resolve(rid: str, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    raws = _raw_regimes()
    if rid in seen:
        raise RegimeDataError(raws[rid][0], "extends", f"cycle: {' -> '.join((*seen, rid))}")
    file, raw = raws[rid]
    parent = raw.get("extends")
    if parent is None:
        return copy.deepcopy(raw), [file]
    if parent not in raws:
        raise RegimeDataError(file, "extends", f"unknown regime {parent!r}")
    base, files = _resolve(parent, (*seen, rid))
    # dates, status and notes belong to the child alone; provisions are patched
    merged = {k: v for k, v in base.items() if k == "provisions"}
    merged = _deep_merge(merged, {k: v for k, v in raw.items() if k != "provisions"})
    merged["provisions"] = _deep_merge(base.get("provisions") or {}, raw.get("provisions") or {})
    return merged, [*files, file]


@cache
def _series(name: str) -> tuple[tuple[dt.date, float], ...]:
    path = DATA / f"{name}.yaml"
    if not path.is_file():
        raise RegimeDataError(f"{name}.yaml", "", "dated series file not found")
    raw = _read_raw(path, f"{name}.yaml")
    steps = raw.get("steps") or raw.get("series") or []
    out = []
    for k, step in enumerate(steps):
        try:
            date = dt.date.fromisoformat(str(step["date"]))
            value = float(step.get("training_ops", step.get("value")))
        except (KeyError, TypeError, ValueError) as exc:
            raise RegimeDataError(
                f"{name}.yaml", f"steps[{k}]", f"needs date and value: {exc}"
            ) from exc
        out.append((date, value))
    return tuple(sorted(out))


def series_value(name: str, date: dt.date) -> float:
    """The value of a dated series on ``date`` (0 before its first step)."""
    value = 0.0
    for start, v in _series(name):
        if start <= date:
            value = v
    return value


def series_steps(name: str) -> tuple[tuple[dt.date, float], ...]:
    return _series(name)


def check_country_lists(regime: Regime, file: str) -> None:
    """Parameters naming destinations must hold ISO codes (YAML reads an unquoted NO as false)."""
    from sluicegate.regimes.countries import countries

    reg = countries()
    for pid, prov in regime.provisions.items():
        for name, par in prov.parameters.items():
            if not (name.endswith("destinations") or name == "origin" or name.endswith("_b")):
                continue
            values = par.value if isinstance(par.value, list) else [par.value]
            for k, code in enumerate(values):
                if not isinstance(code, str) or not reg.is_code(code):
                    raise RegimeDataError(
                        file,
                        f"provisions.{pid}.parameters.{name}.value[{k}]",
                        f"{code!r} is not an ISO 3166-1 alpha-2 code (quote codes "
                        "in YAML: 'NO' unquoted reads as false)",
                    )


def _finish(raw: dict[str, Any], files: list[str]) -> Regime:
    body = {k: v for k, v in raw.items() if k != "extends"}
    try:
        regime = Regime.model_validate(body)
    except ValidationError as exc:
        raise _format_validation(" <- ".join(reversed(files)), exc) from exc
    check_country_lists(regime, " <- ".join(reversed(files)))
    regime.extends = raw.get("extends")
    regime.source_files = files
    regime.content_hash = sha256_of(
        regime.model_dump(mode="json", exclude={"content_hash", "source_files"})
    )
    return regime


@cache
def regimes() -> dict[str, Regime]:
    """Every shipped regime vintage, resolved, by id, in effective-date order."""
    out = {}
    for rid in _raw_regimes():
        raw, files = _resolve(rid)
        out[rid] = _finish(raw, files)
    ordered = sorted(out.values(), key=lambda r: (r.effective, r.id))
    binding = [r for r in ordered if r.binding]
    for current, nxt in itertools.pairwise(binding):
        if current.end is None:
            current.end = nxt.compliance
    return {r.id: r for r in ordered}


def regime_ids() -> list[str]:
    return list(regimes())


def get_regime(regime_id: str) -> Regime:
    table = regimes()
    if regime_id not in table:
        raise UnknownRegimeError(regime_id, list(table))
    return table[regime_id]


def first_binding_date() -> dt.date:
    return min(r.compliance for r in regimes().values() if r.binding)


def binding_regime_on(date: dt.date) -> Regime | None:
    """The regime whose obligations are binding on ``date`` (None before the first one)."""
    chosen = None
    for regime in regimes().values():
        if not regime.binding:
            continue
        if regime.compliance <= date and (regime.end is None or date < regime.end):
            if chosen is not None:
                raise RuntimeError(
                    f"overlapping binding regimes on {date}: {chosen.id}, {regime.id}"
                )
            chosen = regime
    return chosen


def binding_intervals() -> list[tuple[dt.date, dt.date | None, str]]:
    return [(r.compliance, r.end, r.id) for r in regimes().values() if r.binding]


def status_for(regime: Regime, date: dt.date) -> str:
    """Contract status of ``regime`` used for a transaction dated ``date``."""
    if regime.reform_of is not None or not regime.binding:
        return "what-if"
    current = binding_regime_on(date)
    if current is not None and current.id == regime.id:
        return "in-force"
    if regime.end is not None and date >= regime.end:
        return "superseded"
    return "what-if"


# ---------------------------------------------------------------- reforms


REFORM_DIR = DATA / "reforms"


def shipped_reforms() -> list[str]:
    """Names of the example reforms shipped with sluicegate (usable as --reform NAME)."""
    return sorted(p.name[:-5] for p in REFORM_DIR.iterdir() if p.name.endswith(".yaml"))


def load_reform(path: str | Path) -> Regime:
    """Apply a reform file (or a shipped reform by name) to its base regime. Its id carries a
    hash of its content."""
    name = str(path)
    shipped = REFORM_DIR / f"{name}.yaml"
    if not Path(name).is_file() and shipped.is_file():
        raw = _read_raw(shipped, f"reforms/{name}.yaml")
        try:
            return apply_reform(ReformFile.model_validate(raw), f"reforms/{name}.yaml")
        except ValidationError as exc:
            raise _format_validation(name, exc) from exc
    path = Path(path)
    if not path.is_file():
        hint = f"; shipped reforms: {', '.join(shipped_reforms())}"
        raise RegimeDataError(name, "", "reform file not found" + hint)
    raw = _read_raw(path, name)
    try:
        reform = ReformFile.model_validate(raw)
    except ValidationError as exc:
        raise _format_validation(name, exc) from exc
    return apply_reform(reform, name)


def apply_reform(reform: ReformFile, name: str = "<reform>") -> Regime:
    base = get_regime(reform.base) if reform.base in regimes() else None
    if base is None:
        raise RegimeDataError(name, "base", str(UnknownRegimeError(reform.base, regime_ids())))
    body = base.model_dump(mode="python")
    provisions = body["provisions"]
    for pid in reform.disable_provisions:
        if pid not in provisions:
            raise RegimeDataError(
                name, f"disable_provisions.{pid}", f"no provision {pid!r} in {base.id}"
            )
        del provisions[pid]
    for pid, prov in reform.enable_provisions.items():
        provisions[pid] = Provision.model_validate(prov).model_dump(mode="python")
    for dotted, value in reform.parameters.items():
        pid, pname = _split(name, "parameters", dotted)
        if pid not in provisions or pname not in provisions[pid]["parameters"]:
            raise RegimeDataError(
                name, f"parameters.{dotted}", f"no parameter {dotted!r} in {base.id}"
            )
        target = provisions[pid]["parameters"][pname]
        if isinstance(value, dict) and value and set(value) <= {"value", "operator"}:
            # a reform may also change how the threshold compares, e.g. {value: 1e25, operator: ">"}
            if "operator" in value:
                if value["operator"] not in (">=", ">", "<=", "<"):
                    raise RegimeDataError(
                        name,
                        f"parameters.{dotted}.operator",
                        f"{value['operator']!r} is not one of >=, >, <=, <",
                    )
                target["operator"] = value["operator"]
            if "value" in value:
                target["value"] = value["value"]
                target["series"] = None
        else:
            target["value"] = value
            target["series"] = None
    for dotted, patch in reform.lists.items():
        pid, pname = _split(name, "lists", dotted)
        if pid not in provisions or pname not in provisions[pid]["parameters"]:
            raise RegimeDataError(name, f"lists.{dotted}", f"no parameter {dotted!r} in {base.id}")
        current = provisions[pid]["parameters"][pname]["value"]
        if not isinstance(current, list):
            raise RegimeDataError(name, f"lists.{dotted}", "is not a list parameter")
        missing = [v for v in patch.remove if v not in current]
        if missing:
            raise RegimeDataError(name, f"lists.{dotted}.remove", f"{missing} not in the list")
        provisions[pid]["parameters"][pname]["value"] = [
            *[v for v in current if v not in patch.remove],
            *[v for v in patch.add if v not in current],
        ]
    reform_hash = sha256_of(reform.model_dump(mode="json"))
    body.update(
        id=f"reform-{reform.id}-{reform_hash[:12]}",
        title=reform.title,
        short_title=f"what-if: {reform.title}",
        notes=reform.description or body.get("notes", ""),
        binding=False,
        reform_of=base.id,
        reform_hash=reform_hash,
        source_files=[*base.source_files, name],
    )
    try:
        regime = Regime.model_validate(body)
    except ValidationError as exc:
        raise _format_validation(name, exc) from exc
    check_country_lists(regime, name)
    regime.content_hash = sha256_of(
        regime.model_dump(mode="json", exclude={"content_hash", "source_files"})
    )
    return regime


def _split(name: str, section: str, dotted: str) -> tuple[str, str]:
    if "." not in dotted:
        raise RegimeDataError(name, f"{section}.{dotted}", "write it as provision.parameter")
    pid, pname = dotted.split(".", 1)
    return pid, pname


def resolve_regime(ref: str | Path) -> Regime:
    """A regime id, or a path to a reform file."""
    text = str(ref)
    if text in regimes():
        return regimes()[text]
    if text.endswith((".yaml", ".yml")) or Path(text).is_file() or text in shipped_reforms():
        return load_reform(text)
    raise UnknownRegimeError(text, regime_ids())


# ---------------------------------------------------------------- diff


def diff_regimes(a: Regime, b: Regime) -> dict[str, Any]:
    """What changed from ``a`` to ``b``: dates, provisions added/removed, parameters changed."""
    out: dict[str, Any] = {
        "from": a.id,
        "to": b.id,
        "dates": {},
        "provisions_added": [],
        "provisions_removed": [],
        "parameters_changed": [],
    }
    for field in ("published", "effective", "compliance", "end", "binding"):
        va, vb = getattr(a, field), getattr(b, field)
        if va != vb:
            out["dates"][field] = {
                "from": str(va) if va is not None else None,
                "to": str(vb) if vb is not None else None,
            }
    out["provisions_added"] = sorted(set(b.provisions) - set(a.provisions))
    out["provisions_removed"] = sorted(set(a.provisions) - set(b.provisions))
    for pid in sorted(set(a.provisions) & set(b.provisions)):
        pa, pb = a.provisions[pid].parameters, b.provisions[pid].parameters
        for name in sorted(set(pa) | set(pb)):
            va = pa[name].value if name in pa else None
            vb = pb[name].value if name in pb else None
            if va != vb or (name in pa) != (name in pb):
                row: dict[str, Any] = {
                    "parameter": f"{pid}.{name}",
                    "from": va,
                    "to": vb,
                    "cite": (pb.get(name) or pa[name]).cite,
                }
                if isinstance(va, list) and isinstance(vb, list):
                    row["added"] = [v for v in vb if v not in va]
                    row["removed"] = [v for v in va if v not in vb]
                out["parameters_changed"].append(row)
    return out
