"""Text normalisation shared by ingest and chunking."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\u202a-\u202e\u2066-\u2069]"
)  # bidi overrides too
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFC, no control characters, one space between words, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def one_line(text: str) -> str:
    """The text with every run of whitespace (newlines included) turned into one space."""
    return " ".join(text.split())


def without_title_line(title: str, text: str) -> str:
    """`text` less a first line that only repeats the headline (HTML extraction keeps the <h1>)."""
    first, sep, rest = text.partition("\n")
    if sep and rest.strip() and one_line(first).casefold() == one_line(title).casefold() != "":
        return rest.lstrip("\n")
    return text
