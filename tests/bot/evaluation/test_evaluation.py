"""The eval harness (bot.evaluation.runner, `newsdesk eval`): file reading, metrics against hand-computed
values, and one end-to-end run on a small real index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.answering.answer import Answer
from bot.evaluation.runner import (
    EvalFileError,
    EvalQuestion,
    format_report,
    load_conversations,
    load_questions,
    percentile,
    score,
    summarize,
)
from index.models import Hit

DATA = Path(__file__).resolve().parents[2] / "data"


def hit(article_id: str, start: int, end: int) -> Hit:
    return Hit(
        chunk_id=start,
        article_id=article_id,
        text="x" * (end - start),
        start=start,
        end=end,
        title="t",
    )


def answer(text, sources, confidence=0.5) -> Answer:
    return Answer("q", "q", text, confidence, sources)


# --- files ------------------------------------------------------------------------------------
def test_question_file_fields(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": " who? ", "answers": ["Jordan"], "article_id": "x", "answer_starts": [5]}\n'
        "\n"
        '{"id": "b", "question": "what?", "answers": []}\n'
        '{"id": "c", "question": "why?", "answers": ["not enough information"], "answerable": false}\n'
    )
    qs = load_questions(path)
    assert [q.id for q in qs] == ["a", "b", "c"]
    assert qs[0] == EvalQuestion("a", "who?", ("Jordan",), "x", (5,))
    assert not qs[1].answerable and not qs[2].answerable and qs[2].answers == ()
    assert len(load_questions(path, limit=2)) == 2


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"question": "q", "answers": ["a"]}\n{broken\n', ":2: not valid JSON"),
        ('["a"]\n', ":1: expected a JSON object"),
        ('{"answers": []}\n', ":1: 'question' must be a non-empty string"),
        ('{"question": "q", "answers": "Jordan"}\n', ":1: 'answers' must be a list of strings"),
        ('{"question": "q", "answers": ["a"], "answer_starts": [-1]}\n', "'answer_starts' must"),
        ("\n\n", ": no questions in the file"),
    ],
)
def test_bad_question_files_name_file_and_line(tmp_path, content, reason):
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(EvalFileError, match=reason) as err:
        load_questions(path)
    assert str(err.value).startswith(str(path))


def test_missing_file_and_bad_conversations(tmp_path):
    with pytest.raises(EvalFileError, match="no such file"):
        load_questions(tmp_path / "nope.jsonl")
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "c1", "turns": [{"question": "q", "answers": ["a"]}, 3]}\n')
    with pytest.raises(EvalFileError, match=":1: turn 2 must be an object"):
        load_conversations(path)
    convs = load_conversations(DATA / "seed_conversations.jsonl")
    assert convs[0].id == "refugees-chief" and len(convs[0].turns) == 2


# --- metrics against hand-computed values -----------------------------------------------------
def test_percentile_interpolates():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([], 50) == 0.0


def test_score_and_summary_by_hand():
    q1 = EvalQuestion("1", "q", ("Jordan",), "A", (120,))
    q2 = EvalQuestion("2", "q", ("the Nassib border crossing",), "B", (10,))
    q3 = EvalQuestion("3", "q", (), None)  # unanswerable
    q4 = EvalQuestion("4", "q", ("2018",), "C")  # answerable, refused
    others = [hit("Z", 0, 50) for _ in range(5)]
    rows = [
        # gold article at rank 1, its passage covers offset 120: EM 1, F1 1
        score(q1, answer("jordan.", [hit("A", 100, 200), *others]), 10.0),
        # gold article at rank 3 but the passage does not cover offset 10; F1("Nassib crossing",
        # "nassib border crossing") = 2 * (2/2 * 2/3) / (2/2 + 2/3) = 0.8
        score(q2, answer("Nassib crossing", [*others[:2], hit("B", 20, 90), *others]), 20.0),
        score(q3, answer(None, others), 30.0),  # refused: right
        score(q4, answer(None, [*others, *others[:1], hit("C", 0, 9)]), 40.0),  # rank 7
    ]
    assert rows[0].article_rank == 1 and rows[0].passage_hit is True
    assert rows[1].article_rank == 3 and rows[1].passage_hit is False
    assert rows[1].f1 == pytest.approx(0.8) and rows[1].em == 0
    assert rows[2].has_article is False and rows[2].passage_hit is None
    assert rows[3].article_rank == 7 and rows[3].passage_hit is None
    report = summarize(rows)
    r, a = report["retrieval"], report["answers"]
    assert r["questions_with_article"] == 3
    assert r["article_recall@1"] == pytest.approx(1 / 3)
    assert r["article_recall@5"] == pytest.approx(2 / 3)
    assert r["article_recall@10"] == pytest.approx(1.0)
    assert r["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 3)
    assert r["questions_with_offsets"] == 2 and r["passage_recall@5"] == pytest.approx(0.5)
    assert a["em"] == pytest.approx(1 / 3) and a["f1"] == pytest.approx(1.8 / 3)
    assert a["answered"] == 2 and a["f1_answered"] == pytest.approx(0.9)
    assert a["answerable_wrongly_refused"] == pytest.approx(1 / 3)
    assert a["unanswerable_refused"] == 1.0
    assert report["latency_ms"] == {"p50": 25.0, "p95": pytest.approx(38.5), "max": 40.0}
    text = format_report(
        {"mode": "hybrid", "answerer": "x", "passages": 10, "min_confidence": 0.25, **report}
    )
    assert "article recall@5      66.7%" in text and "unanswerable refused 100.0%" in text


def test_conversation_turns_right():
    t1 = score(EvalQuestion("c/1", "q", ("Jordan",)), answer("Jordan", []), 1.0)
    t2 = score(EvalQuestion("c/2", "q", ("Yousef Huneiti",)), answer("Amman", []), 1.0)
    t3 = score(EvalQuestion("c/3", "q", ()), answer(None, []), 1.0)
    for t in (t1, t2, t3):
        t.extra["conversation"] = "c"
    conv = summarize([], [t1, t2, t3])["conversations"]
    assert conv == {"conversations": 1, "turns": 3, "turns_right": 2, "rate": 2 / 3, "f1": 0.5}


# --- the command ------------------------------------------------------------------------------
def newsdesk(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {"NEWSDESK_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "PATH": ""}
    return subprocess.run(
        # as the installed `newsdesk` script runs it (with -m bot.cli.main, bot.cli.main is loaded twice)
        [
            sys.executable,
            "-c",
            "import sys; from bot.cli.main import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_eval_command_rejects_bad_files_in_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    for args in (["eval", str(bad)], ["eval", str(tmp_path / "missing.jsonl")], ["eval"]):
        result = newsdesk(*args, data=tmp_path / "data")
        assert result.returncode in (1, 2) and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("newsdesk: error:")
