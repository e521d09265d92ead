"""``sluice simulate``: run a scenario, compare policies, Sobol sensitivity, sweeps on Dask.

A thin shell over ``sluicegate.simulate``. ``register(app)`` adds the ``simulate`` group to the
``sluice`` typer app. ``sluice simulate SCENARIO`` (contract §3) is the same as
``sluice simulate run SCENARIO``: the group inserts ``run`` when the first word is not one of
its sub-commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from typer.core import TyperGroup

from sluicegate.simulate.policy import RulesEngineError
from sluicegate.simulate.scenario import ScenarioError, shipped_scenarios

err = Console(stderr=True)
out = Console()


class _DefaultRunGroup(TyperGroup):
    """A group where an unknown first word is the scenario of the default ``run`` command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


simulate_app = typer.Typer(
    cls=_DefaultRunGroup,
    help=(
        "Diffusion simulator: five channels (hardware, weights, cloud, talent, algorithms) plus "
        "counter-pressure, Monte Carlo over uncertain parameters, hardware access from the rules "
        "engine. Example: sluice simulate baseline --draws 200 --out out/baseline"
    ),
    no_args_is_help=True,
)


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@simulate_app.command("run")
def run_command(
    scenario: str = typer.Argument(
        ..., help=f"scenario file or shipped name: {', '.join(shipped_scenarios())}"
    ),
    draws: int | None = typer.Option(
        None, "--draws", help="Monte Carlo draws (default: the scenario's)"
    ),
    seed: int | None = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out_dir: Path | None = typer.Option(
        None, "--out", help="output directory (default: sluice-sim/SCENARIO)"
    ),
) -> None:
    """Run SCENARIO; write summary.json, Parquet tables and report.html to --out.

    Example: sluice simulate diffusion-enforced-2025-05 --draws 200 --out out/diffusion
    """
    from sluicegate.simulate.outputs import summarise, write_outputs
    from sluicegate.simulate.run import run_scenario

    try:
        result = run_scenario(scenario, draws=draws, seed=seed)
    except (ScenarioError, RulesEngineError, ValueError) as exc:
        _fail(exc)
    target = out_dir or Path("sluice-sim") / result.scenario.name
    summary = summarise(result)
    paths = write_outputs(result, target, summary)
    table = Table(
        title=escape(f"{result.scenario.name}: months behind the frontier (p50 [p10–p90])")
    )
    table.add_column("actor")
    years = [y for y in ("2025", "2027", "2030") if y in summary["actors"]["CN"]["lag_months"]]
    for year in years:
        table.add_column(year)
    for code in ("CN", "RU", "IR", "IN", "AE", "SA", "GB"):
        if code in summary["actors"]:
            cells = summary["actors"][code]["lag_months"]
            table.add_row(
                code,
                *(
                    escape(f"{cells[y]['p50']:.1f} [{cells[y]['p10']:.1f}–{cells[y]['p90']:.1f}]")
                    for y in years
                ),
            )
    out.print(table)
    bad = [c["id"] for c in summary["calibration"] if c["inside"] is False]
    out.print(
        f"calibration: {'all targets inside their bands' if not bad else 'outside: ' + ', '.join(bad)}"
    )
    out.print(f"hardware access from: {summary['rules_engine']}")
    for name, path in paths.items():
        out.print(f"{name}: {path}")


@simulate_app.command("compare")
def compare_command(
    scenarios: list[str] = typer.Argument(
        ..., help="two or more scenarios; the first is the reference"
    ),
    draws: int = typer.Option(100, "--draws"),
    seed: int = typer.Option(20250513, "--seed"),
    target: list[str] = typer.Option(
        ["CN", "RU", "IN", "AE", "SA"], "--target", help="target actor(s)"
    ),
    horizon: int = typer.Option(2030, "--horizon", help="year the delay and cost are measured to"),
    out_dir: Path = typer.Option(Path("sluice-sim/compare"), "--out"),
) -> None:
    """Compare policies on common random numbers: delay bought, cost, delay per dollar, decay.

    Example: sluice simulate compare baseline diffusion-enforced-2025-05 tighter-h20-2024
    """
    from sluicegate.simulate.compare import compare, write_comparison

    try:
        result = compare(
            list[str | Any](scenarios),
            draws=draws,
            seed=seed,
            targets=tuple(target),
            horizon_year=horizon,
        )
    except (ScenarioError, RulesEngineError, ValueError) as exc:
        _fail(exc)
    table = Table(
        title=escape(f"delay bought vs {result['reference']} (months, p50 [p10–p90]) and cost")
    )
    for col in (
        "policy",
        "actor",
        f"delay {horizon}",
        f"mean {horizon - 4}–{horizon}",
        "cost $B",
        "months/$10B",
        "half-life yr",
    ):
        table.add_column(col)
    for r in result["frontier"]:
        table.add_row(
            r["policy"], r["actor"],
            escape(f"{r[f'delay_months_{horizon}_p50']:.1f} [{r[f'delay_months_{horizon}_p10']:.1f}–{r[f'delay_months_{horizon}_p90']:.1f}]"),
            f"{r[f'mean_delay_{horizon - 4}_{horizon}_p50']:.1f}",
            f"{r['cost_usd_p50'] / 1e9:.1f}",
            "" if r["delay_months_per_10b_usd"] is None else f"{r['delay_months_per_10b_usd']:.2f}",
            "" if r["delay_half_life_years"] is None else f"{r['delay_half_life_years']:.1f}",
        )  # fmt: skip
    out.print(table)
    for name, path in write_comparison(result, out_dir).items():
        out.print(f"{name}: {path}")


@simulate_app.command("sensitivity")
def sensitivity_command(
    scenario: str = typer.Argument(..., help="scenario file or shipped name"),
    samples: int = typer.Option(
        64, "--samples", help="Saltelli base samples N (runs N×(k+2) draws)"
    ),
    seed: int = typer.Option(20250513, "--seed"),
    parameter: list[str] = typer.Option(
        [], "--parameter", help="restrict the factors (repeatable)"
    ),
    out_dir: Path = typer.Option(Path("sluice-sim/sensitivity"), "--out"),
) -> None:
    """Sobol indices (SALib) of key outputs over the uncertain parameters.

    Example: sluice simulate sensitivity baseline --samples 64
    """
    from sluicegate.simulate.sensitivity import sensitivity

    try:
        result = sensitivity(
            scenario, base_samples=samples, seed=seed, parameters=parameter or None
        )
    except (ScenarioError, RulesEngineError, ValueError) as exc:
        _fail(exc)
    for label, data in result["outputs"].items():
        table = Table(title=f"{label}: top parameters by total Sobol index")
        for col in ("parameter", "S1", "ST"):
            table.add_column(col)
        for name, idx in list(data["parameters"].items())[:8]:
            table.add_row(
                name,
                f"{idx['S1']:.2f} ± {idx['S1_conf']:.2f}",
                f"{idx['ST']:.2f} ± {idx['ST_conf']:.2f}",
            )
        out.print(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "sobol.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    out.print(f"sobol: {path}")


@simulate_app.command("sweep")
def sweep_command(
    scenarios: list[str] = typer.Argument(..., help="scenario files or shipped names"),
    draws: int = typer.Option(50, "--draws"),
    seed: int = typer.Option(20250513, "--seed"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786"
    ),
    out_file: Path = typer.Option(Path("sluice-sim/sweep.json"), "--out"),
) -> None:
    """Run many scenarios (on Dask with --scheduler); same results as a local run.

    Example: sluice simulate sweep baseline tighter-h20-2024 --scheduler tcp://127.0.0.1:8786
    """
    from sluicegate.simulate.sweep import sweep

    results: list[dict[str, Any]] = []
    with Progress(console=err) as progress:
        task = progress.add_task("scenarios", total=len(scenarios))
        try:
            results = sweep(
                scenarios, draws=draws, seed=seed, scheduler=scheduler,
                progress=lambda done, _total: progress.update(task, completed=done),
            )  # fmt: skip
        except (ScenarioError, RulesEngineError, ValueError) as exc:
            _fail(exc)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(results, indent=1), encoding="utf-8")
    out.print(f"sweep: {out_file} ({len(results)} scenarios)")


@simulate_app.command("list")
def list_command() -> None:
    """List the shipped scenarios."""
    from sluicegate.simulate.scenario import load_scenario

    for name in shipped_scenarios():
        out.print(f"[bold]{name}[/bold]: {load_scenario(name).description}")


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command group to the sluice app."""
    app.add_typer(simulate_app, name="simulate")
