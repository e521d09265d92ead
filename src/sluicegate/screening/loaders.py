"""Readers for every restricted-party list format sluicegate knows, into one entity model.

Formats: OFAC legacy CSV (``sdn.csv``/``alt.csv``/``add.csv``/``sdn_comments.csv`` and the
consolidated non-SDN ``cons_*.csv``), the BIS Denied Persons List (tab-separated), the BIS
Entity List CSV, the trade.gov Consolidated Screening List CSV (2019 and 2025 layouts), the
OpenSanctions source CSVs of US lists (DoD 1260H with parent companies, BIS MIEU, NDAA s.889,
FCC Covered List), and sluicegate's own entity JSON Lines. :func:`read_list` detects the format
and returns :class:`~sluicegate.screening.models.Entity` records, or raises :class:`ListLoadError`
naming the file and line. Nothing here writes anywhere: ``store`` makes loading atomic.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from sluicegate.screening.models import Address, Alias, Entity, Identifier, ParentLink

MAX_FIELD = 20_000  # characters; longer fields mean a wrong file or a broken quote

csv.field_size_limit(10_000_000)


class ListLoadError(ValueError):
    """A list file could not be read; ``path`` and ``line`` say where."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class LoadedList:
    """What one source (a file, or an OFAC file set) yielded."""

    path: str
    format: str
    entities: list[Entity]
    snapshot: str | None
    notes: list[str] = field(default_factory=list)
    ownership: list[dict[str, object]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# small helpers


@functools.cache
def _country_names() -> dict[str, str]:
    text = resources.files("sluicegate.regimes").joinpath("data/countries.yaml").read_text("utf-8")
    countries = yaml.safe_load(text)["countries"]
    out: dict[str, str] = {}
    for code, row in countries.items():
        out[row["name"].casefold()] = code
        out[row["alpha_3"].casefold()] = code
        out[code.casefold()] = code
    extra = {
        "russia": "RU",
        "iran": "IR",
        "korea, north": "KP",
        "north korea": "KP",
        "korea, south": "KR",
        "south korea": "KR",
        "burma": "MM",
        "syria": "SY",
        "venezuela": "VE",
        "bolivia": "BO",
        "tanzania": "TZ",
        "vietnam": "VN",
        "laos": "LA",
        "congo, democratic republic of the": "CD",
        "democratic republic of the congo": "CD",
        "congo, republic of the": "CG",
        "palestinian": "PS",
        "west bank": "PS",
        "gaza": "PS",
        "the gambia": "GM",
        "gambia": "GM",
        "moldova": "MD",
        "macau": "MO",
        "macao": "MO",
        "hong kong": "HK",
        "taiwan": "TW",
        "turkey": "TR",
        "turkiye": "TR",
        "cote d'ivoire": "CI",
        "ivory coast": "CI",
        "czech republic": "CZ",
        "kosovo": "XK",
        "region: crimea": "UA",
        "crimea region of ukraine": "UA",
        "united states": "US",
        "usa": "US",
        "uk": "GB",
        "united kingdom": "GB",
        "brunei": "BN",
        "cape verde": "CV",
        "micronesia": "FM",
        "virgin islands, british": "VG",
        "british virgin islands": "VG",
        "china": "CN",
        "uae": "AE",
        "kyrgyzstan": "KG",
        "slovakia": "SK",
        "netherlands antilles": "CW",
    }
    out.update(extra)
    return out


def country_code(name: str | None) -> str | None:
    """ISO alpha-2 code for a country name or code as lists write them; None if unknown."""
    if not name:
        return None
    key = name.strip().strip(".").casefold()
    return _country_names().get(key)


def _none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or value == "-0-":
        return None
    return value


def _slug(text: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "-", text.casefold()).strip("-")
    return slug[:80] or "x"


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if b"\x00" in raw[:65536]:
        raise ListLoadError(path, None, "binary content (NUL bytes): not a list file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # OFAC legacy files are Windows-1252
    return text.replace("\x1a", "")  # DOS end-of-file marker at the end of OFAC files


def _split(value: str | None, sep: str = ";") -> list[str]:
    if not value:
        return []
    parts = [p.strip() for p in value.split(sep)]
    out = []
    for part in parts:
        part = re.sub(r"^and\s+", "", part).strip().rstrip(".").strip()
        if part:
            out.append(part)
    return out


def _check_len(path: Path, line: int, row: dict[str, str] | list[str]) -> None:
    values = row.values() if isinstance(row, dict) else row
    for value in values:
        if isinstance(value, str) and len(value) > MAX_FIELD:
            raise ListLoadError(
                path, line, f"field longer than {MAX_FIELD} characters (broken quoting?)"
            )


def _dict_rows(path: Path, text: str, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ListLoadError(
                    path, line, f"{len(header) + len(row[None])} fields, header has {len(header)}"
                )
            _check_len(path, line, row)
            yield line, {k: (v or "") for k, v in row.items()}
    except csv.Error as exc:
        raise ListLoadError(path, reader.line_num, f"CSV error: {exc}") from exc


def _make_entity(path: Path, line: int, **values: object) -> Entity:
    try:
        return Entity.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ListLoadError(path, line, f"{loc}: {first['msg']}") from exc


def _require_name(path: Path, line: int, name: str | None) -> str:
    if not name or not name.strip():
        raise ListLoadError(path, line, "name: empty")
    return name.strip()


def _max_date(values: list[str | None]) -> str | None:
    dates = []
    for value in values:
        if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]) and value[:4] < "2100":
            dates.append(value[:10])
    return max(dates) if dates else None


# --------------------------------------------------------------------------------------------
# OFAC legacy CSV (SDN and consolidated non-SDN)

_OFAC_TYPES = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft"}
_AKA_RE = re.compile(r"(?:a\.k\.a\.|f\.k\.a\.|n\.k\.a\.)\s+'([^']+)'")
_LINKED_RE = re.compile(r"Linked To:\s*([^;.]+(?:\.[^;]+)?)")
_OWNED_RE = re.compile(r"(?:Owned or Controlled By|Owned By|Subsidiary Of):\s*([^;]+)", re.I)
_ID_RE = re.compile(
    r"(Tax ID No\.|Registration (?:ID|Number)|Passport|National ID No\.|IMO|SWIFT/BIC|"
    r"Legal Entity Number|Company Number|Business Registration Number|NIT #|RFC|CURP|"
    r"Cedula No\.)\s+([A-Za-z0-9][A-Za-z0-9 .\-/]*?)(?:\s+\(([^)]+)\))?(?=;|$|\.\s)"
)


def _ofac_rows(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != columns:
                raise ListLoadError(
                    path,
                    reader.line_num,
                    f"{len(row)} fields, expected {columns} (OFAC legacy CSV)",
                )
            _check_len(path, reader.line_num, row)
            if not row[0].strip().isdigit():
                raise ListLoadError(path, reader.line_num, f"ent_num: {row[0]!r} is not a number")
            yield reader.line_num, row
    except csv.Error as exc:
        raise ListLoadError(path, reader.line_num, f"CSV error: {exc}") from exc


def _ofac_siblings(primary: Path) -> tuple[str, Path | None, Path | None, Path | None]:
    stem = primary.stem.lower()
    folder = primary.parent
    if stem.startswith("cons"):
        names = ("cons_alt.csv", "cons_add.csv", "cons_comments.csv")
        code = "ofac-nonsdn"
    else:
        names = ("alt.csv", "add.csv", "sdn_comments.csv")
        code = "ofac-sdn"
    found: list[Path | None] = []
    for name in names:
        candidates = [p for p in folder.iterdir() if p.name.lower() == name]
        found.append(candidates[0] if candidates else None)
    return code, found[0], found[1], found[2]


def read_ofac(primary: Path, snapshot: str | None = None) -> LoadedList:
    """OFAC legacy CSV: the primary file plus alt/add/comments files beside it."""
    code, alt_path, add_path, comments_path = _ofac_siblings(primary)
    notes = [f"read {p.name}" for p in (primary, alt_path, add_path, comments_path) if p]
    comments: dict[str, str] = {}
    if comments_path:
        text = _read_text(comments_path)
        for row in csv.reader(io.StringIO(text)):
            if len(row) >= 2 and row[0].strip().isdigit():
                comments[row[0].strip()] = comments.get(row[0].strip(), "") + row[1]
    aliases: dict[str, list[Alias]] = {}
    if alt_path:
        for _line, row in _ofac_rows(alt_path, 5):
            name = _none(row[3])
            if name:
                kind = (_none(row[2]) or "aka").strip().lower()
                remarks = (_none(row[4]) or "").lower()
                if "weak" in remarks:
                    kind = f"weak-{kind}"
                aliases.setdefault(row[0].strip(), []).append(Alias(name=name, kind=kind))
    addresses: dict[str, list[Address]] = {}
    if add_path:
        for _line, row in _ofac_rows(add_path, 6):
            parts = [p for p in (_none(row[2]), _none(row[3]), _none(row[4])) if p]
            if not parts:
                continue
            country = _none(row[4])
            addresses.setdefault(row[0].strip(), []).append(
                Address(
                    text=", ".join(parts),
                    city=_none(row[3]),
                    country=country_code(country) or country,
                )
            )
    entities: list[Entity] = []
    for line, row in _ofac_rows(primary, 12):
        ent = row[0].strip()
        name = _require_name(primary, line, _none(row[1]))
        remarks = (_none(row[11]) or "") + comments.get(ent, "")
        entity_aliases = list(aliases.get(ent, []))
        known = {a.name.casefold() for a in entity_aliases}
        for aka in _AKA_RE.findall(remarks):
            if aka.casefold() not in known:
                entity_aliases.append(Alias(name=aka, kind="aka"))
                known.add(aka.casefold())
        entity_addresses = addresses.get(ent, [])
        # first listed address first: it is usually the seat (headquarters resolution uses it)
        countries = list(
            dict.fromkeys(a.country for a in entity_addresses if a.country and len(a.country) == 2)
        )
        programs = [p.strip() for p in (_none(row[3]) or "").strip("[]").split("] [") if p.strip()]
        parents = [
            ParentLink(name=m.strip(), source="list remarks (owned or controlled by)")
            for m in _OWNED_RE.findall(remarks)
        ]
        identifiers = [
            Identifier(kind=m[0].rstrip("."), value=m[1].strip(), country=m[2] or None)
            for m in _ID_RE.findall(remarks)
        ]
        entities.append(
            _make_entity(
                primary,
                line,
                id=f"{code}:{ent}",
                list=code,
                source=primary.name,
                program=programs,
                name=name,
                aliases=entity_aliases,
                type=_OFAC_TYPES.get((_none(row[2]) or "").lower(), "organization"),
                addresses=entity_addresses,
                countries=countries,
                identifiers=identifiers,
                snapshot=snapshot,
                parents=parents,
                remarks=remarks or None,
            )
        )
    return LoadedList(str(primary), f"ofac-legacy-csv ({code})", entities, snapshot, notes)


# --------------------------------------------------------------------------------------------
# BIS Denied Persons List (tab-separated)


def _us_date(value: str | None) -> str | None:
    value = _none(value)
    if not value:
        return None
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def read_dpl(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    seen: dict[str, int] = {}
    updates: list[str | None] = []
    for line, row in _dict_rows(path, text, delimiter="\t"):
        name = _require_name(path, line, row.get("Name"))
        parts = [
            _none(row.get(k)) for k in ("Street_Address", "City", "State", "Postal_Code", "Country")
        ]
        address_text = ", ".join(p for p in parts if p)
        country = _none(row.get("Country"))
        effective = _us_date(row.get("Effective_Date"))
        key = _slug(f"{name}-{effective or ''}")
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        updates.append(_none(row.get("Last_Update")))
        entities.append(
            _make_entity(
                path,
                line,
                id=f"bis-dpl:{key}",
                list="bis-dpl",
                source=path.name,
                program=["EAR denial order"],
                name=name,
                type="unknown",
                addresses=[
                    Address(
                        text=address_text,
                        city=_none(row.get("City")),
                        country=country_code(country) or country,
                    )
                ]
                if address_text
                else [],
                countries=[c for c in [country_code(country)] if c],
                start_date=effective,
                end_date=_us_date(row.get("Expiration_Date")),
                snapshot=snapshot,
                federal_register=[fr for fr in [_none(row.get("FR_Citation"))] if fr],
                license_requirement="all items subject to the EAR (denial order)",
                remarks=_none(row.get("Action")),
            )
        )
    return LoadedList(str(path), "bis-dpl-tsv", entities, snapshot or _max_date(updates))


# --------------------------------------------------------------------------------------------
# BIS Entity List CSV


def read_entity_list(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    seen: dict[str, int] = {}
    snapshots: list[str | None] = []
    for line, row in _dict_rows(path, text):
        name = _require_name(path, line, row.get("name"))
        country_raw = _none(row.get("country"))
        country = country_code(country_raw) or (
            country_raw if country_raw and len(country_raw) == 2 else None
        )
        key = _slug(f"{country or country_raw or 'xx'}-{name}")
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        snapshots.append(_none(row.get("source_snapshot_date")))
        addresses = [
            Address(text=a, country=country)
            for a in re.split(r";\s*and\s+", row.get("addresses", ""))
            if a.strip()
        ]
        entities.append(
            _make_entity(
                path,
                line,
                id=f"bis-entity-list:{key}",
                list="bis-entity-list",
                source=path.name,
                program=["EAR Supplement No. 4 to part 744"],
                name=name,
                aliases=[Alias(name=a) for a in _split(row.get("aliases"))],
                type="organization",
                addresses=addresses,
                countries=[country] if country else [],
                snapshot=snapshot or _none(row.get("source_snapshot_date")),
                federal_register=_split(row.get("federal_register_citation")),
                license_requirement=_none(row.get("license_requirement")),
                license_review_policy=_none(row.get("license_review_policy")),
            )
        )
    return LoadedList(str(path), "bis-entity-list-csv", entities, snapshot or _max_date(snapshots))


# --------------------------------------------------------------------------------------------
# trade.gov Consolidated Screening List (2019 and 2025 layouts)

_CSL_SOURCES = [
    ("(SDN)", "ofac-sdn"),
    ("(DPL)", "bis-dpl"),
    ("(EL)", "bis-entity-list"),
    ("(MEU)", "bis-meu"),
    ("(UVL)", "bis-uvl"),
    ("(ISN)", "state-isn"),
    ("(DTC)", "state-dtc"),
    ("(SSI)", "ofac-nonsdn"),
    ("(PLC)", "ofac-nonsdn"),
    ("(FSE)", "ofac-nonsdn"),
    ("(CAP)", "ofac-nonsdn"),
    ("(CMIC)", "ofac-nonsdn"),
    ("(MBS)", "ofac-nonsdn"),
]
_CSL_TYPES = {
    "individual": "person",
    "entity": "organization",
    "vessel": "vessel",
    "aircraft": "aircraft",
}


def _csl_list(source: str) -> str:
    for marker, code in _CSL_SOURCES:
        if marker in source:
            return code
    return "csl-" + _slug(source)[:30]


def read_csl(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    seen: dict[str, int] = {}
    starts: list[str | None] = []
    layout = "2025" if text.lstrip("\ufeff").startswith("_id") else "2019"
    for line, row in _dict_rows(path, text):
        name = _require_name(path, line, row.get("name"))
        source = row.get("source", "")
        if not source.strip():
            raise ListLoadError(path, line, "source: empty (every CSL row names its sub-list)")
        code = _csl_list(source)
        key = _none(row.get("_id")) or _none(row.get("entity_number")) or _slug(name)
        key = f"csl-{key}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        addresses = []
        countries: set[str] = set()
        for part in _split(row.get("addresses")):
            tail = part.rsplit(",", 1)[-1].strip()
            cc = tail if len(tail) == 2 and tail.isupper() else country_code(tail)
            if cc:
                countries.add(cc)
            addresses.append(Address(text=part, country=cc))
        identifiers = []
        for ident in _split(row.get("ids")):
            bits = [b.strip() for b in ident.split(",")]
            if len(bits) >= 2:
                identifiers.append(
                    Identifier(
                        kind=bits[0], value=bits[1], country=bits[2] if len(bits) > 2 else None
                    )
                )
        starts.append(_none(row.get("start_date")))
        entities.append(
            _make_entity(
                path,
                line,
                id=f"{code}:{key}",
                list=code,
                source=f"{path.name} (trade.gov CSL {layout}: {source.strip()})",
                program=_split(row.get("programs")),
                name=re.sub(r";\s*and any successor.*$", "", name, flags=re.I),
                aliases=[Alias(name=a) for a in _split(row.get("alt_names"))],
                type=_CSL_TYPES.get(row.get("type", "").strip().lower(), "unknown"),
                addresses=addresses,
                countries=sorted(
                    countries | {c for c in _split(row.get("nationalities"), ",") if len(c) == 2}
                ),
                identifiers=identifiers,
                start_date=_none(row.get("start_date")),
                end_date=_none(row.get("end_date")),
                snapshot=snapshot,
                federal_register=_split(row.get("federal_register_notice")),
                license_requirement=_none(row.get("license_requirement")),
                license_review_policy=_none(row.get("license_policy")),
                remarks=_none(row.get("remarks")),
            )
        )
    return LoadedList(str(path), f"trade-gov-csl-{layout}", entities, snapshot or _max_date(starts))


# --------------------------------------------------------------------------------------------
# OpenSanctions source CSVs


def _strip_marks(name: str) -> str:
    return re.sub(r"[*†‡]+$", "", name.strip()).strip()


def read_1260h(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    seen: dict[str, int] = {}
    starts: list[str | None] = []
    for line, row in _dict_rows(path, text):
        raw = _require_name(path, line, _none(row.get("Clean Name")) or _none(row.get("Name")))
        name = _strip_marks(raw)
        key = _slug(name)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        aliases = [Alias(name=a) for a in _split(row.get("Alias"), ",")]
        aliases += [
            Alias(name=a, kind="previous-name") for a in _split(row.get("Previous Name"), ";")
        ]
        full = _strip_marks(row.get("Name", ""))
        if full and full.casefold() != name.casefold():
            aliases.append(Alias(name=full, kind="listed-as"))
        parents = [
            ParentLink(name=p, source="DoD 1260H 'Parent Name'")
            for p in _split(row.get("Parent Name"), ";")
        ]
        starts.append(_none(row.get("Start date")))
        entities.append(
            _make_entity(
                path,
                line,
                id=f"dod-1260h:{key}",
                list="dod-1260h",
                source=path.name,
                program=["NDAA FY2021 s.1260H"],
                name=name,
                aliases=aliases,
                type="organization",
                start_date=_none(row.get("Start date")),
                end_date=_none(row.get("End date")),
                snapshot=snapshot,
                parents=parents,
                remarks=_none(row.get("Note")),
            )
        )
    return LoadedList(str(path), "opensanctions-1260h-csv", entities, snapshot or _max_date(starts))


def read_mieu(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    dates: list[str | None] = []
    for line, row in _dict_rows(path, text):
        name = _require_name(path, line, row.get("Name"))
        country = _none(row.get("Country"))
        dates.append(_none(row.get("Date")))
        entities.append(
            _make_entity(
                path,
                line,
                id=f"bis-mieu:{_slug(name)}",
                list="bis-mieu",
                source=path.name,
                program=[_none(row.get("Program")) or "US-BIS-MIEU"],
                name=name,
                aliases=[Alias(name=a) for a in _split(row.get("Alias"), ";")],
                type="organization" if row.get("Type", "").lower() != "person" else "person",
                countries=[country.upper()] if country else [],
                start_date=_none(row.get("Date")),
                end_date=_none(row.get("End date")),
                snapshot=snapshot,
                federal_register=[u for u in [_none(row.get("Source URL"))] if u],
            )
        )
    return LoadedList(str(path), "opensanctions-mieu-csv", entities, snapshot or _max_date(dates))


def read_889(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    for line, row in _dict_rows(path, text):
        name = _require_name(path, line, row.get("name"))
        country = _none(row.get("country"))
        entities.append(
            _make_entity(
                path,
                line,
                id=f"ndaa-889:{_slug(name)}",
                list="ndaa-889",
                source=path.name,
                program=["NDAA FY2019 s.889"],
                name=name,
                aliases=[Alias(name=a) for a in _split(row.get("aliases"), ";")],
                type="organization",
                countries=[country.upper()] if country else [],
                snapshot=snapshot,
            )
        )
    return LoadedList(str(path), "opensanctions-889-csv", entities, snapshot)


_FCC_NAME_RE = re.compile(
    r"(?:produced|provided|supplied)(?:,? directly or indirectly,)? by ((?:[A-Z0-9(][\w.&()'’-]*\s?)+?)"
    r"(?:,| or any| and its| subject to| to the extent|\s*$)"
)


def read_fcc(path: Path, snapshot: str | None = None) -> LoadedList:
    """FCC Covered List: entries name equipment; the producing company is the listed party.
    Entries naming no company (e.g. 'routers produced in a foreign country') are reported in
    the notes, not turned into parties."""
    text = _read_text(path)
    entities: list[Entity] = []
    notes: list[str] = []
    seen: set[str] = set()
    dates: list[str] = []
    for line, row in _dict_rows(path, text):
        entry = row.get("covered_equipment_or_services", "")
        if not entry.strip():
            raise ListLoadError(path, line, "covered_equipment_or_services: empty")
        date_text = row.get("date_of_inclusion_on_covered_list", "")
        match = re.match(r"([A-Z][a-z]+ \d{1,2}, \d{4})", date_text.strip())
        included = (
            dt.datetime.strptime(match.group(1), "%B %d, %Y").date().isoformat() if match else None
        )
        if included:
            dates.append(included)
        names = [n.strip() for n in _FCC_NAME_RE.findall(entry)]
        if not names:
            notes.append(
                f"line {line}: names no company (category entry), not a party: {entry[:60]!r}"
            )
            continue
        for name in names:
            key = _slug(name)
            if key in seen:
                continue
            seen.add(key)
            entities.append(
                _make_entity(
                    path,
                    line,
                    id=f"fcc-covered:{key}",
                    list="fcc-covered",
                    source=path.name,
                    program=["FCC Covered List"],
                    name=name,
                    type="organization",
                    start_date=included,
                    snapshot=snapshot,
                    remarks=entry,
                )
            )
    return LoadedList(
        str(path),
        "opensanctions-fcc-covered-csv",
        entities,
        snapshot or (max(dates) if dates else None),
        notes,
    )


# --------------------------------------------------------------------------------------------
# sluicegate's own JSON Lines and the user ownership CSV


def read_entities_jsonl(path: Path, snapshot: str | None = None) -> LoadedList:
    text = _read_text(path)
    entities: list[Entity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ListLoadError(path, number, f"not JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise ListLoadError(path, number, "each line must be a JSON object (an entity)")
        entities.append(_make_entity(path, number, **record))
    snap = snapshot or _max_date([e.snapshot for e in entities])
    return LoadedList(str(path), "sluicegate-entities-jsonl", entities, snap)


def read_ownership(path: Path, snapshot: str | None = None) -> LoadedList:
    """User ownership CSV: owner, owned, percent (0-100), and optionally owner_headquarters,
    owned_headquarters (ISO alpha-2). Owners and owned are party ids or listed names."""
    text = _read_text(path)
    edges: list[dict[str, object]] = []
    for line, row in _dict_rows(path, text):
        owner = (row.get("owner") or "").strip()
        owned = (row.get("owned") or "").strip()
        if not owner:
            raise ListLoadError(path, line, "owner: empty")
        if not owned:
            raise ListLoadError(path, line, "owned: empty")
        if owner == owned:
            raise ListLoadError(path, line, f"owner: {owner!r} cannot own itself")
        try:
            percent = float((row.get("percent") or "").strip().rstrip("%"))
        except ValueError as exc:
            raise ListLoadError(
                path, line, f"percent: {row.get('percent')!r} is not a number"
            ) from exc
        if not 0 <= percent <= 100:
            raise ListLoadError(path, line, f"percent: {percent} is outside 0-100")
        edge: dict[str, object] = {"owner": owner, "owned": owned, "percent": percent}
        for column in ("owner_headquarters", "owned_headquarters"):
            value = (row.get(column) or "").strip().upper()
            if value:
                if country_code(value) is None or len(value) != 2:
                    raise ListLoadError(
                        path, line, f"{column}: {value!r} is not an ISO 3166-1 alpha-2 code"
                    )
                edge[column] = value
        edges.append(edge)
    return LoadedList(str(path), "ownership-csv", [], snapshot, ownership=edges)


# --------------------------------------------------------------------------------------------
# detection


def _first_line(path: Path) -> str:
    try:
        text = _read_text(path)
    except OSError as exc:
        raise ListLoadError(path, None, f"cannot read: {exc.strerror}") from exc
    return text.lstrip("\ufeff").split("\n", 1)[0].strip()


def detect_format(path: Path) -> str:
    """Name of the reader for ``path``; raises ListLoadError when the format is unknown."""
    if not path.exists():
        raise ListLoadError(path, None, "no such file")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return "entities-jsonl"
    head = _first_line(path)
    low = head.lower()
    if name in (
        "alt.csv",
        "add.csv",
        "cons_alt.csv",
        "cons_add.csv",
        "sdn_comments.csv",
        "cons_comments.csv",
    ):
        raise ListLoadError(
            path,
            None,
            "an OFAC alias/address/comments file: pass the primary file (sdn.csv or cons_prim.csv) "
            "or the folder; its siblings are read from beside it",
        )
    if re.match(r'^\d+,"', head) and head.count(",") >= 11:
        return "ofac"
    if low.startswith('"name"\t') or low.startswith("name\tstreet_address"):
        return "dpl"
    if low.startswith("name,aliases,addresses,country"):
        return "entity-list"
    if "source" in low and "alt_names" in low and "entity_number" in low:
        return "csl"
    if low.startswith("name,clean name,alias"):
        return "1260h"
    if low.startswith("type,name,alias,country"):
        return "mieu"
    if low.startswith("schema,name,aliases"):
        return "889"
    if low.startswith("covered_equipment_or_services"):
        return "fcc"
    if low.replace(" ", "").startswith("owner,owned,percent"):
        return "ownership"
    raise ListLoadError(path, 1, f"unrecognised list format (header {head[:80]!r})")


READERS = {
    "ofac": read_ofac,
    "dpl": read_dpl,
    "entity-list": read_entity_list,
    "csl": read_csl,
    "1260h": read_1260h,
    "mieu": read_mieu,
    "889": read_889,
    "fcc": read_fcc,
    "entities-jsonl": read_entities_jsonl,
    "ownership": read_ownership,
}


def expand_paths(paths: list[Path]) -> list[Path]:
    """Folders become the list files inside them (OFAC sibling files are read via the primary)."""
    out: list[Path] = []
    siblings = {
        "alt.csv",
        "add.csv",
        "cons_alt.csv",
        "cons_add.csv",
        "sdn_comments.csv",
        "cons_comments.csv",
    }
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if (
                    child.suffix.lower() in (".csv", ".txt", ".jsonl", ".gz")
                    and child.name.lower() not in siblings
                ):
                    out.append(child)
        else:
            out.append(path)
    return out


def read_list(path: str | Path, snapshot: str | None = None) -> LoadedList:
    """Read one list file (format detected); raises ListLoadError naming file and line."""
    path = Path(path)
    kind = detect_format(path)
    try:
        return READERS[kind](path, snapshot)
    except ListLoadError:
        raise
    except (UnicodeError, OSError, ValueError) as exc:
        raise ListLoadError(path, None, f"{type(exc).__name__}: {exc}") from exc
