"""How the catalogue's chips classify: on a date, and under each regime (same engine as decide).

Used by `sluice chips list|show` and the API's `/v1/chips` routes.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import polars as pl

from sluicegate.regimes.catalogue import catalogue
from sluicegate.regimes.loader import regimes
from sluicegate.rules.decide import decide_frame, decide_records


@lru_cache(maxsize=4)
def chip_classifications_on(day: dt.date) -> dict[str, str]:
    """Classification of every catalogue chip under the regime binding on ``day``."""
    ids = list(catalogue())
    frame = pl.DataFrame(
        {
            "id": ids,
            "date": [day.isoformat()] * len(ids),
            "destination": ["CN"] * len(ids),
            "chip": ids,
        }
    )
    out = decide_frame(frame)
    return dict(zip(ids, out["classification"].to_list(), strict=True))


def classification_by_regime(chip_id: str) -> dict[str, str]:
    """A catalogue chip's classification under each regime, on the day its obligations begin."""
    out: dict[str, str] = {}
    for rid, regime in regimes().items():
        day = max(regime.effective, regime.compliance)
        decision = decide_records(
            [{"date": str(day), "destination": "CN", "item": {"chip": chip_id}}],
            regime=rid,
            trace=False,
        )[0]
        out[rid] = str(decision["classification"])
    return out
