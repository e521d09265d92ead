"""The batch path (``batch``, ``Screener.screen_batch``) gives exactly the one-query path's
results: same matches, scores, explanations and decisions, on thousands of varied queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.screening.evaluation import build_negatives, build_positives
from sluicegate.screening.normalize import analyse
from sluicegate.screening.screener import Bands, Screener

SPECIAL = [
    "Mahan Air",
    "MAHAN AIRLINES",
    "mahan",
    "BNC",
    "ABC",
    "a b c",
    "Huawei Technologies Co., Ltd.",
    "华为技术有限公司",
    "hua wei",
    "习近平",
    "Владимир Путин",
    "Александр Петров",
    "محمد علي",
    "أحمد حسن",
    "משה",
    "דוד",
    "김정은",
    "International Trading Group",
    "Trading Company Limited",
    "China National Electronics Import & Export Corporation",
    "Rosoboronexport",
    "Rosoboronexpert",
    "Sukhoi Company JSC",
    "SUKHOY",
    "The Tesla Company",
    "Tesalia",
    "x",
    "Al",
    "Bank",
    "Shanghai Yitu Network Technology",
    "Hangzhou Hikvision Digital Technology",
    "Mohammed Ali Hassan Al-Ahmad",
    "Islamic Revolutionary Guard Corps Qods Force",
    "Ziyad Ramatan Lulah",
    "aleksandr ivanovich petrov",
    "0123456789",
    "Beijing 北京 Aerospace",
]


def _split_words(screener: Screener, count: int) -> list[str]:
    """Listed one-word names written as two words ("rosobor onexport"): only the name with
    the same letters (joined) proposes them, and no word of theirs covers it."""
    out = []
    for name in screener.index.names:
        if len(name.tokens) == 1 and len(name.joined) >= 10 and name.joined.isalpha():
            half = len(name.joined) // 2
            out.append(f"{name.joined[:half]} {name.joined[half:]}")
            if len(out) >= count:
                break
    return out


def _queries(screener: Screener, shared: Path | None) -> list[str]:
    positives = [q.text for q in build_positives(screener, 1600, seed=5)]
    epoch = shared / "epoch-ai" if shared else None
    negatives, _report = build_negatives(screener, epoch, 600, seed=3)
    return list(
        dict.fromkeys(
            [
                *SPECIAL,
                *_split_words(screener, 60),
                *positives,
                *(q.text for q in negatives),
            ]
        )
    )


@pytest.fixture(scope="module")
def queries(bundle_screener: Screener) -> list[str]:
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    return _queries(bundle_screener, shared if shared.exists() else None)


def _cold(screener: Screener) -> None:
    """Forget every cached word expansion and comparison, so that each path computes its own."""
    assert screener.batch_index is not None  # built, so that its caches are cleared too
    screener.clear_caches()


def test_batch_screen_equals_one_by_one(bundle_screener: Screener, queries: list[str]) -> None:
    _cold(bundle_screener)
    batch = bundle_screener.screen_batch(queries, ids=list(range(len(queries))))
    _cold(bundle_screener)
    single = [
        bundle_screener.screen(name, query_id=i).to_contract() for i, name in enumerate(queries)
    ]
    assert len(batch) == len(single) == len(queries)
    differ = [
        queries[i]
        for i, (a, b) in enumerate(zip(batch, single, strict=True))
        if json.dumps(a, ensure_ascii=False) != json.dumps(b, ensure_ascii=False)
    ]
    assert not differ, differ[:5]
    # the set is not trivial: blocks, reviews and clears, several lists, several scripts
    decisions = {r["decision"] for r in batch}
    assert decisions == {"block", "review", "clear"}
    assert sum(1 for r in batch if r["matches"]) > len(queries) // 2


def test_batch_word_expansions_equal_one_by_one(
    bundle_screener: Screener, queries: list[str]
) -> None:
    _cold(bundle_screener)
    index = bundle_screener.index
    keys = list(dict.fromkeys((t, analyse(q).abjad) for q in queries for t in analyse(q).tokens))
    bundle_screener.batch_index.expand_many(keys)
    batch = {key: index._expansions[key] for key in keys}
    assert any(how == "trigrams+jaro-winkler" for exp in batch.values() for _t, _s, how in exp)
    assert any(how == "skeleton" for exp in batch.values() for _t, _s, how in exp)
    index._expansions.clear()
    single = {key: index.expand(*key) for key in keys}
    assert batch == single


def test_batch_rank_equals_one_by_one(bundle_screener: Screener, queries: list[str]) -> None:
    _cold(bundle_screener)
    batch = bundle_screener.rank_batch(queries)
    _cold(bundle_screener)
    assert batch == [bundle_screener.rank(name) for name in queries]


def test_batch_with_countries_addresses_and_bands(bundle_screener: Screener) -> None:
    names = ["Mahan Air", "Mahan Air", "Huawei Technologies", "Rosoboronexport", "Acme"]
    countries = ["IR", "FR", "CN", None, "US"]
    addresses = [None, "Tehran, Iran", None, "Moscow", None]
    bands = Bands(block=0.95, review=0.6)
    batch = bundle_screener.screen_batch(
        names, countries, addresses, bands=bands, ids=list("abcde")
    )
    single = [
        bundle_screener.screen(n, c, a, bands=bands, query_id=i).to_contract()
        for n, c, a, i in zip(names, countries, addresses, "abcde", strict=True)
    ]
    assert batch == single
    assert batch[1]["matches"][0]["explanation"]["evidence"]["country"]["adjustment"] < 0


def test_screen_many_keeps_order_and_errors(bundle_screener: Screener) -> None:
    records = [
        {"id": 1, "name": "Mahan Air", "country": "IR"},
        {"id": 2, "name": ""},
        "junk",
        {"id": 4, "name": "Huawei", "address": "Shenzhen"},
        {"id": 5, "name": "Acme Widgets"},
    ]
    results = bundle_screener.screen_many(records)
    assert [r.get("id") for r in results] == [1, 2, None, 4, 5]
    assert results[1]["error"]["field"] == "name" and results[2]["error"]["field"] == "record"
    assert results[0] == bundle_screener.screen_record(records[0])
    assert results[3] == bundle_screener.screen_record(records[3])
    assert results[4] == {"id": 5, "matches": [], "decision": "clear"}


def test_batch_candidates_and_scores_equal_one_by_one(
    bundle_screener: Screener, queries: list[str]
) -> None:
    """Stricter than the results: the same candidate names, in the same order, with the same
    score floats, before any band or cut hides a difference."""
    _cold(bundle_screener)
    index = bundle_screener.index
    batch_index = bundle_screener.batch_index
    prepared = batch_index.prepare_many([analyse(q) for q in queries])
    candidates = batch_index.candidates_many(prepared)
    found = batch_index.search_many(prepared)
    _cold(bundle_screener)
    single = [index.prepare(analyse(q)) for q in queries]
    assert [(q.tokens, q.weights) for q in prepared] == [(q.tokens, q.weights) for q in single]
    assert candidates == [index.candidates(q) for q in single]
    # Not a trivial comparison: on average more than one candidate per query (with or without
    # the shared reference data beside the repository).
    assert sum(len(c) for c in candidates) > len(queries)
    assert [[(i, s.score, s.explain()) for i, s in f] for f in found] == [
        [(i, s.score, s.explain()) for i, s in index.search(q)] for q in single
    ]


def test_small_batches_equal_one_by_one(bundle_screener: Screener, queries: list[str]) -> None:
    """Batches of one, two and three queries (the API's usual size) give the same results too."""
    sample = queries[: len(SPECIAL) + 60] + queries[-40:]
    for size in (1, 2, 3):
        _cold(bundle_screener)
        batch = [
            result
            for start in range(0, len(sample), size)
            for result in bundle_screener.screen_batch(sample[start : start + size])
        ]
        assert batch == [bundle_screener.screen(name).to_contract() for name in sample], size


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_edits_of_listed_names_batch_equals_one_by_one(
    bundle_screener: Screener, data: st.DataObject
) -> None:
    """Listed names with random edits (letters dropped, doubled or changed, spaces added or
    removed, words swapped, common words added), screened as one batch and one by one."""
    names = bundle_screener.index.names
    common = ["trading", "international", "group", "company", "ltd", "al", "de", "co"]
    batch: list[str] = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=24))):
        words = list(names[data.draw(st.integers(0, len(names) - 1))].tokens)
        for _edit in range(data.draw(st.integers(0, 3))):
            kind = data.draw(
                st.sampled_from(["drop", "double", "change", "space", "join", "swap", "add"])
            )
            i = data.draw(st.integers(0, len(words) - 1))
            word = words[i]
            p = data.draw(st.integers(0, max(0, len(word) - 1)))
            if kind == "drop" and len(word) > 1:
                words[i] = word[:p] + word[p + 1 :]
            elif kind == "double":
                words[i] = word[:p] + word[p : p + 1] * 2 + word[p + 1 :]
            elif kind == "change":
                words[i] = word[:p] + data.draw(st.sampled_from("aeiouykhsz")) + word[p + 1 :]
            elif kind == "space" and 0 < p < len(word):
                words[i : i + 1] = [word[:p], word[p:]]
            elif kind == "join" and i + 1 < len(words):
                words[i : i + 2] = [words[i] + words[i + 1]]
            elif kind == "swap" and len(words) > 1:
                words[0], words[-1] = words[-1], words[0]
            elif kind == "add":
                words.insert(i, data.draw(st.sampled_from(common)))
        name = " ".join(w for w in words if w)
        if analyse(name).tokens:
            batch.append(name)
    if not batch:
        return
    assert bundle_screener.screen_batch(batch) == [
        bundle_screener.screen(name).to_contract() for name in batch
    ]
