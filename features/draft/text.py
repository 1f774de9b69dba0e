"""Sentences with verbatim spans and the numbered-heading structure of a Chinese policy text.

Every later step cites a `Sentence`, whose `text` is exactly `document[start:end]`, so a draft can
never quote words the document does not contain.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A sentence ends at 。！？； (full or half width) or at the end of its line.
_END = "。！？；!?;"
# A lead such as "智能装备。" or "1. 高端装备产业。" heads the sentence that follows it on its line.
LEAD_MAX = 24
_SPACE = " \t\u3000\ufeff\xa0"

HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]+[）)]")),
    (3, re.compile(r"^\d{1,2}\s*[.．、]\s*")),
    (4, re.compile(r"^[（(]\d{1,2}[）)]")),
)


@dataclass(frozen=True)
class Sentence:
    """One sentence of the document: `text == document[start:end]`."""

    index: int
    text: str
    start: int
    end: int
    line: int  # 0-based line number of its paragraph
    lead: str | None = None  # set when the sentence is only a short heading ("智能装备。")


@dataclass(frozen=True)
class Heading:
    """A numbered heading line or a numbered lead ("1. 高端装备产业。")."""

    level: int
    title: str  # the heading words without the number and the final 。
    line: int
    number: str


def clean_input(raw: bytes | str) -> str:
    """Decode and normalise line ends; never raises (undecodable bytes are replaced)."""
    decoded: str | None = raw if isinstance(raw, str) else None
    if isinstance(raw, bytes):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                decoded = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            decoded = raw.decode("utf-8", errors="replace")
    assert decoded is not None
    # Lone surrogates (possible in JSON) cannot be stored or encoded: replace them.
    decoded = decoded.encode("utf-8", errors="replace").decode("utf-8")
    text = decoded.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences, each a verbatim span (whitespace trimmed at both ends)."""
    out: list[Sentence] = []
    pos = 0
    for line_no, line in enumerate(text.split("\n")):
        spans: list[tuple[int, int]] = []
        i, n = 0, len(line)
        start = 0
        depth = 0  # do not end a sentence inside quotes or brackets
        while i < n:
            ch = line[i]
            if ch in "“「（(《":
                depth += 1
            elif ch in "”」）)》" and depth:
                depth -= 1
            elif ch in _END and depth == 0:
                spans.append((start, i + 1))
                start = i + 1
            i += 1
        if start < n:
            spans.append((start, n))
        trimmed = []
        for a, b in spans:
            while a < b and line[a] in _SPACE:
                a += 1
            while b > a and line[b - 1] in _SPACE:
                b -= 1
            if b > a:
                trimmed.append((a, b))
        for k, (a, b) in enumerate(trimmed):
            piece = line[a:b]
            lead = None
            # A short first sentence ending in 。 ("智能装备。", "1. 高端装备产业。") is a lead.
            short = piece.endswith("。") and len(piece) <= LEAD_MAX and "，" not in piece
            if k == 0 and len(trimmed) > 1 and short:
                lead = _strip_number(piece[:-1]).strip() or None
            out.append(Sentence(len(out), piece, pos + a, pos + b, line_no, lead))
        pos += len(line) + 1
    return out


def _strip_number(s: str) -> str:
    for _, pat in HEADING_PATTERNS:
        m = pat.match(s)
        if m:
            return s[m.end() :]
    return s


def parse_headings(text: str) -> list[Heading]:
    """Numbered headings: 一、 / （一） / 1. / （1）, with their level and title."""
    out = []
    for line_no, raw in enumerate(text.split("\n")):
        line = raw.strip(_SPACE)
        for level, pat in HEADING_PATTERNS:
            m = pat.match(line)
            if not m:
                continue
            rest = line[m.end() :]
            title = re.split(r"[。：:]", rest, maxsplit=1)[0].strip()
            if 1 <= len(title) <= 40:
                out.append(Heading(level, title, line_no, m.group(0).strip()))
            break
    return out


def normalize_name(s: str) -> str:
    """NFKC-fold a name for comparison (full-width digits and brackets become half-width)."""
    return unicodedata.normalize("NFKC", s).replace(" ", "")


def enumeration(s: str) -> list[str]:
    """Items of a Chinese enumeration "A、B、C" (empty items dropped)."""
    return [p.strip() for p in re.split(r"[、，,]", s) if p.strip()]


def with_lead(text: str, lead: Sentence, nxt: Sentence) -> Sentence:
    """A lead and the sentence after it as one verbatim span ("智能装备。加快开发……"), the form
    in which a chain or segment cites its heading."""
    return Sentence(
        lead.index, text[lead.start : nxt.end], lead.start, nxt.end, lead.line, lead.lead
    )
