"""Sweeps over many scenarios or parameter grids, locally or on a Dask cluster.

``sweep`` runs each scenario (a name, path or ``Scenario``) with the same draws and seed and
returns, per scenario, the key outputs as small dictionaries. With ``scheduler`` (an address such
as ``tcp://127.0.0.1:8786`` or a ``distributed.Client``) the runs are submitted as Dask tasks and
gathered with a progress bar; every run is seeded, so the results equal a local run's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sluicegate.simulate.model import SimulationOutput
from sluicegate.simulate.run import run_reduced
from sluicegate.simulate.scenario import Scenario

KEY_OUTPUTS = (("lag_months", "CN", "2027-12"), ("lag_months", "CN", "2030-12"),
               ("compute_share", "CN", "2030-12"), ("lag_months", "RU", "2030-12"))  # fmt: skip


def _reduce(out: SimulationOutput) -> dict[str, np.ndarray]:
    result: dict[str, np.ndarray] = {}
    for metric, code, month in KEY_OUTPUTS:
        m = int(np.nonzero(out.months == np.datetime64(month, "M"))[0][0])
        result[f"{code} {metric} {month[:4]}"] = out.arrays[metric][
            :, out.actors.index(code), m
        ].astype(np.float64)
    cost = out.arrays["forgone_chip_usd"].astype(np.float64).sum(axis=(1, 2))
    cost += out.arrays["forgone_cloud_usd"].astype(np.float64).sum(axis=(1, 2))
    result["forgone_revenue_usd"] = cost
    return result


def run_one(scenario: str | Scenario, draws: int, seed: int) -> dict[str, Any]:
    """One sweep task: the p10/p50/p90 of the key outputs."""
    values = run_reduced(scenario, _reduce, draws=draws, seed=seed)
    name = scenario if isinstance(scenario, str) else scenario.name
    return {
        "scenario": name,
        **{
            key: dict(
                zip(
                    ("p10", "p50", "p90"),
                    (float(x) for x in np.percentile(v, [10, 50, 90])),
                    strict=True,
                )
            )
            for key, v in values.items()
        },
    }


def run_batch(scenarios: list[str | Scenario], draws: int, seed: int) -> list[dict[str, Any]]:
    """Several sweep tasks in one Dask task."""
    return [run_one(scen, draws, seed) for scen in scenarios]


def sweep(
    scenarios: Sequence[str | Scenario],
    *,
    draws: int = 50,
    seed: int = 20250513,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int | None = None,
) -> list[dict[str, Any]]:
    """Run every scenario; on Dask when ``scheduler`` is given. Results in input order."""
    total = len(scenarios)
    if scheduler is None:
        results = []
        for i, scen in enumerate(scenarios):
            results.append(run_one(scen, draws, seed))
            if progress:
                progress(i + 1, total)
        return results
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        # tasks of a fraction of a second are dominated by scheduling: send batches, about four
        # per worker, so each worker also reuses its cached rules-engine evaluation
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        size = batch or max(1, total // (4 * workers))
        batches = [list(range(i, min(total, i + size))) for i in range(0, total, size)]
        futures = [
            client.submit(run_batch, [scenarios[i] for i in idx], draws, seed, pure=False)
            for idx in batches
        ]
        order = {f.key: k for k, f in enumerate(futures)}
        out: list[dict[str, Any] | None] = [None] * total
        done = 0
        for future in as_completed(futures):
            idx = batches[order[future.key]]
            for i, result in zip(idx, future.result(), strict=True):
                out[i] = result
            done += len(idx)
            if progress:
                progress(done, total)
        return [r for r in out if r is not None]
    finally:
        if not isinstance(scheduler, Client):
            client.close()


def grid(base: Scenario, channel_lever: tuple[str, str], actors: list[str], starts: list[str],
         strengths: list[float]) -> list[Scenario]:  # fmt: skip
    """Scenarios adding one intervention over a grid of start dates and strengths."""
    import datetime as dt

    from sluicegate.simulate.scenario import Intervention

    channel, lever = channel_lever
    out = []
    for start in starts:
        for strength in strengths:
            name = f"{base.name}+{channel}.{lever}@{start}x{strength:g}"
            item = Intervention(
                name=f"grid-{channel}-{lever}", channel=channel, lever=lever,
                actors=actors, start=dt.date.fromisoformat(start), strength=strength,
            )  # fmt: skip
            out.append(
                base.model_copy(update={"name": name, "interventions": [*base.interventions, item]})
            )
    return out
