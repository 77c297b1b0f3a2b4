"""Building the LLM answerer from settings, with one clear line for what is missing."""

from __future__ import annotations

from bot.answering.answerers.base import Answerer
from index.settings import Settings, SettingsError


def load_llm_answerer(settings: Settings, reader: Answerer | None):
    """An `LLMAnswerer` over `reader`; SettingsError when the LLM settings are incomplete."""
    if not settings.llm_base_url.strip():
        raise SettingsError(
            "NEWSDESK_ANSWERER=llm needs NEWSDESK_LLM_BASE_URL "
            "(an OpenAI-compatible endpoint such as http://127.0.0.1:11434/v1)"
        )
    if not settings.llm_model.strip():
        raise SettingsError(
            "NEWSDESK_LLM_BASE_URL is set but NEWSDESK_LLM_MODEL is not (the model name to ask for)"
        )
    if reader is None:
        raise SettingsError("the LLM answerer needs the reader or the heuristic answerer")
    try:
        import openai  # noqa: F401 - a clear line instead of an ImportError later
    except ImportError:
        raise SettingsError("LLM answers need the `openai` package (run `make setup`)") from None
    from bot.answering.llm.answerer import LLMAnswerer

    return LLMAnswerer.from_settings(reader, settings)
