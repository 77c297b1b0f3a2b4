"""Answer extraction: question + ranked passages -> a grounded answer span.

`load_answerer` picks the trained reader when its model is present, else the heuristic fallback;
with an LLM configured (`llm`, or `auto` with NEWSDESK_LLM_BASE_URL set) that answerer is wrapped
by `bot.answering.llm.answerer.LLMAnswerer`, which adds the LLM's cited sentence.
"""

from __future__ import annotations

from index.settings import Settings, SettingsError

from .base import Answerer, Span

__all__ = ["Answerer", "Span", "load_answerer"]
METHODS = ("auto", "llm", "reader", "heuristic", "none")


def load_answerer(settings: Settings) -> Answerer | None:
    """The answerer named by `settings.answerer` (auto: the LLM when one is configured, over the
    reader if shipped, else the heuristic)."""
    method = settings.answerer.lower()
    if method not in METHODS:
        raise SettingsError(f"unknown answerer {settings.answerer!r} (choose {', '.join(METHODS)})")
    if method == "llm" or (method == "auto" and settings.llm_base_url.strip()):
        from bot.answering.llm.load import load_llm_answerer

        return load_llm_answerer(settings, _load_extractive(settings, "auto"))
    if method == "none":
        return None
    return _load_extractive(settings, method)


def _load_extractive(settings: Settings, method: str) -> Answerer | None:
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
