"""Everything the Telegram bot says, as Telegram HTML: answers, sources, help, stats, reports.

Every piece of article text, question and file name goes through `escape` (or `attr` inside
an attribute); only the tags written here reach Telegram. Long replies are cut into messages
in `bot.telegram.split`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.answering.answer import NOT_FOUND, Answer
from bot.answering.filter_commands import HELP_LINES as FILTER_HELP
from bot.answering.llm.result import fallback_line
from bot.answering.scope import scope_lines
from index.models import Hit
from index.search.filters import Filter
from index.text import one_line

MAX_CALLBACK_DATA = 64  # bytes
SOURCES_IN_ANSWER = 3
SNIPPET_CHARS = 280
MAX_URL_CHARS = 1000  # longer URLs are shown as plain text, not as links
SOURCES_PREFIX = "src:"

COMMANDS = [  # (command, description) as registered with set_my_commands
    ("help", "what I know and how to ask"),
    ("sources", "all sources of the last answer"),
    ("reset", "forget this conversation"),
    ("latest", "the newest headlines"),
    *((name.split()[0], text) for name, text in FILTER_HELP),
]
ADMIN_COMMANDS = [
    ("reindex", "re-read the article folders (and feeds)"),
    ("update", "poll the feeds now"),
    ("feeds", "the feeds and their last poll"),
    ("stats", "index size and model"),
]

REFUSAL = "Sorry, this is a private bot and you are not on its list of users."
ADMIN_ONLY = "Sorry, only the bot's admins can do that."
ERROR = "Sorry, something went wrong while handling that. Please try again in a moment."
NOTHING_INDEXED = "Nothing is indexed yet, so I can't answer questions. An admin can fix that."
BUSY = "The index is being updated by another process; please try again in a minute."
NOT_TEXT = "I can only read text questions. Ask me something about the news, or send /help."
RESET_DONE = "Conversation cleared. Ask a new question."
NO_ANSWER_YET = "No answer yet: ask a question first."
SOURCES_GONE = "Those sources are no longer available; ask the question again."


# --- escaping ----------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Text safe between Telegram HTML tags."""
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    """Text safe inside a double-quoted Telegram HTML attribute."""
    return html.escape(text, quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL when it can be a link (http/https, no spaces or control characters)."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    url = url.strip()
    if not re.match(r"https?://[^\s/?#]+", url, re.IGNORECASE):
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    return url


def link(text: str, url: str | None) -> str:
    url = safe_url(url)
    return f'<a href="{attr(url)}">{escape(text)}</a>' if url else escape(text)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word boundary with an ellipsis."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


# --- sources -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SourceRef:
    """What the bot keeps of one source to list it later (JSON-safe through `as_dict`)."""

    article_id: str
    title: str
    url: str | None = None
    published: str | None = None
    outlet: str | None = None
    snippet: str = ""

    @classmethod
    def from_hit(cls, hit: Hit) -> SourceRef:
        return cls(
            article_id=hit.article_id,
            title=one_line(hit.title) or "(untitled)",
            url=hit.url,
            published=hit.published,
            outlet=hit.source,
            snippet=shorten(hit.text, SNIPPET_CHARS),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceRef:
        names = {"article_id", "title", "url", "published", "outlet", "snippet"}
        values = {k: v for k, v in data.items() if k in names}
        values = {k: (str(v) if v is not None else None) for k, v in values.items()}
        values.setdefault("article_id", "")
        values.setdefault("title", "(untitled)")
        values["snippet"] = values.get("snippet") or ""
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_refs(answer: Answer) -> list[SourceRef]:
    """Every source of an answer, in rank order."""
    return [SourceRef.from_hit(hit) for hit in answer.sources]


def _date(published: str | None) -> str | None:
    """The date part of an ISO date or datetime."""
    if not published:
        return None
    match = re.match(r"\d{4}-\d{2}-\d{2}", published.strip())
    return match.group(0) if match else one_line(published)[:40]


def source_line(ref: SourceRef) -> str:
    """Headline (a link when there is a URL) — outlet, date."""
    meta = ", ".join(
        escape(p) for p in (ref.outlet and one_line(ref.outlet), _date(ref.published)) if p
    )
    return link(ref.title, ref.url) + (f" — {meta}" if meta else "")


def _distinct_articles(refs: Sequence[SourceRef], first: int | None, limit: int) -> list[SourceRef]:
    """Up to `limit` sources from different articles, the answer's own source first."""
    ordered = ([refs[first]] if first is not None and 0 <= first < len(refs) else []) + list(refs)
    chosen: list[SourceRef] = []
    seen: set[str] = set()
    for ref in ordered:
        if ref.article_id not in seen:
            seen.add(ref.article_id)
            chosen.append(ref)
        if len(chosen) == limit:
            break
    return chosen


def _quote(answer: Answer) -> str | None:
    """The evidence sentence with the answer in bold, or None when there is none."""
    evidence = answer.evidence
    if not evidence:
        return None
    a = b = None
    if None not in (answer.answer_start, answer.answer_end, answer.evidence_start):
        a = answer.answer_start - answer.evidence_start  # type: ignore[operator]
        b = answer.answer_end - answer.evidence_start  # type: ignore[operator]
    if a is None or b is None or not (0 <= a < b <= len(evidence)):
        return escape(one_line(evidence))
    before = _squash(evidence[:a]).lstrip()
    middle = _squash(evidence[a:b])
    after = _squash(evidence[b:]).rstrip()
    if not middle.strip():
        return escape(one_line(evidence))
    lead = " " if middle.startswith(" ") and before else ""
    trail = " " if middle.endswith(" ") and after else ""
    return f"{escape(before)}{lead}<b>{escape(middle.strip())}</b>{trail}{escape(after)}"


def _squash(text: str) -> str:
    """Runs of whitespace (newlines included) as one space, ends kept."""
    return re.sub(r"\s+", " ", text)


def format_answer(answer: Answer) -> str:
    """Bold short answer, the evidence as a quote with the answer highlighted, then 1–3 sources.
    Without a confident answer: the honest not-found line and the closest passages. A follow-up
    that was rewritten ends with how it was read."""
    parts = _answer_parts(answer)
    query = one_line(answer.rewritten_query or "")
    if query and query != one_line(answer.question or ""):
        parts.append(f"<i>(read as: {escape(shorten(query, 300))})</i>")
    footer = scope_lines(answer)  # "filtered: Reuters, since 2024-01-01"
    if footer:
        parts.append("\n".join(f"<i>{escape(line)}</i>" for line in footer))
    return "\n\n".join(parts)


def _answer_parts(answer: Answer) -> list[str]:
    generated = answer.generated
    if generated is not None and generated.fallback is None:
        return _llm_parts(answer)
    parts = _reader_parts(answer)
    if generated is not None and generated.fallback is not None:
        parts.append(f"<i>{escape(fallback_line(one_line(generated.fallback)))}</i>")
    return parts


def _llm_parts(answer: Answer) -> list[str]:
    """The LLM's checked sentence in bold (or the honest refusal), the reader's short answer with
    its quote beside it (saying so when the two disagree), the cited articles as Sources."""
    generated = answer.generated
    assert generated is not None
    refs = source_refs(answer)
    reader = f"<b>{escape(one_line(answer.text))}</b>" if answer.text else None
    if generated.answered:
        parts = [f"<b>{escape(one_line(generated.text or ''))}</b>"]
        if reader is None:
            parts.append("<i>The extractive reader found no confident short answer.</i>")
        elif generated.reader_agrees is False:
            parts.append(f"The extractive reader disagrees: {reader}")
        else:
            parts.append(f"Extractive reader: {reader}")
    else:
        parts = [f"<b>{escape(NOT_FOUND)}</b>"]
        if reader is not None:
            parts.append(
                f"The extractive reader suggests {reader}, but the LLM found no answer in the "
                "passages."
            )
    quote = _quote(answer) if reader is not None else None
    if quote:
        parts.append(f"<blockquote>{quote}</blockquote>")
    if generated.dropped:
        dropped = ", ".join(f"[{n}]" for n in generated.dropped)
        parts.append(f"<i>(removed citations of passages the LLM was not given: {dropped})</i>")
    cited = [(c.n, refs[c.hit_index]) for c in generated.citations if c.hit_index < len(refs)]
    if generated.answered and cited:
        lines = [f"[{n}] {source_line(ref)}" for n, ref in cited]
        parts.append(("Source: " if len(lines) == 1 else "Sources:\n") + "\n".join(lines))
    elif not generated.answered:
        shown = _distinct_articles(refs, None, SOURCES_IN_ANSWER)
        if shown:
            lines = ["The closest passages:"]
            lines += [f"{i}. {source_line(ref)}" for i, ref in enumerate(shown, 1)]
            parts.append("\n".join(lines))
    return parts


def _reader_parts(answer: Answer) -> list[str]:
    refs = source_refs(answer)
    parts: list[str] = []
    if answer.found:
        head = f"<b>{escape(one_line(answer.dated_text or answer.text or ''))}</b>"
        if answer.as_of:
            head += f"\n<i>as of {escape(one_line(answer.as_of))}</i>"
        parts.append(head)
        quote = _quote(answer)
        if quote:
            parts.append(f"<blockquote>{quote}</blockquote>")
        shown = _distinct_articles(refs, answer.source_index, SOURCES_IN_ANSWER)
        if len(shown) == 1:
            parts.append(f"Source: {source_line(shown[0])}")
        elif shown:
            lines = ["Sources:"] + [f"{i}. {source_line(r)}" for i, r in enumerate(shown, 1)]
            parts.append("\n".join(lines))
        return parts
    parts.append(f"<b>{escape(answer.note or NOT_FOUND)}</b>")
    shown = _distinct_articles(refs, None, SOURCES_IN_ANSWER)
    if shown:
        lines = ["The closest passages:"]
        for i, ref in enumerate(shown, 1):
            lines.append(f"{i}. {source_line(ref)}")
            if ref.snippet:
                lines.append(f"<i>{escape(ref.snippet)}</i>")
        parts.append("\n".join(lines))
    return parts


def format_sources(refs: Sequence[SourceRef]) -> str:
    """Every source of one answer, by article: headline link, outlet, date, then its passages."""
    if not refs:
        return "That answer has no sources."
    articles: dict[str, list[SourceRef]] = {}
    for ref in refs:
        articles.setdefault(ref.article_id, []).append(ref)
    passages = f"{len(refs)} passage" + ("s" if len(refs) != 1 else "")
    where = f"{len(articles)} article" + ("s" if len(articles) != 1 else "")
    blocks = [f"<b>Sources</b> ({passages} from {where})"]
    for i, group in enumerate(articles.values(), 1):
        lines = [f"{i}. {source_line(group[0])}"]
        lines += [f"<i>{escape(ref.snippet)}</i>" for ref in group if ref.snippet]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def sources_callback(key: str) -> str:
    """Callback data of a Sources button; ValueError when it would not fit in 64 bytes."""
    data = SOURCES_PREFIX + key
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError(f"callback data too long ({len(data.encode())} bytes)")
    return data


def parse_sources_callback(data: str | None) -> str | None:
    """The answer key in a Sources button's callback data, or None when it is not one."""
    if not data or not data.startswith(SOURCES_PREFIX):
        return None
    key = data[len(SOURCES_PREFIX) :]
    return key if re.fullmatch(r"[0-9a-z]{1,16}", key) else None


# --- help, stats, reports ----------------------------------------------------------------------
def format_help(
    stats: dict[str, Any], *, admin: bool = False, group: bool = False, flt: Filter | None = None
) -> str:
    """What the bot knows (article count, outlets, dates), how to ask, the chat's filter."""
    if stats.get("indexed") and stats.get("articles"):
        newest = _date(stats.get("newest_published"))
        knows = f"I know <b>{stats['articles']:,}</b> news article" + (
            "s" if stats["articles"] != 1 else ""
        )
        knows += f", the newest from {escape(newest)}." if newest else "."
    else:
        knows = "Nothing is indexed yet, so I can't answer questions until an admin adds articles."
    how = (
        "Mention me or reply to one of my messages with a question"
        if group
        else "Send me a question"
    )
    lines = [
        knows,
        "",
        f"{how} about them, e.g. <i>who hosts 650,000 refugees?</i> I answer with the short "
        "answer, the sentence I read it in and the articles it came from. Follow-up questions "
        "(<i>who is its army chief?</i>) are understood in context.",
        "",
    ]
    lines[1:1] = _known_lines(stats)
    lines += [f"/{name} — {escape(text)}" for name, text in COMMANDS]
    lines += ["", escape(f"This chat's filter: {flt.describe()}." if flt and flt.active else
                         "No filter: every article is searched.")]  # fmt: skip
    if admin:
        lines += ["", "Admin:"] + [f"/{name} — {escape(text)}" for name, text in ADMIN_COMMANDS]
        lines.append("Send a .txt, .md, .html, .json or .jsonl file to add its articles.")
    return "\n".join(lines)


def _known_lines(stats: dict[str, Any]) -> list[str]:
    """Which outlets and dates the articles come from (after `stats()`)."""
    lines = []
    if stats.get("oldest_day"):
        lines.append(f"They date from {stats['oldest_day']} to {stats['newest_day']}.")
    outlets = stats.get("outlets") or []
    if outlets:
        names = ", ".join(f"{o['name']} ({o['articles']:,})" for o in outlets[:8])
        more = f" and {len(outlets) - 8:,} more" if len(outlets) > 8 else ""
        lines.append(f"Outlets: {names}{more}.")
    return [escape(line) for line in lines]


def bad_filter(problem: str) -> str:
    return f"Sorry: {problem}."


def format_latest(rows: Sequence[dict[str, Any]], flt: Filter | None = None) -> str:
    """The newest headlines as links, with outlet and date."""
    scope = f" ({escape(flt.describe())})" if flt is not None and flt.active else ""
    if not rows:
        return f"No dated articles{scope}."
    lines = [f"<b>Latest headlines</b>{scope}"]
    for i, row in enumerate(rows, 1):
        ref = SourceRef(row["article_id"], one_line(row["title"]) or "(untitled)", row["url"],
                        row["date"], row["outlet"])  # fmt: skip
        lines.append(f"{i}. {source_line(ref)}")
    return "\n".join(lines)


_VERIFY_KEYS = ("faiss_vectors", "bm25_chunks", "consistent", "problem")
REPAIR = (
    "Run <code>newsdesk doctor --repair</code> on the server to rebuild them from the database."
)


def format_stats(stats: dict[str, Any]) -> str:
    """`newsdesk stats` as a preformatted block; after `stats(verify=True)`, one line on whether
    the FAISS and BM25 files are in step with the database (in bold when they are not)."""
    from bot.cli.render import format_stats as plain

    table = {k: v for k, v in stats.items() if k not in _VERIFY_KEYS}
    text = f"<pre>{escape(plain(table))}</pre>"
    line = index_files_line(stats)
    return f"{text}\n{line}" if line else text


def index_files_line(stats: dict[str, Any]) -> str | None:
    """What `stats(verify=True)` found in the FAISS and BM25 files; None when not verified."""
    if "consistent" not in stats or not stats.get("indexed"):
        return None
    if stats.get("backend") == "milvus":
        if stats["consistent"]:
            return "Index in Milvus: every chunk belongs to its article."
        stray = stats.get("stray_chunks", 0)
        return f"<b>Index in Milvus</b>: {stray:,} chunks belong to no article. " + REPAIR.replace(
            " to rebuild them from the database", " to delete them"
        )
    vectors, entries = stats.get("faiss_vectors"), stats.get("bm25_chunks")
    if vectors is None or entries is None:
        problem = one_line(str(stats.get("problem") or "a file is missing or unreadable"))
        return f"<b>Index files DAMAGED</b>: {escape(shorten(problem, 300))}. {REPAIR}"
    held = f"FAISS {vectors:,} vectors, BM25 {entries:,} chunks"
    if stats.get("consistent"):
        return f"Index files: {held} — in step with the database."
    chunks = stats.get("chunks")
    if isinstance(chunks, int):
        held += f", {chunks:,} chunks in SQLite"
    return f"<b>Index files NOT in step with the database</b>: {held}. {REPAIR}"


def format_report(report: Any, *, title: str | None = None, hide: Iterable[str] = ()) -> str:
    """An indexing summary in the CLI's words; `hide` prefixes (server paths) are removed."""
    from bot.cli.render import format_report as plain

    text = plain(report)
    for prefix in hide:
        if prefix:
            text = text.replace(prefix, "")
    head = f"<b>{escape(title)}</b>\n" if title else ""
    return head + escape(text)


def format_feeds(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "No feeds configured (NEWSDESK_FEEDS or `newsdesk feeds add URL`)."
    blocks = []
    for row in rows:
        title = f" — {escape(one_line(row['title']))}" if row.get("title") else ""
        block = f"{link(row['url'], row['url'])}{title}"
        if row.get("last_checked"):
            block += (
                f"\nchecked {escape(str(row['last_checked']))}: {escape(str(row['status']))}, "
                f"{row['entries']} entries ({row['indexed']} indexed)"
            )
            if row.get("error"):
                block += f"; error: {escape(shorten(str(row['error']), 200))}"
        else:
            block += "\nnever polled"
        blocks.append(block)
    return "\n\n".join(blocks)
