"""What the ledger needs to know about a regime or reform for the audit log and the UVEU check:
its content hash, its reform hash and a parameter value. Looked up through ``sluicegate.regimes``
(``get_regime`` / ``load_reform``) when it is installed; every lookup degrades to ``None`` so the
ledger keeps working (and says so in the record) if the regimes package cannot answer.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

_reforms: dict[str, Any] = {}  # regime id of a loaded reform -> its Regime object


@lru_cache(maxsize=64)
def _lookup(regime_id: str) -> Any:
    try:
        from sluicegate import regimes
    except ImportError:  # pragma: no cover
        return None
    for name in ("get_regime", "load_regime"):
        getter = getattr(regimes, name, None)
        if getter is None:
            continue
        try:
            return getter(regime_id)
        except Exception:
            continue
    return None


def regime(regime_id: str | None) -> Any:
    """The regime object behind an id (a reform loaded by ``load_reform_info`` included)."""
    if not regime_id:
        return None
    if regime_id in _reforms:
        return _reforms[regime_id]
    return _lookup(regime_id)


def content_hash(regime_id: str | None) -> str | None:
    found = regime(regime_id)
    value = getattr(found, "content_hash", None)
    if value is None and isinstance(found, dict):
        value = found.get("content_hash")
    return value if isinstance(value, str) and value else None


def parameter(regime_id: str | None, dotted: str) -> Any:
    """A parameter's value (``provision.parameter``), or None when absent or unknown."""
    found = regime(regime_id)
    if found is None or not dotted:
        return None
    getter = getattr(found, "param", None)
    if getter is not None:
        try:
            return getter(dotted)
        except Exception:
            return None
    if isinstance(found, dict):
        value = (found.get("parameters") or {}).get(dotted)
        return value.get("value") if isinstance(value, dict) else value
    return None


def reform_hash(reform: str | Path) -> str | None:
    """The reform's hash as the regimes package computes it (its regime id carries a prefix of
    it); else the SHA-256 of the file's bytes; None when neither is available (the rules engine
    will then report the bad reform). Remembers the loaded reform for ``regime``."""
    loaded = None
    try:
        from sluicegate import regimes

        load_reform = getattr(regimes, "load_reform", None)
        if load_reform is not None:
            loaded = load_reform(reform)
    except Exception:
        loaded = None
    if loaded is not None:
        _reforms[str(getattr(loaded, "id", ""))] = loaded
        value = getattr(loaded, "reform_hash", None) or getattr(loaded, "content_hash", None)
        if isinstance(value, str) and value:
            return value
    path = Path(reform)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return None
