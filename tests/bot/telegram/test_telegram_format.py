"""Telegram HTML: hostile article text escaped, answers laid out, long replies split at 4096
with balanced tags (property-tested against the fake server's Telegram HTML parser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fake_telegram import TelegramHTMLError, parse_telegram_html, utf16_len
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answering.answer import NOT_FOUND, Answer
from bot.telegram import format as fmt
from bot.telegram import split
from bot.telegram.chats import add_answer
from index.models import Hit
from index.text import one_line

HOSTILE_TITLE = '<script>alert("x")</script> Tom & Jerry </b><i>'
HOSTILE_TEXT = (
    "Markets <b>fell & rose</i> as the <a href='x'>central bank</a> met. "
    "The bank's governor is Ana <Smith> &amp; co. Shares closed 3% higher."
)


def hit(text: str = HOSTILE_TEXT, **kw) -> Hit:
    values = dict(
        chunk_id=1,
        article_id="a1",
        text=text,
        start=0,
        end=len(text),
        title=HOSTILE_TITLE,
        published="2024-03-01T10:00:00Z",
        url='https://news.example/a?x=1&y="2"',
        source="Wire <Ltd>",
    )
    values.update(kw)
    return Hit(**values)


def found_answer(h: Hit, answer_text: str, *, question: str = "who is the governor?") -> Answer:
    start = h.text.index(answer_text)
    sentence_start = h.text.index("The bank")
    sentence_end = h.text.index("Shares") - 1
    return Answer(
        question=question,
        rewritten_query=question,
        text=answer_text,
        confidence=0.9,
        sources=[h, hit(article_id="a2", chunk_id=2, url="javascript:alert(1)", title="Second")],
        source_index=0,
        answer_start=start,
        answer_end=start + len(answer_text),
        evidence_start=sentence_start,
        evidence_end=sentence_end,
    )


def test_hostile_article_text_is_escaped_and_the_answer_is_bold_in_the_quote():
    h = hit()
    out = fmt.format_answer(found_answer(h, "Ana <Smith>"))
    visible = parse_telegram_html(out)  # Telegram would accept it
    assert out.startswith("<b>Ana &lt;Smith&gt;</b>")
    assert (
        "<blockquote>The bank's governor is <b>Ana &lt;Smith&gt;</b> &amp;amp; co.</blockquote>"
        in out
    )
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert HOSTILE_TITLE in visible and "Wire <Ltd>, 2024-03-01" in visible
    assert '<a href="https://news.example/a?x=1&amp;y=&quot;2&quot;">' in out
    # a javascript: URL is never a link; its headline is plain text
    assert "javascript" not in out and "2. Second — Wire &lt;Ltd&gt;" in out


def test_answer_highlight_keeps_a_possessive_attached():
    text = "Officials said Jordan's army chief met him. Jordan hosts 650,000 refugees."
    h = hit(text=text, title="Jordan")
    answer = Answer("q", "q", "Jordan", 0.9, [h], 0, 15, 21, 0, 43)
    assert fmt.format_answer(answer).split("\n\n")[1] == (
        "<blockquote>Officials said <b>Jordan</b>'s army chief met him.</blockquote>"
    )


def test_sources_in_an_answer_are_one_per_article_and_at_most_three():
    hits = [hit(article_id=f"a{i % 4}", chunk_id=i, title=f"Story {i % 4}") for i in range(8)]
    answer = found_answer(hits[2], "Ana <Smith>")
    answer.sources, answer.source_index = hits, 2
    out = fmt.format_answer(answer)
    listed = re.findall(r"^\d\. .*?Story (\d)", out, re.M)
    assert listed == ["2", "0", "1"]  # the answer's own article first


def test_not_found_is_honest_and_shows_the_closest_passages():
    answer = Answer("who won?", "who won?", None, 0.1, [hit()])
    out = fmt.format_answer(answer)
    parse_telegram_html(out)
    assert out.startswith(f"<b>{fmt.escape(NOT_FOUND)}</b>")
    assert "The closest passages:" in out and "<i>Markets &lt;b&gt;fell" in out
    empty = fmt.format_answer(Answer("who won?", "who won?", None, 0.0, []))
    assert parse_telegram_html(empty) == NOT_FOUND


def test_a_rewritten_follow_up_says_how_it_was_read():
    answer = found_answer(hit(), "Ana <Smith>", question="who is its governor?")
    answer.rewritten_query = "who is the bank's <governor>?"
    out = fmt.format_answer(answer)
    assert out.endswith("<i>(read as: who is the bank's &lt;governor&gt;?)</i>")


def test_sources_list_groups_passages_by_article():
    refs = [
        fmt.SourceRef.from_hit(hit(article_id="a", chunk_id=1, text="First <passage>.")),
        fmt.SourceRef.from_hit(hit(article_id="b", chunk_id=2, title="Other", url=None)),
        fmt.SourceRef.from_hit(hit(article_id="a", chunk_id=3, text="Second & last.")),
    ]
    out = fmt.format_sources(refs)
    visible = parse_telegram_html(out)
    assert visible.startswith("Sources (3 passages from 2 articles)")
    assert "First <passage>.\nSecond & last." in visible
    assert "2. Other — Wire <Ltd>, 2024-03-01" in visible
    restored = [fmt.SourceRef.from_dict(r.as_dict()) for r in refs]
    assert restored == refs


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://x.org/a", "https://", "http://a b.org", "https://x.org/\x00",
     "data:text/html,<b>", "https://x.org/" + "a" * 2000, None, ""],
)  # fmt: skip
def test_only_plain_web_urls_become_links(url):
    assert fmt.link("Headline", url) == "Headline"


def test_callback_data_is_short_for_any_answer_number():
    record: dict = {}
    for _ in range(50):
        record, key = add_answer(record, [])
    assert key == "1d"
    huge, key = add_answer({"next": 10**18}, [])
    data = fmt.sources_callback(key)
    assert len(data.encode()) < 64 and fmt.parse_sources_callback(data) == key
    with pytest.raises(ValueError):
        fmt.sources_callback("x" * 61)
    for bad in (None, "", "src:", "src:../x", "other:1", "src:" + "a" * 40):
        assert fmt.parse_sources_callback(bad) is None


def test_help_says_what_the_bot_knows():
    stats = {"indexed": True, "articles": 1234, "newest_published": "2024-05-02T08:00:00Z"}
    out = fmt.format_help(stats)
    assert "I know <b>1,234</b> news articles, the newest from 2024-05-02." in out
    assert "/reindex" not in out and "/reindex" in fmt.format_help(stats, admin=True)
    assert "Nothing is indexed yet" in fmt.format_help({"indexed": False, "data_dir": "/x"})
    parse_telegram_html(fmt.format_help(stats, admin=True, group=True))


# --- splitting ---------------------------------------------------------------------------------
def squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_parts(source: str, parts: list[str], limit: int) -> None:
    for part in parts:
        assert split.tg_len(part) <= limit, part
        assert part.strip()
        parse_telegram_html(part)  # balanced, Telegram's tags only, entities intact
    visible = "".join(parse_telegram_html(p) for p in parts)
    assert squashed(visible) == squashed(parse_telegram_html(source))


def test_a_short_reply_is_one_message():
    assert split.split_html("  <b>Jordan</b>  ") == ["<b>Jordan</b>"]
    assert split.split_html("   ") == []


def test_split_at_4096_prefers_paragraphs_and_reopens_tags():
    paragraph = "<b>" + ("The kingdom hosts refugees. " * 40).strip() + "</b>"
    text = "\n\n".join([paragraph] * 12)
    parts = split.split_html(text)
    check_parts(text, parts, 4096)
    assert len(parts) > 1
    assert all(p.startswith("<b>The kingdom") and p.endswith(".</b>") for p in parts)

    quote = "<blockquote>" + ("Sentence &amp; more. " * 600).strip() + "</blockquote>"
    parts = split.split_html(quote)
    check_parts(quote, parts, 4096)
    assert all(p.startswith("<blockquote>") and p.endswith(".</blockquote>") for p in parts)


def test_a_word_longer_than_a_message_is_cut_and_emoji_count_double():
    text = '<a href="https://x.org/">' + "\U0001f600" * 5000 + "</a>"
    parts = split.split_html(text, 4096)
    check_parts(text, parts, 4096)
    assert all(p.startswith('<a href="https://x.org/">') for p in parts)


def test_the_fake_servers_parser_refuses_what_telegram_refuses():
    for bad in ["<b>x", "x</b>", "<b><i>x</b></i>", "<script>x</script>", "a < b", "&nbsp;"]:
        with pytest.raises(TelegramHTMLError):
            parse_telegram_html(bad)


_TAGS = ["b", "i", "u", "s", "code", "blockquote", "a"]
_words = st.text(
    alphabet=st.sampled_from(list("abc xyz<>&\"'.!?\n") + ["\U0001f600", "é"]),
    min_size=0,
    max_size=80,
)


@st.composite
def telegram_html(draw, depth: int = 0) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(st.sampled_from(_TAGS))
            inner = draw(telegram_html(depth + 1))
            if tag == "a":
                url = "https://x.org/" + draw(st.text('ab&"<', max_size=20))
                pieces.append(f'<a href="{fmt.attr(url)}">{inner}</a>')
            else:
                pieces.append(f"<{tag}>{inner}</{tag}>")
        else:
            pieces.append(fmt.escape(draw(_words)))
    return "".join(pieces)


@settings(max_examples=200, deadline=None)
@given(st.lists(telegram_html(), min_size=1, max_size=8), st.integers(16, 700))
def test_property_split_parts_fit_parse_and_lose_no_text(paragraphs, limit):
    text = "\n\n".join(paragraphs)
    if not parse_telegram_html(text).strip():
        return
    parts = split.split_html(text, limit)
    check_parts(text.strip(), parts, limit)


@pytest.mark.parametrize(
    "text",
    ["<b></b>" * 30 + "\U0001f600" * 50, "<b><i>" + "\U0001f600" * 100 + "</i></b>",
     ('<a href="https://x.org/' + "a" * 300 + '">x</a> ') * 3, "<b>" + "<i> </i>" * 40 + "word</b>"],
)  # fmt: skip
@pytest.mark.parametrize("limit", [16, 17, 20, 33, 120])
def test_split_survives_empty_elements_wide_characters_and_huge_tags(text, limit):
    check_parts(text, split.split_html(text, limit), limit)


def test_split_refuses_a_limit_too_small_for_any_message():
    with pytest.raises(ValueError):
        split.split_html("<b>x</b> " * 10, 15)


# --- hostile articles, property-tested ---------------------------------------------------------
_HOSTILE_PIECES = [
    "<", ">", "&", "&amp;", "&lt;b&gt;", "</b>", "<b>", "<i>x", "</blockquote>", "<blockquote>",
    '<a href="javascript:alert(1)">', "</a>", "<pre>", "<tg-spoiler>", "<!--", "-->", "<![CDATA[",
    '"', "'", "&#39;", "&#x1F600;", "&nbsp;", "&", ";", "\U0001f600", "\U0001f1ef\U0001f1f4",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "é", "e\u0301", "\u200b", "\u202e", "\n", "\n\n",
    " ", "\t", "\r\n", "Jordan", "650,000", ". ",
]  # fmt: skip
_piece = st.one_of(st.sampled_from(_HOSTILE_PIECES), st.text(max_size=12))
_hostile = st.lists(_piece, max_size=30).map("".join)
_long_hostile = st.one_of(
    _hostile,
    st.tuples(_hostile, st.integers(2, 600)).map(lambda t: (t[0] * t[1])[:12_000]),
)
_urls = st.one_of(
    st.none(),
    st.sampled_from(["javascript:alert(1)", "https://", "data:text/html,<b>x</b>", ""]),
    _hostile.map(lambda s: "https://news.example/" + s),
    _hostile.map(lambda s: 'https://x.org/?a=1&b="' + s.replace(" ", "")[:50]),
)
_dates = st.one_of(st.none(), st.just("2024-03-01T10:00:00Z"), _hostile)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs |= {v for k, v in attrs if k == "href" and v}


def _hrefs(html_text: str) -> set[str]:
    parser = _Links()
    parser.feed(html_text)
    parser.close()
    return parser.hrefs


@st.composite
def hostile_hits(draw) -> list[Hit]:
    hits = []
    for i in range(draw(st.integers(1, 3))):
        text = draw(_long_hostile)
        hits.append(
            Hit(
                chunk_id=i,
                article_id=f"article-{i}",
                text=text,
                start=0,
                end=len(text),
                title=draw(_long_hostile),
                published=draw(_dates),
                url=draw(_urls),
                source=draw(st.one_of(st.none(), _hostile)),
            )
        )
    return hits


def _sent_as_telegram_would(html_text: str) -> str:
    """The messages the bot would send for this reply, each checked as the fake server checks
    it; their visible text, joined."""
    parts = split.split_html(html_text)
    assert parts, html_text
    for part in parts:
        assert split.tg_len(part) <= split.MAX_MESSAGE
        visible = parse_telegram_html(part)  # TelegramHTMLError: Telegram would refuse it
        assert visible.strip() and utf16_len(visible) <= split.MAX_MESSAGE
    return "".join(parse_telegram_html(p) for p in parts)


def _shows(visible: str, raw: str) -> bool:
    """The raw text appears in what Telegram shows (as text, whitespace aside)."""
    return squashed(one_line(raw)) in squashed(visible)


def _check_sources_shown(out: str, visible: str, hits: list[Hit], *, snippets: bool) -> None:
    for h in hits:
        assert _shows(visible, h.title or "(untitled)"), h.title
        if h.source and one_line(h.source):
            assert _shows(visible, h.source)
        if h.published == "2024-03-01T10:00:00Z":
            assert "2024-03-01" in visible
        if snippets:
            assert _shows(visible, one_line(h.text)[:100].rstrip(" ,;:"))
    links = {fmt.safe_url(h.url) for h in hits} - {None}
    assert _hrefs(out) == links  # hostile URLs are never links; good ones are, unchanged


@settings(max_examples=60, deadline=None)
@given(hostile_hits(), st.data())
def test_property_answers_from_hostile_articles_are_valid_telegram_html(hits, data):
    h = hits[0]
    a = data.draw(st.integers(0, len(h.text)), label="answer start")
    b = data.draw(st.integers(a, len(h.text)), label="answer end")
    question = data.draw(_hostile, label="question")
    found = data.draw(st.booleans(), label="found") and h.text[a:b].strip() != ""
    if found:
        answer = Answer(question, question + " <again>", h.text[a:b], 0.9, hits, 0, a, b, 0,
                        len(h.text))  # fmt: skip
    else:
        answer = Answer(question, question, None, 0.1, hits)
    out = fmt.format_answer(answer)
    visible = _sent_as_telegram_would(out)
    if found:
        assert visible.startswith(one_line(h.text[a:b])[:50].strip())
        assert _shows(visible, h.text)  # the whole evidence sentence, quoted
        assert "(read as: " in visible
    else:
        assert visible.startswith(NOT_FOUND)
    _check_sources_shown(out, visible, hits, snippets=not found)


@settings(max_examples=60, deadline=None)
@given(hostile_hits())
def test_property_sources_of_hostile_articles_are_valid_telegram_html(hits):
    refs = [fmt.SourceRef.from_hit(h) for h in hits]
    out = fmt.format_sources(refs)
    visible = _sent_as_telegram_would(out)
    assert visible.startswith(f"Sources ({len(refs)} passage")
    _check_sources_shown(out, visible, hits, snippets=True)
    restored = [fmt.SourceRef.from_dict(r.as_dict()) for r in refs]
    assert fmt.format_sources(restored) == out  # what the Sources button shows later


def _stats(**verified) -> dict:
    stats = {
        "data_dir": "/srv/news <data>", "indexed": True, "articles": 12, "chunks": 94,
        "newest_published": "2024-05-02", "embedding_model": "m", "dimension": 384,
        "index_type": "FAISS flat + BM25", "generation": 3,
        "bytes": {"sqlite": 2**20, "faiss": 2**19, "bm25": 2**18, "total": 2**21},
    }  # fmt: skip
    return {**stats, **verified}


def test_stats_say_whether_the_index_files_are_in_step_in_one_line():
    plain = parse_telegram_html(fmt.format_stats(_stats()))
    assert "articles         12" in plain and "/srv/news <data>" in plain
    assert "Index files" not in plain and "index files" not in plain  # not verified: no line

    ok = fmt.format_stats(_stats(faiss_vectors=94, bm25_chunks=94, consistent=True))
    lines = parse_telegram_html(ok).splitlines()
    assert lines[-1] == "Index files: FAISS 94 vectors, BM25 94 chunks — in step with the database."
    assert sum("FAISS 94" in line for line in lines) == 1  # one line about it, not two

    off = fmt.format_stats(_stats(faiss_vectors=90, bm25_chunks=94, consistent=False))
    last = parse_telegram_html(off).splitlines()[-1]
    assert last.startswith("Index files NOT in step with the database: FAISS 90 vectors, BM25 94")
    assert "94 chunks in SQLite" in last and "newsdesk doctor --repair" in last
    assert "<b>Index files NOT in step" in off

    damaged = _stats(faiss_vectors=None, bm25_chunks=None, consistent=False,
                     problem="dense.3.faiss is damaged <truncated>")  # fmt: skip
    last = parse_telegram_html(fmt.format_stats(damaged)).splitlines()[-1]
    assert last.startswith("Index files DAMAGED: dense.3.faiss is damaged <truncated>.")
    assert "newsdesk doctor --repair" in last
    nothing = fmt.format_stats({"data_dir": "/x", "indexed": False, "consistent": True})
    assert parse_telegram_html(nothing) == "Nothing indexed in /x yet."
