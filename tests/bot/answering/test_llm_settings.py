"""The LLM settings: defaults, one clear line for each bad value, and which answerer they pick."""

from __future__ import annotations

import pytest

from bot.answering.answerers import load_answerer
from index.settings import Settings, SettingsError

LLM = {"NEWSDESK_LLM_BASE_URL": "http://127.0.0.1:9/v1", "NEWSDESK_LLM_MODEL": "m"}


def test_defaults_configure_no_llm_and_hide_the_key():
    settings = Settings.load({"NEWSDESK_LLM_API_KEY": "sk-secret-value-1234"}, None)
    assert settings.llm_base_url == "" and settings.llm_timeout == 20.0
    assert settings.llm_max_tokens == 256 and settings.llm_concurrency == 4
    assert "sk-secret-value-1234" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSDESK_LLM_TIMEOUT": "-1"}, "NEWSDESK_LLM_TIMEOUT=-1 is not a valid value"),
        ({"NEWSDESK_LLM_TIMEOUT": "nan"}, "NEWSDESK_LLM_TIMEOUT=nan is not a valid value"),
        ({"NEWSDESK_LLM_TIMEOUT": "later"}, "NEWSDESK_LLM_TIMEOUT='later' is not a valid value"),
        ({"NEWSDESK_LLM_MAX_TOKENS": "0"}, "NEWSDESK_LLM_MAX_TOKENS=0 is not a valid value"),
        ({"NEWSDESK_LLM_MAX_TOKENS": "1.5"}, "NEWSDESK_LLM_MAX_TOKENS='1.5' is not a valid"),
        ({"NEWSDESK_LLM_CONCURRENCY": "0"}, "NEWSDESK_LLM_CONCURRENCY=0 is not a valid value"),
        ({"NEWSDESK_LLM_BASE_URL": "localhost:11434"}, "is not an http(s) address"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(env, message):
    with pytest.raises(SettingsError) as caught:
        Settings.load(env, None)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_auto_picks_the_llm_only_when_a_base_url_is_set():
    assert load_answerer(Settings.load({}, None)).name == "reader"
    assert load_answerer(Settings.load(LLM, None)).name == "llm+reader"
    assert load_answerer(Settings.load({**LLM, "NEWSDESK_ANSWERER": "reader"}, None)).name == (
        "reader"
    )
    heuristic = Settings.load({**LLM, "NEWSDESK_ANSWERER": "heuristic"}, None)
    assert load_answerer(heuristic).name == "heuristic"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSDESK_ANSWERER": "llm"}, "NEWSDESK_ANSWERER=llm needs NEWSDESK_LLM_BASE_URL"),
        ({"NEWSDESK_LLM_BASE_URL": "http://h/v1"}, "NEWSDESK_LLM_MODEL is not"),
        ({"NEWSDESK_ANSWERER": "gpt"}, "unknown answerer 'gpt' (choose auto, llm, reader"),
    ],
)
def test_an_incomplete_llm_setup_is_one_line(env, message):
    with pytest.raises(SettingsError) as caught:
        load_answerer(Settings.load(env, None))
    assert message in str(caught.value)
