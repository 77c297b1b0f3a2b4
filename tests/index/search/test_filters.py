"""A Filter is a publication-date window and a set of outlets, read from what people type."""

from __future__ import annotations

from datetime import date

import pytest

from index.search.filters import (
    Filter,
    FilterError,
    build_filter,
    outlet_of,
    parse_bound,
    parse_period,
    published_day,
)

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2018", date(2018, 1, 1), date(2018, 12, 31)),
        ("2024-01-31", date(2024, 1, 31), date(2024, 1, 31)),
        ("March 2020", date(2020, 3, 1), date(2020, 3, 31)),
        ("February 2024", date(2024, 2, 1), date(2024, 2, 29)),
        ("March", date(2026, 3, 1), date(2026, 3, 31)),  # the last March, not the next one
        ("yesterday", date(2026, 12, 1), date(2026, 12, 1)),
        ("last week", date(2026, 11, 23), date(2026, 11, 29)),
        ("last month", date(2026, 11, 1), date(2026, 11, 30)),
        ("31 January 2020", date(2020, 1, 31), date(2020, 1, 31)),
    ],
)
def test_a_date_phrase_names_a_period_of_days(text, first, last):
    assert parse_period(text, TODAY) == (first, last)


def test_since_takes_the_start_of_the_period_and_until_its_end():
    assert parse_bound("2018", TODAY, end=False) == date(2018, 1, 1)
    assert parse_bound("2018", TODAY, end=True) == date(2018, 12, 31)


@pytest.mark.parametrize("text", ["garbage", "", "the day after never"])
def test_words_that_are_no_date_are_refused_with_a_clear_message(text):
    with pytest.raises(FilterError, match="date"):
        parse_period(text, TODAY)


def test_until_before_since_is_refused():
    with pytest.raises(FilterError, match="before since"):
        build_filter("2021", "2020", today=TODAY)
    with pytest.raises(FilterError):
        Filter(date(2021, 1, 1)).with_changes(until=date(2020, 1, 1))


def test_a_filter_matches_dates_inclusively_and_outlets_without_case():
    flt = Filter(date(2020, 1, 1), date(2020, 12, 31), ("Reuters",))
    assert flt.matches(date(2020, 1, 1), "reuters")
    assert flt.matches(date(2020, 12, 31), "REUTERS")
    assert not flt.matches(date(2021, 1, 1), "Reuters")
    assert not flt.matches(date(2020, 6, 1), "AP")
    assert not flt.matches(None, "Reuters")  # an undated article is in no window
    assert Filter(sources=("Reuters",)).matches(None, "Reuters")
    assert not Filter().active and Filter().matches(None, None)


def test_describe_and_round_trip_through_json():
    flt = Filter(date(2024, 1, 1), None, ("Reuters", "reuters ", ""))
    assert flt.sources == ("Reuters", "reuters")  # blanks dropped
    assert Filter(date(2024, 1, 1), None, ("Reuters",)).describe() == "Reuters, since 2024-01-01"
    assert Filter(date(2018, 1, 1), date(2018, 12, 31)).describe() == (
        "from 2018-01-01 to 2018-12-31"
    )
    assert Filter.from_dict(flt.as_dict()) == flt
    assert Filter.from_dict({"since": "not a date"}) == Filter()
    assert Filter.from_dict(None) == Filter()


def test_the_outlet_is_the_source_else_the_url_host():
    assert outlet_of("Reuters", "https://www.reuters.com/x") == "Reuters"
    assert outlet_of(None, "https://www.reuters.com/x") == "reuters.com"
    assert outlet_of("  ", "https://News.Example/a") == "news.example"
    assert outlet_of(None, None) is None


@pytest.mark.parametrize(
    ("stored", "day"),
    [
        ("2024-03-14T09:30:00Z", date(2024, 3, 14)),
        ("2020-01-31", date(2020, 1, 31)),
        ("Fri, 31 Jan 2020 23:00:00 +0000", date(2020, 1, 31)),
        ("31 January 2020", date(2020, 1, 31)),
        ("January 31, 2020", date(2020, 1, 31)),
        ("soon", None),
        (None, None),
    ],
)
def test_stored_publication_dates_are_read_as_days(stored, day):
    assert published_day(stored) == day
