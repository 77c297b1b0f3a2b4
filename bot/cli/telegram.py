"""`newsdesk telegram [--public] [--verbose]`: run the Telegram bot (see bot/telegram.py)."""

from __future__ import annotations


def register(sub) -> None:
    """Add the `telegram` command to the `newsdesk` subparsers."""
    p = sub.add_parser(
        "telegram",
        help="run the Telegram bot (TELEGRAM_BOT_TOKEN, ALLOWED_USER_IDS, ADMIN_USER_IDS)",
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="let anyone ask questions (without it, ALLOWED_USER_IDS or ADMIN_USER_IDS is needed)",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="debug logging, Telegram requests included (the token is always redacted)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from bot.cli.errors import CliError
    from bot.cli.main import settings_from

    settings = settings_from(args)
    from bot.telegram.access import TokenError, check_token
    from bot.telegram.app import StartError

    try:
        check_token(settings.telegram_bot_token)
    except TokenError as exc:
        raise CliError(str(exc), 2) from None
    if not args.public and not (settings.allowed_user_ids or settings.admin_user_ids):
        raise CliError(
            "no ALLOWED_USER_IDS: refusing to start a bot that anyone could use; set "
            "ALLOWED_USER_IDS (comma-separated Telegram user ids) or pass --public",
            2,
        )
    from bot.telegram.app import run_bot

    try:
        run_bot(settings, public=args.public, verbose=args.verbose)
    except StartError as exc:
        raise CliError(str(exc), exc.code) from None
    return 0
