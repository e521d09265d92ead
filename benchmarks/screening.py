"""Screening benchmark: accuracy and speed against the full shipped bundle, with baselines.

Run: python benchmarks/screening.py [--positives N] [--negatives N] [--sample N] [--workers 2]

Prints, all measured in this run on the same labelled queries (``sluicegate.screening.evaluation``):
- sluicegate: precision / recall / F1 at the block and review bands, the best top-1 recall at
  precision >= 0.95, recall per perturbation kind, queries/s on one process and on ``--workers``
  processes (the full explained ``screen`` path), load time and memory;
- baseline 1, brute force: rapidfuzz Jaro-Winkler of the whole (lower-cased, punctuation-free)
  name against every listed name, best hit taken (on a sample of ``--sample`` queries);
- baseline 2, OpenSanctions nomenklatura's default matcher (``RegressionV1``, plus ``LogicV2``
  when fast enough) re-scoring the brute-force top 10 (it has no candidate index of its own),
  on a smaller sample; skipped with a message when nomenklatura is not installed
  (``pip install -e '.[bench]'``).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    sweep,
)
from sluicegate.screening.screener import Screener, default_bands
from sluicegate.screening.store import bundle_path, read_set

ROOT = Path(__file__).resolve().parents[1]
EPOCH = ROOT.parent / "shared" / "data" / "epoch-ai"
PAIRS = ROOT.parent / "shared" / "data" / "watchman-cross-script-pairs" / "cross_script_pairs.csv"

_WORKER: Screener | None = None


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _screen_chunk(names: list[str]) -> float:
    """Screen ``names``; return the CPU seconds this process spent (robust to shared cores)."""
    assert _WORKER is not None
    start = time.process_time()
    for name in names:
        _WORKER.screen(name)
    return time.process_time() - start


def throughput(
    screener: Screener, names: list[str], workers: int, warm: bool = True
) -> tuple[float, float]:
    """(queries per wall-clock second, queries per CPU second) of the full explained screen
    path on ``workers`` forked processes."""
    global _WORKER
    _WORKER = screener
    if workers <= 1:
        start = time.perf_counter()
        cpu = _screen_chunk(names)
        return len(names) / (time.perf_counter() - start), len(names) / cpu
    chunks = [names[i::workers] for i in range(workers)]
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the shared index pages
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        pool.map(_spin, [10] * workers)  # start the workers before the clock
        start = time.perf_counter()
        cpu = pool.map(_screen_chunk, chunks)
        return len(names) / (time.perf_counter() - start), len(names) / sum(cpu)


def cold_throughput(screener: Screener, names: list[str], workers: int) -> tuple[float, float]:
    from sluicegate.screening.normalize import analyse

    analyse.cache_clear()
    screener.index._expansions.clear()
    return throughput(screener, names, workers, warm=False)


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


def _fmt(m: dict[str, float]) -> str:
    return f"P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} (t={m['threshold']:.2f})"


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

    gc.collect()
    rss0 = _rss_mb()
    start = time.perf_counter()
    list_set = read_set(bundle_path())
    read_seconds = time.perf_counter() - start
    screener = Screener(list_set)
    load_seconds = time.perf_counter() - start
    rss1 = _rss_mb()
    print(
        f"bundle: {len(screener.entities)} entities, {screener.index.size} names and aliases, "
        f"{len(screener.index.df)} distinct words"
    )
    print(
        f"load: {load_seconds:.2f} s (read {read_seconds:.2f} s, index {load_seconds - read_seconds:.2f} s); "
        f"memory: +{rss1 - rss0:.0f} MB peak RSS ({rss1:.0f} MB total)"
    )

    positives = build_positives(screener, args.positives)
    negatives, report = build_negatives(screener, EPOCH if EPOCH.exists() else None, args.negatives)
    queries = positives + negatives
    print(
        f"queries: {len(positives)} perturbed listed names, {len(negatives)} non-listed names "
        f"({report['organisations_read']} Epoch AI organisations and {report['persons_read']} authors read; "
        f"{report['excluded_as_listed']} found on the lists and excluded)"
    )

    start = time.perf_counter()
    ours = run_screener(screener, queries)
    ours_seconds = time.perf_counter() - start
    summary = _summary("sluicegate", queries, ours, ours_seconds)
    bands = default_bands()
    print(f"\nsluicegate (bands block>={bands.block}, review>={bands.review}):")
    print(f"  block : {_fmt(summary['block'])}")
    print(f"  review: {_fmt(summary['review'])}")
    best = summary["best_at_p95"]
    print(f"  best top-1 recall at precision>=0.95: {_fmt(best) if best else 'none'}")
    print(f"  recall per kind at review band: {per_kind_recall(queries, ours, bands.review)}")
    print(f"  recall per kind at block band : {per_kind_recall(queries, ours, bands.block)}")
    print(
        "  sweep (threshold: precision/recall):  "
        + "  ".join(
            f"{r['threshold']:.2f}:{r['precision']:.3f}/{r['recall']:.3f}"
            for r in summary["rows"][20::5]
        )
    )

    # throughput on a fresh, larger query set (another seed), caches cleared: a cold pass
    timing = [q.text for q in build_positives(screener, args.timing_queries, seed=99)]
    timing += [q.text for q in negatives]
    timing = list(dict.fromkeys(timing))
    qps1, cpu1 = cold_throughput(screener, timing, 1)
    qpsn, cpun = (
        cold_throughput(screener, timing, args.workers) if args.workers > 1 else (qps1, cpu1)
    )
    calibration = core_calibration(args.workers)
    print(
        f"  throughput (full explained screen, {len(timing)} distinct queries, cold caches): "
        f"{qps1:,.0f} q/s on 1 process ({cpu1:,.0f} per CPU-second); {qpsn:,.0f} q/s on "
        f"{args.workers} processes ({cpun:,.0f} per CPU-second per process); a pure-CPU loop "
        f"scaled {calibration:.2f}x on {args.workers} processes at the same time"
    )

    if PAIRS.exists():
        cross = cross_script_report(PAIRS)
        print(
            f"  cross-script pairs (moov-io/watchman fixture, Apache-2.0): {cross['reached_reference_min']}"
            f"/{cross['pairs']} reach watchman's reference score; "
            + ", ".join(f"{p['query']}→{p['expected']} {p['score']:.2f}" for p in cross["detail"])
        )

    step = max(1, len(queries) // args.sample)
    sample = list(queries[::step])[: args.sample]
    ours_sample = [ours[i] for i in range(0, len(queries), step)][: len(sample)]
    bf, bf_seconds, top10 = brute_force(screener, sample)
    bf_summary = _summary("brute force", sample, bf, bf_seconds)
    ours_on_sample = _summary(
        "sluicegate", sample, ours_sample, ours_seconds * len(sample) / len(queries)
    )
    print(
        f"\nbaseline: brute-force rapidfuzz Jaro-Winkler over all {screener.index.size} names, "
        f"{len(sample)} queries (same sample for both):"
    )
    for s in (ours_on_sample, bf_summary):
        b = s["best_at_p95"]
        print(
            f"  {s['system']:<12} {s['qps']:>9,.0f} q/s (1 process)  best@P>=0.95: {_fmt(b) if b else 'none'}"
        )
    print(
        f"  speed ratio sluicegate / brute force: {ours_on_sample['qps'] / bf_summary['qps']:.1f}x"
    )

    try:
        from nomenklatura.matching import DefaultAlgorithm, LogicV2
    except ImportError as exc:
        print(f"\nbaseline: nomenklatura skipped ({exc}); install with pip install -e '.[bench]'")
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
    for algorithm in (DefaultAlgorithm, LogicV2):
        probe_start = time.perf_counter()
        nomenklatura_rescore(screener, nk_queries[:3], nk_top10[:3], algorithm)
        if time.perf_counter() - probe_start > 20:
            print(f"  {algorithm.NAME}: too slow for this run, skipped")
            continue
        nk, nk_seconds = nomenklatura_rescore(screener, nk_queries, nk_top10, algorithm)
        nk_summary = _summary(algorithm.NAME, nk_queries, nk, nk_seconds)
        b = nk_summary["best_at_p95"]
        print(
            f"  {algorithm.NAME:<14} {nk_summary['qps']:>7,.1f} q/s  best@P>=0.95: {_fmt(b) if b else 'none'}  "
            f"at our review band: {_fmt(nk_summary['review'])}"
        )
    b = ours_nk["best_at_p95"]
    print(
        f"  {'sluicegate':<14} {'':>7}       best@P>=0.95: {_fmt(b) if b else 'none'}  "
        f"at our review band: {_fmt(ours_nk['review'])}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
