"""The BM25 tokenizer: case-folded words, whole numbers in one format, no stopwords."""

from __future__ import annotations

import re
import unicodedata


def _mark_ranges() -> str:
    """A regex class body of the Unicode combining marks (Mn, Mc, Me): Python's \\w leaves them
    out, which cut Hindi or vowelled Arabic words into pieces at every vowel sign."""
    ranges: list[list[int]] = []
    for code in [*range(0x30000), *range(0xE0100, 0xE01F0)]:  # + variation selectors
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in ranges)


_LETTER = f"(?:[^\\W\\d_]|[{_mark_ranges()}])"
# A number with thousands separators and an optional decimal part, or a word (letters and the
# marks on them), or any other run of word characters.
_TOKEN = re.compile(
    rf"\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|[^\W\d_]{_LETTER}*(?:['’]{_LETTER}+)*|\w+"
)

_DOTTED_I = re.compile("i\u0307+")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves s t d ll m re ve""".split()
)


def _stem(word: str) -> str:
    """A light plural fold so that 'refugees' matches 'refugee'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Terms for BM25. '650,000' and '650000' give the same term; "Jordan's" gives 'jordan'."""
    # casefold can decompose ('ǰ' -> 'j' + caron): compose again; the dotted 'İ' folds to 'i' + a
    # combining dot, which no query typed as 'istanbul' has: drop the dot
    text = _DOTTED_I.sub("i", unicodedata.normalize("NFKC", text).casefold())
    text = unicodedata.normalize("NFKC", text)
    terms: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0].isdigit():
            number = token.replace(",", "")
            if "." in number:
                number = number.rstrip("0").rstrip(".")
            terms.append(number)
            continue
        token = re.split(r"['’]", token, maxsplit=1)[0]
        if token and token not in STOPWORDS:
            stem = _stem(token)
            # 'wills', 'cans': a word of its own, not the stopword it would fold to
            terms.append(token if stem in STOPWORDS else stem)
    return terms
