"""Where the active restricted-party lists live, and how they change.

The active set is one file, ``lists.jsonl.gz`` in the lists directory (``SLUICE_LISTS_DIR``,
default ``./.sluicegate/lists/``): a manifest line, then one entity per line, then ownership
edges. ``sluice lists load`` reads every file first (``loaders``; any error aborts with file and
line and writes nothing), merges list by list (each list code present in the new files replaces
that list; others are kept), and writes a temporary file that is renamed over the old one, so a
reader sees the old set or the new set, never half of one. When nothing was ever loaded, the
bundle shipped in the package (``data/bundle.jsonl.gz``, built by
``tools/build_screening_bundle.py`` from ``../shared/data``) is the active set.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sluicegate.screening.loaders import ListLoadError, LoadedList, expand_paths, read_list
from sluicegate.screening.models import Entity, list_info

STORE_FILE = "lists.jsonl.gz"
FORMAT_VERSION = 1


@dataclass
class ListSet:
    """Entities, per-list metadata and ownership edges, with where they came from."""

    entities: list[Entity]
    lists: dict[str, dict[str, Any]]
    ownership: list[dict[str, Any]] = field(default_factory=list)
    origin: str = ""

    def manifest(self) -> dict[str, Any]:
        return {"format": "sluicegate-lists", "version": FORMAT_VERSION, "lists": self.lists}


def lists_dir() -> Path:
    return Path(os.environ.get("SLUICE_LISTS_DIR", "./.sluicegate/lists"))


def store_path() -> Path:
    return lists_dir() / STORE_FILE


def bundle_path() -> Path:
    return Path(str(resources.files("sluicegate.screening").joinpath("data/bundle.jsonl.gz")))


def read_set(path: Path) -> ListSet:
    """Read a list-set file (the store or the bundle)."""
    entities: list[Entity] = []
    ownership: list[dict[str, Any]] = []
    manifest: dict[str, Any] | None = None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ListLoadError(path, number, f"not JSON: {exc.msg}") from exc
            kind = record.pop("_kind", "entity")
            if kind == "manifest":
                manifest = record
            elif kind == "ownership":
                ownership.append(record)
            else:
                entities.append(Entity.model_validate(record))
    if manifest is None:
        raise ListLoadError(path, 1, "no manifest line: not a sluicegate list set")
    return ListSet(entities, manifest.get("lists", {}), ownership, str(path))


def write_set(list_set: ListSet, path: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lists-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write((json.dumps({"_kind": "manifest", **list_set.manifest()}) + "\n").encode())
            for entity in list_set.entities:
                record = entity.model_dump(exclude_defaults=True)
                gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
            for edge in list_set.ownership:
                gz.write((json.dumps({"_kind": "ownership", **edge}) + "\n").encode())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def active_set() -> ListSet:
    """The loaded lists, or the shipped bundle when nothing was loaded."""
    path = store_path()
    if path.exists():
        return read_set(path)
    return read_set(bundle_path())


def active_version() -> str:
    """Changes whenever the active set changes (for caches)."""
    path = store_path()
    if path.exists():
        stat = path.stat()
        return f"store:{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}"
    return f"bundle:{bundle_path()}"


def _list_meta(loaded: list[LoadedList], code: str, count: int) -> dict[str, Any]:
    sources = sorted({item.path for item in loaded if any(e.list == code for e in item.entities)})
    snapshots = [
        e.snapshot for item in loaded for e in item.entities if e.list == code and e.snapshot
    ]
    snapshot = max(snapshots) if snapshots else None
    snapshot_basis = "list file"
    if snapshot is None:
        # no date inside the file: fall back to the file's modification date, and say so
        mtimes = [Path(s).stat().st_mtime for s in sources if Path(s).exists()]
        if mtimes:
            snapshot = dt.datetime.fromtimestamp(max(mtimes), dt.UTC).date().isoformat()
            snapshot_basis = "file modification time (the file carries no date)"
    return {
        "count": count,
        "snapshot": snapshot,
        "snapshot_basis": snapshot_basis,
        "sources": sources,
        "loaded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }


def read_paths(paths: list[Path], snapshot: str | None = None) -> list[LoadedList]:
    """Read every file; the first error aborts (ListLoadError names the file and line)."""
    files = expand_paths(paths)
    if not files:
        raise ListLoadError(", ".join(str(p) for p in paths), None, "no list files found")
    loaded = []
    for file in files:
        item = read_list(file, snapshot)
        for entity in item.entities:
            if item.snapshot and not entity.snapshot:
                entity.snapshot = item.snapshot
        loaded.append(item)
    return loaded


def merge(base: ListSet | None, loaded: list[LoadedList], origin: str) -> ListSet:
    """Each list code present in ``loaded`` replaces that list in ``base``; the rest is kept."""
    new_codes = {e.list for item in loaded for e in item.entities}
    entities = [e for e in (base.entities if base else []) if e.list not in new_codes]
    lists = {k: v for k, v in (base.lists if base else {}).items() if k not in new_codes}
    seen: dict[str, int] = {}
    for item in loaded:
        for entity in item.entities:
            # the same id from two files (e.g. two CSL extracts) keeps both, distinguishable
            if entity.id in seen:
                seen[entity.id] += 1
                entity = entity.model_copy(update={"id": f"{entity.id}~{seen[entity.id]}"})
            else:
                seen[entity.id] = 1
            entities.append(entity)
    for code in sorted(new_codes):
        count = sum(1 for e in entities if e.list == code)
        lists[code] = _list_meta(loaded, code, count)
    ownership = list(base.ownership if base else [])
    for item in loaded:
        for edge in item.ownership:
            ownership = [
                o
                for o in ownership
                if not (o["owner"] == edge["owner"] and o["owned"] == edge["owned"])
            ]
            ownership.append({**edge, "source": item.path})
    return ListSet(entities, lists, ownership, origin)


def load_into_store(
    paths: list[Path], *, replace: bool = False, snapshot: str | None = None
) -> tuple[ListSet, list[LoadedList]]:
    """``sluice lists load``: read all, merge, write atomically. Returns the new set."""
    loaded = read_paths(paths, snapshot)
    base = None if replace else active_set()
    new = merge(base, loaded, str(store_path()))
    write_set(new, store_path())
    return new, loaded


def status(
    list_set: ListSet, *, today: dt.date | None = None, stale_days: int | None = None
) -> list[dict[str, Any]]:
    """One row per list: count, snapshot, age, and a warning when stale."""
    today = today or dt.date.today()
    rows = []
    for code, meta in sorted(list_set.lists.items()):
        info = list_info(code)
        limit = stale_days if stale_days is not None else info.stale_after_days
        snapshot = meta.get("snapshot")
        age = None
        if snapshot:
            age = (today - dt.date.fromisoformat(snapshot[:10])).days
        warning = None
        if age is None:
            warning = "snapshot date unknown"
        elif age > limit:
            warning = f"stale: snapshot is {age} days old (limit {limit}); load a current list"
        rows.append(
            {
                "list": code,
                "title": info.title,
                "count": meta.get("count", 0),
                "snapshot": snapshot,
                "snapshot_basis": meta.get("snapshot_basis"),
                "age_days": age,
                "stale_after_days": limit,
                "warning": warning,
                "sources": meta.get("sources", []),
            }
        )
    return rows


def load_any(path: Path) -> ListSet:
    """A list-set file, or any list file(s) in a format ``loaders`` reads (for ``lists diff``)."""
    if path.is_file() and path.name.endswith(".jsonl.gz"):
        try:
            return read_set(path)
        except ListLoadError:
            pass
    loaded = read_paths([path])
    return merge(None, loaded, str(path))


_COMPARED = (
    "name",
    "aliases",
    "addresses",
    "countries",
    "program",
    "type",
    "end_date",
    "license_requirement",
    "license_review_policy",
    "parents",
    "identifiers",
)


def diff(old: ListSet, new: ListSet) -> dict[str, Any]:
    """Entities added, removed and changed (by id), with the fields that changed."""
    old_by = {e.id: e for e in old.entities}
    new_by = {e.id: e for e in new.entities}
    added = [
        {"id": i, "list": new_by[i].list, "name": new_by[i].name}
        for i in sorted(new_by.keys() - old_by.keys())
    ]
    removed = [
        {"id": i, "list": old_by[i].list, "name": old_by[i].name}
        for i in sorted(old_by.keys() - new_by.keys())
    ]
    changed = []
    for i in sorted(old_by.keys() & new_by.keys()):
        a = old_by[i].model_dump()
        b = new_by[i].model_dump()
        fields = {k: {"old": a[k], "new": b[k]} for k in _COMPARED if a[k] != b[k]}
        if fields:
            changed.append(
                {"id": i, "list": new_by[i].list, "name": new_by[i].name, "fields": fields}
            )
    return {
        "old": old.origin,
        "new": new.origin,
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)},
        "added": added,
        "removed": removed,
        "changed": changed,
    }
