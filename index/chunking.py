"""Sentence-aware chunking within the embedding model's token budget, with character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

from index.models import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]
_WORDY = re.compile(r"\w")


@cache
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence, whitespace trimmed; fragments join their neighbour."""
    # pysbd's pieces do not always add up to the text (it can repeat a space after a line break):
    # find where each one ends in the text rather than trusting their lengths
    ends: list[int] = []
    pos = 0
    for piece in _segmenter().segment(text):
        core = piece.strip()
        found = text.find(core, pos) if core else -1
        if found < 0:
            continue
        pos = found + len(core)
        ends.append(pos)
    ends.append(len(text))  # whatever pysbd left out is one more sentence
    spans: list[tuple[int, int]] = []
    start = 0
    for end in ends:
        begin, start = start, end
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if begin == end:
            continue
        if spans and not _WORDY.search(text, begin, end):
            spans[-1] = (spans[-1][0], end)  # closing quote or stray punctuation
        else:
            spans.append((begin, end))
    return spans


class Chunker:
    """Packs consecutive sentences into chunks of at most `max_tokens` model tokens.

    The headline is prefixed to every chunk for the model, so its tokens count against the budget.
    Consecutive chunks share `overlap` sentences; a sentence longer than the budget is cut at words.
    """

    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 200, overlap: int = 1) -> None:
        if max_tokens < 16:
            raise ValueError("chunk budget must be at least 16 tokens")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap = max(0, overlap)

    def chunk(self, article: Article) -> list[Chunk]:
        text = article.text
        title_tokens = self.count_tokens([article.title])[0] if article.title else 0
        budget = max(8, self.max_tokens - 2 - title_tokens)  # [CLS] and [SEP]
        spans = split_sentences(text)
        sizes = self.count_tokens([text[s:e] for s, e in spans]) if spans else []
        pieces: list[tuple[int, int, int]] = []
        for (start, end), size in zip(spans, sizes, strict=True):
            if size <= budget:
                pieces.append((start, end, size))
            else:
                pieces.extend(self._cut_long(text, start, end, budget))
        return [
            Chunk(article.id, i, start, end, text[start:end], article.title)
            for i, (start, end) in enumerate(self._pack(pieces, budget))
        ]

    def _pack(self, pieces: list[tuple[int, int, int]], budget: int) -> list[tuple[int, int]]:
        chunks: list[tuple[int, int]] = []
        i = done = 0  # `done`: pieces already in a chunk
        while done < len(pieces):
            j, used = i, 0
            while j < len(pieces) and (j == i or used + pieces[j][2] + 1 <= budget):
                used += pieces[j][2] + (1 if j > i else 0)
                j += 1
            if j <= done:  # the overlap left no room for a new piece: a chunk inside the last one
                i = done
                continue
            chunks.append((pieces[i][0], pieces[j - 1][1]))
            done = j
            i = max(i + 1, j - self.overlap)
        return chunks

    def _cut_long(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int, int]]:
        words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
        sizes = self.count_tokens([text[s:e] for s, e in words])
        out: list[tuple[int, int, int]] = []
        piece_start, used = words[0][0], 0
        last_end = words[0][1]
        for (s, e), size in zip(words, sizes, strict=True):
            if used and used + size > budget:
                out.append((piece_start, last_end, used))
                piece_start, used = s, 0
            if size > budget:  # one word over the budget (a long number, id or hash): cut it
                *whole, (s, last_end, used) = self._cut_word(text, s, e, budget)
                out.extend(whole)
                piece_start = s
                continue
            used += size
            last_end = e
        out.append((piece_start, last_end, used))
        return out

    def _cut_word(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int, int]]:
        """`text[start:end]` in pieces of at most `budget` tokens, each as long as will fit."""
        out: list[tuple[int, int, int]] = []
        while start < end:
            size = self.count_tokens([text[start:end]])[0]
            if size <= budget:
                out.append((start, end, size))
                break
            lo, hi = start + 1, end - 1  # the longest prefix that fits, found by bisection
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.count_tokens([text[start:mid]])[0] <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            out.append((start, lo, self.count_tokens([text[start:lo]])[0]))
            start = lo
        return out
