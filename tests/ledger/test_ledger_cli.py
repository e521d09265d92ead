"""The CLI verbs: `sluice db upgrade`, `ledger reserve|confirm|release|balance|history|attrition`,
`audit verify|export`, with the contract's exit codes (0, 2 bad input / database not ready and
nothing written, 3 broken chain)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledger_helpers import REGIME, lpp_pool, pool_entry, txn
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from sluicegate.cli import app
from sluicegate.ledger import Ledger

runner = CliRunner()


def sluice(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin)


def test_reserve_balance_release_verify_tour(db_url: str) -> None:
    result = sluice(
        "ledger", "reserve", "-", "--regime", REGIME, "--idempotency-key", "k-1",
        stdin=json.dumps(txn("o-1", 100)),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout.splitlines()[0])
    rid = decision["reservation"]["id"]
    again = sluice(
        "ledger", "reserve", "-", "--regime", REGIME, "--idempotency-key", "k-1",
        stdin=json.dumps(txn("o-1", 100)),
    )  # fmt: skip
    assert json.loads(again.stdout.splitlines()[0]) == decision
    balance = json.loads(sluice("ledger", "balance", "--consignee", "acme-in").stdout)
    assert pool_entry(balance, lpp_pool())["used"] == decision["quota"]["this"]
    assert sluice("ledger", "release", rid).exit_code == 0
    assert sluice("ledger", "release", rid).exit_code == 2
    history = [json.loads(line) for line in sluice("ledger", "history").stdout.splitlines()]
    assert [h["kind"] for h in history] == ["reserve", "release"]
    verify = sluice("audit", "verify")
    assert verify.exit_code == 0 and json.loads(verify.stdout)["intact"] is True
    export = sluice("audit", "export", "--format", "csv")
    assert export.exit_code == 0 and export.stdout.startswith("seq,")


def test_jsonl_file_input(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(txn(f"o-{i}", 10)) for i in range(3)) + "\n")
    result = sluice("ledger", "reserve", str(path), "--regime", REGIME)
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == ["o-0", "o-1", "o-2"]


def _head(db_url: str) -> int:
    with Ledger(db_url, create=False) as ledger:
        return ledger.verify_audit().head_seq


@pytest.mark.parametrize(
    "args, stdin, field",
    [
        (("ledger", "reserve", "-"), '{"id": "x", "date": "2025-06-01"', "line"),
        (("ledger", "reserve", "-"), json.dumps(dict(txn("z", 1), quantity=0)), "quantity"),
        (("ledger", "reserve", "-"), json.dumps(dict(txn("z", 1), quantity=-3)), "quantity"),
        (("ledger", "confirm", "rsv-unknown"), None, "reservation"),
        (("ledger", "release", "rsv-unknown"), None, "reservation"),
        (("ledger", "balance", "--pool", "lpp:nobody:2025"), None, "pool"),
        (("ledger", "balance", "--consignee", "nobody"), None, "consignee"),
        (
            ("ledger", "attrition", "--pool", "nveu:x:AE", "--tpp", "0", "--reason", "loss"),
            None,
            "tpp",
        ),
        (
            ("ledger", "attrition", "--pool", "nveu:x:AE", "--tpp", "-1", "--reason", "loss"),
            None,
            "tpp",
        ),
        (
            ("ledger", "attrition", "--pool", "nveu:x:AE", "--tpp", "5", "--reason", "loss"),
            None,
            "pool",
        ),
        (("audit", "export", "--from", "2025-13-01"), None, "from"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    db_url: str, args: tuple[str, ...], stdin: str | None, field: str
) -> None:
    assert (
        sluice(
            "ledger", "reserve", "-", "--regime", REGIME, stdin=json.dumps(txn("ok", 5))
        ).exit_code
        == 0
    )
    before = _head(db_url)
    result = sluice(*args, stdin=stdin)
    assert result.exit_code == 2, result.output
    output = result.stdout + result.stderr
    assert f'"field": "{field}' in output or f'"field":"{field}' in output, output
    assert _head(db_url) == before


def test_missing_database_exits_2_and_creates_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nothing-here.db"
    monkeypatch.setenv("SLUICE_DATABASE_URL", f"sqlite:///{path}")
    for verb in (
        ("ledger", "balance"),
        ("ledger", "history"),
        ("audit", "verify"),
        ("ledger", "release", "rsv-1"),
    ):
        result = sluice(*verb)
        assert result.exit_code == 2, (verb, result.output)
        assert "sluice db upgrade" in result.stderr
    assert not path.exists()
    assert sluice("db", "upgrade").exit_code == 0
    assert sluice("ledger", "history").exit_code == 0


def test_bad_sqlite_synchronous_setting_exits_2(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_SQLITE_SYNCHRONOUS", "SOMETIMES")
    if db_url.startswith("sqlite"):
        result = sluice("ledger", "reserve", "-", stdin=json.dumps(txn("o", 1)))
        assert result.exit_code == 2 and "SLUICE_SQLITE_SYNCHRONOUS" in result.stderr


def test_unreachable_postgres_exits_2(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "SLUICE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    )
    result = sluice("ledger", "balance")
    assert result.exit_code == 2 and "cannot open" in result.stderr


def test_wrong_migration_exits_2(db_url: str) -> None:
    assert sluice("db", "upgrade").exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE ledger_alembic_version SET version_num = 'from-the-future'")
        )
    engine.dispose()
    for verb in (("ledger", "balance"), ("audit", "verify")):
        result = sluice(*verb)
        assert result.exit_code == 2 and "from-the-future" in result.stderr
    result = sluice("ledger", "reserve", "-", stdin=json.dumps(txn("o", 1)))
    assert result.exit_code == 2
    result = sluice("db", "upgrade")
    assert result.exit_code == 2 and "upgrade sluicegate" in result.stderr


def test_broken_chain_exits_3_and_says_where(db_url: str) -> None:
    for i in range(3):
        sluice("ledger", "reserve", "-", "--regime", REGIME, stdin=json.dumps(txn(f"o-{i}", 5)))
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    result = sluice("audit", "verify")
    assert result.exit_code == 3
    assert "seq 2" in result.stderr


def test_engine_failure_exits_1_and_writes_nothing(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sluicegate import rules

    def overshooting(records, *, quota=None, draws=None, **_):  # type: ignore[no-untyped-def]
        quota.used("lpp:acme-in:2025")
        draws.append({"index": 0, "pool": "lpp:acme-in:2025", "amount": 3e7, "limit": 2.69e7})
        return [{"id": r.get("id"), "authorization": "LPP", "regime": {"id": "x"}} for r in records]

    monkeypatch.setattr(rules, "decide_records", overshooting, raising=False)
    result = sluice("ledger", "reserve", "-", stdin=json.dumps(txn("o", 1)))
    assert result.exit_code == 1 and "refusing to commit" in result.stderr
    assert _head(db_url) == 0
