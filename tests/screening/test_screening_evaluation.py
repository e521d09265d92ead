"""The evaluation harness builds a labelled set from the lists and reports metrics per band."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sluicegate.cli import app
from sluicegate.screening.evaluation import PERTURBATIONS, build_positives, evaluate
from sluicegate.screening.screener import Screener


def test_positives_cover_every_perturbation(bundle_screener: Screener) -> None:
    queries = build_positives(bundle_screener, 80)
    assert {q.kind for q in queries} == set(PERTURBATIONS)
    assert all(q.expected for q in queries)


def test_evaluate_reports_bands(bundle_screener: Screener, shared_data: Path) -> None:
    report = evaluate(
        bundle_screener, positives=80, negatives=60, epoch_dir=shared_data / "epoch-ai"
    )
    assert report["negatives_report"]["excluded_as_listed"] > 0  # e.g. Baidu is listed
    review = report["bands"]["review"]
    assert review["recall"] > 0.9 and review["precision"] > 0.9
    assert set(report["per_kind_at_review"]) >= set(PERTURBATIONS)


def test_screen_eval_command(lists_dir: Path) -> None:
    result = CliRunner().invoke(app, ["screen-eval", "--positives", "40", "--negatives", "20"])
    assert result.exit_code == 0, result.output
    assert '"bands"' in result.stdout
