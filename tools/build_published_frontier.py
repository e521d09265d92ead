"""Regenerate src/sluicegate/regimes/data/published_frontier.yaml, the dated 4E091 frontier.

Note 2 to ECCN 4E091 (Jan 2025 AI Diffusion IFR) releases the weights of any model trained with
fewer operations "than the number needed to train an artificial intelligence model as capable,
according to an aggregate of widely used benchmarks, as the most advanced artificial intelligence
model that has been 'published'". The benchmark aggregation is unspecified, so sluicegate stands
in for it with the running maximum of training compute over open-weight models, by publication
date, from Epoch AI's 'Data on AI Models' (notable models, CC BY 4.0). The rules engine (4E091
parameter "most capable published model") reads the step in force on a transaction's date. This
tool reads ../shared/data/epoch-ai/notable_ai_models.csv and writes the steps where the maximum
rises; every CSV row is accounted for in the summary counts. Run:
`python tools/build_published_frontier.py`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared/data/epoch-ai/notable_ai_models.csv"
DEFAULT_OUTPUT = REPO / "src/sluicegate/regimes/data/published_frontier.yaml"

SNAPSHOT_ORIGIN = (
    "mxschons/sobe-2025-data-repository data/external/epoch-ai/notable-ai-models.csv at commit "
    "3ba35a6 (accessed from epochai.org/data/notable-ai-models on 2026-01-26)"
)
SNAPSHOT_DATE = dt.date(2026, 1, 26)
OPEN_WEIGHTS_PREFIX = "Open weights"
COMPUTE_COLUMN = "Training compute (FLOP)"

DESCRIPTION = (
    "Stand-in for Note 2 to ECCN 4E091: weights of a model trained with fewer operations than "
    "needed to train a model 'as capable, according to an aggregate of widely used benchmarks, "
    "as the most advanced artificial intelligence model that has been published' are not "
    "controlled (regulation.md §1.11, quoting the note to 15 CFR 742.6(b)(14)). Each step gives "
    "the highest training compute of any open-weights ('published') model known on that date; the "
    "step in force on a date is the last one with step date <= that date."
)
ASSUMPTION = (
    "UNCONFIRMED: training compute is assumed to proxy capability. The rule's benchmark "
    "aggregation method is unspecified (regulation.md §8 item 5), BIS/US AISI/DOE may judge "
    "capability differently, and more efficient models can be more capable at lower compute. "
    "Training compute figures are Epoch AI estimates; each step carries Epoch's confidence label. "
    "Treat the series as a configurable default, not as law."
)


class FrontierError(ValueError):
    """A CSV row that cannot be read; names the row, field and reason."""


def read_rows(path: Path) -> tuple[list[dict[str, str]], bytes]:
    raw = path.read_bytes()
    return list(csv.DictReader(raw.decode("utf-8").splitlines())), raw


def frontier(rows: list[dict[str, str]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Steps of the running maximum and counts that account for every row."""
    counts = {"rows": len(rows), "not_open_weights": 0, "no_training_compute": 0, "candidates": 0}
    candidates: list[tuple[dt.date, float, dict[str, str]]] = []
    for line, row in enumerate(rows, start=2):
        if not row["Model accessibility"].startswith(OPEN_WEIGHTS_PREFIX):
            counts["not_open_weights"] += 1
            continue
        if not row[COMPUTE_COLUMN].strip():
            counts["no_training_compute"] += 1
            continue
        try:
            published = dt.date.fromisoformat(row["Publication date"].strip())
        except ValueError:
            raise FrontierError(
                f"row {line} ({row['Model']!r}): field 'Publication date': "
                f"{row['Publication date']!r} is not an ISO date"
            ) from None
        try:
            compute = float(row[COMPUTE_COLUMN])
        except ValueError:
            raise FrontierError(
                f"row {line} ({row['Model']!r}): field {COMPUTE_COLUMN!r}: "
                f"{row[COMPUTE_COLUMN]!r} is not a number"
            ) from None
        counts["candidates"] += 1
        candidates.append((published, compute, row))
    # Same-day ties: the largest model of the day makes the step, alphabetical order breaks ties.
    candidates.sort(key=lambda item: (item[0], -item[1], item[2]["Model"]))
    steps: list[dict[str, Any]] = []
    best = 0.0
    for published, compute, row in candidates:
        if compute > best:
            best = compute
            steps.append(
                {
                    "date": published,
                    "training_ops": compute,
                    "model": row["Model"].strip(),
                    "organization": row["Organization"].strip(),
                    "model_accessibility": row["Model accessibility"].strip(),
                    "confidence": row["Confidence"].strip() or None,
                }
            )
    return steps, counts


def build(path: Path) -> dict[str, Any]:
    rows, raw = read_rows(path)
    steps, counts = frontier(rows)
    return {
        "description": DESCRIPTION,
        "assumption": ASSUMPTION,
        "regulation": "ECCN 4E091 Note 2 (90 FR 4544, Jan 15, 2025); regulation.md §1.11",
        "method": (
            f"running maximum of '{COMPUTE_COLUMN}' over rows whose 'Model accessibility' starts "
            f"with '{OPEN_WEIGHTS_PREFIX}', ordered by 'Publication date'; only rises are listed"
        ),
        "unit": "training_ops: operations (FLOP) used to train, Epoch AI estimate",
        "attribution": (
            "Data: Epoch AI, 'Data on AI Models', published online at epoch.ai (CC BY 4.0)"
        ),
        "generated_by": "tools/build_published_frontier.py",
        "snapshot": {
            "file": "notable_ai_models.csv",
            "origin": SNAPSHOT_ORIGIN,
            "snapshot_date": SNAPSHOT_DATE,
            "publications_up_to": dt.date.fromisoformat(max(r["Publication date"] for r in rows)),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "counts": counts,
        },
        "steps": steps,
    }


HEADER = """\
# Most capable published model, by date: stand-in for Note 2 to ECCN 4E091. GENERATED FILE.
# Regenerate with `python tools/build_published_frontier.py` (see docs/catalogue.md).
# Data: Epoch AI, 'Data on AI Models', published online at epoch.ai (CC BY 4.0).
# UNCONFIRMED assumption: training compute proxies capability (the benchmark method is unspecified).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        document = build(args.csv)
    except FrontierError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(HEADER + body, encoding="utf-8")
    last = document["steps"][-1]
    print(
        f"wrote {len(document['steps'])} steps to {args.output}; latest {last['date']} "
        f"{last['model']} {last['training_ops']:.3g} FLOP"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
