"""Checks of the optional LLM settings (NEWSDESK_LLM_*): one clear line for each bad value."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_TIMEOUT_SECONDS = 600.0
MAX_TOKENS_LIMIT = 8192
MAX_CONCURRENCY = 64


def llm_settings_problem(settings: Any) -> str | None:
    """What is wrong with the LLM settings, in one line naming the variable, or None."""
    url = settings.llm_base_url.strip()
    if url and not re.match(r"https?://[^\s/?#]+(?:[/?#]\S*)?$", url, re.IGNORECASE):
        return (
            f"NEWSDESK_LLM_BASE_URL={url!r} is not an http(s) address "
            "(an OpenAI-compatible endpoint such as http://127.0.0.1:11434/v1)"
        )
    timeout = settings.llm_timeout
    if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT_SECONDS):
        return (
            f"NEWSDESK_LLM_TIMEOUT={timeout:g} is not a valid value for llm_timeout: "
            f"seconds, more than 0 and at most {MAX_TIMEOUT_SECONDS:g}"
        )
    if not 1 <= settings.llm_max_tokens <= MAX_TOKENS_LIMIT:
        return (
            f"NEWSDESK_LLM_MAX_TOKENS={settings.llm_max_tokens} is not a valid value for "
            f"llm_max_tokens: a whole number from 1 to {MAX_TOKENS_LIMIT}"
        )
    if not 1 <= settings.llm_concurrency <= MAX_CONCURRENCY:
        return (
            f"NEWSDESK_LLM_CONCURRENCY={settings.llm_concurrency} is not a valid value for "
            f"llm_concurrency: a whole number from 1 to {MAX_CONCURRENCY}"
        )
    return None
