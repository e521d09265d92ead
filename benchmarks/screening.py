"""Screening benchmark: accuracy and speed against the full shipped bundle, with baselines.

Run: python benchmarks/screening.py [--positives N] [--negatives N] [--sample N] [--workers 2]

Prints (and saves to bench-results/screening.json), all measured in this run on the same queries
(``sluicegate.screening.evaluation``):
- accuracy: precision / recall / F1 at the block and review bands, the best top-1 recall at
  precision >= 0.95, recall per perturbation kind, the threshold sweep; computed by the batch
  path and by the one-query reference path, which must agree on every query;
- speed on a fresh, larger set of perturbed and real names (another seed; caches cleared before
  each run, so every word is new to the first query that holds it):
  the one-query path (``Screener.screen``: latency p50/p99, queries/s), the batch path
  (``Screener.screen_batch``, BATCH_SIZE queries at a time, the path ``sluice screen`` and
  ``screen_many`` take) on one process and on ``--workers`` forked processes, both producing
  the full explained contract §3 results, checked identical to each other; load time, memory;
- baseline 1, brute force: rapidfuzz Jaro-Winkler of the whole (lower-cased, punctuation-free)
  name against every listed name, best hit taken, on a sample of ``--sample`` queries, with
  both of our paths timed cold on the same sample;
- baseline 2, OpenSanctions nomenklatura's default matcher (``RegressionV1``, plus ``LogicV2``
  when fast enough) re-scoring the brute-force top 10 (it has no candidate index of its own),
  on a smaller sample; skipped with a message when nomenklatura is not installed
  (``pip install -e '.[bench]'``, in a venv of its own since nomenklatura pins duckdb<2:
  ``make bench`` makes ``.venv-bench`` for it).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import peak_rss_mib, percentile, save
from sluicegate.screening.evaluation import (
    LabelledQuery,
    Ranked,
    best_recall_at_precision,
    build_negatives,
    build_positives,
    cross_script_report,
    metrics_at,
    per_kind_recall,
    run_screener,
    run_screener_one_by_one,
    sweep,
)
from sluicegate.screening.screener import BATCH_SIZE, Screener, default_bands
from sluicegate.screening.store import bundle_path, read_set

ROOT = Path(__file__).resolve().parents[1]
EPOCH = ROOT.parent / "shared" / "data" / "epoch-ai"
PAIRS = ROOT.parent / "shared" / "data" / "watchman-cross-script-pairs" / "cross_script_pairs.csv"

_WORKER: Screener | None = None


def _batches(screener: Screener, names: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(names), BATCH_SIZE):
        out.extend(screener.screen_batch(names[start : start + BATCH_SIZE]))
    return out


def _batch_chunk(names: list[str]) -> float:
    """Screen ``names`` by the batch path; return the CPU seconds this process spent."""
    assert _WORKER is not None
    start = time.process_time()
    _batches(_WORKER, names)
    return time.process_time() - start


def one_by_one(screener: Screener, names: Sequence[str]) -> dict[str, Any]:
    """The one-query path, cold: per-query latency, throughput, and the results."""
    screener.clear_caches()
    gc.collect()
    latencies: list[float] = []
    results: list[dict[str, Any]] = []
    cpu = time.process_time()
    wall = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        results.append(screener.screen(name).to_contract())
        latencies.append(time.perf_counter() - start)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return {
        "qps": len(names) / wall,
        "qps_cpu": len(names) / cpu,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "results": results,
    }


def batched(screener: Screener, names: Sequence[str]) -> dict[str, Any]:
    """The batch path on this process, cold: throughput, time per batch, and the results."""
    screener.clear_caches()
    gc.collect()
    cpu = time.process_time()
    wall = time.perf_counter()
    results = _batches(screener, names)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    batches = -(-len(names) // BATCH_SIZE)
    return {
        "qps": len(names) / wall,
        "qps_cpu": len(names) / cpu,
        "ms_per_batch": 1000 * wall / batches,
        "results": results,
    }


def batched_processes(screener: Screener, names: list[str], workers: int) -> dict[str, Any]:
    """The batch path on ``workers`` forked processes, each screening its share, cold."""
    global _WORKER
    _WORKER = screener
    screener.clear_caches()
    chunks = [names[i::workers] for i in range(workers)]
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the shared index pages
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        pool.map(_spin, [10] * workers)  # start the workers before the clock
        start = time.perf_counter()
        cpu = pool.map(_batch_chunk, chunks)
        wall = time.perf_counter() - start
    gc.unfreeze()
    return {"qps": len(names) / wall, "qps_cpu_per_process": len(names) / sum(cpu)}


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def core_calibration(workers: int, n: int = 3_000_000) -> float:
    """How much faster ``workers`` processes run a pure-CPU loop than one: the cores we get."""
    if workers <= 1:
        return 1.0
    start = time.perf_counter()
    for _ in range(workers):
        _spin(n)
    serial = time.perf_counter() - start
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        start = time.perf_counter()
        pool.map(_spin, [n] * workers)
        parallel = time.perf_counter() - start
    return serial / parallel


def _summary(
    name: str, queries: Sequence[LabelledQuery], results: list[Ranked], seconds: float
) -> dict[str, Any]:
    bands = default_bands()
    rows = sweep(queries, results)
    best = best_recall_at_precision(rows)
    return {
        "system": name,
        "queries": len(queries),
        "qps": len(queries) / seconds if seconds else float("nan"),
        "block": metrics_at(queries, results, bands.block),
        "review": metrics_at(queries, results, bands.review),
        "best_at_p95": best,
        "rows": rows,
    }


def brute_force(
    screener: Screener, queries: Sequence[LabelledQuery]
) -> tuple[list[Ranked], float, list[list[int]]]:
    from rapidfuzz import process, utils
    from rapidfuzz.distance import JaroWinkler

    names = [utils.default_process(n.text) for n in screener.index.names]
    owners = [frozenset({screener.entities[n.entity].id}) for n in screener.index.names]
    results: list[Ranked] = []
    top10: list[list[int]] = []
    start = time.perf_counter()
    for query in queries:
        hits = process.extract(
            utils.default_process(query.text),
            names,
            scorer=JaroWinkler.similarity,
            limit=10,
            processor=None,
        )
        top10.append([idx for _n, _s, idx in hits])
        results.append([(owners[idx], float(score)) for _n, score, idx in hits[:1]])
    return results, time.perf_counter() - start, top10


def nomenklatura_rescore(
    screener: Screener, queries: Sequence[LabelledQuery], top10: list[list[int]], algorithm: Any
) -> tuple[list[Ranked], float]:
    from followthemoney import model

    schema_of = {
        "person": "Person",
        "organization": "Organization",
        "vessel": "Vessel",
        "aircraft": "Airplane",
    }
    cache: dict[int, Any] = {}

    def listed(position: int) -> Any:
        if position not in cache:
            entity = screener.entities[position]
            proxy = model.make_entity(schema_of.get(entity.type, "LegalEntity"))
            proxy.id = entity.id.replace(":", "-")
            proxy.add("name", entity.name)
            for alias in entity.aliases:
                proxy.add("alias", alias.name)
            cache[position] = proxy
        return cache[position]

    config = algorithm.default_config()
    results: list[Ranked] = []
    start = time.perf_counter()
    for number, (query, candidates) in enumerate(zip(queries, top10, strict=True)):
        proxy = model.make_entity("LegalEntity")
        proxy.id = f"q{number}"
        proxy.add("name", query.text)
        best: dict[str, float] = {}
        for name_id in candidates:
            position = screener.index.names[name_id].entity
            score = float(algorithm.compare(proxy, listed(position), config).score)
            entity_id = screener.entities[position].id
            best[entity_id] = max(best.get(entity_id, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: -item[1])
        results.append([(frozenset({e}), s) for e, s in ranked[:1]])
    return results, time.perf_counter() - start


def _fmt(m: dict[str, float] | None) -> str:
    if not m:
        return "none"
    return f"P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} (t={m['threshold']:.2f})"


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """How many results differ (as JSON)."""
    return sum(
        1
        for x, y in zip(a, b, strict=True)
        if json.dumps(x, ensure_ascii=False) != json.dumps(y, ensure_ascii=False)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positives", type=int, default=2400)
    parser.add_argument("--negatives", type=int, default=2400)
    parser.add_argument(
        "--sample", type=int, default=1000, help="queries for the brute-force baseline"
    )
    parser.add_argument("--nk-sample", type=int, default=200, help="queries for nomenklatura")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--timing-queries", type=int, default=8000, help="perturbed names for timing"
    )
    args = parser.parse_args()
    figures: dict[str, Any] = {}

    gc.collect()
    rss0 = peak_rss_mib()
    start = time.perf_counter()
    list_set = read_set(bundle_path())
    read_seconds = time.perf_counter() - start
    screener = Screener(list_set)
    index_seconds = time.perf_counter() - start - read_seconds
    _batch_index, batch_seconds = _timed(lambda: screener.batch_index)
    load_seconds = time.perf_counter() - start
    rss1 = peak_rss_mib()
    print(
        f"bundle: {len(screener.entities)} entities, {screener.index.size} names and aliases, "
        f"{len(screener.index.df)} distinct words"
    )
    print(
        f"load: {load_seconds:.2f} s (read {read_seconds:.2f} s, index {index_seconds:.2f} s, "
        f"batch arrays {batch_seconds:.2f} s); memory: +{rss1 - rss0:.0f} MB peak RSS "
        f"({rss1:.0f} MB total)"
    )
    figures["load"] = {
        "seconds": load_seconds,
        "read_seconds": read_seconds,
        "index_seconds": index_seconds,
        "batch_arrays_seconds": batch_seconds,
        "peak_rss_added_mb": rss1 - rss0,
        "entities": len(screener.entities),
        "names": screener.index.size,
    }

    positives = build_positives(screener, args.positives)
    negatives, report = build_negatives(screener, EPOCH if EPOCH.exists() else None, args.negatives)
    queries = positives + negatives
    print(
        f"queries: {len(positives)} perturbed listed names, {len(negatives)} non-listed names "
        f"({report['organisations_read']} Epoch AI organisations and {report['persons_read']} authors read; "
        f"{report['excluded_as_listed']} found on the lists and excluded)"
    )

    screener.clear_caches()
    ours, ours_seconds = _timed(run_screener, screener, queries)
    screener.clear_caches()
    reference, reference_seconds = _timed(run_screener_one_by_one, screener, queries)
    differing = sum(1 for a, b in zip(ours, reference, strict=True) if a != b)
    summary = _summary("sluicegate", queries, ours, ours_seconds)
    bands = default_bands()
    print(f"\nsluicegate (bands block>={bands.block}, review>={bands.review}):")
    print(f"  block : {_fmt(summary['block'])}")
    print(f"  review: {_fmt(summary['review'])}")
    print(f"  best top-1 recall at precision>=0.95: {_fmt(summary['best_at_p95'])}")
    kinds_review = per_kind_recall(queries, ours, bands.review)
    print(f"  recall per kind at review band: {kinds_review}")
    print(f"  recall per kind at block band : {per_kind_recall(queries, ours, bands.block)}")
    print(
        "  sweep (threshold: precision/recall):  "
        + "  ".join(
            f"{r['threshold']:.2f}:{r['precision']:.3f}/{r['recall']:.3f}"
            for r in summary["rows"][20::5]
        )
    )
    print(
        f"  batch path and one-query path: {len(queries) - differing}/{len(queries)} rankings "
        f"identical ({ours_seconds:.2f} s and {reference_seconds:.2f} s for the set)"
    )
    figures["accuracy"] = {
        "queries": len(queries),
        "block": summary["block"],
        "review": summary["review"],
        "best_at_p95": summary["best_at_p95"],
        "per_kind_at_review": kinds_review,
        "batch_vs_one_by_one_differing": differing,
    }

    # speed on a fresh, larger query set (another seed), caches cleared before each run
    timing = [q.text for q in build_positives(screener, args.timing_queries, seed=99)]
    timing += [q.text for q in negatives]
    timing = list(dict.fromkeys(timing))
    single = one_by_one(screener, timing)
    batch = batched(screener, timing)
    identical = len(timing) - _same(single.pop("results"), batch.pop("results"))
    multi = (
        batched_processes(screener, timing, args.workers)
        if args.workers > 1
        else {"qps": batch["qps"], "qps_cpu_per_process": batch["qps_cpu"]}
    )
    calibration = core_calibration(args.workers)
    print(
        f"\nspeed: {len(timing)} distinct queries (perturbed listed names and real names), cold "
        f"caches, full explained contract §3 results:"
    )
    print(
        f"  one query at a time (Screener.screen): {single['qps']:,.0f} q/s "
        f"({single['qps_cpu']:,.0f} per CPU-second); latency p50 {single['p50_ms']:.2f} ms, "
        f"p99 {single['p99_ms']:.2f} ms"
    )
    print(
        f"  batch path (Screener.screen_batch, {BATCH_SIZE} per batch), 1 process: "
        f"{batch['qps']:,.0f} q/s ({batch['qps_cpu']:,.0f} per CPU-second; "
        f"{batch['ms_per_batch']:.0f} ms per batch); {batch['qps'] / single['qps']:.1f}x the "
        f"one-query path"
    )
    print(
        f"  batch path, {args.workers} processes: {multi['qps']:,.0f} q/s "
        f"({multi['qps_cpu_per_process']:,.0f} per CPU-second per process); a pure-CPU loop "
        f"scaled {calibration:.2f}x on {args.workers} processes at the same time"
    )
    print(f"  batch and one-query results identical (JSON): {identical}/{len(timing)}")
    figures["speed"] = {
        "queries": len(timing),
        "one_by_one": single,
        "batch_one_process": batch,
        "batch_processes": {"workers": args.workers, **multi},
        "core_calibration": calibration,
        "identical_results": identical,
    }

    if PAIRS.exists():
        cross = cross_script_report(PAIRS)
        print(
            f"  cross-script pairs (moov-io/watchman fixture, Apache-2.0): {cross['reached_reference_min']}"
            f"/{cross['pairs']} reach watchman's reference score; "
            + ", ".join(f"{p['query']}→{p['expected']} {p['score']:.2f}" for p in cross["detail"])
        )
        figures["cross_script"] = {
            "pairs": cross["pairs"],
            "reached_reference_min": cross["reached_reference_min"],
        }

    step = max(1, len(queries) // args.sample)
    positions = list(range(0, len(queries), step))[: args.sample]
    sample = [queries[i] for i in positions]
    ours_sample = [ours[i] for i in positions]
    texts = [q.text for q in sample]
    screener.clear_caches()
    _r, batch_seconds = _timed(_batches, screener, texts)
    screener.clear_caches()
    _r, single_seconds = _timed(lambda: [screener.screen(t).to_contract() for t in texts])
    bf, bf_seconds, top10 = brute_force(screener, sample)
    bf_summary = _summary("brute force", sample, bf, bf_seconds)
    ours_on_sample = _summary("sluicegate", sample, ours_sample, batch_seconds)
    print(
        f"\nbaseline: brute-force rapidfuzz Jaro-Winkler over all {screener.index.size} names, "
        f"{len(sample)} queries (same sample; ours cold, full explained results):"
    )
    print(
        f"  sluicegate batch     {len(sample) / batch_seconds:>9,.0f} q/s (1 process)  "
        f"best@P>=0.95: {_fmt(ours_on_sample['best_at_p95'])}"
    )
    print(f"  sluicegate one-query {len(sample) / single_seconds:>9,.0f} q/s (1 process)")
    print(
        f"  brute force          {bf_summary['qps']:>9,.0f} q/s (1 process)  "
        f"best@P>=0.95: {_fmt(bf_summary['best_at_p95'])}"
    )
    print(
        f"  speed ratio vs brute force: batch {bf_seconds / batch_seconds:.0f}x, one-query "
        f"{bf_seconds / single_seconds:.0f}x"
    )
    figures["brute_force"] = {
        "queries": len(sample),
        "qps": bf_summary["qps"],
        "best_at_p95": bf_summary["best_at_p95"],
        "ours_best_at_p95": ours_on_sample["best_at_p95"],
        "ours_batch_qps": len(sample) / batch_seconds,
        "ours_one_by_one_qps": len(sample) / single_seconds,
    }

    try:
        from nomenklatura.matching import DefaultAlgorithm, LogicV2
    except ImportError as exc:
        print(
            f"\nbaseline: nomenklatura skipped ({exc}); `make bench` runs this from .venv-bench, which has it"
        )
        save("screening", figures)
        return
    nk_step = max(1, len(sample) // args.nk_sample)
    idx = list(range(0, len(sample), nk_step))[: args.nk_sample]
    nk_queries = [sample[i] for i in idx]
    nk_top10 = [top10[i] for i in idx]
    ours_nk = _summary("sluicegate", nk_queries, [ours_sample[i] for i in idx], 1.0)
    print(
        f"\nbaseline: nomenklatura {DefaultAlgorithm.NAME} (its default) re-scoring the brute-force "
        f"top 10, {len(nk_queries)} queries:"
    )
    figures["nomenklatura"] = {"queries": len(nk_queries)}
    for algorithm in (DefaultAlgorithm, LogicV2):
        probe_start = time.perf_counter()
        nomenklatura_rescore(screener, nk_queries[:3], nk_top10[:3], algorithm)
        if time.perf_counter() - probe_start > 20:
            print(f"  {algorithm.NAME}: too slow for this run, skipped")
            continue
        nk, nk_seconds = nomenklatura_rescore(screener, nk_queries, nk_top10, algorithm)
        nk_summary = _summary(algorithm.NAME, nk_queries, nk, nk_seconds)
        print(
            f"  {algorithm.NAME:<14} {nk_summary['qps']:>7,.1f} q/s  best@P>=0.95: "
            f"{_fmt(nk_summary['best_at_p95'])}  at our review band: {_fmt(nk_summary['review'])}"
        )
        figures["nomenklatura"][algorithm.NAME] = {
            "qps": nk_summary["qps"],
            "best_at_p95": nk_summary["best_at_p95"],
            "review": nk_summary["review"],
        }
    print(
        f"  {'sluicegate':<14} {'':>7}       best@P>=0.95: {_fmt(ours_nk['best_at_p95'])}  "
        f"at our review band: {_fmt(ours_nk['review'])}"
    )
    figures["nomenklatura"]["sluicegate"] = {
        "best_at_p95": ours_nk["best_at_p95"],
        "review": ours_nk["review"],
    }
    path = save("screening", figures)
    print(f"\nfigures saved to {path}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
