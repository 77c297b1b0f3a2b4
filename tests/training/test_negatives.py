"""Unanswerable training examples: each kind is built as described and never holds the answer."""

from __future__ import annotations

import gzip
import json

from training import negatives

ARTICLE = [
    "Jordan hosts more than 650,000 Syrian refugees. The kingdom opened its border in 2012. "
    "Aid groups praised the decision made by King Abdullah.",
    "In 2019 the ministers of Egypt and Lebanon met in Amman. They agreed a gas plan. "
    "Officials from Syria attended the talks as observers.",
    "The army chief, Gen. Yousef Huneiti, met the Syrian defence minister in 2018.",
]


def _row(question: str, context: str, answer: str, i: int = 0) -> dict:
    return {
        "id": f"q{i}",
        "title": "Jordan",
        "question": question,
        "context": context,
        "answers": {"text": [answer], "answer_start": [context.index(answer)]},
    }


def test_other_paragraph_pairs_the_question_with_a_sibling_without_the_answer():
    row = _row("Who hosts more than 650,000 Syrian refugees?", ARTICLE[0], "Jordan")
    made = negatives.other_paragraph(row, ARTICLE, __import__("random").Random(1))
    assert made["context"] in ARTICLE[1:] and "Jordan" not in made["context"]
    assert made["answers"]["text"] == [] and made["question"] == row["question"]


def test_minus_sentence_drops_exactly_the_sentence_with_the_answer():
    row = _row("When did the kingdom open its border?", ARTICLE[0], "2012")
    made = negatives.minus_sentence(row)
    assert "2012" not in made["context"]
    assert made["context"].startswith("Jordan hosts") and "King Abdullah" in made["context"]


def test_swapped_replaces_a_year_with_another_year_of_the_article_absent_from_the_passage():
    row = _row("Who did the army chief meet in 2018?", ARTICLE[2], "the Syrian defence minister")
    pools = negatives.mention_pools("\n".join(ARTICLE))
    made = negatives.swapped(row, pools, __import__("random").Random(3))
    assert made["context"] == ARTICLE[2] and "2018" not in made["question"]
    swapped_year = next(y for y in ("2012", "2019") if y in made["question"])
    assert swapped_year not in ARTICLE[2]


def test_no_sentence_initial_word_is_taken_for_a_name():
    pools = negatives.mention_pools("\n".join(ARTICLE))
    assert "Aid" not in pools[negatives._NAME] and "Officials" not in pools[negatives._NAME]
    assert "King Abdullah" in pools[negatives._NAME]


def test_build_makes_the_share_asked_for_from_real_squad_rows(shared_data):
    path = shared_data / "qa_train" / "squad_v1.1_train" / "train.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(next(handle)) for _ in range(1500)]
    made = negatives.build(rows, 1 / 3, seed=5)
    assert abs(len(made) - 750) <= 5  # a third of positives + negatives
    assert {m["negative"] for m in made} == set(negatives.KINDS)
    by_id = {r["id"]: r for r in rows}
    for m in made:
        source = by_id[m["id"].split("-neg-")[0]]
        if m["negative"] != "swapped":  # a swapped question keeps its passage on purpose
            assert negatives.answerless(m["context"], source["answers"]["text"])
        else:
            assert m["question"] != source["question"] and m["context"] == source["context"]
    assert made == negatives.build(rows, 1 / 3, seed=5)  # deterministic
