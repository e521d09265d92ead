"""Name normalisation for screening: one function, :func:`analyse`, used for list names and
queries alike so that both sides of a comparison are prepared the same way.

Steps: Unicode case folding; legal forms written in their own script (有限公司, 株式会社, 주식회사)
cut before transliteration; transliteration to ASCII with rigour (its own spellings for
Cyrillic, Greek, Armenian, Georgian and Hangul; normality/ICU for Han, Arabic, Hebrew, ...);
tokenisation with rigour's Unicode-aware tokeniser; legal forms (rigour's org-type table plus
``data/legal_forms.yaml``: LLC, Ltd, OOO, GmbH, Corp, youxian gongsi, ...) and stop words
removed but remembered. The matcher (``matcher``) builds its index and scores on the result;
the explanation of every match shows the stripped legal forms.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import yaml
from rigour._core import text_scripts
from rigour.names import extract_org_types, tokenize_name
from rigour.text.translit import ascii_text

MAX_NAME_CHARS = 500  # longer "names" are rejected by the query validator

# scripts written without short vowels: compare their consonant skeletons
ABJAD_SCRIPTS = frozenset({"Arabic", "Hebrew", "Syriac", "Thaana"})
# scripts whose transliteration comes out one syllable per token
SYLLABIC_SCRIPTS = frozenset({"Han", "Hangul", "Hiragana", "Katakana", "Thai"})


@dataclass(frozen=True, slots=True)
class NormalisedName:
    original: str
    tokens: tuple[str, ...]
    legal_forms: tuple[str, ...]
    scripts: frozenset[str]

    @property
    def joined(self) -> str:
        return "".join(self.tokens)

    @property
    def abjad(self) -> bool:
        return bool(self.scripts & ABJAD_SCRIPTS)

    @property
    def syllabic(self) -> bool:
        return bool(self.scripts & SYLLABIC_SCRIPTS)


@functools.cache
def _legal_forms() -> tuple[tuple[str, ...], dict[str, list[tuple[str, ...]]], frozenset[str]]:
    text = (
        resources.files("sluicegate.screening").joinpath("data/legal_forms.yaml").read_text("utf-8")
    )
    data = yaml.safe_load(text)
    script = tuple(sorted(data["script"], key=len, reverse=True))
    latin: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted((tuple(p.split()) for p in data["latin"]), key=len, reverse=True):
        latin.setdefault(phrase[0], []).append(phrase)
    return script, latin, frozenset(data["stopwords"])


@functools.cache
def _script_form_re() -> re.Pattern[str]:
    script, _, _ = _legal_forms()
    return re.compile("|".join(re.escape(s) for s in script))


def _strip_phrases(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Remove legal-form phrases (longest first) wherever they occur as whole tokens."""
    _, phrases, stop = _legal_forms()
    kept: list[str] = []
    removed: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        for phrase in phrases.get(tokens[i], ()):
            k = len(phrase)
            if tuple(tokens[i : i + k]) == phrase:
                removed.append(" ".join(phrase))
                i += k
                break
        else:
            token = tokens[i]
            if token not in stop:
                kept.append(token)
            i += 1
    return kept, removed


def scripts_of(text: str) -> frozenset[str]:
    return frozenset(s for s in text_scripts(text) if s not in ("Common", "Inherited"))


@functools.lru_cache(maxsize=50_000)
def analyse(name: str) -> NormalisedName:
    """Normalise one name. Never raises on odd text; may return no tokens."""
    text = name.casefold()
    scripts = scripts_of(text)
    legal: list[str] = []
    non_latin = bool(scripts - {"Latin"})
    if non_latin:
        for match in _script_form_re().findall(text):
            legal.append(match)
        text = _script_form_re().sub(" ", text)
        text = ascii_text(text).casefold()
    elif not text.isascii():
        text = ascii_text(text).casefold()
    tokens = [t for t in tokenize_name(text) if t.isascii()]
    # rigour's org-type table (LLC, GmbH, OOO, PJSC, SA, ...) on the joined form
    joined = " ".join(tokens)
    found = extract_org_types(joined) if joined else []
    if found:
        spans = {tuple(m.split()) for m, _target in found}
        kept: list[str] = []
        i = 0
        while i < len(tokens):
            for span in sorted(spans, key=len, reverse=True):
                if tuple(tokens[i : i + len(span)]) == span:
                    legal.append(" ".join(span))
                    i += len(span)
                    break
            else:
                kept.append(tokens[i])
                i += 1
        tokens = kept
    tokens, removed = _strip_phrases(tokens)
    legal.extend(removed)
    if not tokens:
        # the name is nothing but legal forms / stop words: keep it whole rather than empty
        tokens = [t for t in tokenize_name(ascii_text(name.casefold())) if t.isascii()]
        legal = []
    return NormalisedName(name, tuple(tokens), tuple(legal), scripts)


_VOWELS = str.maketrans("", "", "aeiouyw")


def skeleton(token: str) -> str:
    """Consonant skeleton: first letter kept, later vowels (and w/y) dropped, doubles collapsed.
    Matches an abjad transliteration (``mhmd``) with its vowelled spelling (``mohamed``)."""
    if not token:
        return token
    rest = token[1:].translate(_VOWELS)
    out = [token[0]]
    for ch in rest:
        if ch != out[-1]:
            out.append(ch)
    return "".join(out)
