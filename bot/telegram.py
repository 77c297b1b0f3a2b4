"""The Telegram bot: `newsdesk telegram` (python-telegram-bot v22, long polling).

Handlers are thin: they check who is asking, then hand the work to `Newsdesk` in a thread pool
(questions) or a one-thread pool (indexing), so a slow question or a re-index never blocks
other chats. Updates are processed concurrently; each chat takes turns (an asyncio lock per
chat), so its questions are answered in the order they were asked. Everything the bot says is
built in `bot.telegram_format`; per-chat conversations and the last answers' sources live in
`bot.chat_store`. The bot token is redacted from every log line (`RedactSecrets`), and users
only ever see fixed wording when something fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import telegram_format as fmt
from bot.chat_store import ChatStore, add_answer, answer_sources
from bot.service import Newsdesk, QuestionError
from index.files import write_atomic
from index.ingest import SUFFIXES
from index.lock import LockedError
from index.search import NoIndexError
from index.settings import Settings

log = logging.getLogger("newsdesk.telegram")

TOKEN_PATTERN = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,64}")
MAX_UPLOAD_BYTES = 10 * 2**20  # documents larger than this are refused before downloading
UPLOADS_DIR = "uploads"  # under the data directory: uploaded article files, kept for re-indexing
TYPING_EVERY = 4.5  # seconds; Telegram shows "typing…" for 5 s per chat action
SAVE_EVERY = 1.0  # seconds between writes of the chat state file (when something changed)
REFRESH_EVERY = 30.0  # seconds between checks for an index generation written by another process
FEED_POLL_FIRST = 60.0
CONVERSATIONS_IN_MEMORY = 2000  # more live in the chat state file
REFUSED_REMEMBERED = 100_000
NOT_MODIFIED = "message is not modified"  # Telegram's 400 for an edit to the same content
T = TypeVar("T")


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


def file_base_url(base_url: str) -> str:
    """The file download URL that goes with a Bot API URL (…/bot → …/file/bot)."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


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


def upload_name(file_name: str | None) -> tuple[str | None, str]:
    """A safe file name for an uploaded document (its folder part dropped, odd characters
    replaced, the suffix checked), or None and why it is refused."""
    kinds = ", ".join(sorted(SUFFIXES))
    if not file_name or not file_name.strip():
        return None, f"the file has no name; send a {kinds} file"
    base = file_name.replace("\\", "/").replace("\x00", "").rsplit("/", 1)[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUFFIXES:
        shown = fmt.shorten(suffix, 20) if suffix else "no extension"
        return None, f"unsupported file type ({shown}); send a {kinds} file"
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:80] or "upload"
    return stem + suffix, ""


# --- the bot -----------------------------------------------------------------------------------
class ChatActionExempt(AIORateLimiter):
    """Telegram's rate limits, minus chat actions: "typing…" is best effort and must not use up
    the 30 messages a second that answers need."""

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        """Send chat actions at once; everything else through the AIORateLimiter."""
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


class NewsdeskBot:
    """The bot's state and handlers; `build()` gives the python-telegram-bot Application."""

    def __init__(
        self,
        settings: Settings,
        service: Newsdesk | None = None,
        *,
        public: bool = False,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.token = check_token(settings.telegram_bot_token)
        self.service = service or Newsdesk(settings)
        self.gate = Gate.from_settings(settings, public)
        self.store = ChatStore.in_data_dir(settings.data_dir)
        self.uploads = Path(settings.data_dir) / UPLOADS_DIR
        workers = workers or max(2, min(8, os.cpu_count() or 2))
        self._questions = ThreadPoolExecutor(workers, thread_name_prefix="question")
        self._admin = ThreadPoolExecutor(1, thread_name_prefix="index")
        self._conversations: OrderedDict[int, Any] = OrderedDict()
        self._turns: dict[int, list] = {}  # chat id -> [asyncio.Lock, holders]
        self._refused: set[int] = set()
        self._background: set[asyncio.Task] = set()
        self._searcher_ready = False
        self._conversation_class = _conversation_class()

    # --- building ------------------------------------------------------------------------------
    def build(self) -> Application:
        app = (
            Application.builder()
            .token(self.token)
            .base_url(self.settings.telegram_api_base_url.rstrip("/"))
            .base_file_url(file_base_url(self.settings.telegram_api_base_url))
            .rate_limiter(ChatActionExempt(max_retries=3))
            .concurrent_updates(256)
            .connection_pool_size(64)
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
            .build()
        )
        new = filters.UpdateType.MESSAGE
        app.add_handler(TypeHandler(Update, self.on_any_update), group=-1)
        commands: list[tuple[str, Callable]] = [
            ("start", self.on_help),
            ("help", self.on_help),
            ("reset", self.on_reset),
            ("sources", self.on_sources),
            ("reindex", self.on_reindex),
            ("update", self.on_update),
            ("feeds", self.on_feeds),
            ("stats", self.on_stats),
        ]
        for name, callback in commands:
            app.add_handler(CommandHandler(name, callback, filters=new))
        app.add_handler(MessageHandler(new & filters.COMMAND, self.on_unknown_command))
        app.add_handler(MessageHandler(new & filters.TEXT, self.on_question))
        app.add_handler(MessageHandler(new & filters.Document.ALL, self.on_document))
        app.add_handler(MessageHandler(new & filters.ATTACHMENT, self.on_other_message))
        app.add_handler(CallbackQueryHandler(self.on_sources_button))
        app.add_error_handler(self.on_error)
        return app

    async def _post_init(self, app: Application) -> None:
        """Register the commands, load the index and models, schedule the background jobs."""
        users = [BotCommand(n, d) for n, d in fmt.COMMANDS]
        admins = users + [BotCommand(n, d) for n, d in fmt.ADMIN_COMMANDS]
        await app.bot.set_my_commands(users)
        for admin in sorted(self.gate.admins):
            try:
                await app.bot.set_my_commands(admins, scope=BotCommandScopeChat(admin))
            except TelegramError as exc:  # the admin has not opened a chat with the bot yet
                log.info("admin commands not registered for %s: %s", admin, exc)
        await self._in_thread(self._warm_up)
        jobs = app.job_queue
        if jobs is not None:
            jobs.run_repeating(self._save_job, SAVE_EVERY, first=SAVE_EVERY, name="save")
            jobs.run_repeating(self._refresh_job, REFRESH_EVERY, first=REFRESH_EVERY)
            jobs.run_repeating(
                self._feeds_job, 60 * self.settings.feed_poll_minutes, first=FEED_POLL_FIRST
            )
        me = app.bot
        log.info(
            "@%s is answering questions about %s (%s)",
            me.username,
            self.settings.data_dir,
            "public" if self.gate.public else f"{len(self.gate.allowed)} allowed users",
        )

    async def _post_shutdown(self, app: Application) -> None:
        """Write the chat state one last time and stop the worker threads."""
        try:
            self.store.save()
        except OSError as exc:
            log.error("could not save the chat state: %s", exc)
        self._questions.shutdown(wait=False, cancel_futures=True)
        self._admin.shutdown(wait=False, cancel_futures=True)

    def _warm_up(self) -> None:
        """Open the index and load the query encoder and answerer before the first question."""
        try:
            self._ensure_searcher()
        except NoIndexError:
            log.warning("nothing indexed in %s yet", self.settings.data_dir)
            return
        self.service.answerer  # noqa: B018 - load it now
        with contextlib.suppress(QuestionError, NoIndexError):
            self.service.ask("warm up")

    def _ensure_searcher(self) -> None:
        """Open the Searcher once (from whichever thread gets here first)."""
        if not self._searcher_ready:
            with _SEARCHER_LOCK:
                self.service.searcher  # noqa: B018 - NoIndexError until something is indexed
                self._searcher_ready = True

    async def _in_thread(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._questions, partial(func, *args, **kwargs))

    async def _indexing(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._admin, partial(func, *args, **kwargs))

    # --- per chat ------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _turn(self, chat_id: int) -> AsyncIterator[None]:
        """This chat's turn: its updates are handled one at a time, in arrival order."""
        entry = self._turns.setdefault(chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._turns.pop(chat_id, None)

    @contextlib.asynccontextmanager
    async def _typing(self, bot: Any, chat_id: int) -> AsyncIterator[None]:
        """Show "typing…" in the chat until the block is done (a chat action already on its way
        is let finish rather than cancelled mid-request)."""
        done = asyncio.Event()
        task = asyncio.create_task(self._keep_typing(bot, chat_id, done))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            yield
        finally:
            done.set()

    @staticmethod
    async def _keep_typing(bot: Any, chat_id: int, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except Forbidden:
                return
            except TelegramError as exc:
                log.debug("chat action failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_EVERY)

    def _conversation(self, chat_id: int) -> Any:
        """The chat's conversation, from memory or the chat state file (None: no follow-ups)."""
        conversation = self._conversations.get(chat_id)
        if conversation is None and self._conversation_class is not None:
            saved = self.store.get(chat_id).get("conversation")
            conversation = None
            if isinstance(saved, dict):
                try:
                    conversation = self._conversation_class.from_dict(saved)
                except Exception as exc:  # an old or damaged record: start afresh
                    log.warning("chat %s: conversation not restored: %s", chat_id, exc)
            conversation = conversation or self._conversation_class()
            self._conversations[chat_id] = conversation
        if conversation is not None:
            self._conversations.move_to_end(chat_id)
            while len(self._conversations) > CONVERSATIONS_IN_MEMORY:
                self._conversations.popitem(last=False)
        return conversation

    def _remember(self, chat_id: int, conversation: Any, sources: list[dict]) -> str:
        """Save the chat's conversation and this answer's sources; the answer's key."""
        record = dict(self.store.get(chat_id))
        if conversation is not None:
            record["conversation"] = json.loads(json.dumps(conversation.to_dict()))
        record, key = add_answer(record, sources)
        self.store.put(chat_id, record)
        return key

    # --- sending -------------------------------------------------------------------------------
    async def _send(
        self,
        bot: Any,
        chat_id: int,
        html_text: str,
        *,
        reply_to: int | None = None,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> Message | None:
        """Send Telegram HTML, split at 4096 characters; the keyboard goes on the last part."""
        parts = fmt.split_html(html_text) or [fmt.escape("…")]
        sent = None
        for i, part in enumerate(parts):
            options: dict[str, Any] = {
                "link_preview_options": LinkPreviewOptions(is_disabled=True),
            }
            if i == 0 and reply_to is not None:
                options["reply_parameters"] = ReplyParameters(
                    reply_to, allow_sending_without_reply=True
                )
            if i == len(parts) - 1 and keyboard is not None:
                options["reply_markup"] = keyboard
            try:
                sent = await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, **options)
            except BadRequest as exc:
                if "entit" not in str(exc).lower():
                    raise
                log.error("Telegram refused our HTML (%s); sending it as plain text", exc)
                sent = await bot.send_message(chat_id, fmt.plain_text(part), **options)
        return sent

    async def _reply(self, update: Update, html_text: str, **kwargs: Any) -> Message | None:
        message = update.effective_message
        return await self._send(
            message.get_bot(), message.chat_id, html_text, reply_to=message.message_id, **kwargs
        )

    async def _edit(self, status: Message | None, update: Update, html_text: str) -> None:
        """Replace a status message's text (a new message when it is too long or gone; nothing
        when Telegram says it already shows this text)."""
        parts = fmt.split_html(html_text)
        if status is not None and len(parts) == 1:
            try:
                await status.edit_text(
                    parts[0],
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return
            except BadRequest as exc:
                if NOT_MODIFIED in str(exc).lower():
                    log.debug("status message already up to date: %s", exc)
                    return
                log.info("could not edit the status message: %s", exc)
        await self._reply(update, html_text)

    # --- the gate ------------------------------------------------------------------------------
    async def on_any_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let allowed users through; refuse a stranger once, then ignore them."""
        user = update.effective_user
        message = update.message  # a new message (edits, channel posts and the like are ignored)
        if user is None or (update.callback_query is None and message is None):
            raise ApplicationHandlerStop
        if message is not None and not self._addressed(message, context.bot):
            raise ApplicationHandlerStop  # group talk that is not for us
        if self.gate.may_ask(user.id):
            return
        if user.id not in self._refused:
            if len(self._refused) >= REFUSED_REMEMBERED:
                self._refused.clear()
            self._refused.add(user.id)
            log.info("refused user %s", user.id)
            with contextlib.suppress(TelegramError):
                if update.callback_query is not None:
                    await update.callback_query.answer(fmt.REFUSAL, show_alert=True)
                else:
                    await self._reply(update, fmt.escape(fmt.REFUSAL))
        elif update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        raise ApplicationHandlerStop

    @staticmethod
    def _addressed(message: Message, bot: Any) -> bool:
        """Is this message for the bot? Private chats: always. Groups: a mention of the bot, a
        reply to one of its messages, or a command without another bot's name."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot.id:
            return True
        username = (bot.username or "").lower()
        entities = message.entities or message.caption_entities or ()
        for entity in entities:
            value = message.parse_entity(entity) if message.text else None
            if value is None:
                value = message.parse_caption_entity(entity) if message.caption else ""
            if entity.type == MessageEntity.MENTION and value.lower() == f"@{username}":
                return True
            if (
                entity.type == MessageEntity.TEXT_MENTION
                and entity.user
                and entity.user.id == bot.id
            ):
                return True
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                name, _, target = value.partition("@")
                return not target or target.lower() == username
        return False

    def _is_admin(self, update: Update) -> bool:
        return self.gate.is_admin(update.effective_user.id if update.effective_user else None)

    async def _refuse_non_admin(self, update: Update) -> bool:
        """True (after saying so) when the user is not an admin."""
        if self._is_admin(update):
            return False
        log.info("user %s: admin command refused", update.effective_user.id)
        await self._reply(update, fmt.escape(fmt.ADMIN_ONLY))
        return True

    # --- questions -----------------------------------------------------------------------------
    def _question_text(self, message: Message, bot: Any) -> str:
        """The message text without the mention of the bot (in groups)."""
        text = message.text or ""
        if message.chat.type != ChatType.PRIVATE and bot.username:
            text = re.sub(rf"@{re.escape(bot.username)}\b", " ", text, flags=re.IGNORECASE)
        return text

    def _ask(self, question: str, conversation: Any) -> Any:
        self._ensure_searcher()
        return self.service.ask(question, conversation=conversation)

    async def on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A question: answered in this chat's turn, in a worker thread, with "typing…"."""
        message = update.effective_message
        question = self._question_text(message, context.bot)
        chat_id = message.chat_id
        async with self._turn(chat_id):
            conversation = self._conversation(chat_id)
            try:
                async with self._typing(context.bot, chat_id):
                    answer = await self._in_thread(self._ask, question, conversation)
            except QuestionError as exc:
                await self._reply(update, fmt.escape(f"Sorry: {exc}."))
                return
            except NoIndexError:
                await self._reply(update, fmt.escape(fmt.NOTHING_INDEXED))
                return
            log.info(
                "chat %s: %s in %.0f ms",
                chat_id,
                "answered" if answer.found else "not found",
                answer.timings_ms.get("total_ms", 0.0),
            )
            sources = [ref.as_dict() for ref in fmt.source_refs(answer)]
            key = self._remember(chat_id, conversation, sources)
            keyboard = None
            if sources:
                button = InlineKeyboardButton("Sources", callback_data=fmt.sources_callback(key))
                keyboard = InlineKeyboardMarkup([[button]])
            await self._reply(update, fmt.format_answer(answer), keyboard=keyboard)

    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: every source of the chat's last answer."""
        chat_id = update.effective_chat.id
        async with self._turn(chat_id):
            sources = answer_sources(self.store.get(chat_id))
            if sources is None:
                await self._reply(update, fmt.escape(fmt.NO_ANSWER_YET))
                return
            refs = [fmt.SourceRef.from_dict(s) for s in sources]
            await self._reply(update, fmt.format_sources(refs))

    async def on_sources_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The Sources button under an answer: that answer's sources, as a reply to it."""
        query = update.callback_query
        key = fmt.parse_sources_callback(query.data)
        chat = query.message.chat if query.message is not None else None
        sources = answer_sources(self.store.get(chat.id), key) if chat and key else None
        if sources is None:
            await query.answer(fmt.SOURCES_GONE)
            return
        await query.answer()
        refs = [fmt.SourceRef.from_dict(s) for s in sources]
        async with self._turn(chat.id):
            await self._send(
                context.bot, chat.id, fmt.format_sources(refs), reply_to=query.message.message_id
            )

    async def on_reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/reset: forget this chat's conversation (older Sources buttons stop working)."""
        chat_id = update.effective_chat.id
        async with self._turn(chat_id):
            conversation = self._conversations.pop(chat_id, None)
            if conversation is not None:
                conversation.reset()
            record = self.store.get(chat_id)
            self.store.put(chat_id, {"next": record.get("next", 0)})
            await self._reply(update, fmt.escape(fmt.RESET_DONE))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot knows and how to ask."""
        stats = await asyncio.to_thread(self.service.stats)  # not queued behind questions
        group = update.effective_chat.type != ChatType.PRIVATE
        text = fmt.format_help(stats, admin=self._is_admin(update), group=group)
        await self._reply(update, text)

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the bot does not have."""
        command, _, target = (update.effective_message.text or "/").split()[0].partition("@")
        if target and target.lower() != (context.bot.username or "").lower():
            return  # meant for another bot
        text = f"I don't know the command {fmt.shorten(command, 40)}; /help lists mine."
        await self._reply(update, fmt.escape(text))

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, stickers, voice and the like: say what the bot can read (private chats)."""
        if update.effective_chat.type == ChatType.PRIVATE:
            await self._reply(update, fmt.escape(fmt.NOT_TEXT))

    # --- admin ---------------------------------------------------------------------------------
    def _feeds(self) -> list[str]:
        from index.feeds import configured_feeds

        return configured_feeds(self.settings)

    def _reindex(self) -> str:
        """Re-read the article folders (pruning what is gone from them) and poll the feeds."""
        blocks = []
        if self.settings.article_dirs:
            report = self.service.index_paths(self.settings.article_dirs, prune=True)
            blocks.append(fmt.format_report(report, title="Article folders"))
        if self._feeds():
            blocks.append(self._poll_feeds())
        return "\n\n".join(blocks)

    def _poll_feeds(self) -> str:
        from index.feeds import poll_feeds

        update = poll_feeds(self.service, self.settings)
        title = update.summary.line()
        return fmt.format_report(update.report, title=title)

    async def on_reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admin /reindex: re-read the article folders and feeds, then report what changed."""
        if await self._refuse_non_admin(update):
            return
        if not self.settings.article_dirs and not self._feeds():
            await self._reply(
                update,
                "Nothing to re-read: set <code>NEWSDESK_ARTICLE_DIRS</code> (or add feeds), "
                "or send me article files.",
            )
            return
        status = await self._reply(update, "Re-reading the articles…")
        async with self._typing(context.bot, update.effective_chat.id):
            text = await self._admin_job(self._reindex)
        await self._edit(status, update, text)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admin /update: poll the feeds now and report what was indexed."""
        if await self._refuse_non_admin(update):
            return
        if not self._feeds():
            await self._reply(update, fmt.format_feeds([]))
            return
        status = await self._reply(update, "Polling the feeds…")
        async with self._typing(context.bot, update.effective_chat.id):
            text = await self._admin_job(self._poll_feeds)
        await self._edit(status, update, text)

    async def _admin_job(self, func: Callable[[], str]) -> str:
        """Run an indexing job in the indexing thread; the text to show for it."""
        try:
            return await self._indexing(func) or "Nothing to do."
        except LockedError:
            return fmt.escape(fmt.BUSY)

    async def on_feeds(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admin /feeds: the feeds and how their last poll went."""
        if await self._refuse_non_admin(update):
            return
        rows = await asyncio.to_thread(self._feed_rows)
        await self._reply(update, fmt.format_feeds(rows))

    def _feed_rows(self) -> list[dict]:
        from index.feeds import FeedState

        state = FeedState.load(self.settings.data_dir)
        rows = []
        for url in self._feeds():
            record = state.feeds.get(url, {})
            entries = record.get("entries", {})
            rows.append(
                {
                    "url": url,
                    "title": record.get("title"),
                    "last_checked": record.get("checked"),
                    "status": record.get("status"),
                    "error": record.get("error"),
                    "entries": len(entries),
                    "indexed": sum(e.get("status") == "indexed" for e in entries.values()),
                }
            )
        return rows

    async def on_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admin /stats: articles, chunks, model and sizes, as `newsdesk stats` shows them."""
        if await self._refuse_non_admin(update):
            return
        stats = await asyncio.to_thread(partial(self.service.stats, verify=True))
        await self._reply(update, fmt.format_stats(stats))

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An article file from an admin: checked, downloaded, indexed, summarised."""
        message = update.effective_message
        if message.chat.type != ChatType.PRIVATE:
            return  # documents are taken in private chats only
        if await self._refuse_non_admin(update):
            return
        document = message.document
        name, reason = upload_name(document.file_name)
        shown = fmt.escape(fmt.shorten(document.file_name or "this file", 60))
        if name is None:
            await self._reply(update, f"I can't add {shown}: {fmt.escape(reason)}.")
            return
        too_big = (
            f"I can't add {shown}: it is larger than {MAX_UPLOAD_BYTES // 2**20} MB. Split it "
            "into smaller files, or index it on the server with <code>newsdesk index</code>."
        )
        if (document.file_size or 0) > MAX_UPLOAD_BYTES:
            await self._reply(update, too_big)
            return
        status = await self._reply(update, f"Reading {shown}…")
        async with self._typing(context.bot, message.chat_id):
            text = await self._download_and_index(context.bot, document, name, shown, too_big)
        await self._edit(status, update, text)

    async def _download_and_index(
        self, bot: Any, document: Any, name: str, shown: str, too_big: str
    ) -> str:
        """Fetch an uploaded document from Telegram and index it; the text to show for it."""
        try:
            file = await bot.get_file(document.file_id)
            if (file.file_size or 0) > MAX_UPLOAD_BYTES:
                return too_big
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("download of an uploaded document failed: %s", exc)
            return f"I couldn't download {shown} from Telegram; please send it again."
        if len(data) > MAX_UPLOAD_BYTES:
            return too_big
        return await self._admin_job(partial(self._index_upload, name, data))

    def _index_upload(self, name: str, data: bytes) -> str:
        """Keep the file under DATA_DIR/uploads and index it; a file that gave no article is
        not kept."""
        self.uploads.mkdir(parents=True, exist_ok=True)
        path = self.uploads / name
        existed = path.exists()
        write_atomic(path, lambda tmp: tmp.write_bytes(data))
        report = self.service.index_paths([str(path)])
        if not existed and report.added + report.updated + report.unchanged == 0:
            path.unlink(missing_ok=True)
        return fmt.format_report(report, title=name, hide=[f"{self.uploads}{os.sep}"])

    # --- jobs and errors -----------------------------------------------------------------------
    async def _save_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Write the chat state file when it changed (the snapshot is taken on the loop)."""
        snapshot = self.store.snapshot()
        if snapshot is None:
            return
        try:
            await asyncio.to_thread(self.store.save, snapshot)
        except OSError as exc:
            log.error("could not save the chat state: %s", exc)
            self.store.mark_dirty()

    def _refresh(self) -> None:
        try:
            self._ensure_searcher()
        except NoIndexError:
            return
        if self.service.searcher.refresh():
            log.info("index generation %s loaded", self.service.searcher.snapshot.generation)

    async def _refresh_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Load an index generation written by another process (`newsdesk index`)."""
        await self._in_thread(self._refresh)

    async def _feeds_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Poll the feeds on schedule (none configured: nothing to do); skipped while another
        update runs."""
        if not await asyncio.to_thread(self._feeds):
            return
        try:
            summary = await self._indexing(self._poll_feeds)
        except LockedError as exc:
            log.info("feed poll skipped: %s", exc)
            return
        log.info("feed poll: %s", fmt.plain_text(summary).replace("\n", "; "))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what went wrong (the token is redacted) and tell the user, in fixed words."""
        error = context.error
        if isinstance(error, Forbidden):
            log.info("Telegram refused a message (the user blocked the bot?): %s", error)
            return
        if isinstance(error, NetworkError) and not isinstance(update, Update):
            log.warning("Telegram is unreachable: %s", error)
            return
        log.error("error while handling an update", exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(update.effective_chat.id, fmt.ERROR)
            except TelegramError as exc:
                log.warning("could not tell the user about the error: %s", exc)


_SEARCHER_LOCK = threading.Lock()


def _conversation_class() -> Any:
    try:
        from bot.conversation import Conversation
    except ImportError:
        log.warning("bot.conversation is missing: follow-up questions are not understood")
        return None
    return Conversation


def run_bot(settings: Settings, *, public: bool = False, verbose: bool = False) -> None:
    """Run the bot until Ctrl-C or SIGTERM; TelegramError at start-up comes out redacted."""
    token = check_token(settings.telegram_bot_token)
    redact = configure_logging(token, verbose=verbose)
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
