"""`newsdesk telegram`: build the bot and run it (long polling) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import InvalidToken, TelegramError

from bot.telegram.access import check_token, configure_logging
from bot.telegram.bot import NewsdeskBot
from index.settings import Settings

log = logging.getLogger("newsdesk.telegram")


def run_bot(settings: Settings, *, public: bool = False, verbose: bool = False) -> None:
    """Run the bot until Ctrl-C or SIGTERM; TelegramError at start-up comes out redacted."""
    token = check_token(settings.telegram_bot_token)
    redact = configure_logging(token, verbose=verbose)
    if settings.llm_api_key:  # the LLM's key is never logged either
        redact.secrets = sorted({*redact.secrets, settings.llm_api_key}, key=len, reverse=True)
    bot = NewsdeskBot(settings, public=public)
    app = bot.build()
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    except InvalidToken:
        raise StartError("Telegram refused the bot token (check TELEGRAM_BOT_TOKEN)", 2) from None
    except TelegramError as exc:
        raise StartError(f"Telegram error: {redact.redact(str(exc))}", 1) from None


class StartError(RuntimeError):
    """The bot could not start; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
