"""Hostile questions get a clear refusal or an ordinary reply; the index never changes."""

from __future__ import annotations

import json

import pytest

from bot.answering.service import Newsdesk, QuestionError
from index.doctor import problems
from index.settings import SearchMode, Settings
from index.store.database import Store

GOOD = {"id": "seedlike", "title": "Jordan hosts refugees",
        "text": "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."}  # fmt: skip

REFUSED = {
    "empty": ("", "empty"),
    "whitespace": (" \t\n  ", "empty"),
    "only punctuation": ("?!...;", "empty"),
    "control characters only": ("\x00\x01\x1b\x7f\u200b", "empty"),
    "100k characters": ("refugees " * 11_112, "too long"),
}
ANSWERED = {
    "sql injection": "'; DROP TABLE articles; --",
    "sqlite wildcard and quotes": '%" OR 1=1 /* refugees */',
    "faiss-ish numbers": "nan inf -1e308 1e309 refugees",
    "null byte inside": "who hosts\x00 650,000 refugees?",
    "right-to-left and emoji": "من يستضيف اللاجئين؟ 🇯🇴 refugees",
    "markup": "<script>alert('x')</script> who hosts refugees?",
    "one letter": "a",
    "very long word": "x" * 900,
}


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("questions")
    source = root / "a.jsonl"
    source.write_text(json.dumps(GOOD) + "\n")
    desk = Newsdesk(Settings(data_dir=root / "data"), embedder=embedder, answerer=None)
    assert desk.index_paths([str(source)]).added == 1
    return desk


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_empty_or_huge_questions_are_refused_clearly(service, case):
    question, message = REFUSED[case]
    with pytest.raises(QuestionError, match=message):
        service.ask(question)


@pytest.mark.parametrize("case", sorted(ANSWERED))
@pytest.mark.parametrize("mode", list(SearchMode))
def test_odd_questions_are_answered_without_touching_the_index(service, case, mode):
    generation = Store(service.settings.data_dir).generation
    answer = service.ask(ANSWERED[case], mode=mode)
    assert answer.question and all(h.article_id == "seedlike" for h in answer.sources)
    assert Store(service.settings.data_dir).generation == generation
    assert Store(service.settings.data_dir).counts() == (1, 1)
    assert problems(service.settings.data_dir) == []
