"""The screening verbs of the ``sluice`` command: screen, screen-eval, lists load/status/diff,
parties resolve. Thin: each parses its arguments, calls ``sluicegate.screening`` and prints
JSON (Lines). ``register(app)`` adds them to the main typer app in ``sluicegate.cli``.

Exit codes follow contract §3: 0 every record valid, 2 some input invalid (its line says why),
1 internal failure.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

lists_app = typer.Typer(
    help="Restricted-party lists: load official files, show what is loaded, compare snapshots.",
    no_args_is_help=True,
)
parties_app = typer.Typer(
    help="Parties: headquarters, ultimate parent and the OFAC 50% rule.", no_args_is_help=True
)


def _emit(record: Any) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _read_records(source: str) -> list[tuple[Any, str | None]]:
    """(record, error) per non-empty input line; a JSON array or object also accepted."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8", errors="replace")
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            pass
        else:
            return [(r, None) for r in data]
    out: list[tuple[Any, str | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), None))
        except json.JSONDecodeError as exc:
            out.append((None, f"line {number}: not JSON ({exc.msg})"))
    return out


_POOL: dict[str, Any] = {}  # the screener and bands a --workers process inherits (fork)


def _screen_lines(records: list[Any]) -> list[tuple[bool, str]]:
    """(invalid?, output line) for each query record, in order: one batch's work, done in this
    process or in a --workers process."""
    results = _POOL["screener"].screen_many(records, bands=_POOL["bands"])
    return [
        ("error" in result, json.dumps(result, ensure_ascii=False, default=str))
        for result in results
    ]


def screen_command(
    source: str = typer.Argument("-", metavar="[FILE|-]", help="JSON Lines queries; - reads stdin"),
    block: float | None = typer.Option(None, help="block band: score >= this (default 0.90)"),
    review: float | None = typer.Option(None, help="review band: score >= this (default 0.75)"),
    workers: int = typer.Option(
        0,
        min=0,
        help="processes screening batches in parallel; 0 (default) = one per CPU core when "
        "the input holds more than one batch of 4,096 queries, 1 = this process only; "
        "the output is the same, in input order",
    ),
) -> None:
    """Screen parties against the restricted-party lists (contract §3).

    Each input line is {"id", "name", "country"?, "address"?}; each output line is
    {"id", "matches": [{"list", "entity_id", "name", "matched_name", "score", ...}],
    "decision": "clear" | "review" | "block"}, with an explanation per match.

    Example: echo '{"id": 1, "name": "Mahan Air", "country": "IR"}' | sluice screen
    """
    from sluicegate.screening import Bands, default_bands
    from sluicegate.screening.screener import BATCH_SIZE, get_screener

    try:
        base = default_bands()
        bands = Bands(
            block=block if block is not None else base.block,
            review=review if review is not None else base.review,
        )
    except ValueError as exc:
        typer.echo(f"bands: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        records = _read_records(source)
    except OSError as exc:
        typer.echo(f"{source}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    _POOL.update(screener=get_screener(), bands=bands)
    # BATCH_SIZE queries at a time through the batch path (the same results as one by one),
    # each batch written out, in input order, as soon as it and those before it are done
    chunks = [records[start : start + BATCH_SIZE] for start in range(0, len(records), BATCH_SIZE)]
    valid = [[record for record, error in chunk if error is None] for chunk in chunks]
    invalid = 0
    pool = None
    outputs: Iterator[list[tuple[bool, str]]]
    if workers == 0:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if workers > 1 and len(chunks) > 1:
        import multiprocessing

        _POOL["screener"].batch_index  # noqa: B018  built once, shared by the forked workers
        gc.freeze()  # the collector would otherwise touch (and so copy) the shared index pages
        pool = multiprocessing.get_context("fork").Pool(min(workers, len(chunks)))
        outputs = pool.imap(_screen_lines, valid)
    else:
        outputs = map(_screen_lines, valid)
    try:
        for chunk, lines in zip(chunks, outputs, strict=True):
            results = iter(lines)
            for _record, error in chunk:
                if error is not None:
                    invalid += 1
                    _emit({"id": None, "error": {"field": "record", "message": error}})
                    continue
                bad, line = next(results)
                invalid += bad
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
            gc.unfreeze()
    raise typer.Exit(2 if invalid else 0)


def screen_eval_command(
    positives: int = typer.Option(2000, help="perturbed listed names"),
    negatives: int = typer.Option(2000, help="real names not on the lists"),
    epoch_dir: Path | None = typer.Option(
        None, help="Epoch AI folder for real non-listed names (default ../shared/data/epoch-ai)"
    ),
    sweep: bool = typer.Option(False, help="print the full threshold sweep"),
) -> None:
    """Measure precision, recall and F1 per band on a labelled set built from the loaded lists.

    Example: sluice screen-eval --positives 1000 --negatives 1000
    """
    from sluicegate.screening.evaluation import evaluate
    from sluicegate.screening.screener import get_screener

    if epoch_dir is None:
        for candidate in (Path("../shared/data/epoch-ai"), Path("shared/data/epoch-ai")):
            if candidate.exists():
                epoch_dir = candidate
                break
    report = evaluate(get_screener(), positives=positives, negatives=negatives, epoch_dir=epoch_dir)
    if not sweep:
        report.pop("sweep")
    _emit(report)


@lists_app.command("load")
def lists_load(
    paths: list[Path] = typer.Argument(..., help="list files or folders"),
    replace: bool = typer.Option(False, help="start from an empty set instead of the active one"),
    snapshot: str | None = typer.Option(
        None, help="snapshot date (YYYY-MM-DD) when files carry none"
    ),
) -> None:
    """Load official list files (atomic: a broken file loads nothing and is named with its line).

    Formats: OFAC legacy CSV (sdn.csv + alt/add/comments, cons_prim.csv), BIS DPL (tab-separated),
    BIS Entity List CSV, trade.gov CSL CSV (2019 and 2025 layouts), OpenSanctions CSVs (1260H,
    MIEU, s.889, FCC), sluicegate entity JSON Lines, and ownership CSV (owner,owned,percent).
    Each list present in the files replaces that list; other lists are kept.

    Example: sluice lists load ~/Downloads/sdn.csv ~/Downloads/dpl.txt
    """
    from sluicegate.screening.loaders import ListLoadError
    from sluicegate.screening.store import load_into_store, store_path

    try:
        new, loaded = load_into_store(paths, replace=replace, snapshot=snapshot)
    except ListLoadError as exc:
        typer.echo(f"nothing loaded: {exc}", err=True)
        raise typer.Exit(2) from exc
    for item in loaded:
        _emit(
            {
                "file": item.path,
                "format": item.format,
                "entities": len(item.entities),
                "ownership_edges": len(item.ownership),
                "snapshot": item.snapshot,
                "notes": item.notes,
            }
        )
    typer.echo(
        f"loaded into {store_path()}: {len(new.entities)} entities in {len(new.lists)} lists",
        err=True,
    )


@lists_app.command("status")
def lists_status(
    stale_days: int | None = typer.Option(
        None, help="warn when a snapshot is older than this (default: per list, data/lists.yaml)"
    ),
) -> None:
    """Counts per list, snapshot dates, and a warning for each stale list.

    Example: sluice lists status --stale-days 30
    """
    from sluicegate.screening.store import active_set, status

    list_set = active_set()
    rows = status(list_set, stale_days=stale_days)
    for row in rows:
        _emit({"origin": list_set.origin, **row})
        if row["warning"]:
            typer.echo(f"warning: {row['list']}: {row['warning']}", err=True)


@lists_app.command("diff")
def lists_diff(
    old: Path = typer.Argument(..., help="old list file, folder or list-set (.jsonl.gz)"),
    new: Path = typer.Argument(..., help="new list file, folder or list-set (.jsonl.gz)"),
) -> None:
    """Entities added, removed and changed between two snapshots (JSON).

    Example: sluice lists diff old/sdn.csv new/sdn.csv
    """
    from sluicegate.screening.loaders import ListLoadError
    from sluicegate.screening.store import diff, load_any

    try:
        result = diff(load_any(old), load_any(new))
    except ListLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    _emit(result)


@parties_app.command("resolve")
def parties_resolve(
    parties: list[str] = typer.Argument(..., help="party ids (e.g. ofac-sdn:306) or listed names"),
    ownership: Path | None = typer.Option(
        None,
        help="extra ownership CSV (owner,owned,percent[,owner_headquarters,owned_headquarters])",
    ),
) -> None:
    """Headquarters, ultimate parent and its headquarters, and the OFAC 50% rule, with the chain.

    Example: sluice parties resolve "AVIC Jonhon Optronic Technology" --ownership owners.csv
    """
    from sluicegate.screening.loaders import ListLoadError, read_ownership
    from sluicegate.screening.ownership import PartyGraph, PartyNotFound, get_graph
    from sluicegate.screening.store import active_set, merge

    graph = get_graph()
    if ownership is not None:
        try:
            extra = read_ownership(ownership)
        except ListLoadError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        graph = PartyGraph(merge(active_set(), [extra], "active + " + str(ownership)))
    invalid = 0
    for party in parties:
        try:
            _emit(graph.resolve(party).model_dump())
        except PartyNotFound as exc:
            invalid += 1
            _emit({"id": party, "error": {"field": "party", "message": str(exc)}})
    raise typer.Exit(2 if invalid else 0)


def register(app: typer.Typer) -> None:
    """Add the screening verbs to the ``sluice`` app."""
    app.command("screen")(screen_command)
    app.command("screen-eval")(screen_eval_command)
    app.add_typer(lists_app, name="lists")
    app.add_typer(parties_app, name="parties")
