"""The Telegram bot: `newsdesk telegram` (python-telegram-bot v22, long polling).

Handlers are thin: they check who is asking, then hand the work to `Newsdesk` in a thread pool
(questions) or a one-thread pool (indexing), so a slow question or a re-index never blocks
other chats. Updates are processed concurrently; each chat takes turns (an asyncio lock per
chat), so its questions are answered in the order they were asked. Everything the bot says is
built in `bot.telegram.format`; per-chat conversations and the last answers' sources live in
`bot.telegram.chats`. The bot token is redacted from every log line (`RedactSecrets`), and users
only ever see fixed wording when something fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
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
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
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

from bot.answering.service import Newsdesk, QuestionError
from bot.telegram import format as fmt
from bot.telegram import split
from bot.telegram.access import Gate, check_token
from bot.telegram.admin import UPLOADS_DIR, AdminHandlers
from bot.telegram.chats import ChatStore, add_answer, answer_sources
from bot.telegram.scope import ScopeHandlers, chat_filter
from index.search.searcher import NoIndexError
from index.settings import Settings
from index.store.lock import LockedError

log = logging.getLogger("newsdesk.telegram")

TYPING_EVERY = 4.5  # seconds; Telegram shows "typing…" for 5 s per chat action
SAVE_EVERY = 1.0  # seconds between writes of the chat state file (when something changed)
REFRESH_EVERY = 30.0  # seconds between checks for an index generation written by another process
FEED_POLL_FIRST = 60.0
CONVERSATIONS_IN_MEMORY = 2000  # more live in the chat state file
REFUSED_REMEMBERED = 100_000
NOT_MODIFIED = "message is not modified"  # Telegram's 400 for an edit to the same content
T = TypeVar("T")


class NewsdeskBot(AdminHandlers, ScopeHandlers):
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
            ("latest", self.on_latest),
            *((name, self.on_filter_command) for name in ("since", "until", "source", "filters")),
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
            self.service.ask("warm up", generate=False)  # no LLM call at start-up

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
        parts = split.split_html(html_text) or [fmt.escape("…")]
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
                sent = await bot.send_message(chat_id, split.plain_text(part), **options)
        return sent

    async def _reply(self, update: Update, html_text: str, **kwargs: Any) -> Message | None:
        message = update.effective_message
        return await self._send(
            message.get_bot(), message.chat_id, html_text, reply_to=message.message_id, **kwargs
        )

    async def _edit(self, status: Message | None, update: Update, html_text: str) -> None:
        """Replace a status message's text (a new message when it is too long or gone; nothing
        when Telegram says it already shows this text)."""
        parts = split.split_html(html_text)
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

    def _ask(self, question: str, conversation: Any, flt: Any = None) -> Any:
        self._ensure_searcher()
        return self.service.ask(question, conversation=conversation, flt=flt)

    async def on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A question: answered in this chat's turn, in a worker thread, with "typing…"."""
        message = update.effective_message
        question = self._question_text(message, context.bot)
        chat_id = message.chat_id
        async with self._turn(chat_id):
            conversation = self._conversation(chat_id)
            flt = chat_filter(self.store.get(chat_id))
            try:
                async with self._typing(context.bot, chat_id):
                    answer = await self._in_thread(self._ask, question, conversation, flt)
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
            kept = {k: record[k] for k in ("filters",) if k in record}  # the filter stays
            self.store.put(chat_id, {"next": record.get("next", 0), **kept})
            await self._reply(update, fmt.escape(fmt.RESET_DONE))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot knows and how to ask."""
        stats = await asyncio.to_thread(self.service.stats)  # not queued behind questions
        group = update.effective_chat.type != ChatType.PRIVATE
        flt = chat_filter(self.store.get(update.effective_chat.id))
        text = fmt.format_help(stats, admin=self._is_admin(update), group=group, flt=flt)
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
        log.info("feed poll: %s", split.plain_text(summary).replace("\n", "; "))

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
        from bot.answering.conversation import Conversation
    except ImportError:
        log.warning("bot.answering.conversation is missing: follow-up questions are not understood")
        return None
    return Conversation


def file_base_url(base_url: str) -> str:
    """The file download URL that goes with a Bot API URL (…/bot → …/file/bot)."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


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
