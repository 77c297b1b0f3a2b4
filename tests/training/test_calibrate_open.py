"""calibrate_open's in-article negatives: the question's own passages, the answer's sentences cut."""

from __future__ import annotations

from index.models import Hit
from training.calibrate_open import without_answer


def test_the_sentences_holding_an_answer_are_cut_and_the_rest_kept():
    text = "Jordan reopened the crossing. The kingdom hosts 650,000 refugees. Trade resumed."
    hit = Hit(1, "a", text, 0, len(text), "t")
    cut = without_answer(hit, ["650,000"])
    assert "650,000" not in cut.text
    assert "Jordan reopened the crossing." in cut.text and "Trade resumed." in cut.text
    assert without_answer(hit, ["Mars"]).text.split() == text.split()  # nothing to cut
    assert without_answer(hit, ["Jordan", "Trade"]).text == "The kingdom hosts 650,000 refugees."
