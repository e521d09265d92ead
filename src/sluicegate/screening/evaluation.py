"""Evaluation harness: a labelled query set built from the loaded lists, and the metrics.

Positives are listed names (primary or alias) put through one perturbation each: exact, typo,
transposition, token reordering, dropped or changed legal form, transliteration variant
(spelling alternations, Latin→Cyrillic for Russian, Belarusian and Ukrainian parties), alias,
noise words. A positive is answered correctly when the top match is an entity that carries
the source name. Negatives are real names that are not on the lists: organisations and
authors from the Epoch AI datasets (``../shared/data/epoch-ai``; CC BY 4.0, "Data: Epoch AI,
published online at epoch.ai"), each checked against the lists (a name whose words contain a
whole listed name is dropped from the negatives and counted), plus combinations of the
lists' most common words ("International Trading Group"). Used by ``benchmarks/screening.py``
and ``sluice screen-eval``; the baselines (brute-force Jaro-Winkler, nomenklatura) live in the
benchmark.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluicegate.screening.normalize import analyse
from sluicegate.screening.screener import BATCH_SIZE, Screener

PERTURBATIONS = (
    "exact",
    "typo",
    "transposition",
    "reorder",
    "legal-form",
    "transliteration",
    "alias",
    "noise",
)
_LEGAL = ["Ltd", "LLC", "Co., Ltd.", "Inc.", "Limited", "Corporation", "GmbH", "OOO", "JSC", "S.A."]
_NOISE = [("The ", ""), ("", " Company"), ("", " (Head Office)"), ("", " Incorporated")]
_SPELLING = [
    ("kh", "h"),
    ("ou", "u"),
    ("y", "i"),
    ("iy", "y"),
    ("ya", "ia"),
    ("yu", "iu"),
    ("ee", "i"),
    ("sh", "ch"),
    ("zh", "j"),
    ("ph", "f"),
    ("mohammed", "muhammad"),
    ("mohammad", "mohamed"),
    ("oo", "u"),
    ("ei", "ey"),
    ("ck", "k"),
    ("v", "w"),
    ("q", "k"),
    ("dj", "j"),
]
_CYRILLIC = [
    ("shch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("yo", "ё"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("y", "ы"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("c", "к"),
    ("w", "в"),
    ("h", "х"),
    ("j", "й"),
    ("x", "кс"),
    ("q", "к"),
]
CYRILLIC_COUNTRIES = {"RU", "BY", "UA", "KZ", "KG"}


@dataclass
class LabelledQuery:
    text: str
    kind: str  # a perturbation, or "negative-org" / "negative-person" / "negative-common"
    source_name: str | None
    expected: frozenset[str]  # entity ids that carry the source name; empty for negatives
    country: str | None = None

    @property
    def positive(self) -> bool:
        return bool(self.expected)


def _to_cyrillic(text: str) -> str:
    out = text.lower()
    for latin, cyr in _CYRILLIC:
        out = out.replace(latin, cyr)
    return out


def _perturb(
    kind: str, name: str, rng: random.Random, country: str | None, person: bool
) -> str | None:
    tokens = name.split()
    long_idx = [i for i, t in enumerate(tokens) if len(t) >= 6 and t.isalpha()]
    if kind == "exact":
        return name
    if kind == "typo":
        if not long_idx:
            return None
        i = rng.choice(long_idx)
        t = tokens[i]
        p = rng.randrange(1, len(t) - 1)
        op = rng.choice(("sub", "del", "ins"))
        letter = rng.choice("aeioulnrst")
        if op == "sub":
            t = t[:p] + letter + t[p + 1 :]
        elif op == "del":
            t = t[:p] + t[p + 1 :]
        else:
            t = t[:p] + letter + t[p:]
        tokens[i] = t
        return " ".join(tokens)
    if kind == "transposition":
        if not long_idx:
            return None
        i = rng.choice(long_idx)
        t = tokens[i]
        p = rng.randrange(1, len(t) - 2)
        tokens[i] = t[:p] + t[p + 1] + t[p] + t[p + 2 :]
        return " ".join(tokens)
    if kind == "reorder":
        if len(tokens) < 2:
            return None
        if "," in name:  # OFAC persons 'LAST, First' -> 'First LAST'
            last, _, first = name.partition(",")
            return f"{first.strip()} {last.strip()}"
        return " ".join(reversed(tokens))
    if kind == "legal-form":
        norm = analyse(name)
        if norm.legal_forms:  # drop it, or swap it for another
            stripped = " ".join(norm.tokens)
            return stripped if rng.random() < 0.5 else f"{stripped} {rng.choice(_LEGAL)}"
        return f"{name} {rng.choice(_LEGAL)}"
    if kind == "transliteration":
        if person and country in CYRILLIC_COUNTRIES and rng.random() < 0.8:
            # a Russian, Belarusian or Ukrainian person's name written in Cyrillic
            return _to_cyrillic(name)
        low = name.lower()
        options = [(a, b) for a, b in _SPELLING if a in low] + [
            (b, a) for a, b in _SPELLING if b in low
        ]
        if not options:
            return None
        a, b = rng.choice(options)
        return low.replace(a, b, 1)
    if kind == "noise":
        prefix, suffix = rng.choice(_NOISE)
        return f"{prefix}{name}{suffix}"
    return None


def _name_owners(screener: Screener) -> dict[tuple[str, ...], set[str]]:
    owners: dict[tuple[str, ...], set[str]] = {}
    for indexed in screener.index.names:
        key = tuple(sorted(indexed.tokens))
        owners.setdefault(key, set()).add(screener.entities[indexed.entity].id)
    return owners


def build_positives(screener: Screener, count: int, seed: int = 7) -> list[LabelledQuery]:
    """``count`` perturbed listed names, spread evenly over the perturbation kinds."""
    rng = random.Random(seed)
    owners = _name_owners(screener)
    entities = [e for e in screener.entities if e.type in ("organization", "person", "unknown")]
    out: list[LabelledQuery] = []
    per_kind = max(1, count // len(PERTURBATIONS))
    for kind in PERTURBATIONS:
        made = 0
        attempts = 0
        while made < per_kind and attempts < per_kind * 20:
            attempts += 1
            entity = rng.choice(entities)
            if kind == "alias":
                aliases = [a.name for a in entity.aliases if not a.kind.startswith("weak")]
                if not aliases:
                    continue
                source = rng.choice(aliases)
                text: str | None = source
            else:
                source = entity.name
                country = entity.countries[0] if entity.countries else None
                text = _perturb(kind, source, rng, country, entity.type == "person")
            norm = analyse(source)
            if text is None or len(norm.joined) <= 3 or not analyse(text).tokens:
                continue
            expected = frozenset(owners.get(tuple(sorted(norm.tokens)), set()) | {entity.id})
            out.append(LabelledQuery(text, kind, source, expected))
            made += 1
    return out


def _listed_token_sets(screener: Screener) -> list[frozenset[str]]:
    return [frozenset(n.tokens) for n in screener.index.names]


def build_negatives(
    screener: Screener, epoch_dir: Path | None, count: int, seed: int = 11
) -> tuple[list[LabelledQuery], dict[str, Any]]:
    """Real non-listed names (Epoch AI organisations and authors) and common-word combinations,
    each checked against the lists. Returns the queries and a report of what was excluded."""
    rng = random.Random(seed)
    orgs: set[str] = set()
    persons: set[str] = set()
    if epoch_dir and epoch_dir.exists():
        for file, columns in (
            ("notable_ai_models.csv", ("Organization",)),
            ("large_scale_ai_models.csv", ("Organization",)),
            ("gpu_clusters.csv", ("Owner", "Users")),
            ("ml_hardware.csv", ("Manufacturer",)),
        ):
            path = epoch_dir / file
            if not path.exists():
                continue
            with path.open(encoding="utf-8", errors="replace") as handle:
                for row in csv.DictReader(handle):
                    for column in columns:
                        for part in re.split(r",|;", row.get(column) or ""):
                            part = part.strip()
                            if 3 <= len(part) <= 80:
                                orgs.add(part)
                    if file == "notable_ai_models.csv":
                        for author in (row.get("Authors") or "").split(","):
                            author = author.strip()
                            if 5 <= len(author) <= 40 and len(author.split()) >= 2:
                                persons.add(author)
    listed_exact = {tuple(sorted(k)) for k in _name_owners(screener)}
    token_sets = _listed_token_sets(screener)
    by_token: dict[str, list[frozenset[str]]] = {}
    for tokens in token_sets:
        rare = min(tokens, key=lambda t: screener.index.df.get(t, 0))
        by_token.setdefault(rare, []).append(tokens)

    def listed(name: str) -> bool:
        norm = analyse(name)
        if not norm.tokens or tuple(sorted(norm.tokens)) in listed_exact:
            return True
        have = set(norm.tokens)
        for token in have:
            for tokens in by_token.get(token, ()):
                if tokens <= have and len("".join(tokens)) > 3:
                    return True  # a listed name inside this one
                if have <= tokens and len(have) >= 0.75 * len(tokens):
                    return True  # this name is a listed name short of an acronym or a word
        return False

    excluded: list[str] = []
    out: list[LabelledQuery] = []
    for kind, pool in (("negative-org", sorted(orgs)), ("negative-person", sorted(persons))):
        rng.shuffle(pool)
        kept = 0
        for name in pool:
            if kept >= count // 2:
                break
            if listed(name):
                excluded.append(name)
                continue
            out.append(LabelledQuery(name, kind, None, frozenset()))
            kept += 1
    common = sorted(
        (t for t, df in screener.index.df.items() if df > screener.index.common_df and len(t) > 3),
        key=lambda t: -screener.index.df[t],
    )[:60]
    made = 0
    while made < max(50, count // 10) and common:
        words = rng.sample(common, 2 if rng.random() < 0.6 else 3)
        name = " ".join(w.title() for w in words) + rng.choice(["", " Ltd", " LLC", " Co"])
        if listed(name):
            continue
        out.append(LabelledQuery(name, "negative-common", None, frozenset()))
        made += 1
    report = {
        "organisations_read": len(orgs),
        "persons_read": len(persons),
        "excluded_as_listed": len(excluded),
        "excluded_examples": sorted(excluded)[:15],
    }
    return out, report


# results: per query, ranked (entity ids, score) of the system under test
Ranked = list[tuple[frozenset[str], float]]


def metrics_at(
    queries: Sequence[LabelledQuery], results: Sequence[Ranked], threshold: float
) -> dict[str, float]:
    tp = fp = fn = 0
    for query, ranked in zip(queries, results, strict=True):
        top = ranked[0] if ranked else None
        flagged = top is not None and top[1] >= threshold
        if query.positive:
            if flagged and top is not None and top[0] & query.expected:
                tp += 1
            else:
                fn += 1
                if flagged:
                    fp += 1  # flagged, but the wrong party on top
        elif flagged:
            fp += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    positives = sum(1 for q in queries if q.positive)
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
    }


def sweep(queries: Sequence[LabelledQuery], results: Sequence[Ranked]) -> list[dict[str, float]]:
    return [metrics_at(queries, results, t / 100) for t in range(50, 101)]


def best_recall_at_precision(
    rows: list[dict[str, float]], precision: float = 0.95
) -> dict[str, float] | None:
    ok = [r for r in rows if r["precision"] >= precision]
    return max(ok, key=lambda r: (r["recall"], -r["threshold"])) if ok else None


def per_kind_recall(
    queries: Sequence[LabelledQuery], results: Sequence[Ranked], threshold: float
) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for query, ranked in zip(queries, results, strict=True):
        counts = totals.setdefault(query.kind, [0, 0])
        counts[1] += 1
        top = ranked[0] if ranked else None
        flagged = top is not None and top[1] >= threshold
        if query.positive:
            counts[0] += int(flagged and top is not None and bool(top[0] & query.expected))
        else:
            counts[0] += int(not flagged)  # for negatives: share correctly left clear
    return {kind: round(c[0] / c[1], 4) for kind, c in sorted(totals.items())}


def run_screener(screener: Screener, queries: Sequence[LabelledQuery]) -> list[Ranked]:
    """Our system: every entity matched, best first (the batch path, ``Screener.rank_batch``;
    the same results as ``run_screener_one_by_one``)."""
    out: list[Ranked] = []
    texts = [query.text for query in queries]
    for start in range(0, len(texts), BATCH_SIZE):
        for ranked in screener.rank_batch(texts[start : start + BATCH_SIZE]):
            out.append([(frozenset({entity_id}), score) for entity_id, score in ranked])
    return out


def run_screener_one_by_one(screener: Screener, queries: Sequence[LabelledQuery]) -> list[Ranked]:
    """The reference path: ``Screener.rank`` on each query in turn."""
    out: list[Ranked] = []
    for query in queries:
        ranked = screener.rank(query.text, query.country)
        out.append([(frozenset({entity_id}), score) for entity_id, score in ranked])
    return out


def evaluate(
    screener: Screener,
    *,
    positives: int = 2000,
    negatives: int = 2000,
    epoch_dir: Path | None = None,
    bands: tuple[float, float] | None = None,
    runner: Callable[[Screener, Sequence[LabelledQuery]], list[Ranked]] = run_screener,
) -> dict[str, Any]:
    """Build the labelled set, run the screener, and report precision/recall/F1 per band."""
    import time

    from sluicegate.screening.screener import default_bands

    pos = build_positives(screener, positives)
    neg, neg_report = build_negatives(screener, epoch_dir, negatives)
    queries = pos + neg
    start = time.perf_counter()
    results = runner(screener, queries)
    elapsed = time.perf_counter() - start
    default = default_bands()
    block, review = bands or (default.block, default.review)
    rows = sweep(queries, results)
    return {
        "queries": len(queries),
        "positives": len(pos),
        "negatives": len(neg),
        "negatives_report": neg_report,
        "seconds": elapsed,
        "queries_per_second": len(queries) / elapsed if elapsed else 0.0,
        "bands": {
            "block": metrics_at(queries, results, block),
            "review": metrics_at(queries, results, review),
        },
        "best_recall_at_precision_0.95": best_recall_at_precision(rows),
        "per_kind_at_review": per_kind_recall(queries, results, review),
        "per_kind_at_block": per_kind_recall(queries, results, block),
        "sweep": rows,
    }


def cross_script_report(path: Path) -> dict[str, Any]:
    """Score each labelled cross-script pair (moov-io/watchman fixture, Apache-2.0: query in
    Arabic/Cyrillic/Han/Hangul/..., expected Latin name, the minimum score watchman's
    embedding matcher reached) with sluicegate's scorer; report how many reach that minimum."""
    from sluicegate.screening.matcher import NameIndex, score_name

    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r and not r[0].startswith("#") and len(r) >= 3]
    index = NameIndex([(i, r[1], "primary") for i, r in enumerate(rows)])
    by_entity = {n.entity: n for n in index.names}
    pairs: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        query = index.prepare(analyse(row[0]))
        score = score_name(query, by_entity[i], index).score if i in by_entity else 0.0
        pairs.append(
            {
                "query": row[0],
                "expected": row[1],
                "score": round(score, 3),
                "reference_min": float(row[2]),
                "script": sorted(query.norm.scripts),
            }
        )
    reached = sum(1 for p in pairs if p["score"] >= p["reference_min"])
    return {"pairs": len(pairs), "reached_reference_min": reached, "detail": pairs}
