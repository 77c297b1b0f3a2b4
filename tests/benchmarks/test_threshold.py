"""The threshold sweep over `newsdesk eval --details --min-confidence 0` reports."""

from __future__ import annotations

import json

import pytest

from benchmarks.threshold import at_threshold, main

ROWS = [
    {"id": "a", "answerable": True, "prediction": "Jordan", "confidence": 0.9, "f1": 1.0},
    {"id": "b", "answerable": True, "prediction": "Amman", "confidence": 0.3, "f1": 0.5},
    {"id": "c", "answerable": False, "prediction": "Syria", "confidence": 0.2, "f1": 0.0},
    {"id": "d", "answerable": False, "prediction": None, "confidence": 0.0, "f1": 0.0},
]


def test_a_question_below_the_threshold_is_refused_and_scores_nothing():
    assert at_threshold(ROWS, 0.0) == {
        "f1": 75.0,
        "answerable_refused": 0.0,
        "unanswerable_refused": 50.0,
    }
    assert at_threshold(ROWS, 0.25) == {
        "f1": 75.0,
        "answerable_refused": 0.0,
        "unanswerable_refused": 100.0,
    }
    assert at_threshold(ROWS, 0.5) == {
        "f1": 50.0,
        "answerable_refused": 50.0,
        "unanswerable_refused": 100.0,
    }


def test_a_set_without_unanswerable_questions_has_no_refusal_rate():
    assert at_threshold(ROWS[:2], 0.1)["unanswerable_refused"] is None


def test_a_report_made_with_a_threshold_cannot_be_swept(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"min_confidence": 0.25, "details": ROWS}))
    with pytest.raises(SystemExit, match="--min-confidence 0.25"):
        main([str(path)])
    path.write_text(json.dumps({"min_confidence": 0.0, "details": ROWS}))
    assert main([str(path), "--at", "0.25"]) == 0
    assert "| 0.25 | 75.0 | 0.0 | 100.0 |" in capsys.readouterr().out
