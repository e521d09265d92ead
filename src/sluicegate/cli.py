"""The ``sluice`` command. Thin: parses arguments, calls a capability's public API, prints.

Exit codes (contract §3): 0 every record valid, 2 some input invalid (its line says why),
1 internal failure, 3 audit chain broken.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="sluice",
    help="sluicegate: AI chip and model-weight export controls as dated, cited, explainable rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
regimes_app = typer.Typer(
    help="The regime vintages (law as data): list, show, diff, as-of.", no_args_is_help=True
)
chips_app = typer.Typer(
    help="The accelerator catalogue with TPP, performance density and sources.",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    help="The declared rules: id, kind, priority, provision, citation.", no_args_is_help=True
)
app.add_typer(regimes_app, name="regimes")
app.add_typer(rules_app, name="rules")
app.add_typer(chips_app, name="chips")

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID, EXIT_BROKEN = 0, 1, 2, 3

RegimeOpt = Annotated[
    str | None,
    typer.Option(
        "--regime", help="Evaluate under this regime id instead of the one in force on each date."
    ),
]
ReformOpt = Annotated[
    str | None,
    typer.Option(
        "--reform",
        help="Evaluate under a reform: a YAML file, or the name of a shipped reform "
        "(a what-if that patches a base regime).",
    ),
]


def _err(message: str) -> None:
    typer.echo(f"sluice: {message}", err=True)


def _iter_records(source: str) -> Any:
    """One JSON object (may span lines), a JSON array, or JSON Lines — read lazily for JSON Lines."""
    from sluicegate.rules.table import parse_json_lines

    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")
    try:
        first = ""
        for line in handle:
            if line.strip():
                first = line
                break
        if not first:
            return
        stripped = first.strip()
        complete = True
        try:
            json.loads(stripped)
        except json.JSONDecodeError:
            complete = False
        if not complete and stripped[0] in "{[":
            # a pretty-printed object or an array: read the whole document
            text = first + handle.read()
            try:
                whole = json.loads(text)
            except json.JSONDecodeError:
                whole = None
            if isinstance(whole, dict):
                yield whole
                return
            if isinstance(whole, list):
                yield from whole
                return
            yield from parse_json_lines(text.splitlines())
            return
        number = 1
        yield from parse_json_lines([first])
        for line in handle:
            number += 1
            if line.strip():
                parsed = parse_json_lines([line])[0]
                if hasattr(parsed, "message"):
                    parsed.message = parsed.message.replace("line 1 ", f"line {number} ", 1)
                yield parsed
    finally:
        if handle is not sys.stdin:
            handle.close()


def _decide_command(
    source: str,
    regime: str | None,
    reform: str | None,
    trace: bool,
    screen: bool = False,
    ledger: bool = False,
) -> int:
    from collections import deque

    from sluicegate.rules import DecisionRequestError, decide_stream

    if source != "-" and not Path(source).is_file():
        _err(f"{source}: no such file")
        return EXIT_INVALID
    records: Any = _iter_records(source)
    if screen:
        from sluicegate.screening.decisions import enrich_with_parties, screen_decision

        records = enrich_with_parties(records)
    book = None
    journal = None
    if ledger:
        from sluicegate.ledger import Ledger, LedgerError

        try:
            journal = Ledger(create=False)
        except LedgerError as exc:
            _err(f"--ledger: {exc}")
            return EXIT_INVALID
        book = journal.quota_book()
    pending: deque[Any] = deque()
    to_log: list[tuple[Any, dict[str, Any]]] = []

    def feed() -> Any:
        for record in records:
            pending.append(record)
            yield record

    def log() -> None:
        if journal is not None and to_log:
            journal.log_decisions([r for r, _ in to_log], [d for _, d in to_log], reform=reform)
        to_log.clear()

    out = sys.stdout
    invalid = 0
    try:
        for decision in decide_stream(
            feed(), regime=regime, reform=reform, trace=trace, quota=book
        ):
            record = pending.popleft()
            if screen:
                decision = screen_decision(record, decision)
            invalid += "error" in decision
            out.write(json.dumps(decision, ensure_ascii=False) + "\n")
            if journal is not None and "error" not in decision and isinstance(record, dict):
                to_log.append((record, decision))
                if len(to_log) >= 1000:
                    log()
        log()
    except DecisionRequestError as exc:
        _err(f"--{exc.field}: {exc.message}")
        return EXIT_INVALID
    except UnicodeDecodeError as exc:
        _err(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})")
        return EXIT_INVALID
    finally:
        if journal is not None:
            journal.close()
    out.flush()
    return EXIT_INVALID if invalid else EXIT_OK


@app.command()
def decide(
    source: Annotated[
        str, typer.Argument(help="JSON or JSON Lines file of transactions; - for stdin")
    ] = "-",
    regime: RegimeOpt = None,
    reform: ReformOpt = None,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Include the rule trace.")
    ] = True,
    screen: Annotated[
        bool,
        typer.Option(
            "--screen",
            help="Screen each consignee against the restricted-party lists "
            "(fills `screening`; a block requires a licence as the list says) and take "
            "headquarters from the party graph for consignees naming a `party`.",
        ),
    ] = False,
    ledger: Annotated[
        bool,
        typer.Option(
            "--ledger",
            help="Read quota balances already held in the ledger database "
            "(so LPP, allocations and NVEU reflect real reservations) and append each "
            "decision to the audit log. Reserving quota is `sluice ledger reserve`.",
        ),
    ] = False,
) -> None:
    """Decide transactions (contract §1): one JSON decision per input record, in input order.

    Quotas (LPP, country allocations, NVEU) accumulate across the records of one call in date
    order. Example:

        echo '{"date":"2025-06-01","destination":"IN","item":{"chip":"nvidia-h100-sxm"},"quantity":1000}' \\
          | sluice decide - --regime us-2025-01-13-ai-diffusion

    Exit 0 when every record was valid, 2 when any was invalid (its line holds the error).
    """
    raise typer.Exit(_guard(lambda: _decide_command(source, regime, reform, trace, screen, ledger)))


def _guard(fn: Any) -> int:
    try:
        return int(fn())
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # internal failure: say what, never a stack trace to users
        _err(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _read_table(path: Path) -> tuple[Any, list[tuple[int, str]]]:
    """Read CSV, Parquet or JSON Lines; for CSV also find rows with the wrong number of fields
    (reported as errors on their row, never dropped or silently padded)."""
    import csv

    import polars as pl

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path), []
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(path, infer_schema_length=None), []
    broken: list[tuple[int, str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        width = len(next(reader, []))
        for number, row in enumerate(reader, start=2):
            if len(row) != width and row:
                broken.append((number, f"line {number}: expected {width} fields, found {len(row)}"))
    frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    return frame, broken


def _batch_command(
    input_path: Path, output_path: Path, regime: str | None, reform: str | None, trace: bool
) -> int:
    import polars as pl

    from sluicegate.rules import DecisionRequestError, decide_frame

    if not input_path.is_file():
        _err(f"{input_path}: no such file")
        return EXIT_INVALID
    started = time.perf_counter()
    try:
        frame, broken = _read_table(input_path)
    except Exception as exc:
        _err(f"{input_path}: cannot read: {exc}")
        return EXIT_INVALID
    try:
        result = decide_frame(frame, regime=regime, reform=reform, trace=trace)
    except DecisionRequestError as exc:
        _err(f"--{exc.field}: {exc.message}")
        return EXIT_INVALID
    except ValueError as exc:
        _err(f"{input_path}: {exc}")
        return EXIT_INVALID
    row_numbers = (
        pl.Series("row", range(2, result.height + 2))
        if input_path.suffix.lower() == ".csv"
        else pl.Series("row", range(1, result.height + 1))
    )
    result = result.insert_column(0, row_numbers)
    if broken:
        fields = result["error_field"].to_list()
        messages = result["error_message"].to_list()
        for line, message in broken:
            fields[line - 2] = "row"
            messages[line - 2] = message
        result = result.with_columns(
            pl.Series("error_field", fields),
            pl.Series("error_message", messages),
            *(
                pl.when(pl.Series(fields) == "row").then(None).otherwise(pl.col(c)).alias(c)
                for c in ("regime_id", "classification", "authorization")
            ),
        )
    suffix = output_path.suffix.lower()
    tmp = output_path.with_name(output_path.name + ".partial")
    if suffix in (".parquet", ".pq"):
        result.write_parquet(tmp)
    elif suffix in (".jsonl", ".ndjson"):
        result.write_ndjson(tmp)
    else:
        result.write_csv(tmp)
    tmp.replace(output_path)
    elapsed = time.perf_counter() - started
    invalid = result.filter(pl.col("error_field").is_not_null())
    counts = result.group_by("authorization").len().sort("len", descending=True)
    summary = ", ".join(f"{a or 'invalid'}: {c}" for a, c in counts.iter_rows())
    _err(f"{result.height} rows decided in {elapsed:.2f} s ({summary}); written to {output_path}")
    for row in invalid.head(20).iter_rows(named=True):
        _err(f"row {row['row']}: {row['error_field']}: {row['error_message']}")
    if invalid.height > 20:
        _err(f"... and {invalid.height - 20} more invalid rows (see error_field/error_message)")
    return EXIT_INVALID if invalid.height else EXIT_OK


@app.command("decide-batch")
def decide_batch(
    input_path: Annotated[
        Path, typer.Argument(metavar="IN", help="CSV, Parquet or JSON Lines table")
    ],
    output_path: Annotated[Path, typer.Argument(metavar="OUT", help="CSV, Parquet or JSON Lines")],
    regime: RegimeOpt = None,
    reform: ReformOpt = None,
    trace: Annotated[
        bool, typer.Option("--trace", help="Add a JSON trace column (slower).")
    ] = False,
) -> None:
    """Decide a flat table of transactions (columns as the JSON, flattened: consignee_headquarters).

    One output row per input row, in input order, with the row number; invalid rows carry
    error_field and error_message. Quotas accumulate within the batch in date order. Example:

        sluice decide-batch orders.csv decisions.parquet --regime us-2025-01-13-ai-diffusion
    """
    raise typer.Exit(_guard(lambda: _batch_command(input_path, output_path, regime, reform, trace)))


# ---------------------------------------------------------------- regimes


def _regime_or_reform(ref: str) -> Any:
    from sluicegate.regimes import RegimeDataError, UnknownRegimeError, resolve_regime

    try:
        return resolve_regime(ref)
    except (UnknownRegimeError, RegimeDataError) as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_INVALID) from None


@regimes_app.command("list")
def regimes_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Every regime vintage with its dates, and which one binds today."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from sluicegate.regimes import regime_summaries

    today = dt.date.today()
    rows = regime_summaries(today)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        title=f"Regimes (today {today}; default selection = binding on the transaction date)"
    )
    for col in ("id", "title", "citation", "effective", "compliance", "end", "status today"):
        table.add_column(col)
    for row in rows:
        mark = " *" if row["in_force_today"] else ""
        table.add_row(
            f"{row['id']}{mark}",
            str(row["title"]),
            str(row["citation"]),
            str(row["effective"]),
            str(row["compliance"]),
            str(row["end"] or "—"),
            f"{row['status_today'] or ''}{'' if row['binding'] else ' (what-if only)'}",
        )
    Console(emoji=False).print(table)
    Console(emoji=False).print("* in force today")


@regimes_app.command("show")
def regimes_show(
    ref: Annotated[str, typer.Argument(metavar="ID|REFORM.yaml")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """One regime (or reform) in full: dates, status, provisions, parameters with citations."""
    regime = _regime_or_reform(ref)
    body = regime.model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(emoji=False)
    console.print(f"[bold]{regime.id}[/bold] — {regime.title}")
    console.print(
        f"citation {regime.citation}; published {regime.published}; effective {regime.effective}; "
        f"compliance {regime.compliance}; end {regime.end or '—'}; binding {regime.binding}"
    )
    console.print("status: " + ", ".join(f"{d}: {s}" for d, s in sorted(regime.status.items())))
    if regime.reform_of:
        console.print(f"reform of {regime.reform_of}; reform hash {regime.reform_hash}")
    console.print(f"content hash {regime.content_hash}; files {', '.join(regime.source_files)}")
    if regime.notes:
        console.print(regime.notes)
    for pid, prov in regime.provisions.items():
        table = Table(title=f"{pid}: {prov.title} ({prov.cite})", show_lines=False)
        table.add_column("parameter")
        table.add_column("value")
        table.add_column("cite")
        table.add_column("unconfirmed")
        for name, par in prov.parameters.items():
            value = (
                f"series {par.series}"
                if par.series
                else f"{par.operator or ''} {par.value}".strip()
            )
            table.add_row(name, value[:80], par.cite, "yes" if par.unconfirmed else "")
        console.print(table)


@regimes_app.command("diff")
def regimes_diff(
    a: Annotated[str, typer.Argument(metavar="A")], b: Annotated[str, typer.Argument(metavar="B")]
) -> None:
    """What changed from A to B (regime ids or reform files): dates, provisions, parameters."""
    from sluicegate.regimes import diff_regimes

    typer.echo(
        json.dumps(
            diff_regimes(_regime_or_reform(a), _regime_or_reform(b)),
            indent=2,
            ensure_ascii=False,
            default=str,
        )
    )


@regimes_app.command("as-of")
def regimes_as_of(date: Annotated[str, typer.Argument(help="YYYY-MM-DD")]) -> None:
    """Which regime binds on DATE (the default selection of `sluice decide`)."""
    import datetime as dt

    from sluicegate.regimes import binding_regime_on

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        _err(f"date: {date!r} is not a date in YYYY-MM-DD form")
        raise typer.Exit(EXIT_INVALID) from None
    regime = binding_regime_on(day)
    if regime is None:
        _err(f"no advanced-computing regime binds on {day} (the first is us-2022-10-07)")
        raise typer.Exit(EXIT_INVALID)
    typer.echo(
        json.dumps(
            {
                "date": date,
                "regime": regime.id,
                "title": regime.short_title,
                "citation": regime.citation,
            }
        )
    )


@regimes_app.command("unconfirmed")
def regimes_unconfirmed(
    ref: Annotated[str, typer.Argument(metavar="ID|REFORM")] = "us-2025-01-13-ai-diffusion",
) -> None:
    """Parameters that stand in for points the fact base marks UNCONFIRMED, with why."""
    regime = _regime_or_reform(ref)
    rows = [
        {"parameter": k, "value": regime.param(k), "why": why} for k, why in regime.unconfirmed()
    ]
    typer.echo(json.dumps(rows, indent=2, default=str))


@rules_app.command("list")
def rules_list(
    regime: Annotated[
        str | None, typer.Option(help="Only the rules this regime or reform has")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Every declared rule in evaluation order (a rule is absent when its provision is)."""
    from rich.console import Console
    from rich.table import Table

    from sluicegate.rules import RULES

    chosen = _regime_or_reform(regime) if regime else None
    rows = [
        {
            "rule": r.id,
            "kind": r.kind,
            "provision": r.provision,
            "priority": r.priority,
            "outcome": r.value if isinstance(r.value, str) else None,
            "cite": r.cite,
            "text": r.text,
        }
        for r in RULES
        if chosen is None or r.provision == "*" or chosen.has(r.provision)
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Declared rules{f' of {chosen.id}' if chosen else ''} ({len(rows)})")
    for col in ("rule", "kind", "provision", "priority", "outcome", "cite"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            *(
                str(row[k] if row[k] is not None else "")
                for k in ("rule", "kind", "provision", "priority", "outcome", "cite")
            )
        )
    Console(emoji=False).print(table)


# ---------------------------------------------------------------- chips


@chips_app.command("list")
def chips_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    manufacturer: Annotated[str | None, typer.Option(help="Only this manufacturer")] = None,
) -> None:
    """Every accelerator: TPP, performance density, datacenter flag, classification today."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from sluicegate.regimes import catalogue, catalogue_attribution
    from sluicegate.rules.chips import chip_classifications_on

    classes = chip_classifications_on(dt.date.today())
    rows = [
        c
        for c in catalogue().values()
        if manufacturer is None or str(c.get("manufacturer", "")).lower() == manufacturer.lower()
    ]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        **{
                            k: c.get(k)
                            for k in (
                                "id",
                                "name",
                                "manufacturer",
                                "tpp",
                                "die_area_mm2",
                                "performance_density",
                                "datacenter",
                                "memory_bandwidth_gbs",
                                "interconnect_gbs",
                            )
                        },
                        "classification_today": classes[c["id"]],
                    }
                    for c in rows
                ],
                indent=2,
                default=str,
            )
        )
        return
    table = Table(title=f"Accelerator catalogue ({len(rows)})")
    for col in ("id", "name", "TPP", "PD", "DC", "mem GB/s", "I/O GB/s", "class today"):
        table.add_column(col)
    for c in rows:
        table.add_row(
            c["id"],
            str(c.get("name", "")),
            _n(c.get("tpp")),
            _n(c.get("performance_density")),
            "yes" if c.get("datacenter") else "no",
            _n(c.get("memory_bandwidth_gbs")),
            _n(c.get("interconnect_gbs")),
            classes[c["id"]],
        )
    console = Console(emoji=False)
    console.print(table)
    console.print(catalogue_attribution())


def _n(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


@chips_app.command("show")
def chips_show(chip_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """One accelerator with every figure, its source, and its classification under each regime."""
    import datetime as dt

    from sluicegate.regimes import catalogue, catalogue_attribution, suggest_chip
    from sluicegate.rules.chips import classification_by_regime

    chips = catalogue()
    if chip_id.lower() not in chips:
        close = suggest_chip(chip_id.lower())
        _err(
            f"{chip_id!r} is not in the catalogue"
            + (f"; did you mean {', '.join(close)}?" if close else "")
        )
        raise typer.Exit(EXIT_INVALID)
    chip = dict(chips[chip_id.lower()])
    chip["classification_by_regime"] = classification_by_regime(chip_id.lower())
    chip["attribution"] = catalogue_attribution()
    typer.echo(
        json.dumps(
            chip,
            indent=2,
            ensure_ascii=False,
            default=lambda v: v.isoformat() if isinstance(v, dt.date) else str(v),
        )
    )


# ---------------------------------------------------------------- demo


@app.command()
def demo(
    orders: Annotated[
        Path | None, typer.Option(help="JSON Lines order book (default: the bundled one)")
    ] = None,
) -> None:
    """Run the bundled example order book under the regimes in force and under the AI Diffusion
    Framework what-if, and print the comparison."""
    raise typer.Exit(_guard(lambda: _demo(orders)))


def _demo(orders: Path | None) -> int:
    from importlib import resources

    from rich.console import Console
    from rich.table import Table

    from sluicegate.rules import decide_records

    text = (
        orders.read_text(encoding="utf-8")
        if orders
        else (resources.files("sluicegate") / "examples" / "orders.jsonl").read_text(
            encoding="utf-8"
        )
    )
    from sluicegate.rules.table import parse_json_lines

    records = parse_json_lines(text.splitlines())
    in_force = decide_records(records, trace=False)
    what_if = decide_records(records, regime="us-2025-01-13-ai-diffusion", trace=False)
    console = Console(width=max(150, Console().width), emoji=False, highlight=False)
    table = Table(
        title="Example order book: regime in force vs. AI Diffusion Framework enforced (what-if)"
    )
    for col in (
        "order",
        "date",
        "chip × qty",
        "to (HQ)",
        "in force: regime",
        "auth",
        "review",
        "diffusion tier",
        "auth",
        "review",
        "quota left after",
    ):
        table.add_column(col, overflow="fold")
    changed = 0
    for rec, a, b in zip(records, in_force, what_if, strict=True):
        if "error" in a:
            table.add_row(
                str(a.get("id")),
                "",
                "",
                "",
                "[red]" + a["error"]["field"],
                a["error"]["message"][:40],
                "",
                "",
                "",
                "",
                "",
            )
            continue
        item = rec.get("item", {})
        cons = rec.get("consignee", {})
        differs = (a["authorization"], a["review_policy"]) != (
            b["authorization"],
            b["review_policy"],
        )
        changed += differs
        quota = b.get("quota")
        quota_text = f"{quota['pool']}: {quota['remaining_after']:,}" if quota else ""
        style = "[bold yellow]" if differs else ""
        table.add_row(
            str(a["id"]),
            rec["date"],
            f"{item.get('chip', item.get('category', '?'))} × {rec.get('quantity', 1)}",
            f"{rec['destination']} ({cons.get('headquarters', rec['destination'])})",
            a["regime"]["id"].removeprefix("us-"),
            a["authorization"],
            a["review_policy"] or "",
            str(b["tier"]),
            style + b["authorization"],
            b["review_policy"] or "",
            quota_text,
        )
    console.print(table)
    console.print(
        f"{changed} of {len(records)} orders would be decided differently had the AI Diffusion "
        "Framework been enforced. `sluice decide` explains any order with its full trace."
    )
    return EXIT_OK


# ---------------------------------------------------------------- other capabilities

from sluicegate.simulate.commands import register as _register_simulate  # noqa: E402

_register_simulate(app)

from sluicegate.screening.commands import register as _register_screening  # noqa: E402

_register_screening(app)

from sluicegate.ledger.commands import register as _register_ledger  # noqa: E402

_register_ledger(app)

from sluicegate.cloud.commands import register as _register_cloud  # noqa: E402

_register_cloud(app)

from sluicegate.service.commands import register as _register_service  # noqa: E402

_register_service(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
