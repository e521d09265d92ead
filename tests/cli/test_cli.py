"""Every `sluice` verb of the rules engine, with bad input and exit codes (contract §3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()
H100_IN = {
    "id": "o1",
    "date": "2025-06-01",
    "destination": "IN",
    "item": {"chip": "nvidia-h100-sxm"},
    "quantity": 1000,
    "consignee": {"id": "acme-in"},
}


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_decide_one_object_pretty_printed() -> None:
    result = runner.invoke(app, ["decide", "-"], input=json.dumps(H100_IN, indent=2))
    assert result.exit_code == 0, result.output
    (decision,) = lines(result.stdout)
    assert decision["regime"] == {
        "id": "us-2025-05-13-non-enforcement",
        "status": "in-force",
        "legal_status": "in-force",
        "content_hash": decision["regime"]["content_hash"],
    }
    assert decision["classification"] == "3A090.a" and decision["authorization"] == "NLR"
    assert decision["trace"] and all(
        {"rule", "holds", "cite", "note"} <= set(t) for t in decision["trace"]
    )


def test_decide_json_lines_keeps_input_order_and_flags_bad_records() -> None:
    records = [
        H100_IN,
        {**H100_IN, "id": "bad-country", "destination": "India"},
        {**H100_IN, "id": "bad-chip", "item": {"chip": "nvidia-h100"}},
        {**H100_IN, "id": "bad-qty", "quantity": 0},
        {**H100_IN, "id": "bad-date", "date": "2025-02-30"},
        {**H100_IN, "id": "too-early", "date": "2021-01-01"},
        {**H100_IN, "id": "ok-2"},
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\nnot json\n"
    result = runner.invoke(app, ["decide", "-", "--no-trace"], input=text)
    assert result.exit_code == 2
    out = lines(result.stdout)
    assert [d["id"] for d in out] == [r["id"] for r in records] + [None]
    errors = {d["id"]: d["error"] for d in out if "error" in d}
    assert errors["bad-country"]["field"] == "destination"
    assert "did you mean IN (India)" in errors["bad-country"]["message"]
    assert errors["bad-chip"]["field"] == "item.chip"
    assert "nvidia-h100-sxm" in errors["bad-chip"]["message"]
    assert errors["bad-qty"]["field"] == "quantity"
    assert errors["bad-date"]["field"] == "date"
    assert (
        errors["too-early"]["field"] == "date"
        and "before the first" in errors["too-early"]["message"]
    )
    assert errors[None]["field"] == "record" and "line 8" in errors[None]["message"]
    assert out[0]["authorization"] == "NLR" and out[-2]["authorization"] == "NLR"


def test_decide_regime_and_reform_options(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["decide", "-", "--regime", "us-2025-01-13-ai-diffusion", "--no-trace"],
        input=json.dumps(H100_IN),
    )
    (decision,) = lines(result.stdout)
    assert decision["regime"]["status"] == "what-if" and decision["authorization"] == "LPP"
    assert decision["quota"]["pool"] == "lpp:acme-in:2025"
    reform = tmp_path / "half.yaml"
    reform.write_text(
        "id: lpp-half\ntitle: LPP halved\nbase: us-2025-01-13-ai-diffusion\n"
        "parameters:\n  lpp.annual_tpp_per_consignee: 13450000\n"
    )
    result = runner.invoke(
        app, ["decide", "-", "--reform", str(reform), "--no-trace"], input=json.dumps(H100_IN)
    )
    (decision,) = lines(result.stdout)
    assert decision["regime"]["id"].startswith("reform-lpp-half-")
    assert decision["authorization"] == "LICENSE"  # 15.8M TPP > 13.45M
    bad = runner.invoke(
        app, ["decide", "-", "--regime", "us-2023-11-71"], input=json.dumps(H100_IN)
    )
    assert bad.exit_code == 2 and "did you mean" in bad.stderr


def test_decide_batch_csv_and_parquet(tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text(
        "id,date,destination,chip,quantity,consignee_id,consignee_headquarters\n"
        "a,2025-06-01,IN,nvidia-h100-sxm,1000,acme,IN\n"
        "b,2025-06-02,IN,nvidia-h100-sxm,1000,acme,IN\n"
        "c,2025-06-03,XX,nvidia-h100-sxm,1,acme,IN\n"
        "d,2025-06-04,CN,nvidia-h100-sxm,ten,acme,CN\n"
        "e,2025-06-05,CN,nvidia-h100-sxm,1,acme\n"
    )
    out = tmp_path / "out.parquet"
    result = runner.invoke(
        app, ["decide-batch", str(src), str(out), "--regime", "us-2025-01-13-ai-diffusion"]
    )
    assert result.exit_code == 2, result.output
    frame = pl.read_parquet(out)
    assert frame.height == 5 and frame["id"].to_list() == ["a", "b", "c", "d", "e"]
    assert frame["row"].to_list() == [2, 3, 4, 5, 6]
    assert frame["authorization"].to_list()[:2] == ["LPP", "LICENSE"]
    assert frame["error_field"].to_list()[2:4] == ["destination", "quantity"]
    assert "row 4: destination" in result.stderr and "row 5: quantity" in result.stderr
    assert frame["error_field"][4] == "row"  # ragged line: reported, not dropped
    # Parquet in, CSV out, all valid
    pq = tmp_path / "in.parquet"
    pl.read_csv(src).head(2).write_parquet(pq)
    out_csv = tmp_path / "out.csv"
    ok = runner.invoke(app, ["decide-batch", str(pq), str(out_csv)])
    assert ok.exit_code == 0, ok.output
    assert pl.read_csv(out_csv)["classification"].to_list() == ["3A090.a", "3A090.a"]


def test_decide_batch_unknown_column_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("date,destination,chipp\n2025-06-01,IN,x\n")
    result = runner.invoke(app, ["decide-batch", str(src), str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "unknown column(s) chipp" in result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_regimes_verbs(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["regimes", "list", "--json"])
    assert listed.exit_code == 0
    assert [r["id"] for r in json.loads(listed.stdout)][:2] == ["us-2022-10-07", "us-2023-11-17"]
    shown = runner.invoke(app, ["regimes", "show", "us-2025-01-13-ai-diffusion", "--json"])
    body = json.loads(shown.stdout)
    assert (
        body["provisions"]["lpp"]["parameters"]["annual_tpp_per_consignee"]["value"] == 26_900_000
    )
    assert runner.invoke(app, ["regimes", "show", "us-2024-12-02"]).exit_code == 0
    diff = json.loads(
        runner.invoke(app, ["regimes", "diff", "us-2023-11-17", "us-2024-12-02"]).stdout
    )
    assert "classification_3a090c_hbm" in diff["provisions_added"]
    asof = json.loads(runner.invoke(app, ["regimes", "as-of", "2026-02-01"]).stdout)
    assert asof["regime"] == "us-2026-01-15-china-review"
    assert runner.invoke(app, ["regimes", "as-of", "2020-01-01"]).exit_code == 2
    assert runner.invoke(app, ["regimes", "show", "nope"]).exit_code == 2


def test_chips_verbs() -> None:
    listed = runner.invoke(app, ["chips", "list", "--json"])
    chips = {c["id"]: c for c in json.loads(listed.stdout)}
    assert chips["nvidia-h100-sxm"]["tpp"] == 15832
    assert chips["nvidia-h20"]["classification_today"] == "not-controlled"
    shown = json.loads(runner.invoke(app, ["chips", "show", "nvidia-a800"]).stdout)
    assert shown["classification_by_regime"]["us-2022-10-07"] == "not-controlled"
    assert shown["classification_by_regime"]["us-2023-11-17"] == "3A090.a"
    missing = runner.invoke(app, ["chips", "show", "nvidia-h100"])
    assert missing.exit_code == 2 and "did you mean" in missing.stderr


def test_demo_runs() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "would be decided differently" in result.stdout


@pytest.mark.parametrize("verb", ["decide", "decide-batch", "regimes", "chips", "demo"])
def test_every_verb_has_help(verb: str) -> None:
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_console_script_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "sluicegate", "decide", "-", "--no-trace"],
        input=json.dumps(H100_IN),
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["authorization"] == "NLR"
    bad = subprocess.run(
        [sys.executable, "-m", "sluicegate", "decide", str(tmp_path / "none.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "no such file" in bad.stderr
