"""Reading articles from every supported format, and refusing bad input with a clear reason."""

from __future__ import annotations

import json
from pathlib import Path

from index.ingest.files import IngestError, file_id, read_paths
from index.models import Article
from index.text import normalize, without_title_line


def articles_and_errors(*paths: Path | str):
    items = list(read_paths([str(p) for p in paths]))
    return [i for i in items if isinstance(i, Article)], [
        i for i in items if isinstance(i, IngestError)
    ]


def test_text_file_first_line_is_title_and_metadata_lines_are_read(tmp_path: Path):
    path = tmp_path / "story.md"
    path.write_text(
        "# Jordan hosts refugees\nDate: 2021-09-19\nURL: https://example.org/a\n\nThe kingdom  hosts\r\nmany.\n"
    )
    [article], errors = articles_and_errors(path)
    assert errors == []
    assert article.title == "Jordan hosts refugees"
    assert article.published == "2021-09-19" and article.url == "https://example.org/a"
    assert article.text == "The kingdom hosts\nmany."
    assert article.id == file_id(path) and article.id.startswith("file:story.md#")
    assert str(tmp_path) not in article.id  # where the files live is nobody's business


def test_a_file_id_is_stable_and_two_folders_files_of_one_name_stay_apart(tmp_path: Path):
    (tmp_path / "x").mkdir(), (tmp_path / "y").mkdir()
    for folder in ("x", "y"):
        (tmp_path / folder / "a.txt").write_text(f"Story {folder}\n\nBody of {folder}.")
    ids = [a.id for a in read_paths([str(tmp_path)]) if isinstance(a, Article)]
    assert len(set(ids)) == 2
    assert ids == [a.id for a in read_paths([str(tmp_path)]) if isinstance(a, Article)]


def test_jsonl_keeps_ids_and_metadata_and_reports_bad_lines_with_line_numbers(tmp_path: Path):
    path = tmp_path / "dump.jsonl"
    good = {
        "id": "a1",
        "title": "T",
        "text": "Body one.",
        "url": "u",
        "date": "2020-01-02",
        "source": "S",
    }
    path.write_text(
        json.dumps(good) + "\n{not json\n\n" + json.dumps({"id": "a2", "title": "T2"}) + "\n"
        + json.dumps({"id": "a3", "title": ["x"], "text": "y"}) + "\n[1, 2]\n"
    )  # fmt: skip
    articles, errors = articles_and_errors(path)
    assert [a.id for a in articles] == ["a1"]
    assert articles[0].published == "2020-01-02" and articles[0].source == "S"
    assert [e.location for e in errors] == [f"{path}:2", f"{path}:4", f"{path}:5", f"{path}:6"]
    assert "malformed JSON" in errors[0].reason
    assert "no text" in errors[1].reason
    assert "'title' must be a string" in errors[2].reason
    assert "expected an object" in errors[3].reason


def test_json_file_with_one_article_or_a_list(tmp_path: Path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"title": "Single", "text": "Alone here."}))
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([{"id": "x", "title": "A", "text": "a."}, {"title": "B", "text": "b."}])
    )
    articles, errors = articles_and_errors(one, many)
    assert errors == []
    assert [a.id for a in articles] == [file_id(one), "x", f"{file_id(many)}#1"]


def test_html_article_text_title_and_date_are_extracted(tmp_path: Path):
    path = tmp_path / "page.html"
    body = " ".join(["The council approved the new bridge over the river on Tuesday."] * 6)
    path.write_text(
        "<html><head><title>Bridge approved | Daily</title>"
        '<meta property="og:title" content="Bridge approved">'
        '<meta property="article:published_time" content="2022-03-04">'
        '<link rel="canonical" href="https://example.org/bridge"></head>'
        f"<body><nav>Home | World</nav><article><h1>Bridge approved</h1><p>{body}</p>"
        f"<p>{body}</p></article><footer>Copyright</footer></body></html>"
    )
    [article], errors = articles_and_errors(path)
    assert errors == []
    assert article.title == "Bridge approved"
    assert article.published == "2022-03-04"
    assert "new bridge" in article.text and "Copyright" not in article.text
    assert article.text.startswith("The council approved")  # the <h1> is the title, not body text


def test_a_first_line_that_only_repeats_the_headline_is_dropped():
    assert without_title_line("Bridge approved", "Bridge approved\nThe council voted.") == (
        "The council voted."
    )
    assert without_title_line("Bridge approved", "Bridge approved") == "Bridge approved"  # all
    assert without_title_line("Bridge", "Bridge approved\nThe council voted.").startswith("Bridge")
    assert without_title_line("", "\nText.") == "\nText."


def test_folders_are_read_recursively_skipping_hidden_files(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("Deep\nText deep down.")
    (tmp_path / "a" / "top.txt").write_text("Top\nText on top.")
    (tmp_path / "a" / ".hidden.txt").write_text("Hidden\nNot read.")
    articles, errors = articles_and_errors(tmp_path / "a")
    assert sorted(a.title for a in articles) == ["Deep", "Top"]
    assert errors == []


def test_globs_expand_and_a_pattern_without_matches_is_reported(tmp_path: Path):
    (tmp_path / "x1.txt").write_text("One\nFirst.")
    (tmp_path / "x2.txt").write_text("Two\nSecond.")
    articles, errors = articles_and_errors(tmp_path / "x*.txt", tmp_path / "nothing*.txt")
    assert [a.title for a in articles] == ["One", "Two"]
    assert len(errors) == 1 and "no file matches" in errors[0].reason


def test_bad_files_each_get_one_clear_reason(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 news\nOl\xe9".encode("latin-1"))
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "broken.json").write_text('{"title": "x", "text": ')
    reasons = {
        Path(e.location.split(":")[0]).name: e.reason for e in articles_and_errors(tmp_path)[1]
    }
    assert reasons["empty.txt"] == "empty file"
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["latin1.txt"].startswith("not UTF-8")
    assert reasons["notes.docx"].startswith("unknown file type '.docx'")
    assert reasons["deep.json"].startswith("malformed JSON")
    assert reasons["broken.json"].startswith("malformed JSON")


def test_missing_path_is_reported(tmp_path: Path):
    _, [error] = articles_and_errors(tmp_path / "gone.jsonl")
    assert error.reason == "no such file or folder"


def test_text_is_normalised_to_nfc_without_control_characters(tmp_path: Path):
    path = tmp_path / "n.jsonl"
    path.write_text(
        json.dumps({"id": "n", "title": "Cafe\u0301", "text": "A\u0007 b\t\tc\n\n\n\nd"}) + "\n"
    )
    [article], _ = articles_and_errors(path)
    assert article.title == "Café"
    assert article.text == "A b c\n\nd"


def test_bidi_override_characters_are_removed():
    assert normalize("price \u202e001$\u202c and \u2066isolated\u2069") == "price 001$ and isolated"


def _folder_with_links(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Root password\n\nThe password is hunter2.")
    articles = tmp_path / "articles"
    (articles / "sub").mkdir(parents=True)
    (articles / "story.txt").write_text("Jordan hosts refugees\n\nJordan hosts 650,000 refugees.")
    (articles / "secret.txt").symlink_to(outside / "secret.txt")
    (articles / "linked-dir").symlink_to(outside, target_is_directory=True)
    (articles / "sub" / "loop").symlink_to(articles, target_is_directory=True)
    return articles, outside


def test_links_inside_a_folder_are_not_followed_unless_asked(tmp_path: Path):
    articles, _ = _folder_with_links(tmp_path)
    titles = [a.title for a in read_paths([str(articles)]) if isinstance(a, Article)]
    assert titles == ["Jordan hosts refugees"]


def test_follow_links_reads_them_once_even_through_a_loop(tmp_path: Path):
    articles, _ = _folder_with_links(tmp_path)
    found = [a for a in read_paths([str(articles)], follow_links=True) if isinstance(a, Article)]
    titles = sorted(a.title for a in found)
    assert titles.count("Jordan hosts refugees") == 1  # the loop back to the folder is not walked
    assert "Root password" in titles


def test_a_link_named_on_the_command_line_is_read(tmp_path: Path):
    _, outside = _folder_with_links(tmp_path)
    link = tmp_path / "named.txt"
    link.symlink_to(outside / "secret.txt")
    assert [a.title for a in read_paths([str(link)])] == ["Root password"]
