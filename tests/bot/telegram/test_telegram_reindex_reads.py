"""Reads during a re-index, through the bot: while an admin's /reindex embeds a folder of new
articles (in the bot's indexing thread), a user in another chat asks a question and gets the
answer from the index as it was, before the /reindex reports done. The real `newsdesk
telegram` process runs against the fake Bot API server, as in the other end-to-end tests."""

from __future__ import annotations

import json
import random
import time

from harness import ADMIN, USER

from index.store.database import Store

ARTICLES = 50  # 15 sentences each: seconds of embedding even on a fast machine
SEED_QUESTION = "who hosts 650,000 refugees?"


def civic_articles(n: int) -> list[dict]:
    """`n` made-up council articles, about 5 chunks each, none about refugees or Jordan."""
    rnd = random.Random(7)
    towns = ["Aldmoor", "Brisk", "Corran", "Dunvale", "Esk", "Farrow", "Galt", "Hollin"]
    things = ["bridge", "library", "harbour", "rail line", "school", "market", "dam", "museum"]
    records = []
    for i in range(n):
        town, thing = rnd.choice(towns), rnd.choice(things)
        sentences = [f"The council of {town} voted on plan {i} to rebuild the {thing}."]
        for k in range(14):
            sentences.append(
                f"Councillor {rnd.choice(towns)}-{i}-{k} said the {rnd.choice(things)} would "
                f"cost {rnd.randint(2, 900)} million and serve {rnd.randint(100, 9000)} "
                "residents a week."
            )
        records.append(
            {
                "id": f"civic-{i}",
                "title": f"{town} plans its {thing} (plan {i})",
                "text": " ".join(sentences),
                "published": "2024-01-01",
                "source": "Civic Gazette",
            }
        )
    return records


def test_a_question_is_answered_while_an_admin_reindex_runs(telegram, bot_factory, seed_index):
    data_dir, articles = seed_index
    bot = bot_factory(data_dir, NEWSDESK_ARTICLE_DIRS=str(articles))
    warm = telegram.wait_reply(telegram.message(USER, SEED_QUESTION), timeout=120)
    assert warm.text.startswith("<b>Jordan</b>")

    lines = [json.dumps(record) for record in civic_articles(ARTICLES)]
    (articles / "civic.jsonl").write_text("\n".join(lines) + "\n")
    status = telegram.wait_reply(telegram.message(ADMIN, "/reindex"), timeout=60)
    assert status.visible == "Re-reading the articles…"

    def edits_of_status() -> list:
        return [
            c
            for c in telegram.calls_of("editMessageText", ADMIN)
            if int(c.params.get("message_id") or 0) == status.message_id
        ]

    # the re-index has begun (typing… for it in the admin's chat); now another chat asks
    telegram.wait_for(
        lambda: [c for c in telegram.calls_of("sendChatAction", ADMIN) if c.at >= status.at],
        what="typing… in the admin's chat",
    )
    asked_at = time.time()
    asked = telegram.message(USER, SEED_QUESTION)
    reply = telegram.wait_reply(asked, timeout=120)
    still_running = not edits_of_status()
    assert reply.text.startswith("<b>Jordan</b>"), reply.visible
    assert still_running, "the /reindex was done before the question was answered"
    help_reply = telegram.wait_reply(telegram.message(USER, "/help"), timeout=60)
    assert "I know 1 news article" in help_reply.visible  # the old generation, until the commit

    [edit] = telegram.wait_for(edits_of_status, timeout=600, what="the /reindex report")
    assert edit.status == 200 and edit.at > reply.at
    assert f"{ARTICLES} added, 0 updated, 1 unchanged, 0 removed" in status.visible
    store = Store(data_dir)
    try:
        assert store.counts()[0] == ARTICLES + 1
    finally:
        store.close()
    took, answered_in = edit.at - status.at, reply.at - asked_at
    print(
        f"\n/reindex of {ARTICLES} articles: {took:.1f} s; a question meanwhile: {answered_in:.1f} s"
    )
    # once the report is in, the bot knows the new articles
    after = telegram.wait_reply(telegram.message(USER, "/help"), timeout=60)
    assert f"I know {ARTICLES + 1} news articles" in after.visible
    log = bot.log()
    assert "ERROR" not in log and "Traceback" not in log
    assert bot.stop() == 0
