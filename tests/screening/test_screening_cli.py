"""The screening verbs of `sluice` (contract §3): one line out per query, exit codes 0 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_screen_valid_queries_exit_0(lists_dir: Path) -> None:
    queries = (
        '{"id": 1, "name": "Mahan Air", "country": "IR"}\n{"id": "b", "name": "Acme Widgets"}\n'
    )
    result = runner.invoke(app, ["screen", "-"], input=queries)
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert [line["id"] for line in lines] == [1, "b"]
    assert lines[0]["decision"] == "block"
    assert lines[0]["matches"][0]["entity_id"] == "ofac-sdn:12927"
    assert lines[1] == {"id": "b", "matches": [], "decision": "clear"}


def test_screen_invalid_query_exit_2_and_one_line_each(lists_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": 1, "name": ""}\nnot json\n{"id": 3, "name": "Mahan Air"}\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["screen", str(path)])
    assert result.exit_code == 2
    lines = _lines(result.stdout)
    assert len(lines) == 3
    assert lines[0]["error"]["field"] == "name"
    assert lines[1]["error"]["field"] == "record"
    assert lines[2]["decision"] == "block"


def test_lists_load_status_and_atomic_failure(lists_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "mieu.csv"
    good.write_text(
        "Type,Name,Alias,Country,Topics,Program,Date,End date,Source URL\n"
        "Organization,Test Intelligence Bureau,TIB,CN,export.control,US-BIS-MIEU,2026-11-01,,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["lists", "load", str(good)])
    assert result.exit_code == 0, result.output
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "Type,Name,Alias,Country,Topics,Program,Date,End date,Source URL\nOrganization,,,,,,,,\n"
    )
    result = runner.invoke(app, ["lists", "load", str(good), str(broken)])
    assert result.exit_code == 2
    assert f"{broken}:2" in result.output
    status = runner.invoke(app, ["lists", "status"])
    rows = {row["list"]: row for row in _lines(status.stdout)}
    assert rows["bis-mieu"]["count"] == 1  # the failed load changed nothing
    screened = runner.invoke(
        app, ["screen"], input='{"id": 1, "name": "Test Intelligence Bureau"}\n'
    )
    assert _lines(screened.stdout)[0]["decision"] == "block"


def test_lists_diff(tmp_path: Path) -> None:
    header = "schema,name,aliases,topics,program,authority,reason,report-date,start-date,end-date,country,notes,source_url\n"
    old = tmp_path / "old.csv"
    old.write_text(header + "Company,Alpha Co,,,,,,,,,,,\nCompany,Beta Co,,,,,,,,,,,\n")
    new = tmp_path / "new.csv"
    new.write_text(header + "Company,Alpha Co,,,,,,,,,,,\nCompany,Gamma Co,,,,,,,,,,,\n")
    result = runner.invoke(app, ["lists", "diff", str(old), str(new)])
    assert result.exit_code == 0, result.output
    report = _lines(result.stdout)[0]
    assert report["counts"] == {"added": 1, "removed": 1, "changed": 0}


def test_parties_resolve(lists_dir: Path, tmp_path: Path) -> None:
    owners = tmp_path / "owners.csv"
    owners.write_text(
        "owner,owned,percent,owned_headquarters\nofac-sdn:306,acme-sg,50,SG\n", encoding="utf-8"
    )
    result = runner.invoke(
        app, ["parties", "resolve", "acme-sg", "nobody", "--ownership", str(owners)]
    )
    assert result.exit_code == 2
    lines = _lines(result.stdout)
    assert lines[0]["treated_as_listed"] is True and lines[0]["headquarters"] == "SG"
    assert lines[1]["error"]["field"] == "party"


def test_screen_workers_give_the_same_lines_in_order(
    lists_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers 2 (and the default, one per core) screens batches in forked processes; the
    output is byte-identical to one process, errors included, one line per input line, in
    input order."""
    import sluicegate.screening.screener as screener_module

    monkeypatch.setattr(screener_module, "BATCH_SIZE", 4)  # several batches from a short file
    monkeypatch.setattr(screener_module, "SMALL_BATCH", 1)  # ... each through the batch path
    names = ["Mahan Air", "Huawei Technologies", "Acme Widgets", "Rosoboronexport", "Ivan Petrov"]
    lines = [json.dumps({"id": i, "name": names[i % len(names)]}) for i in range(14)]
    lines.insert(5, "not json")
    lines.insert(9, json.dumps({"id": "empty", "name": ""}))
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = runner.invoke(app, ["screen", str(path), "--workers", "1"])
    two = runner.invoke(app, ["screen", str(path), "--workers", "2"])
    auto = runner.invoke(app, ["screen", str(path)])  # default: one process per core
    assert one.exit_code == two.exit_code == auto.exit_code == 2
    assert one.stdout == two.stdout == auto.stdout
    out = _lines(two.stdout)
    assert len(out) == len(lines)
    assert [line.get("id") for line in out][:6] == [0, 1, 2, 3, 4, None]
    assert out[9]["error"]["field"] == "name"
