"""The vocabulary a draft reads a policy with: a private jieba tokenizer whose user dictionary holds
the division names, GB/T 4754 class names and the current KB's terms, and a term → chain index.

jieba's global dictionary is shared by the whole process (the text featuriser uses it); drafting
never touches it and works on its own `jieba.Tokenizer()`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import jieba

from features.kb import KnowledgeBase

jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=4)
def _tokenizer(words: frozenset[str]) -> jieba.Tokenizer:
    """A private tokenizer with `words` added; loading jieba's dictionary takes seconds, so one
    per vocabulary is kept (drafts of one KB share it; it is only read after it is built)."""
    tok = jieba.Tokenizer()
    for w in sorted(words):
        tok.add_word(w, freq=5000)
    return tok


_HAN = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9＋+]{2,16}$")


@dataclass
class Lexicon:
    """Terms → (chain_id, segment_id or None), longest first, and a private tokenizer."""

    terms: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)
    _tokenizer: jieba.Tokenizer | None = None

    @classmethod
    def build(
        cls, kb: KnowledgeBase | None, extra_words: Iterable[str] = (), use_kb_terms: bool = True
    ) -> Lexicon:
        lex = cls()
        if kb is not None and use_kb_terms:
            for c in kb.chains:
                for s in c.segments:
                    for t in (s.name, *s.keywords, *s.synonyms):
                        lex.terms.setdefault(t, (c.chain_id, s.segment_id))
                for t in (c.name, c.name.removesuffix("产业").removesuffix("工业"), *c.keywords):
                    lex.terms.setdefault(t, (c.chain_id, None))
            for m in kb.gbt_map:
                ind = kb.industries.get(m.code)
                if ind and m.chains:
                    ref = m.chains[0]
                    lex.words.add(ind.name)
                    lex.terms.setdefault(ind.name, (ref.chain_id, ref.segment_id))
        if kb is not None:
            lex.words.update(ind.name for ind in kb.industries.values())
        lex.words.update(w for w in extra_words if _HAN.match(w))
        lex.words.update(t for t in lex.terms if _HAN.match(t))
        return lex

    def add_chain_terms(self, chain_id: str, segment_id: str | None, terms: Iterable[str]) -> None:
        for t in terms:
            if len(t) >= 2:
                self.terms.setdefault(t, (chain_id, segment_id))

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = _tokenizer(frozenset(self.words))
        return self._tokenizer

    def tokens(self, text: str) -> list[str]:
        return [w for w in self.tokenizer.lcut(text) if w.strip()]

    def chains_in(self, text: str) -> list[tuple[str, str | None, str]]:
        """(chain_id, segment_id, term) for every known term in `text`, longest terms first and
        without a shorter term inside an already matched longer one."""
        found: list[tuple[str, str | None, str]] = []
        taken: list[tuple[int, int]] = []
        for t in sorted(self.terms, key=len, reverse=True):
            if len(t) < 2:
                continue
            start = text.find(t)
            while start >= 0:
                end = start + len(t)
                if not any(a <= start and end <= b for a, b in taken):
                    taken.append((start, end))
                    cid, sid = self.terms[t]
                    found.append((cid, sid, t))
                    break
                start = text.find(t, start + 1)
        return found
