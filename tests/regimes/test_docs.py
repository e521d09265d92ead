"""Docs stay current with the law as data."""

from __future__ import annotations

from pathlib import Path

from sluicegate.regimes import regimes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_every_unconfirmed_parameter_is_listed_in_docs_rules() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = {k for r in regimes().values() for k, _ in r.unconfirmed() if f"`{k}`" not in text}
    assert not missing, f"docs/rules.md section 6 lacks: {sorted(missing)}"


def test_every_regime_is_described_in_docs_rules() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert all(f"`{rid}`" in text for rid in regimes())
