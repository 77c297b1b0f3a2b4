"""Answer extraction: question + ranked passages -> a grounded answer span.

`load_answerer` picks the trained reader when its model is present, else the heuristic fallback.
"""

from __future__ import annotations

from index.settings import Settings, SettingsError

from .base import Answerer, Span

__all__ = ["Answerer", "Span", "load_answerer"]
METHODS = ("auto", "reader", "heuristic", "none")


def load_answerer(settings: Settings) -> Answerer | None:
    """The answerer named by `settings.answerer` (auto: reader if shipped, else heuristic)."""
    method = settings.answerer.lower()
    if method not in METHODS:
        raise SettingsError(f"unknown answerer {settings.answerer!r} (choose {', '.join(METHODS)})")
    if method == "none":
        return None
    if method in ("auto", "reader"):
        try:
            from .reader import load_reader
        except ImportError:
            load_reader = None
        reader = (
            load_reader(settings.reader_model, settings.reader_passages) if load_reader else None
        )
        if reader is not None:
            return reader
        if method == "reader":
            raise SettingsError(f"no reader model in {settings.reader_model}")
    try:
        from .heuristic import HeuristicAnswerer
    except ImportError:
        return None
    return HeuristicAnswerer()
