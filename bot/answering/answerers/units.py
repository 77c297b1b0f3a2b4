"""Whole units: a reader's span never ends inside a word, a number, a name or a quoted title.

The reader scores spans of word pieces, so its best span can stop at "Lionel Mess", at "22,338" of
"22,338,618", at "1.5" of "$1.5 billion" or at "Crazy" of "Crazy in Love". `whole_units` widens
such a span to the unit it cuts, using only the context text (no model): the word it is inside,
the number with its currency, decimals, multiplier and percent sign, the run of capitalised words
of a name (not across a title such as "President" or "Gen.", nor into a capitalised word that only
starts the sentence), and a short title-case quotation. A span that cuts nothing is returned as is.
"""

from __future__ import annotations

import re

from index.tokenize import STOPWORDS

from .candidates import ABBREVIATIONS, COMMON_STARTS, MONTHS, TITLES, WEEKDAYS

# a number: currency sign, digits with thousands separators and decimals, a multiplier or percent
_NUMBER = re.compile(
    r"[$£€¥]?\d+(?:[.,]\d+)*"
    r"(?:\s?(?:%|percent\b|per\s?cent\b)|\s(?:million|billion|trillion|bn)\b|(?:bn|m|k)\b)?"
)
_WORD = re.compile(r"\w+(?:-\w+)*")  # "Jordan's" is "Jordan" + "s": a possessive ends a name
_QUOTED = re.compile(r"\"([^\"\n]{1,80})\"|“([^”\n]{1,80})”|‘([^’\n]{1,80})’")
# lower-case words a name may hold between its capitalised words ("Bank of England", "al-Assad")
_NAME_LINKS = frozenset({"of", "de", "del", "da", "di", "van", "von", "der", "al", "bin", "la"})
_QUOTE_WORDS = 8


def whole_units(text: str, start: int, end: int) -> tuple[int, int]:
    """`(start, end)` widened to the words, numbers, names and titles it cuts."""
    if not 0 <= start < end <= len(text):
        return start, end
    previous = None
    while previous != (start, end):
        previous = start, end
        start, end = _whole_words(text, start, end)
        start, end = _around(_NUMBER, text, start, end)
        start, end = _whole_name(text, start, end)
        start, end = _whole_quote(text, start, end)
    return start, end


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen to whole words: "Lionel Mess" -> "Lionel Messi", "bib" -> "Habib"."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return start, end


def _around(pattern: re.Pattern, text: str, start: int, end: int) -> tuple[int, int]:
    """Widen to every match of `pattern` that the span cuts (overlaps without containing)."""
    lo, hi = max(0, start - 40), min(len(text), end + 40)
    for m in pattern.finditer(text, lo, hi):
        if m.start() < end and start < m.end() and not (start <= m.start() and m.end() <= end):
            start, end = min(start, m.start()), max(end, m.end())
    return start, end


def _words(text: str, lo: int, hi: int) -> list[re.Match]:
    return list(_WORD.finditer(text, lo, hi))


def _capitalised(word: str) -> bool:
    folded = word.casefold()
    return (
        word[0].isupper()
        and folded not in MONTHS
        and folded not in WEEKDAYS
        and folded not in TITLES
        and folded not in ABBREVIATIONS
        and folded not in STOPWORDS
    )


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(' \t"“‘(')
    return not before or before[-1] in ".!?\n:;"


def _joined(text: str, left: re.Match, right: re.Match) -> bool:
    """Two words next to each other in one name: only a space (or a hyphen) between them."""
    gap = text[left.end() : right.start()]
    return gap in (" ", "-")


def _whole_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span that starts or ends inside a run of capitalised words to the whole run."""
    lo, hi = max(0, start - 120), min(len(text), end + 120)
    words = _words(text, lo, hi)
    inside = [i for i, w in enumerate(words) if start <= w.start() and w.end() <= end]
    if not inside:
        return start, end
    first, last = inside[0], inside[-1]
    if _capitalised(words[first].group()):
        i = first
        while i > 0 and _joined(text, words[i - 1], words[i]):
            prev = words[i - 1].group()
            if _capitalised(prev):
                if _starts_sentence(text, words[i - 1].start()) and (
                    prev.casefold() in COMMON_STARTS
                ):
                    break
                i -= 1
            elif (
                prev in _NAME_LINKS
                and i > 1
                and _joined(text, words[i - 2], words[i - 1])
                and _capitalised(words[i - 2].group())
            ):
                i -= 2
            else:
                break
        start = min(start, words[i].start())
    if _capitalised(words[last].group()):
        i = last
        while i + 1 < len(words) and _joined(text, words[i], words[i + 1]):
            nxt = words[i + 1].group()
            if _capitalised(nxt):
                i += 1
            elif (
                nxt in _NAME_LINKS
                and i + 2 < len(words)
                and _joined(text, words[i + 1], words[i + 2])
                and _capitalised(words[i + 2].group())
            ):
                i += 2
            else:
                break
        end = max(end, words[i].end())
    return start, end


def _whole_quote(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span inside a short title-case quotation ("Crazy" of "Crazy in Love") to all of it
    (without the quotation marks); quoted speech, which is not title case, is left alone."""
    lo, hi = max(0, start - 100), min(len(text), end + 100)
    for m in _QUOTED.finditer(text, lo, hi):
        group = next(g for g in range(1, 4) if m.group(g) is not None)
        q_start, q_end = m.start(group), m.end(group)
        if not (q_start <= start and end <= q_end) or (start, end) == (q_start, q_end):
            continue
        words = [w.group() for w in _words(text, q_start, q_end)]
        long_words = [w for w in words if len(w) > 3]
        if (
            words
            and len(words) <= _QUOTE_WORDS
            and words[0][0].isupper()
            and all(w[0].isupper() for w in long_words)
        ):
            return q_start, q_end
    return start, end
