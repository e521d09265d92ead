"""``sluice db``, ``sluice ledger`` and ``sluice audit``: thin CLI shells over
``sluicegate.ledger.Ledger``. ``register(app)`` adds them to the main ``sluice`` command.

Exit codes (contract §3): 0 done, 2 invalid input or database not ready (nothing written),
1 internal failure, 3 audit chain broken. Errors are printed to stderr as
``{"error": {"field": ..., "message": ...}}``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from sluicegate.ledger.audit import canonical_json
from sluicegate.ledger.errors import DatabaseNotReady, InvalidRecords, LedgerError

T = TypeVar("T")

db_app = typer.Typer(help="The ledger database (schema migrations).", no_args_is_help=True)
ledger_app = typer.Typer(
    help="Quota ledger: reserve quota with the rules engine, confirm, release, balances.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``db``, ``ledger`` and ``audit`` to the ``sluice`` command."""
    app.add_typer(db_app, name="db")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(audit_app, name="audit")


def _fail(field: str, message: str, code: int = 2) -> typer.Exit:
    typer.echo(json.dumps({"error": {"field": field, "message": message}}), err=True)
    return typer.Exit(code)


def _guard(work: Callable[[], T]) -> T:
    """Run ``work``; ledger errors become exit 2 with the field and reason on stderr."""
    try:
        return work()
    except (LedgerError, DatabaseNotReady) as exc:
        raise _fail(exc.field, exc.message) from None


def _open(create: bool) -> Any:
    from sluicegate.ledger.core import Ledger

    return _guard(lambda: Ledger(create=create))


def _date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(field, f"{value!r} is not a date in YYYY-MM-DD form") from None


# ---------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the project database's schema, or migrate it to this version: the ledger and its
    audit chain, API keys and KYC checks (service_*), the cloud monitor's state (cloud_*).
    SQLite ./sluicegate.db, or SLUICE_DATABASE_URL. Prints {"database", "from", "to"}.

    Example: SLUICE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test sluice db upgrade
    """
    from sluicegate.ledger import upgrade_database

    result = _guard(upgrade_database)
    typer.echo(json.dumps(result))


# ---------------------------------------------------------------------------- ledger
def _read_records(source: str) -> tuple[list[Any], list[tuple[int, str]]]:
    """JSON object, JSON array or JSON Lines from a file or stdin. Returns the records and the
    (position, reason) of lines that are not JSON."""
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise _fail("file", f"{source} does not exist or is not a file")
        text = path.read_text("utf-8")
    stripped = text.strip()
    if not stripped:
        raise _fail("file", "no transaction given (empty input)")
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        return whole, []
    if isinstance(whole, dict):
        return [whole], []
    records: list[Any] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            bad.append((len(records), f"line {number} is not JSON: {exc}"))
            records.append(None)
    return records, bad


def _batch_failed(exc: InvalidRecords, records: list[Any]) -> None:
    """Print one line per input record (errors where they are, and a note on the valid ones that
    nothing was written) and exit 2."""
    note = (
        "not reserved: record {record} of this input is invalid and a reserve call is all or "
        "nothing; nothing was written"
    )
    for line in exc.lines(records, "records", note):
        typer.echo(canonical_json(line))
    raise typer.Exit(2)


@ledger_app.command("reserve")
def ledger_reserve(
    source: str = typer.Argument("-", metavar="[FILE|-]", help="JSON object or JSON Lines"),
    regime: str | None = typer.Option(None, "--regime", help="regime id (default: by date)"),
    reform: str | None = typer.Option(
        None, "--reform", help="reform YAML file, or the name of a shipped reform"
    ),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", help="a retry with the same key never counts twice"
    ),
    trace: bool = typer.Option(
        True, "--trace/--no-trace", help="include the rule trace (in the output and the audit log)"
    ),
) -> None:
    """Decide transactions and hold the quota they draw, atomically (all records or none).

    Prints one decision per record as JSON Lines (as `sluice decide`), each with
    "reservation": {"id", "state"}. Example:

      echo '{"id":"o-1","date":"2025-06-01","destination":"IN","item":{"chip":"nvidia-h100-sxm"},
      "quantity":100,"consignee":{"id":"acme-in"}}' |
      sluice ledger reserve --regime us-2025-01-13-ai-diffusion --idempotency-key o-1
    """
    records, bad = _read_records(source)
    if bad:
        results: list[dict[str, Any]] = [r if isinstance(r, dict) else {} for r in records]
        for position, reason in bad:
            results[position] = {"id": None, "error": {"field": "line", "message": reason}}
        _batch_failed(InvalidRecords(results), records)
    ledger = _open(create=True)
    try:
        decisions = ledger.reserve(
            records, regime=regime, reform=reform, idempotency_key=idempotency_key, trace=trace
        )
    except InvalidRecords as exc:
        _batch_failed(exc, records)
        return
    except (LedgerError, DatabaseNotReady) as exc:
        raise _fail(exc.field, exc.message) from None
    except (ValueError, KeyError) as exc:  # the engine refused the arguments (--regime, --reform)
        raise _fail(
            str(getattr(exc, "field", "input")), str(getattr(exc, "message", exc))
        ) from None
    except RuntimeError as exc:  # e.g. the rules engine missing or misbehaving: nothing written
        raise _fail("internal", str(exc), code=1) from None
    finally:
        ledger.close()
    for decision in decisions:
        typer.echo(canonical_json(decision))


def _transition(verb: str, reservation_id: str) -> None:
    ledger = _open(create=False)
    try:
        result = _guard(lambda: getattr(ledger, verb)(reservation_id))
    finally:
        ledger.close()
    typer.echo(canonical_json(result))


@ledger_app.command("confirm")
def ledger_confirm(reservation_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Mark a held reservation as shipped. Example: sluice ledger confirm rsv-1a2b..."""
    _transition("confirm", reservation_id)


@ledger_app.command("release")
def ledger_release(reservation_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Cancel a held reservation; its quota returns to the pools. Example:
    sluice ledger release rsv-1a2b..."""
    _transition("release", reservation_id)


@ledger_app.command("attrition")
def ledger_attrition(
    tpp: str = typer.Option(..., "--tpp", help="TPP lost (total, > 0)"),
    reason: str = typer.Option(..., "--reason", help="loss, damage, failure, relocation, resale"),
    pool: str | None = typer.Option(None, "--pool", help="nveu:CONSIGNEE:CC"),
    consignee: str | None = typer.Option(None, "--consignee"),
    country: str | None = typer.Option(None, "--country"),
    date: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default today)"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record NVEU installed base lost (748.15(a)(2)(iii)(B)). Example:
    sluice ledger attrition --consignee acme-in --country IN --tpp 1583200 --reason failure"""
    ledger = _open(create=False)
    try:
        result = _guard(
            lambda: ledger.attrition(
                pool=pool,
                consignee=consignee,
                country=country,
                tpp=tpp,
                reason=reason,
                date=date,
                note=note,
            )
        )
    finally:
        ledger.close()
    typer.echo(canonical_json(result))


@ledger_app.command("balance")
def ledger_balance(
    consignee: str | None = typer.Option(None, "--consignee", help="consignee id"),
    country: str | None = typer.Option(None, "--country", help="ISO country code"),
    pool: str | None = typer.Option(None, "--pool", help="a pool key, e.g. lpp:acme-in:2025"),
) -> None:
    """Print each pool's limit, used and remaining as JSON. Example:
    sluice ledger balance --consignee acme-in"""
    ledger = _open(create=False)
    try:
        result = _guard(lambda: ledger.balance(consignee=consignee, country=country, pool=pool))
    finally:
        ledger.close()
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@ledger_app.command("history")
def ledger_history(
    consignee: str | None = typer.Option(None, "--consignee"),
    pool: str | None = typer.Option(None, "--pool"),
    reservation: str | None = typer.Option(None, "--reservation"),
    kind: str | None = typer.Option(None, "--kind", help="reserve, confirm, release, attrition"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the last N events"),
) -> None:
    """Ledger events, oldest first, as JSON Lines. Example: sluice ledger history --limit 20"""
    ledger = _open(create=False)
    try:
        events = _guard(
            lambda: ledger.history(
                consignee=consignee, pool=pool, reservation=reservation, kind=kind, limit=limit
            )
        )
    finally:
        ledger.close()
    for event in events:
        typer.echo(canonical_json(event))


# ---------------------------------------------------------------------------- audit
@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain. Exit 0 when intact, 3 when broken (the report says where)."""
    ledger = _open(create=False)
    try:
        report = ledger.verify_audit()
    finally:
        ledger.close()
    typer.echo(json.dumps(report.as_dict(), indent=2))
    if not report.intact:
        first = report.problems[0]
        where = f"seq {first['seq']}" if first.get("seq") is not None else first.get("pool", "")
        typer.echo(f"audit chain BROKEN at {where}: {first['problem']}", err=True)
        raise typer.Exit(3)


@audit_app.command("export")
def audit_export(
    start: str | None = typer.Option(None, "--from", help="first day, YYYY-MM-DD (inclusive)"),
    end: str | None = typer.Option(None, "--to", help="last day, YYYY-MM-DD (inclusive)"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    out: Path | None = typer.Option(None, "--out", help="file to write (default stdout)"),
) -> None:
    """Write audit records for recordkeeping (15 CFR 762). Example:
    sluice audit export --from 2025-01-01 --to 2025-12-31 --format csv --out audit-2025.csv"""
    first, last = _date(start, "from"), _date(end, "to")
    if fmt not in ("jsonl", "csv"):
        raise _fail("format", f"{fmt!r} is not one of jsonl, csv")
    ledger = _open(create=False)
    try:
        if out is None:
            count = _guard(lambda: ledger.export_audit(sys.stdout, start=first, end=last, fmt=fmt))
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                count = _guard(lambda: ledger.export_audit(handle, start=first, end=last, fmt=fmt))
    finally:
        ledger.close()
    typer.echo(f"{count} audit records exported", err=True)
