"""The per-chat filter commands (/since, /until, /source, /filters) and /latest. A mixin of
`NewsdeskBot`. A chat's filter is kept in its chat record (`filters`, `Filter.as_dict()`), so it
survives restarts with the conversation and narrows every question the chat asks."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.answering.filter_commands import apply_filter_command
from bot.telegram import format as fmt
from index.search.filters import Filter, FilterError
from index.search.searcher import NoIndexError

LATEST_SHOWN = 10


def chat_filter(record: dict) -> Filter:
    """The filter saved in a chat record (none: the empty filter)."""
    return Filter.from_dict(record.get("filters"))


class ScopeHandlers:
    """Handlers for the chat's filter and the newest headlines."""

    def _filter_change(self, command: str, argument: str, current: Filter) -> tuple[Filter, str]:
        self._ensure_searcher()  # outlets are checked against the index
        return apply_filter_command(
            command,
            argument,
            current,
            today=self.service.today(),
            check=self.service.check_filter,
        )

    async def on_filter_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/since, /until, /source, /filters: change or show this chat's filter."""
        message = update.effective_message
        command, _, argument = (message.text or "").strip().partition(" ")
        chat_id = message.chat_id
        async with self._turn(chat_id):
            record = self.store.get(chat_id)
            current = chat_filter(record)
            try:
                updated, said = await self._in_thread(
                    self._filter_change, command, argument, current
                )
            except FilterError as exc:
                await self._reply(update, fmt.escape(fmt.bad_filter(str(exc))))
                return
            except NoIndexError:
                await self._reply(update, fmt.escape(fmt.NOTHING_INDEXED))
                return
            if updated != current:
                saved = {**record, "filters": updated.as_dict()}
                if not updated.active:
                    saved.pop("filters")
                self.store.put(chat_id, saved)
            await self._reply(update, fmt.escape(said))

    def _latest(self, flt: Filter) -> list[dict]:
        self._ensure_searcher()
        return self.service.latest(LATEST_SHOWN, flt if flt.active else None)

    async def on_latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/latest: the newest headlines (within the chat's filter) with date, outlet and link."""
        chat_id = update.effective_chat.id
        async with self._turn(chat_id):
            flt = chat_filter(self.store.get(chat_id))
            try:
                rows = await self._in_thread(self._latest, flt)
            except NoIndexError:
                await self._reply(update, fmt.escape(fmt.NOTHING_INDEXED))
                return
            await self._reply(update, fmt.format_latest(rows, flt))
