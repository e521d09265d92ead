"""Batch search: many queries at once, with exactly the results of searching them one by one.

``NameIndex.prepare`` + ``NameIndex.search`` (one query) is the reference path; ``BatchIndex``
runs the same steps over a whole batch, each step for all queries together:

1. near spellings of every distinct query word not seen before (``NameIndex.expand``): the
   deletion-neighbourhood and phonetic look-ups gather candidate words (Python dicts), one
   rapidfuzz ``cpdist`` call scores all of them, and the trigram fallback counts shared
   trigrams with numpy over a CSR array instead of a dict per word;
2. candidates: each query's proposing words are chosen as in ``NameIndex.candidates``; their
   posting lists are CSR slices gathered with numpy, (query, name) pairs deduplicated with
   ``np.unique``, ranked in one vectorised pass (a dense word-similarity table per chunk of
   queries) and cut per query with one ``lexsort``;
3. scoring: the word pairs of every candidate are compared in one ``cpdist`` call (memoised
   across the batch), then ``matcher.score_name`` scores each candidate as before.

Every rule (which words propose, the caps, the tie-breaks, the thresholds) is the reference
path's; tests/screening/test_screening_batch.py checks the two agree on thousands of queries.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from sluicegate.screening.matcher import (
    CANDIDATE_FLOOR,
    CANDIDATE_MARGIN,
    CANDIDATES_SCORED,
    MAX_COMMON_PROPOSALS,
    MAX_EXACT_NAMES,
    MAX_TIED_CANDIDATES,
    MAX_WORD_PROPOSALS,
    NGRAM_MAX_POSTINGS,
    NGRAM_MIN_WORD,
    PROPOSING_WORDS,
    TOKEN_MIN_SIMILARITY,
    VERY_RARE_DF,
    NameIndex,
    NameScore,
    Query,
    _token_similarity,
    _trigrams,
    coverage,
    score_name,
    trigram_need,
)
from sluicegate.screening.normalize import NormalisedName

NARROW = 4  # names with at most this many words are ranked on a table this wide
CHUNK = 64  # queries whose word similarities share one dense table when ranking candidates
MEMO_LIMIT = 2_000_000  # word-pair similarities kept between batches

Expansion = list[tuple[str, float, str]]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a batch (then restore it).
    A batch allocates many small objects that stay alive until it returns (scores, results);
    each allocation burst otherwise triggers full collections that walk the whole name index
    again and again, a third of the batch's time. Nothing a batch creates is cyclic garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pair_similarity(left: Sequence[str], right: Sequence[str], workers: int = 1) -> np.ndarray:
    """``matcher.token_similarity`` of each (left[i], right[i]): the mean of Jaro-Winkler and
    normalised Levenshtein similarity, computed by rapidfuzz in C for all pairs at once."""
    if not left:
        return np.zeros(0, dtype=np.float64)
    jw = cpdist(left, right, scorer=JaroWinkler.similarity, dtype=np.float64, workers=workers)
    lev = cpdist(
        left, right, scorer=Levenshtein.normalized_similarity, dtype=np.float64, workers=workers
    )
    out: np.ndarray = (jw + lev) / 2
    return out


class BatchIndex:
    """CSR arrays over a :class:`NameIndex` for searching many queries at once."""

    def __init__(self, index: NameIndex, workers: int = 1) -> None:
        self.index = index
        self.workers = workers
        self.vocab: list[str] = list(index.vocab_id)
        blank = len(self.vocab)
        self.width = blank + 1  # a row of the dense similarity table: every word, and blank
        lengths = np.zeros(blank, dtype=np.int64)
        for token, ids in index.postings.items():
            lengths[index.vocab_id[token]] = len(ids)
        self.post_ptr = np.zeros(blank + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.post_ptr[1:])
        self.post_ids = np.zeros(int(self.post_ptr[-1]), dtype=np.int64)
        for token, ids in index.postings.items():
            start = self.post_ptr[index.vocab_id[token]]
            self.post_ids[start : start + len(ids)] = ids
        # trigram -> words holding it, for the trigrams the fallback looks at (not too common)
        self.gram_slot: dict[str, int] = {}
        gram_words: list[list[int]] = []
        for gram, words in index.trigrams.items():
            if len(words) <= NGRAM_MAX_POSTINGS:
                self.gram_slot[gram] = len(gram_words)
                gram_words.append([index.vocab_id[w] for w in words])
        self.gram_ptr = np.zeros(len(gram_words) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in gram_words], out=self.gram_ptr[1:])
        self.gram_ids = np.array([w for words in gram_words for w in words], dtype=np.int64)
        self._table = np.zeros(CHUNK * self.width, dtype=np.float64)
        # names of at most NARROW ranked words (most of them) are ranked on that many columns
        ranked = np.count_nonzero(index._name_words != blank, axis=1)
        self.narrow = ranked <= NARROW
        self.narrow_words = np.ascontiguousarray(index._name_words[:, :NARROW])
        self.narrow_weights = np.ascontiguousarray(index._name_word_weights[:, :NARROW])
        self._memo: dict[bool, dict[tuple[str, str], tuple[float, str]]] = {False: {}, True: {}}

    # ------------------------------------------------------------------ queries

    def prepare_many(self, norms: Sequence[NormalisedName]) -> list[Query]:
        """``NameIndex.prepare`` of every name; the near spellings of all new words at once."""
        index = self.index
        words = [index.query_tokens(norm) for norm in norms]
        keys = {
            (token, norm.abjad): None
            for norm, (tokens, _merged) in zip(norms, words, strict=True)
            for token in tokens
        }
        self.expand_many(list(keys))
        return [
            index.build_query(norm, tokens, merged)
            for norm, (tokens, merged) in zip(norms, words, strict=True)
        ]

    def expand_many(self, keys: Sequence[tuple[str, bool]]) -> None:
        """``NameIndex.expand`` for every (word, abjad) not cached yet; results are cached."""
        index = self.index
        cache = index._expansions
        todo = [key for key in keys if key not in cache]
        if not todo:
            return
        outs: list[dict[str, tuple[float, str]]] = []
        owner: list[int] = []
        left: list[str] = []
        right: list[str] = []
        for k, (token, _abjad) in enumerate(todo):
            out: dict[str, tuple[float, str]] = {}
            if token in index.df:
                out[token] = (1.0, "exact")
            outs.append(out)
            near = index.near_words(token)
            owner.extend([k] * len(near))
            left.extend([token] * len(near))
            right.extend(near)
        sims = pair_similarity(left, right, self.workers)
        for i in np.flatnonzero(sims >= TOKEN_MIN_SIMILARITY).tolist():
            outs[owner[i]][right[i]] = (float(sims[i]), "jaro-winkler+levenshtein")
        fallback = [
            k for k, (token, _a) in enumerate(todo) if not outs[k] and len(token) >= NGRAM_MIN_WORD
        ]
        if fallback:
            self._trigram_fallback([todo[k][0] for k in fallback], [outs[k] for k in fallback])
        for (token, abjad), out in zip(todo, outs, strict=True):
            index.finish_expansion(token, abjad, out)

    def _trigram_fallback(
        self, tokens: list[str], outs: list[dict[str, tuple[float, str]]]
    ) -> None:
        """Words sharing at least ``trigram_need`` of each token's trigrams (counted with
        numpy), kept when close enough: the reference's dict counting, vectorised."""
        owner: list[int] = []
        slots: list[int] = []
        need = np.zeros(len(tokens), dtype=np.int64)
        for k, token in enumerate(tokens):
            grams = _trigrams(token)
            need[k] = trigram_need(grams)
            for gram in grams:
                slot = self.gram_slot.get(gram)
                if slot is not None:
                    owner.append(k)
                    slots.append(slot)
        if not slots:
            return
        slot_arr = np.asarray(slots, dtype=np.int64)
        starts = self.gram_ptr[slot_arr]
        lengths = self.gram_ptr[slot_arr + 1] - starts
        words = self.gram_ids[_ranges(starts, lengths)]
        owners = np.repeat(np.asarray(owner, dtype=np.int64), lengths)
        size = len(self.vocab)
        keys = np.sort(owners * size + words)
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        pairs = keys[first]
        counts = np.diff(np.r_[first, len(keys)])
        pair_owner = pairs // size
        enough = counts >= need[pair_owner]
        pair_owner = pair_owner[enough].tolist()
        pair_word = (pairs[enough] % size).tolist()
        left = [tokens[k] for k in pair_owner]
        right = [self.vocab[w] for w in pair_word]
        sims = pair_similarity(left, right, self.workers)
        for i in np.flatnonzero(sims >= TOKEN_MIN_SIMILARITY).tolist():
            outs[pair_owner[i]][right[i]] = (float(sims[i]), "trigrams+jaro-winkler")

    # ------------------------------------------------------------------ candidates

    def candidates_many(self, queries: Sequence[Query]) -> list[list[int]]:
        """``NameIndex.candidates`` of every query."""
        index = self.index
        cache = index._expansions
        df_get = index.df.get
        postings = index.postings
        vocab_id = index.vocab_id
        common_df = index.common_df
        gather_q: list[int] = []
        gather_word: list[int] = []
        extra_q: list[int] = []
        extra_ids: list[int] = []
        near_q: list[int] = []
        near_word: list[int] = []
        near_sim: list[float] = []
        for qi, query in enumerate(queries):
            abjad = query.norm.abjad
            expansions = [cache.get((t, abjad)) or index.expand(t, abjad) for t in query.tokens]
            near: dict[str, float] = {}
            for exp in expansions:
                for token, sim, _how in exp:
                    if sim > near.get(token, 0.0):
                        near[token] = sim
            rare_found = False
            by_rarity = sorted((exp for exp in expansions if exp), key=lambda e: df_get(e[0][0], 0))
            for rank, exp in enumerate(by_rarity):
                df = df_get(exp[0][0], 0)
                if df > common_df or (rank >= PROPOSING_WORDS and df > VERY_RARE_DF):
                    continue
                rare_found = True
                proposed = 0
                for token, _sim, _how in exp:
                    found = postings.get(token)
                    if found and len(found) <= common_df:
                        gather_q.append(qi)
                        gather_word.append(vocab_id[token])
                        proposed += len(found)
                        if proposed >= MAX_WORD_PROPOSALS:
                            break
            extra: list[int] = []
            if not rare_found:
                exact = sorted(
                    (index._posting_set(t) for t in query.tokens if t in postings), key=len
                )
                if exact:
                    common = exact[0]
                    for other in exact[1:]:
                        narrowed = common & other
                        if not narrowed:
                            break
                        common = narrowed
                    extra.extend(sorted(common)[:MAX_COMMON_PROPOSALS])
            extra.extend(index.joined_postings.get(query.joined, ()))
            if extra:
                extra_q.extend([qi] * len(extra))
                extra_ids.extend(extra)
            near_q.extend([qi] * len(near))
            near_word.extend(vocab_id[t] for t in near)
            near_sim.extend(near.values())
        chosen = self._rank(
            queries, gather_q, gather_word, extra_q, extra_ids, near_q, near_word, near_sim
        )
        for query, ids in zip(queries, chosen, strict=True):
            if not ids:
                continue
            seen = set(ids)
            for more in (
                index.word_set_postings.get(query.sorted_joined),
                index.joined_postings.get(query.joined),
            ):
                if more:
                    for name_id in more[:MAX_EXACT_NAMES]:
                        if name_id not in seen:
                            ids.append(name_id)
                            seen.add(name_id)
        return chosen

    def _rank(
        self,
        queries: Sequence[Query],
        gather_q: list[int],
        gather_word: list[int],
        extra_q: list[int],
        extra_ids: list[int],
        near_q: list[int],
        near_word: list[int],
        near_sim: list[float],
    ) -> list[list[int]]:
        """Proposals of every query ranked by weighted word coverage; the best few kept."""
        index = self.index
        chosen: list[list[int]] = [[] for _ in queries]
        words = np.asarray(gather_word, dtype=np.int64)
        starts = self.post_ptr[words]
        lengths = self.post_ptr[words + 1] - starts
        pair_q = np.concatenate(
            [
                np.repeat(np.asarray(gather_q, dtype=np.int64), lengths),
                np.asarray(extra_q, np.int64),
            ]
        )
        pair_name = np.concatenate(
            [self.post_ids[_ranges(starts, lengths)], np.asarray(extra_ids, dtype=np.int64)]
        )
        if not len(pair_q):
            return chosen
        n_names = len(index.names)
        keys = _unique(pair_q * n_names + pair_name)
        pq = keys // n_names
        pn = keys % n_names
        nq = np.asarray(near_q, dtype=np.int64)
        nw = np.asarray(near_word, dtype=np.int64)
        ns = np.asarray(near_sim, dtype=np.float64)
        covered = np.zeros(len(keys), dtype=np.float64)
        table = self._table
        width = self.width
        bounds = np.searchsorted(pq, np.arange(0, len(queries) + CHUNK, CHUNK))
        near_bounds = np.searchsorted(nq, np.arange(0, len(queries) + CHUNK, CHUNK))
        for c, c0 in enumerate(range(0, len(queries), CHUNK)):
            a, b = int(bounds[c]), int(bounds[c + 1])
            if a == b:
                continue
            na, nb = int(near_bounds[c]), int(near_bounds[c + 1])
            slots = (nq[na:nb] - c0) * width + nw[na:nb]
            table[slots] = ns[na:nb]
            names = pn[a:b]
            rows = pq[a:b] - c0
            narrow = self.narrow[names]
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
                (narrow, self.narrow_words, self.narrow_weights),
                (~narrow, index._name_words, index._name_word_weights),
            ]
            for part, words, weights in parts:
                some = names[part]
                cells = rows[part][:, None] * width + words[some]
                covered[a:b][part] = coverage(table[cells], weights[some])
            table[slots] = 0.0
        qw = np.array([q.total_weight or 1.0 for q in queries], dtype=np.float64)
        scores = covered / np.maximum(index._name_totals[pn], qw[pq])
        # only proposals that can pass the floor (within CANDIDATE_MARGIN of their query's best)
        # need sorting
        starts = np.flatnonzero(np.r_[True, pq[1:] != pq[:-1]])
        best = np.maximum.reduceat(scores, starts)
        floor = np.maximum(CANDIDATE_FLOOR, best - CANDIDATE_MARGIN)
        live = np.flatnonzero(scores >= np.repeat(floor, np.diff(np.r_[starts, len(pq)])))
        # by query, best first, equal scores by name id (pairs are sorted by query, name)
        by_score = live[np.argsort(-scores[live], kind="stable")]
        order = by_score[np.argsort(pq[by_score], kind="stable")]
        sq, ss, sn = pq[order], scores[order], pn[order]
        first = np.flatnonzero(np.r_[True, sq[1:] != sq[:-1]])
        group = np.diff(np.r_[first, len(sq)])
        rank = np.arange(len(sq)) - np.repeat(first, group)
        cut = np.repeat(ss[first + np.minimum(group, CANDIDATES_SCORED) - 1], group)
        keep = (rank < CANDIDATES_SCORED) | ((ss == cut) & (rank < MAX_TIED_CANDIDATES))
        for q, name_id in zip(sq[keep].tolist(), sn[keep].tolist(), strict=True):
            chosen[q].append(name_id)
        return chosen

    # ------------------------------------------------------------------ scoring

    def search_many(self, queries: Sequence[Query]) -> list[list[tuple[int, NameScore]]]:
        """``NameIndex.search`` of every query: (name id, score) of the candidates scoring > 0."""
        index = self.index
        chosen = self.candidates_many(queries)
        for flag, memo in self._memo.items():
            if len(memo) > MEMO_LIMIT:
                self._memo[flag] = {}
        missing: dict[bool, dict[tuple[str, str], None]] = {False: {}, True: {}}
        for query, ids in zip(queries, chosen, strict=True):
            abjad = query.norm.abjad
            memo = self._memo[abjad]
            wanted = missing[abjad]
            for name_id in ids:
                for b in index.names[name_id].tokens:
                    for a in query.tokens:
                        if (a, b) not in memo:
                            wanted[(a, b)] = None
        for abjad, wanted in missing.items():
            self._compare_words(list(wanted), abjad)
        out: list[list[tuple[int, NameScore]]] = []
        for query, ids in zip(queries, chosen, strict=True):
            memo = self._memo[query.norm.abjad]
            found = []
            for name_id in ids:
                score = score_name(query, index.names[name_id], index, memo)
                if score.score > 0:
                    found.append((name_id, score))
            out.append(found)
        return out

    def _compare_words(self, pairs: list[tuple[str, str]], abjad: bool) -> None:
        """``matcher._token_similarity`` of every (query word, listed word) pair, into the memo;
        the string similarities of words longer than 3 letters in one cpdist call."""
        memo = self._memo[abjad]
        long_pairs = [(a, b) for a, b in pairs if a != b and len(a) > 3 and len(b) > 3]
        sims = pair_similarity(
            [a for a, _b in long_pairs], [b for _a, b in long_pairs], self.workers
        ).tolist()
        for (a, b), sim in zip(long_pairs, sims, strict=True):
            memo[(a, b)] = _token_similarity(a, b, abjad, sim)
        for a, b in pairs:
            if (a, b) not in memo:
                memo[(a, b)] = _token_similarity(a, b, abjad)


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without its hashing, which is slower here)."""
    keys = np.sort(keys)
    out: np.ndarray = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each start s and length n."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
