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
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from sluicegate.screening.matcher import (
    CANDIDATE_FLOOR,
    CANDIDATE_MARGIN,
    CANDIDATES_SCORED,
    COMMON_CAP,
    JOINED_SIMILARITY,
    MAX_COMMON_PROPOSALS,
    MAX_TIED_CANDIDATES,
    MAX_WORD_PROPOSALS,
    NGRAM_MAX_POSTINGS,
    NGRAM_MIN_WORD,
    PHONETIC_MIN_CHARS,
    PHONETIC_SIMILARITY,
    PROPOSING_WORDS,
    RULE_COMMON,
    RULE_JOINED,
    SHORT_NAME_CHARS,
    SHORT_TOKEN_CHARS,
    SHORT_TOKEN_MIN_SIMILARITY,
    TOKEN_MIN_SIMILARITY,
    VERY_RARE_DF,
    IndexedName,
    NameIndex,
    NameScore,
    Query,
    TokenPair,
    _phonetic,
    _trigrams,
    coverage,
    score_name,
    trigram_need,
)
from sluicegate.screening.normalize import NormalisedName

NARROW = 4  # names with at most this many words are ranked on a table this wide
CHUNK = 64  # queries whose word similarities share one dense table when ranking candidates
MEMO_LIMIT = 500_000  # word plans and word-pair similarities kept between batches

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


class Plan(NamedTuple):
    """A query word's part in candidate search (``BatchIndex._plan``)."""

    df: int  # names holding its closest spelling
    proposes: list[int] | None  # words whose postings it gathers; None: no near spelling
    near_words: list[int]  # its near spellings (vocabulary ids) ...
    near_sims: list[float]  # ... and their similarities


def _rarity(plan: Plan) -> int:
    return plan.df


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
        # every name's words (all of them, not only the ranked ones) as CSR, with weights
        name_lengths = [len(n.tokens) for n in index.names]
        self.name_ptr = np.zeros(len(index.names) + 1, dtype=np.int64)
        np.cumsum(name_lengths, out=self.name_ptr[1:])
        self.name_words = np.array(
            [index.vocab_id[t] for n in index.names for t in n.tokens], dtype=np.int64
        )
        self.name_weights = np.array([w for n in index.names for w in n.weights], np.float64)
        # per vocabulary word: length, first character, metaphone key id, rare or not
        self.word_len = np.array([len(t) for t in self.vocab], dtype=np.int64)
        self.word_first = np.array([ord(t[0]) for t in self.vocab], dtype=np.int64)
        self.key_id: dict[str, int] = {key: i for i, key in enumerate(index.phonetic)}
        self.word_key = np.full(blank, -1, dtype=np.int64)
        for key, words in index.phonetic.items():
            for word in words:
                self.word_key[index.vocab_id[word]] = self.key_id[key]
        for word_id, word in enumerate(self.vocab):  # words too short for index.phonetic
            if len(word) >= PHONETIC_MIN_CHARS and self.word_key[word_id] < 0:
                key = _phonetic(word)
                self.word_key[word_id] = self.key_id.setdefault(key, len(self.key_id))
        self.word_rare = np.array([index.df[t] <= index.common_df for t in self.vocab], dtype=bool)
        self._extra: list[str] = []
        self.short_name = [len(n.joined) <= SHORT_NAME_CHARS for n in index.names]
        self._plans: dict[tuple[str, bool], Plan] = {}

    def clear_caches(self) -> None:
        """Forget word plans and word-pair similarities (a cold start, for measurements)."""
        self._memo = {False: {}, True: {}}
        self._plans = {}

    # ------------------------------------------------------------------ queries

    def prepare_many(self, norms: Sequence[NormalisedName]) -> list[Query]:
        """``NameIndex.prepare`` of every name; the near spellings of all new words at once."""
        index = self.index
        words = [index.query_tokens(norm) for norm in norms]
        keys: dict[tuple[str, bool], None] = {}
        for norm, (tokens, _merged) in zip(norms, words, strict=True):
            abjad = norm.abjad
            for token in tokens:
                keys[(token, abjad)] = None
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
        postings = index.postings
        common_df = index.common_df
        if len(self._plans) > MEMO_LIMIT:
            self._plans = {}
        gather_q: list[int] = []
        gather_word: list[int] = []
        extra_q: list[int] = []
        extra_ids: list[int] = []
        near_q: list[int] = []
        near_word: list[int] = []
        near_sim: list[float] = []
        plans = self._plans
        for qi, query in enumerate(queries):
            abjad = query.norm.abjad
            rare_found = False
            mine = [plans.get((t, abjad)) or self._plan(t, abjad) for t in query.tokens]
            # the rarest words propose (see NameIndex.candidates), each with its near spellings
            by_rarity = sorted((p for p in mine if p.proposes is not None), key=_rarity)
            for rank, plan in enumerate(by_rarity):
                df = plan.df
                if df > common_df or (rank >= PROPOSING_WORDS and df > VERY_RARE_DF):
                    continue
                rare_found = True
                proposes = plan.proposes or []
                gather_q.extend([qi] * len(proposes))
                gather_word.extend(proposes)
            for plan in mine:
                near_q.extend([qi] * len(plan.near_words))
                near_word.extend(plan.near_words)
                near_sim.extend(plan.near_sims)
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
        chosen, proposed = self._rank(
            queries, gather_q, gather_word, extra_q, extra_ids, near_q, near_word, near_sim
        )
        for query, ids, any_proposal in zip(queries, chosen, proposed, strict=True):
            if not any_proposal:
                continue  # the reference returns no candidates at all
            index.add_exact_names(query, ids)
        return chosen

    def _plan(self, token: str, abjad: bool) -> Plan:
        """What one query word contributes to candidate search (from its near spellings):
        the posting lists it gathers when it proposes (closest spellings first, until
        MAX_WORD_PROPOSALS names; too common spellings skipped) and its word similarities."""
        index = self.index
        expansion = index._expansions.get((token, abjad)) or index.expand(token, abjad)
        proposes: list[int] | None = None
        df = 0
        if expansion:
            df = index.df.get(expansion[0][0], 0)
            proposes = []
            proposed = 0
            for word, _sim, _how in expansion:
                found = index.postings.get(word)
                if found and len(found) <= index.common_df:
                    proposes.append(index.vocab_id[word])
                    proposed += len(found)
                    if proposed >= MAX_WORD_PROPOSALS:
                        break
        plan = Plan(
            df,
            proposes,
            [index.vocab_id[word] for word, _s, _h in expansion],
            [sim for _w, sim, _h in expansion],
        )
        self._plans[(token, abjad)] = plan
        return plan

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
    ) -> tuple[list[list[int]], list[bool]]:
        """Proposals of every query ranked by weighted word coverage; the best few kept. Also
        whether each query had any proposal (its exact-word names are added then, even when no
        proposal reaches the floor)."""
        index = self.index
        chosen: list[list[int]] = [[] for _ in queries]
        proposed = [False] * len(queries)
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
            return chosen, proposed
        n_names = len(index.names)
        keys = _unique(pair_q * n_names + pair_name)
        pq = keys // n_names
        pn = keys % n_names
        for q in np.unique(pq).tolist():
            proposed[q] = True
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
            np.maximum.at(table, slots, ns[na:nb])  # a word near two query words: the closer
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
        if not len(order):
            return chosen, proposed
        sq, ss, sn = pq[order], scores[order], pn[order]
        first = np.flatnonzero(np.r_[True, sq[1:] != sq[:-1]])
        group = np.diff(np.r_[first, len(sq)])
        rank = np.arange(len(sq)) - np.repeat(first, group)
        cut = np.repeat(ss[first + np.minimum(group, CANDIDATES_SCORED) - 1], group)
        keep = (rank < CANDIDATES_SCORED) | ((ss == cut) & (rank < MAX_TIED_CANDIDATES))
        for q, name_id in zip(sq[keep].tolist(), sn[keep].tolist(), strict=True):
            chosen[q].append(name_id)
        return chosen, proposed

    # ------------------------------------------------------------------ scoring

    def search_many(self, queries: Sequence[Query]) -> list[list[tuple[int, LazyScore]]]:
        """``NameIndex.search`` of every query: (name id, score) of the candidates scoring > 0,
        in candidate order. Scores are computed for all candidates at once (``_score_all``);
        a score's explanation (``NameScore``) is computed only when asked for."""
        chosen = self.candidates_many(queries)
        for flag, memo in self._memo.items():
            if len(memo) > MEMO_LIMIT:
                self._memo[flag] = {}
        flat_q: list[int] = []
        flat_name: list[int] = []
        for qi, ids in enumerate(chosen):
            flat_q.extend([qi] * len(ids))
            flat_name.extend(ids)
        scores = self._score_all(queries, flat_q, flat_name)
        out: list[list[tuple[int, LazyScore]]] = [[] for _ in queries]
        for qi, name_id, score in zip(flat_q, flat_name, scores, strict=True):
            if score.score > 0:
                out[qi].append((name_id, score))
        return out

    def explain(self, query: Query, name_id: int) -> NameScore:
        """The full ``score_name`` of one pair (words aligned, rules named)."""
        return score_name(
            query, self.index.names[name_id], self.index, self._memo[query.norm.abjad]
        )

    def _score_all(
        self, queries: Sequence[Query], flat_q: list[int], flat_name: list[int]
    ) -> list[LazyScore]:
        """``score_name(...)`` of every (query, name) pair, vectorised: word pairs
        compared in one cpdist call, the greedy one-to-one alignment done round by round over
        all pairs at once (each round takes every pair's best remaining word pair, so the
        weighted sums are added in the reference's order), then the same formula and rules.
        Pairs the vectorised form does not cover (short names, Arabic/Hebrew queries, names
        with exactly the query's words) go through ``score_name`` itself."""
        index = self.index
        names = index.names
        out: list[LazyScore | None] = [None] * len(flat_q)
        general: list[int] = []
        special = [q.norm.abjad or len(q.joined) <= SHORT_NAME_CHARS for q in queries]
        short_name = self.short_name
        for k, (qi, name_id) in enumerate(zip(flat_q, flat_name, strict=True)):
            query = queries[qi]
            if (
                special[qi]
                or short_name[name_id]
                or query.sorted_joined == names[name_id].sorted_joined
            ):
                full = self.explain(query, name_id)
                out[k] = LazyScore(full.score, full)
            else:
                general.append(k)
        if general:
            cq = np.asarray([flat_q[k] for k in general], dtype=np.int64)
            cn = np.asarray([flat_name[k] for k in general], dtype=np.int64)
            alignment = self._score_general(queries, cq, cn)
            for c, (k, score) in enumerate(zip(general, alignment.score.tolist(), strict=True)):
                out[k] = LazyScore(score, alignment, c)
        return [score for score in out if score is not None]

    def _query_words(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR of the queries' words: (offsets, word ids, weights). Listed words keep their
        vocabulary id; others get ids after the vocabulary (``self._extra``, per batch)."""
        vocab_id = self.index.vocab_id
        extra: dict[str, int] = {}
        size = len(self.vocab)
        ids: list[int] = []
        weights: list[float] = []
        lengths: list[int] = []
        for query in queries:
            lengths.append(len(query.tokens))
            weights.extend(query.weights)
            for token in query.tokens:
                found = vocab_id.get(token)
                if found is None:
                    found = extra.get(token)
                    if found is None:
                        found = extra[token] = size + len(extra)
                ids.append(found)
        self._extra = list(extra)
        ptr = np.zeros(len(queries) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        return ptr, np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)

    def _word(self, word_id: int) -> str:
        size = len(self.vocab)
        return self.vocab[word_id] if word_id < size else self._extra[word_id - size]

    def _word_features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Length, first character and metaphone-key id of every word id of this batch."""
        extra = self._extra
        lengths = np.concatenate([self.word_len, np.array([len(t) for t in extra], np.int64)])
        first = np.concatenate([self.word_first, np.array([ord(t[0]) for t in extra], np.int64)])
        keys = [
            self.key_id.get(_phonetic(t), -2) if len(t) >= PHONETIC_MIN_CHARS else -1 for t in extra
        ]
        meta = np.concatenate([self.word_key, np.array(keys, dtype=np.int64)])
        return lengths, first, meta

    def _score_general(self, queries: Sequence[Query], cq: np.ndarray, cn: np.ndarray) -> Alignment:
        index = self.index
        q_ptr, q_ids, q_weights = self._query_words(queries)
        word_len, word_first, word_key = self._word_features()
        size = len(self.vocab)
        # every (query word i, listed word j) of every candidate, in (candidate, i, j) order
        lq = q_ptr[cq + 1] - q_ptr[cq]
        ln = self.name_ptr[cn + 1] - self.name_ptr[cn]
        cells = lq * ln
        ec = np.repeat(np.arange(len(cq), dtype=np.int64), cells)
        local = _ranges(np.zeros(len(cq), dtype=np.int64), cells)
        e_ln = ln[ec]
        ei = local // e_ln
        ej = local % e_ln
        q_slot = q_ptr[cq][ec] + ei  # the word in the queries' CSR
        n_slot = self.name_ptr[cn][ec] + ej  # ... in the names' CSR
        # the word among all candidates' words (a word is used once per candidate)
        q_used = (np.cumsum(lq) - lq)[ec] + ei
        n_used = (np.cumsum(ln) - ln)[ec] + ej
        a = q_ids[q_slot]
        b = self.name_words[n_slot]
        # each distinct word pair compared once
        keys = a * size + b
        pairs = _unique(keys)
        pa = pairs // size
        pb = pairs % size
        la, lb = word_len[pa], word_len[pb]
        shortest = np.minimum(la, lb)
        sim = np.zeros(len(pairs), dtype=np.float64)
        same = pa == pb
        sim[same] = 1.0
        short = ~same & (shortest <= SHORT_TOKEN_CHARS)
        initial = short & (((la == 1) | (lb == 1)) & (word_first[pa] == word_first[pb]))
        sim[initial] = 0.5
        how = np.zeros(len(pairs), dtype=np.int8)
        how[same] = HOW_CODES["exact"]
        how[initial] = HOW_CODES["initial"]
        long = np.flatnonzero(~same & ~short)
        if len(long):
            left = [self._word(w) for w in pa[long].tolist()]
            right = [self.vocab[w] for w in pb[long].tolist()]
            found = pair_similarity(left, right, self.workers)
            sounds = (
                (found < TOKEN_MIN_SIMILARITY)
                & (shortest[long] >= PHONETIC_MIN_CHARS)
                & (word_key[pa[long]] == word_key[pb[long]])
            )
            found[sounds] = PHONETIC_SIMILARITY
            limit = np.where(shortest[long] <= 5, SHORT_TOKEN_MIN_SIMILARITY, TOKEN_MIN_SIMILARITY)
            found[found < limit] = 0.0
            sim[long] = found
            how[long] = np.where(
                sounds, HOW_CODES["phonetic"], HOW_CODES["jaro-winkler+levenshtein"]
            )
        pair_of = np.searchsorted(pairs, keys)
        es = sim[pair_of]
        hit = np.flatnonzero(es > 0)
        ec, es, q_slot, n_slot = ec[hit], es[hit], q_slot[hit], n_slot[hit]
        q_used, n_used = q_used[hit], n_used[hit]
        ei, ej, eh = ei[hit], ej[hit], how[pair_of[hit]]
        # greedy one-to-one alignment: per candidate best similarity first, ties in (i, j)
        # order (the reference's stable sort of its (i, j)-ordered list)
        order = np.argsort(-es, kind="stable")
        order = order[np.argsort(ec[order], kind="stable")]
        ec, es, q_slot, n_slot = ec[order], es[order], q_slot[order], n_slot[order]
        q_used, n_used = q_used[order], n_used[order]
        ei, ej, eh = ei[order], ej[order], eh[order]
        taken: list[np.ndarray] = []
        matched_q = np.zeros(len(cq), dtype=np.float64)
        matched_n = np.zeros(len(cq), dtype=np.float64)
        rare = np.zeros(len(cq), dtype=bool)
        aligned = np.zeros(len(cq), dtype=np.int64)
        used_q = np.zeros(int(lq.sum()), dtype=bool)
        used_n = np.zeros(int(ln.sum()), dtype=bool)
        active = np.arange(len(ec))
        while len(active):
            owners = ec[active]
            take = active[np.r_[True, owners[1:] != owners[:-1]]]
            c = ec[take]
            taken.append(take)
            matched_q[c] += es[take] * q_weights[q_slot[take]]
            matched_n[c] += es[take] * self.name_weights[n_slot[take]]
            rare[c] |= self.word_rare[self.name_words[n_slot[take]]]
            aligned[c] += 1
            used_q[q_used[take]] = True
            used_n[n_used[take]] = True
            active = active[~used_q[q_used[active]] & ~used_n[n_used[active]]]
        name_total = index._name_totals[cn]
        query_total = np.array([q.total_weight for q in queries], dtype=np.float64)[cq]
        with np.errstate(divide="ignore", invalid="ignore"):
            name_cov = np.where(name_total != 0, matched_n / name_total, 0.0)
            query_cov = np.where(query_total != 0, matched_q / query_total, 0.0)
        k = np.where(ln > 1, 2.0, 1.0)
        token_score = (k * name_cov + query_cov) / (k + 1)
        string_sim = np.maximum(
            _jaro_winkler(
                [queries[q].joined for q in cq.tolist()],
                [index.names[n].joined for n in cn.tolist()],
                self.workers,
            ),
            _jaro_winkler(
                [queries[q].sorted_joined for q in cq.tolist()],
                [index.names[n].sorted_joined for n in cn.tolist()],
                self.workers,
            ),
        )
        score = 0.75 * token_score + 0.25 * string_sim
        joined = (string_sim >= JOINED_SIMILARITY) & (string_sim > score) & (lq != ln)
        score = np.where(joined, string_sim, score)
        capped = ~joined & ~rare & ((aligned < lq) | (aligned < ln))
        score = np.where(capped, np.minimum(score, COMMON_CAP), score)
        # the word pairs each candidate took, grouped by candidate, in the order taken
        took = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
        took = took[np.argsort(ec[took], kind="stable")]
        return Alignment(
            queries=queries,
            names=index.names,
            cq=cq,
            cn=cn,
            score=np.clip(score, 0.0, 1.0),
            token_score=token_score,
            name_cov=name_cov,
            query_cov=query_cov,
            string_sim=string_sim,
            rule=np.where(joined, 1, np.where(capped, 2, 0)),
            took_ptr=np.searchsorted(ec[took], np.arange(len(cq) + 1)),
            took_i=ei[took],
            took_j=ej[took],
            took_sim=es[took],
            took_how=eh[took],
        )


HOWS = ("", "exact", "initial", "jaro-winkler+levenshtein", "phonetic")
HOW_CODES = {how: code for code, how in enumerate(HOWS)}
RULES = (None, RULE_JOINED, RULE_COMMON)


@dataclass(slots=True)
class Alignment:
    """What the vectorised scorer found for each (general) candidate: enough to build its
    ``NameScore`` (the explanation) without scoring it again."""

    queries: Sequence[Query]
    names: list[IndexedName]
    cq: np.ndarray  # candidate -> query
    cn: np.ndarray  # candidate -> name id
    score: np.ndarray
    token_score: np.ndarray
    name_cov: np.ndarray
    query_cov: np.ndarray
    string_sim: np.ndarray
    rule: np.ndarray  # index into RULES
    took_ptr: np.ndarray  # candidate c took word pairs took_ptr[c]:took_ptr[c + 1] ...
    took_i: np.ndarray  # ... query word i
    took_j: np.ndarray  # ... listed word j
    took_sim: np.ndarray
    took_how: np.ndarray  # index into HOWS

    def name_score(self, c: int) -> NameScore:
        query = self.queries[int(self.cq[c])]
        name = self.names[int(self.cn[c])]
        a, b = int(self.took_ptr[c]), int(self.took_ptr[c + 1])
        took_i = self.took_i[a:b].tolist()
        took_j = self.took_j[a:b].tolist()
        pairs = [
            TokenPair(query.tokens[i], name.tokens[j], sim, HOWS[how])
            for i, j, sim, how in zip(
                took_i,
                took_j,
                self.took_sim[a:b].tolist(),
                self.took_how[a:b].tolist(),
                strict=True,
            )
        ]
        used_q, used_n = set(took_i), set(took_j)
        return NameScore(
            float(self.score[c]),
            float(self.token_score[c]),
            float(self.name_cov[c]),
            float(self.query_cov[c]),
            float(self.string_sim[c]),
            pairs,
            [t for i, t in enumerate(query.tokens) if i not in used_q],
            [t for j, t in enumerate(name.tokens) if j not in used_n],
            RULES[int(self.rule[c])],
        )


class LazyScore:
    """A candidate's score, computed with the batch; its explanation (a ``NameScore``, as
    ``score_name`` gives) is built only when asked for, i.e. for the matches reported."""

    __slots__ = ("_alignment", "_c", "_full", "score")

    def __init__(self, score: float, source: NameScore | Alignment, candidate: int = -1) -> None:
        self.score = score
        if isinstance(source, NameScore):
            self._full: NameScore | None = source
            self._alignment: Alignment | None = None
        else:
            self._full = None
            self._alignment = source
        self._c = candidate

    def full(self) -> NameScore:
        if self._full is None:
            assert self._alignment is not None
            self._full = self._alignment.name_score(self._c)
        return self._full

    def explain(self) -> dict[str, Any]:
        return self.full().explain()


def _jaro_winkler(left: list[str], right: list[str], workers: int) -> np.ndarray:
    out: np.ndarray = cpdist(
        left, right, scorer=JaroWinkler.similarity, dtype=np.float64, workers=workers
    )
    return out


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
