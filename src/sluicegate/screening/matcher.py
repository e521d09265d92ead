"""Candidate index and scorer: finds listed names close to a query without scanning them all.

The index (:class:`NameIndex`) holds every primary name and alias of the loaded entities after
``normalize.analyse``: an inverted index from token to names, a deletion neighbourhood of every
token (one deleted character: catches typos, transpositions and dropped letters), phonetic keys
(metaphone) and consonant skeletons (for Arabic and Hebrew transliterations written without
vowels), and the names with spaces removed (``xi jin ping`` = ``xi jinping``). Token weights are
inverse document frequencies, so rare tokens carry a name and common ones ("trading",
"international") barely count. :meth:`NameIndex.search` gathers candidates from rare tokens
first, ranks them cheaply, and scores the best few with :func:`score_name`: Jaro-Winkler between
aligned tokens (one-to-one), a weighted token-set coverage of both names, and Jaro-Winkler
over the whole joined name. ``screener`` turns scores into matches and decisions.

This is the one-query (reference) path; ``batch`` runs the same rules over many queries at once
and must give exactly the same results (tests/screening/test_screening_batch.py).
"""

from __future__ import annotations

import functools
import heapq
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rigour.text.phonetics import metaphone

from sluicegate.screening.normalize import NormalisedName, analyse, skeleton

TOKEN_MIN_SIMILARITY = 0.80  # below this, two tokens are not the same word
SHORT_TOKEN_MIN_SIMILARITY = 0.88  # ... and for words of 4-5 letters, one edit is too many
COMMON_SHARE = 0.004  # a token in more than this share of names is "common"
SHORT_NAME_CHARS = 3  # names this short (joined) only match exactly
NGRAM_MIN_WORD = 6  # words this long also get a character-trigram index entry
NGRAM_MIN_SHARE = 0.5  # ... and are looked up there when nothing closer exists
NGRAM_MAX_POSTINGS = 200  # trigrams in more words than this are too common to help
PHONETIC_SIMILARITY = 0.88  # words that differ in spelling but share their metaphone key
PHONETIC_MIN_CHARS = 4  # ... when both have at least this many letters
SHORT_TOKEN_CHARS = 3  # words this short only count when equal, or as an initial
JOINED_SIMILARITY = 0.97  # joined names this close score as the joined similarity
COMMON_CAP = 0.5  # the score of a name that matched only on common words
RULE_JOINED = "joined: the names (nearly) agree once spaces are removed"
RULE_COMMON = "common-tokens: only common words matched, other words differ; capped at 0.5"
RANKED_WORDS = 12  # words per name used to rank candidates (scoring uses all)
CANDIDATES_SCORED = 5  # at most this many ranked candidates get the full score
MAX_TIED_CANDIDATES = 64  # ... plus those tied with the last of them, up to this many
CANDIDATE_FLOOR = 0.30  # ... and only those whose quick word coverage reaches this
PROPOSING_WORDS = 2  # the query's rarest words that propose candidates
VERY_RARE_DF = 8  # ... plus any word this rare
MAX_COMMON_PROPOSALS = 300  # a query of common words only proposes at most this many names
MAX_WORD_PROPOSALS = 160  # one proposing word (with its near spellings) proposes at most this many
MAX_EXPANSIONS = 8  # near spellings kept per query word, closest first
MAX_EXACT_NAMES = 64  # names with exactly the query's words that are always scored
CANDIDATE_MARGIN = 0.25  # ... or is within this of the best candidate's

jaro_winkler = JaroWinkler.similarity
levenshtein = Levenshtein.normalized_similarity


def token_similarity(a: str, b: str) -> float:
    """Mean of Jaro-Winkler and normalised Levenshtein similarity: Jaro-Winkler alone rates
    short words that share a prefix too close ('tesla'/'tesalia')."""
    return (jaro_winkler(a, b) + levenshtein(a, b)) / 2


@dataclass(slots=True)
class IndexedName:
    entity: int
    text: str
    kind: str
    tokens: tuple[str, ...]
    legal_forms: tuple[str, ...]
    joined: str
    sorted_joined: str
    weights: tuple[float, ...]
    total_weight: float
    weighted: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class TokenPair:
    query: str
    name: str
    similarity: float
    how: str  # exact, jaro-winkler, skeleton, joined


@dataclass(slots=True)
class NameScore:
    score: float
    token_score: float
    name_coverage: float
    query_coverage: float
    string_similarity: float
    pairs: list[TokenPair]
    unmatched_query: list[str]
    unmatched_name: list[str]
    rule: str | None = None  # short-name rule, common-tokens cap, ...

    def explain(self) -> dict[str, Any]:
        return {
            "matched_tokens": [
                {
                    "query": p.query,
                    "name": p.name,
                    "similarity": round(p.similarity, 4),
                    "how": p.how,
                }
                for p in self.pairs
            ],
            "unmatched_query_tokens": self.unmatched_query,
            "unmatched_name_tokens": self.unmatched_name,
            "components": {
                "name_token_coverage": round(self.name_coverage, 4),
                "query_token_coverage": round(self.query_coverage, 4),
                "token_score": round(self.token_score, 4),
                "joined_jaro_winkler": round(self.string_similarity, 4),
                "name_score": round(self.score, 4),
            },
            "rule": self.rule,
        }


class Scored(Protocol):
    """A candidate's name score: a :class:`NameScore`, or the batch path's lazy one."""

    score: float

    def explain(self) -> dict[str, Any]: ...


@dataclass
class Query:
    norm: NormalisedName
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    total_weight: float
    joined: str
    sorted_joined: str
    merged_from: dict[str, tuple[str, ...]] = field(default_factory=dict)
    memo: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)


def _trigrams(token: str) -> set[str]:
    padded = f"#{token}#"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def coverage(similarities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the sum of similarity x weight over a name's words, added left to right
    (``np.cumsum``, not numpy's pairwise ``sum``): trailing blank words (0) then change nothing,
    so the batch path may leave them out and get the same floats."""
    out: np.ndarray = np.cumsum(similarities * weights, axis=1)[:, -1]
    return out


def trigram_need(grams: set[str]) -> int:
    """How many of a word's trigrams another word must share to be looked at."""
    return max(2, int(NGRAM_MIN_SHARE * len(grams)))


def _deletes(token: str) -> set[str]:
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


class NameIndex:
    """Every name and alias of the given entities, indexed for candidate search."""

    def __init__(self, names: Iterable[tuple[int, str, str]]) -> None:
        """``names``: (entity position, name as written, kind) for every name and alias."""
        raw: list[tuple[int, str, str, NormalisedName]] = []
        seen: set[tuple[int, tuple[str, ...]]] = set()
        for entity, text, kind in names:
            norm = analyse(text)
            if not norm.tokens:
                continue
            key = (entity, norm.tokens)
            if key in seen:  # the same normalised alias twice adds nothing
                continue
            seen.add(key)
            raw.append((entity, text, kind, norm))
        df: dict[str, int] = {}
        for _e, _t, _k, norm in raw:
            for token in set(norm.tokens):
                df[token] = df.get(token, 0) + 1
        self.size = len(raw)
        self.df = df
        n = max(self.size, 1)
        self.max_idf = math.log(1 + n)
        self.common_df = max(8, int(COMMON_SHARE * n))
        self.names: list[IndexedName] = []
        self.postings: dict[str, list[int]] = {}
        self.joined_postings: dict[str, list[int]] = {}
        self.word_set_postings: dict[str, list[int]] = {}
        self._idf = {token: self.idf(token) for token in df}  # every listed word's weight
        for entity, text, kind, norm in raw:
            weights = tuple(self._idf[t] for t in norm.tokens)
            name_id = len(self.names)
            self.names.append(
                IndexedName(
                    entity,
                    text,
                    kind,
                    norm.tokens,
                    norm.legal_forms,
                    norm.joined,
                    "".join(sorted(norm.tokens)),
                    weights,
                    sum(weights),
                    tuple(zip(norm.tokens, weights, strict=True)),
                )
            )
            for token in set(norm.tokens):
                self.postings.setdefault(token, []).append(name_id)
            self.joined_postings.setdefault(norm.joined, []).append(name_id)
            self.word_set_postings.setdefault(self.names[-1].sorted_joined, []).append(name_id)
        self.deletes: dict[str, list[str]] = {}
        self.phonetic: dict[str, list[str]] = {}
        self.skeletons: dict[str, list[str]] = {}
        self.trigrams: dict[str, list[str]] = {}
        for token in df:
            if len(token) >= 4:
                for variant in _deletes(token):
                    self.deletes.setdefault(variant, []).append(token)
                self.phonetic.setdefault(metaphone(token), []).append(token)
            if len(token) >= 3:
                self.skeletons.setdefault(skeleton(token), []).append(token)
            if len(token) >= NGRAM_MIN_WORD:
                for gram in _trigrams(token):
                    self.trigrams.setdefault(gram, []).append(token)
        self._expansions: dict[tuple[str, bool], list[tuple[str, float, str]]] = {}
        self._posting_sets: dict[str, frozenset[int]] = {}
        # dense per-name word ids and weights for vectorised ranking (first RANKED_WORDS words)
        self.vocab_id = {token: i for i, token in enumerate(df)}
        blank = len(self.vocab_id)
        self._name_words = np.full((len(self.names), RANKED_WORDS), blank, dtype=np.int32)
        self._name_word_weights = np.zeros((len(self.names), RANKED_WORDS), dtype=np.float64)
        for name_id, indexed in enumerate(self.names):
            for j, (token, weight) in enumerate(indexed.weighted[:RANKED_WORDS]):
                self._name_words[name_id, j] = self.vocab_id[token]
                self._name_word_weights[name_id, j] = weight
        self._name_totals = np.array([n.total_weight for n in self.names], dtype=np.float64)
        self._sim_buffer = np.zeros(blank + 1, dtype=np.float64)
        self._buffer_lock = threading.Lock()

    # ------------------------------------------------------------------ weights and tokens

    def idf(self, token: str) -> float:
        df = self.df.get(token, 0)
        weight = math.log(1 + self.size / (df + 1)) if df else self.max_idf
        if len(token) <= 2:  # initials and two-letter fragments identify little
            weight *= 0.5
        return weight

    def expand(self, token: str, abjad: bool = False) -> list[tuple[str, float, str]]:
        """Vocabulary tokens close to ``token``: (token, similarity, how). Cached."""
        key = (token, abjad)
        cached = self._expansions.get(key)
        if cached is not None:
            return cached
        out: dict[str, tuple[float, str]] = {}
        if token in self.df:
            out[token] = (1.0, "exact")
        for other in self.near_words(token):
            sim = token_similarity(token, other)
            if sim >= TOKEN_MIN_SIMILARITY:
                out[other] = (sim, "jaro-winkler+levenshtein")
        if not out and len(token) >= NGRAM_MIN_WORD:
            # nothing within one edit or sharing a sound: words sharing most character
            # trigrams (two or more edits apart: alexandros / alexander)
            grams = _trigrams(token)
            shared: dict[str, int] = {}
            for gram in grams:
                postings = self.trigrams.get(gram)
                if postings and len(postings) <= NGRAM_MAX_POSTINGS:
                    for other in postings:
                        shared[other] = shared.get(other, 0) + 1
            need = trigram_need(grams)
            for other, count in shared.items():
                if count >= need:
                    sim = token_similarity(token, other)
                    if sim >= TOKEN_MIN_SIMILARITY:
                        out[other] = (sim, "trigrams+jaro-winkler")
        return self.finish_expansion(token, abjad, out)

    def near_words(self, token: str) -> set[str]:
        """Listed words one edit (deletion, insertion, substitution, transposition) from
        ``token`` or sharing its metaphone key; not ``token`` itself. Empty under 4 letters."""
        if len(token) < 4:
            return set()
        deletes = self.deletes.get
        df = self.df
        near: set[str] = set(deletes(token, ()))
        for i in range(len(token)):
            variant = token[:i] + token[i + 1 :]
            if variant in df:
                near.add(variant)
            found = deletes(variant)
            if found:
                near.update(found)
        found = self.phonetic.get(metaphone(token))
        if found:
            near.update(found)
        near.discard(token)
        return near

    def finish_expansion(
        self, token: str, abjad: bool, out: dict[str, tuple[float, str]]
    ) -> list[tuple[str, float, str]]:
        """Add consonant-skeleton matches (abjad queries), keep the closest MAX_EXPANSIONS and
        cache them."""
        if abjad and len(token) >= 2:
            for other in self.skeletons.get(skeleton(token), ()):
                if other not in out:
                    out[other] = (0.9, "skeleton")
        # closest first; equal similarities in word order, so the result never depends on
        # the iteration order of a set (string hashes differ from process to process)
        ranked = sorted([(-s, t, h) for t, (s, h) in out.items()])[:MAX_EXPANSIONS]
        result = [(t, -s, h) for s, t, h in ranked]
        if len(self._expansions) > 500_000:
            self._expansions.clear()
        self._expansions[(token, abjad)] = result
        return result

    def prepare(self, norm: NormalisedName) -> Query:
        """Query tokens with weights; syllables of Han/Hangul names merged where the merged
        syllables are a listed token (``hua wei`` -> ``huawei``)."""
        tokens, merged_from = self.query_tokens(norm)
        return self.build_query(norm, tokens, merged_from)

    def query_tokens(self, norm: NormalisedName) -> tuple[list[str], dict[str, tuple[str, ...]]]:
        """The query's words after joining Han/Hangul syllables that form a listed word."""
        tokens = list(norm.tokens)
        merged_from: dict[str, tuple[str, ...]] = {}
        if norm.syllabic and len(tokens) > 1:
            out: list[str] = []
            i = 0
            while i < len(tokens):
                for width in (4, 3, 2):
                    if i + width <= len(tokens):
                        candidate = "".join(tokens[i : i + width])
                        if candidate in self.df:
                            merged_from[candidate] = tuple(tokens[i : i + width])
                            out.append(candidate)
                            i += width
                            break
                else:
                    out.append(tokens[i])
                    i += 1
            tokens = out
        return tokens, merged_from

    def build_query(
        self, norm: NormalisedName, tokens: list[str], merged_from: dict[str, tuple[str, ...]]
    ) -> Query:
        weights = []
        listed = self._idf
        for token in tokens:
            expansions = self.expand(token, norm.abjad)
            weights.append(listed[expansions[0][0]] if expansions else self.idf(token))
        return Query(
            norm,
            tuple(tokens),
            tuple(weights),
            sum(weights),
            "".join(tokens),
            "".join(sorted(tokens)),
            merged_from,
        )

    # ------------------------------------------------------------------ search

    def candidates(self, query: Query) -> list[int]:
        """Name ids worth scoring, best first (at most CANDIDATES_SCORED).

        Rare query words (and their near spellings) propose candidates; common words only
        propose when the query has nothing else, and then only names holding all of them.
        Every proposal is then ranked by the weighted share of its words the query covers."""
        expansions = [self.expand(t, query.norm.abjad) for t in query.tokens]
        near: dict[str, float] = {}
        for exp in expansions:
            for token, sim, _how in exp:
                if sim > near.get(token, 0.0):
                    near[token] = sim
        proposals: set[int] = set()
        rare_found = False
        # the rarest words propose: a listed name that shares none of the query's two rarest
        # words (or their near spellings) cannot cover most of the query
        by_rarity = sorted(
            (exp for exp in expansions if exp), key=lambda exp: self.df.get(exp[0][0], 0)
        )
        for rank, exp in enumerate(by_rarity):
            df = self.df.get(exp[0][0], 0)
            if df > self.common_df or (rank >= PROPOSING_WORDS and df > VERY_RARE_DF):
                continue
            rare_found = True
            proposed = 0
            for token, _sim, _how in exp:  # closest spellings first
                postings = self.postings.get(token)
                if postings and len(postings) <= self.common_df:
                    proposals.update(postings)
                    proposed += len(postings)
                    if proposed >= MAX_WORD_PROPOSALS:
                        break
        if not rare_found:
            exact = sorted(
                (self._posting_set(t) for t in query.tokens if t in self.postings), key=len
            )
            if exact:
                common = exact[0]
                for other in exact[1:]:
                    narrowed = common & other
                    if not narrowed:
                        break
                    common = narrowed
                proposals.update(heapq.nsmallest(MAX_COMMON_PROPOSALS, common))
        proposals.update(self.joined_postings.get(query.joined, ()))
        if not proposals:
            return []
        qw = query.total_weight or 1.0
        # rank in one vectorised pass: similarity of each name word to the query (0 when the
        # word is not near any query word), times its weight, summed per name
        sims = self._sim_buffer
        vocab_id = self.vocab_id
        touched = [vocab_id[token] for token in near]
        ids = np.fromiter(proposals, dtype=np.int32, count=len(proposals))
        with self._buffer_lock:  # one buffer per index: threads take turns
            sims[touched] = list(near.values())
            covered = coverage(sims[self._name_words[ids]], self._name_word_weights[ids])
            sims[touched] = 0.0
        scores = covered / np.maximum(self._name_totals[ids], qw)
        # best first, equal scores by name id (deterministic, and the batch path's order); the
        # best CANDIDATES_SCORED, and every name tied with the last of them (the same name on
        # several lists), at most MAX_TIED_CANDIDATES
        order = np.lexsort((ids, -scores))
        if len(order) > CANDIDATES_SCORED:
            cut = scores[order[CANDIDATES_SCORED - 1]]
            tied = int(np.count_nonzero(scores[order[CANDIDATES_SCORED:]] == cut))
            order = order[: min(CANDIDATES_SCORED + tied, MAX_TIED_CANDIDATES)]
        best_score = float(scores[order[0]])
        floor = max(CANDIDATE_FLOOR, best_score - CANDIDATE_MARGIN)
        chosen = [int(ids[i]) for i in order if scores[i] >= floor]
        self.add_exact_names(query, chosen)
        return chosen

    def add_exact_names(self, query: Query, chosen: list[int]) -> None:
        """Append to ``chosen`` (in place, without repeats) the names with exactly the query's
        words, or its letters: they are scored however many names share them (up to
        MAX_EXACT_NAMES each). The one-query and the batch candidate searches both end here."""
        seen = set(chosen)
        for extra in (
            self.word_set_postings.get(query.sorted_joined),
            self.joined_postings.get(query.joined),
        ):
            if extra:
                for name_id in extra[:MAX_EXACT_NAMES]:
                    if name_id not in seen:
                        chosen.append(name_id)
                        seen.add(name_id)

    def _posting_set(self, token: str) -> frozenset[int]:
        cached = self._posting_sets.get(token)
        if cached is None:
            cached = frozenset(self.postings[token])
            self._posting_sets[token] = cached
        return cached

    def search(self, query: Query) -> list[tuple[int, NameScore]]:
        out = []
        for name_id in self.candidates(query):
            score = score_name(query, self.names[name_id], self)
            if score.score > 0:
                out.append((name_id, score))
        return out


@functools.lru_cache(maxsize=100_000)
def _phonetic(token: str) -> str:
    return metaphone(token)


def sounds_alike(a: str, b: str) -> bool:
    """Two words of PHONETIC_MIN_CHARS letters or more with the same metaphone key
    (aleksandr / alexander, mellee / melli, ameen / amin)."""
    return min(len(a), len(b)) >= PHONETIC_MIN_CHARS and _phonetic(a) == _phonetic(b)


def _token_similarity(
    a: str, b: str, abjad: bool, similarity: float | None = None
) -> tuple[float, str]:
    """Similarity of a query word and a listed word, and how it was found. ``similarity`` is
    ``token_similarity(a, b)`` when the caller computed it already (the batch path)."""
    if a == b:
        return 1.0, "exact"
    if min(len(a), len(b)) <= SHORT_TOKEN_CHARS:
        # short tokens (initials, 'abc') only count when equal, or as an initial of the other
        if (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
            return 0.5, "initial"
        if abjad and len(a) >= 2 and skeleton(a) == skeleton(b):
            return 0.85, "skeleton"
        return 0.0, ""
    sim = token_similarity(a, b) if similarity is None else similarity
    how = "jaro-winkler+levenshtein"
    if sim < TOKEN_MIN_SIMILARITY and sounds_alike(a, b):
        sim, how = PHONETIC_SIMILARITY, "phonetic"  # aleksandr / alexander
    if abjad:
        sk = token_similarity(skeleton(a), skeleton(b)) * 0.95
        if sk > sim:
            sim, how = sk, "skeleton"
    limit = SHORT_TOKEN_MIN_SIMILARITY if min(len(a), len(b)) <= 5 else TOKEN_MIN_SIMILARITY
    return (sim, how) if sim >= limit else (0.0, "")


def score_name(
    query: Query,
    name: IndexedName,
    index: NameIndex | None = None,
    memo: dict[tuple[str, str], tuple[float, str]] | None = None,
) -> NameScore:
    """Similarity in [0, 1] between a prepared query and one listed name, with its parts.
    ``memo`` holds word-pair similarities already computed (default: the query's own)."""
    string_sim = max(
        jaro_winkler(query.joined, name.joined),
        jaro_winkler(query.sorted_joined, name.sorted_joined),
    )
    # short names and initials: exact only, otherwise they would match almost anything
    if len(name.joined) <= SHORT_NAME_CHARS or len(query.joined) <= SHORT_NAME_CHARS:
        exact = query.joined == name.joined
        if not exact and query.norm.abjad and skeleton(name.joined) == query.joined:
            # a short Hebrew/Arabic name written without vowels: משה = msh = moshe
            skeleton_pairs = [TokenPair(query.joined, name.joined, 0.9, "skeleton")]
            return NameScore(
                0.9,
                0.9,
                0.9,
                0.9,
                string_sim,
                skeleton_pairs,
                [],
                [],
                "short-name: abjad consonant skeleton equal",
            )
        short_pairs = [TokenPair(query.joined, name.joined, 1.0, "exact")] if exact else []
        return NameScore(
            1.0 if exact else 0.0,
            1.0 if exact else 0.0,
            1.0 if exact else 0.0,
            1.0 if exact else 0.0,
            string_sim,
            short_pairs,
            [] if exact else list(query.tokens),
            [] if exact else list(name.tokens),
            "short-name: names of 3 characters or fewer match only exactly",
        )
    qt, nt = query.tokens, name.tokens
    if query.sorted_joined == name.sorted_joined and sorted(qt) == sorted(nt):
        exact_pairs = [TokenPair(t, t, 1.0, "exact") for t in qt]
        return NameScore(1.0, 1.0, 1.0, 1.0, string_sim, exact_pairs, [], [], None)
    abjad = query.norm.abjad
    if memo is None:
        memo = query.memo
    candidates: list[tuple[float, int, int, str]] = []
    for i, a in enumerate(qt):
        for j, b in enumerate(nt):
            key = (a, b)
            found = memo.get(key)
            if found is None:
                found = _token_similarity(a, b, abjad)
                memo[key] = found
            if found[0] > 0:
                candidates.append((found[0], i, j, found[1]))
    candidates.sort(key=lambda c: -c[0])
    used_q: set[int] = set()
    used_n: set[int] = set()
    pairs: list[TokenPair] = []
    matched_q = 0.0
    matched_n = 0.0
    rare_matched = False
    common_df = index.common_df if index else 10**9
    for sim, i, j, how in candidates:
        if i in used_q or j in used_n:
            continue
        used_q.add(i)
        used_n.add(j)
        pairs.append(TokenPair(qt[i], nt[j], sim, how))
        matched_q += sim * query.weights[i]
        matched_n += sim * name.weights[j]
        if index is None or index.df.get(nt[j], 0) <= common_df:
            rare_matched = True
    name_cov = matched_n / name.total_weight if name.total_weight else 0.0
    query_cov = matched_q / query.total_weight if query.total_weight else 0.0
    # the listed name's words matter more than extra words in the query, except for one-word
    # listed names, which would otherwise match any query containing that word
    k = 2.0 if len(nt) > 1 else 1.0
    token_score = (k * name_cov + query_cov) / (k + 1)
    score = 0.75 * token_score + 0.25 * string_sim
    rule = None
    if string_sim >= JOINED_SIMILARITY and string_sim > score and len(qt) != len(nt):
        score = string_sim  # same letters, different spacing (xi jin ping / xi jinping)
        rule = RULE_JOINED
    unmatched_q = [t for i, t in enumerate(qt) if i not in used_q]
    unmatched_n = [t for j, t in enumerate(nt) if j not in used_n]
    if rule is None and not rare_matched and (unmatched_q or unmatched_n):
        score = min(score, COMMON_CAP)
        rule = RULE_COMMON
    return NameScore(
        max(0.0, min(1.0, score)),
        token_score,
        name_cov,
        query_cov,
        string_sim,
        pairs,
        unmatched_q,
        unmatched_n,
        rule,
    )


def brute_force_scan(query: str, names: Sequence[str], limit: int = 5) -> list[tuple[int, float]]:
    """Baseline: Jaro-Winkler of the whole normalised query against every name (rapidfuzz)."""
    from rapidfuzz import process

    result = process.extract(
        query, names, scorer=JaroWinkler.similarity, limit=limit, processor=None
    )
    return [(idx, float(score)) for _name, score, idx in result]
