"""Every setting is documented in .env.example, and bad values fail with a clear message."""

from dataclasses import fields
from pathlib import Path

import pytest

from index.settings import SearchMode, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting():
    documented = (ROOT / ".env.example").read_text()
    missing = [
        f.metadata["env"] for f in fields(Settings) if f"{f.metadata['env']}=" not in documented
    ]
    assert missing == []


def test_settings_come_from_the_environment_over_the_dotenv_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("NEWSDESK_TOP_K=7\nNEWSDESK_SEARCH_MODE=bm25\nADMIN_USER_IDS=1, 2\n")
    settings = Settings.load({"NEWSDESK_TOP_K": "3"}, dotenv)
    assert settings.top_k == 3
    assert settings.search_mode is SearchMode.BM25
    assert settings.admin_user_ids == frozenset({1, 2})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSDESK_TOP_K": "many"}, "NEWSDESK_TOP_K='many' is not a valid value"),
        ({"NEWSDESK_SEARCH_MODE": "fuzzy"}, "unknown search mode 'fuzzy'"),
        ({"ALLOWED_USER_IDS": "12,abc"}, "ALLOWED_USER_IDS='12,abc' is not a valid value"),
        ({"NEWSDESK_ALLOW_PRIVATE_URLS": "maybe"}, "is not a valid value"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(env, None)
