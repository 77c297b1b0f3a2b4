"""Who may use the bot and what its logs may show: the token check, the redacting log filter and
the gate of allowed users and admins."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from index.settings import Settings

log = logging.getLogger("newsdesk.telegram")

TOKEN_PATTERN = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,64}")


class TokenError(ValueError):
    """TELEGRAM_BOT_TOKEN is missing or malformed."""


def check_token(token: str) -> str:
    """The token, stripped; TokenError (which never repeats the token) when it cannot be one."""
    token = (token or "").strip()
    if not token:
        raise TokenError(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token in "
            "the environment or .env"
        )
    if not TOKEN_PATTERN.fullmatch(token):
        raise TokenError(
            "TELEGRAM_BOT_TOKEN is malformed: a token looks like 123456789:AAH… (the bot's id, a "
            "colon and the secret @BotFather gave you)"
        )
    return token


# --- secrets in logs ---------------------------------------------------------------------------
class RedactSecrets(logging.Filter):
    """Replaces the bot token (and its secret half) in every record a handler emits: message,
    arguments, traceback and stack. Attach it to handlers, so records of every logger pass it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        found = set()
        for secret in secrets:
            if secret:
                found |= {secret, secret.replace(":", "%3A"), secret.partition(":")[2]}
        self.secrets = sorted((s for s in found if len(s) >= 8), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.redact(text), None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# python-telegram-bot logs whole updates and API results at DEBUG ("Processing update …",
# "Call to Bot API endpoint … finished with return value …"): a stranger's message text would
# reach the log. Its loggers stay at INFO even with --verbose.
QUIET_EVEN_WHEN_VERBOSE = ("telegram",)


def configure_logging(token: str, *, verbose: bool = False) -> RedactSecrets:
    """Log to stderr with the token redacted; httpx request lines (they hold the token in the
    URL) only with --verbose, and redacted even then. python-telegram-bot's own loggers never
    go below INFO, so no message text of anyone (strangers included) is logged."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    redact = RedactSecrets([token])
    for handler in root.handlers:
        handler.addFilter(redact)
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in QUIET_EVEN_WHEN_VERBOSE:
        logging.getLogger(name).setLevel(logging.INFO)
    return redact


# --- who may do what ---------------------------------------------------------------------------
class Gate:
    """The allow-list and the admin list. Admins may always ask; `public` lets anyone ask."""

    def __init__(self, allowed: Iterable[int], admins: Iterable[int], public: bool = False):
        self.admins = frozenset(admins)
        self.allowed = frozenset(allowed) | self.admins
        self.public = public

    @classmethod
    def from_settings(cls, settings: Settings, public: bool = False) -> Gate:
        return cls(settings.allowed_user_ids, settings.admin_user_ids, public)

    def may_ask(self, user_id: int | None) -> bool:
        return user_id is not None and (self.public or user_id in self.allowed)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins
