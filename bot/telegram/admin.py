"""The admin commands: /reindex, /update, /feeds, /stats and documents sent to the bot to index.
A mixin of `NewsdeskBot`; indexing runs on the bot's one-thread indexing pool."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    ContextTypes,
)

from bot.telegram import format as fmt
from index.atomic import write_atomic
from index.ingest.files import SUFFIXES
from index.store.lock import LockedError

log = logging.getLogger("newsdesk.telegram")

MAX_UPLOAD_BYTES = 10 * 2**20  # documents larger than this are refused before downloading
UPLOADS_DIR = "uploads"  # under the data directory: uploaded article files, kept for re-indexing


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


class AdminHandlers:
    """Handlers only admins may use (`_refuse_non_admin` checks first)."""

    def _feeds(self) -> list[str]:
        from index.ingest.feeds import configured_feeds

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
        from index.ingest.feeds import poll_feeds

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
        from index.ingest.feed_state import FeedState

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
