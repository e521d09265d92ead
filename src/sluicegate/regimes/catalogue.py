"""The accelerator catalogue: chips with TPP, performance density and the source of each figure.

Built from Epoch AI's ML hardware data (CC BY 4.0) plus curated figures from the fact base by
``tools/build_catalogue.py``; see docs/catalogue.md.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

import yaml

from sluicegate.regimes.countries import DATA
from sluicegate.regimes.errors import RegimeDataError

H100_TPP = 15832.0  # NVIDIA H100 SXM: 1,979 dense FP8 TFLOPS x 8 (regulation.md §6)


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    """Accelerators by catalogue id."""
    path = DATA / "accelerators.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegimeDataError("accelerators.yaml", "", f"not valid YAML: {exc}") from exc
    out: dict[str, dict[str, Any]] = {}
    for k, row in enumerate(raw.get("accelerators") or []):
        cid = row.get("id")
        if not cid:
            raise RegimeDataError("accelerators.yaml", f"accelerators[{k}].id", "missing")
        if cid in out:
            raise RegimeDataError(
                "accelerators.yaml", f"accelerators[{k}].id", f"duplicate {cid!r}"
            )
        out[cid] = row
    return out


def catalogue_attribution() -> str:
    raw = yaml.safe_load((DATA / "accelerators.yaml").read_text(encoding="utf-8"))
    return str(raw.get("attribution", ""))


def suggest_chip(text: str) -> list[str]:
    """Close catalogue ids: those that extend what was typed first, then similar spellings."""
    ids = list(catalogue())
    text = text.strip().lower()
    prefixed = [cid for cid in ids if text and cid.startswith(text)]
    close = difflib.get_close_matches(text, ids, n=3, cutoff=0.5)
    return list(dict.fromkeys([*prefixed, *close]))[:4]
