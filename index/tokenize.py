"""The BM25 tokenizer: case-folded words, whole numbers in one format, no stopwords."""

from __future__ import annotations

import re
import unicodedata

# A number with thousands separators and an optional decimal part, or a word (letters/digits).
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)*|\w+")

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
    text = unicodedata.normalize("NFKC", text).casefold()
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
            terms.append(_stem(token))
    return terms
