"""``sluice cloud kyc`` and ``sluice cloud monitor`` (contract §3): thin shells over the package.

:func:`register` adds the ``cloud`` group to the ``sluice`` app. Exit codes follow the contract:
0 every record valid, 2 some input invalid (its line or reject says why), 1 internal failure.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2

cloud_app = typer.Typer(
    help="Cloud (IaaS) know-your-customer checks and the training-compute monitor.",
    no_args_is_help=True,
)


def _err(message: str) -> None:
    typer.echo(f"sluice: {message}", err=True)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


ReformOpt = Annotated[
    str | None,
    typer.Option(
        "--reform",
        help="Run under a reform: a YAML file, or the name of a shipped reform (as `sluice "
        "decide --reform`); it changes the 4E091 threshold and the tiers the checks read.",
    ),
]


def _config(reform: str | None) -> Any:
    """The cloud configuration, under ``--reform`` if given (exit 2 with the reason if not usable)."""
    from sluicegate.cloud.thresholds import ReformNotApplicable, load_config, with_reform

    if reform is None:
        return load_config()
    try:
        return with_reform(reform)
    except ReformNotApplicable as exc:
        _err(f"--reform: {exc}")
        raise typer.Exit(EXIT_INVALID) from None


@cloud_app.command("kyc")
def kyc_command(
    source: Annotated[
        str, typer.Argument(help="Customer records: JSON Lines or CSV file, or - for stdin.")
    ] = "-",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date of the check (YYYY-MM-DD); default today (UTC)."),
    ] = None,
    skip_screening: Annotated[
        bool,
        typer.Option(
            "--skip-screening",
            help="Run without restricted-party screening (outcome at least "
            "enhanced-due-diligence).",
        ),
    ] = False,
    reform: ReformOpt = None,
) -> None:
    """Check IaaS customers: identification, screening, headquarters tier and red flags.

    One JSON line out per customer: {"account", "outcome", "reasons", "citations", ...}.

    Example: sluice cloud kyc customers.jsonl --as-of 2025-03-01 --reform weights-threshold-1e25
    """
    from sluicegate.cloud.customers import CustomerError, parse_customer, read_customer_records
    from sluicegate.cloud.kyc import ScreeningUnavailable, check_customer

    config = _config(reform)

    date = None
    if as_of:
        try:
            date = dt.date.fromisoformat(as_of)
        except ValueError:
            _err(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
            raise typer.Exit(EXIT_INVALID) from None
    invalid = False
    try:
        for raw in read_customer_records(source):
            if isinstance(raw, CustomerError):
                invalid = True
                typer.echo(_dumps(raw.to_json()))
                continue
            try:
                customer = parse_customer(raw)
            except CustomerError as exc:
                invalid = True
                typer.echo(_dumps(exc.to_json()))
                continue
            result = check_customer(
                customer, as_of=date, config=config, skip_screening=skip_screening
            )
            typer.echo(_dumps(result))
    except ScreeningUnavailable as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_INTERNAL) from None
    except OSError as exc:
        _err(f"{source}: cannot read ({exc.strerror})")
        raise typer.Exit(EXIT_INVALID) from None
    raise typer.Exit(EXIT_INVALID if invalid else EXIT_OK)


def _alert_table(alerts: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(alerts)} alert(s)")
    for col in ("kind", "threshold", "operations", "accounts", "owner", "jobs", "detail"):
        table.add_column(col)
    for a in alerts:
        ev = a.get("evidence", {})
        detail = ""
        if a["kind"] == "projected-crossing":
            detail = f"in {ev.get('days_to_crossing')} days; upper crosses: {ev.get('upper_estimate_crosses')}"
        elif a["kind"] == "threshold-crossed":
            detail = f"low {ev.get('operations_low'):.3g} / high {ev.get('operations_high'):.3g}"
        elif a["kind"] == "cluster-capacity":
            detail = f"{ev.get('hours_over')} h over; {ev.get('definitions')}"
        elif a["kind"] == "structuring":
            detail = f"from {ev.get('window_start', ev.get('first_hour'))}"
        table.add_row(
            a["kind"],
            f"{a.get('threshold_id')} ({a['threshold_ops']:.0e})",
            f"{a['operations']:.3g}",
            ", ".join(a["accounts"]),
            a["owner"] or "",
            ", ".join(a["jobs"][:4]) + (" …" if len(a["jobs"]) > 4 else ""),
            detail,
        )
    Console(stderr=True).print(table)


@cloud_app.command("monitor")
def monitor_command(
    telemetry: Annotated[
        list[Path], typer.Argument(help="Telemetry files: CSV, Parquet or JSON Lines.")
    ],
    customers: Annotated[
        Path | None,
        typer.Option("--customers", help="Customer records (beneficial owners, headquarters)."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (default, out of core) or dask.")
    ] = "duckdb",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address (tcp://host:8786); default a LocalCluster for the run.",
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Write rejected rows here (JSON Lines: file, row, reason)."),
    ] = None,
    state_db: Annotated[
        str | None,
        typer.Option(
            "--state-db",
            help="SQLAlchemy URL of the state database (default SLUICE_DATABASE_URL or "
            "sqlite:///./sluicegate.db).",
        ),
    ] = None,
    stateless: Annotated[
        bool,
        typer.Option("--stateless", help="Do not read or write state: this batch alone."),
    ] = False,
    projection_days: Annotated[
        int | None,
        typer.Option("--projection-days", help="Alert on crossings projected within N days."),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Rolling window for structuring (days)."),
    ] = None,
    table: Annotated[
        bool, typer.Option("--table", help="Also print the alerts as a table on stderr.")
    ] = False,
    reform: ReformOpt = None,
) -> None:
    """Estimate training compute from accelerator telemetry and alert on thresholds.

    Alerts go to stdout as JSON Lines: {"kind", "threshold_ops", "operations", "accounts",
    "owner", "jobs", "evidence"}. State (running totals, seen rows) is kept in the database,
    so successive batches add up and a row sent twice counts once.

    Example: sluice cloud monitor usage-*.parquet --customers customers.jsonl --rejects bad.jsonl

    With --reform the alerts use the reform's thresholds and tiers, carry its id and content
    hash in evidence.reform, and the hash is recorded with the batch in the state database.
    """
    from sluicegate.cloud.customers import load_customers
    from sluicegate.cloud.ingest import TelemetryError
    from sluicegate.cloud.monitor import run_monitor
    from sluicegate.ledger.errors import DatabaseNotReady

    if engine not in ("duckdb", "dask"):
        _err(f"--engine: {engine!r} is not one of duckdb, dask")
        raise typer.Exit(EXIT_INVALID)
    config = _config(reform)
    customer_records: list[Any] = []
    if customers is not None:
        try:
            customer_records, bad = load_customers(str(customers))
        except OSError as exc:
            _err(f"--customers: {customers}: cannot read ({exc.strerror})")
            raise typer.Exit(EXIT_INVALID) from None
        if bad:
            for error in bad:
                _err(f"--customers: {_dumps(error.to_json())}")
            raise typer.Exit(EXIT_INVALID)
    try:
        result = run_monitor(
            [str(p) for p in telemetry],
            customers=customer_records,
            engine=engine,  # type: ignore[arg-type]
            scheduler=scheduler,
            state_url=state_db,
            stateless=stateless,
            projection_days=projection_days,
            window_days=window_days,
            config=config,
        )
    except TelemetryError as exc:
        _err(f"{exc} (nothing was recorded)")
        raise typer.Exit(EXIT_INVALID) from None
    except DatabaseNotReady as exc:  # the state database: "run `sluice db upgrade`", ...
        _err(f"{exc.field}: {exc.message} (nothing was recorded)")
        raise typer.Exit(EXIT_INVALID) from None
    for alert in result.alerts:
        typer.echo(_dumps(alert))
    if rejects is not None:
        with rejects.open("w", encoding="utf-8") as handle:
            for r in result.rejects:
                handle.write(_dumps(r.to_json()) + "\n")
    elif result.rejects:
        for r in result.rejects:
            _err(f"rejected {_dumps(r.to_json())}")
    s = result.summary
    _err(
        f"{s['rows_read']} rows read, {s['rows_accepted']} accepted, {s['rows_rejected']} "
        f"rejected, {s['rows_duplicate']} duplicate; {s['jobs']} jobs in {s['accounts']} "
        f"accounts; {s['alerts']} alert(s)"
        + (f"; rejects in {rejects}" if rejects is not None and result.rejects else "")
        + (
            f"; under reform {s['reform']['id']} (hash {s['reform']['reform_hash']})"
            if s.get("reform")
            else ""
        )
    )
    if table or sys.stderr.isatty():
        _alert_table(result.alerts)
    raise typer.Exit(EXIT_INVALID if s["rows_rejected"] else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add the ``cloud`` command group to the ``sluice`` app."""
    app.add_typer(cloud_app, name="cloud")


@cloud_app.command("sample")
def sample_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the demonstration files.")],
) -> None:
    """Write a small demonstration set: customers.jsonl, telemetry.csv and telemetry.parquet.

    Example: sluice cloud sample demo && sluice cloud monitor demo/telemetry.csv
    --customers demo/customers.jsonl --rejects demo/rejects.jsonl --stateless
    """
    from sluicegate.cloud.sample import write_sample

    for name, path in write_sample(directory).items():
        typer.echo(f"{name}: {path}")
