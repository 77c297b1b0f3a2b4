"""`Newsdesk.stats(verify=True)`: the FAISS and BM25 files checked against SQLite."""

from __future__ import annotations

from bot.answering.service import Newsdesk
from index.models import Article
from index.settings import Settings
from index.store.snapshot import dense_path


def test_a_newer_generation_damaged_on_disk_is_a_problem_not_an_error(embedder, tmp_path):
    settings = Settings(data_dir=tmp_path)
    bot = Newsdesk(settings, embedder=embedder, answerer=None)
    assert bot.index_articles([Article("a", "Bridge", "The council approved the bridge.")]).ok
    bot.searcher  # noqa: B018 - the running bot holds generation 1 in memory
    assert bot.stats(verify=True)["consistent"] is True

    cli = Newsdesk(settings, embedder=embedder, answerer=None)  # another process indexes
    assert cli.index_articles([Article("b", "Dam", "Egypt and Ethiopia signed the dam deal.")]).ok
    generation = cli.stats()["generation"]
    dense_path(tmp_path, generation).write_bytes(b"not a faiss index")

    stats = bot.stats(verify=True)
    assert (stats["consistent"], stats["faiss_vectors"], stats["bm25_chunks"]) == (
        False,
        None,
        None,
    )
    assert str(dense_path(tmp_path, generation)) in stats["problem"]
