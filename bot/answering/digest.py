"""What is indexed, for people: outlets with their article counts, the date range, and the
newest headlines (`newsdesk stats`, `newsdesk latest`, Telegram /start and /latest)."""

from __future__ import annotations

from typing import Any

from index.search.catalog import Catalog
from index.search.filters import Filter


def overview(catalog: Catalog) -> dict[str, Any]:
    """{"outlets": [{"name", "articles"}], "oldest_day", "newest_day", "undated_articles"}."""
    oldest, newest = catalog.date_range()
    undated = int((catalog.days == 0).sum())
    return {
        "outlets": [{"name": n, "articles": c} for n, c in catalog.outlet_counts()],
        "oldest_day": oldest.isoformat() if oldest else None,
        "newest_day": newest.isoformat() if newest else None,
        "undated_articles": undated,
    }


def latest(catalog: Catalog, n: int, flt: Filter | None = None) -> list[dict[str, Any]]:
    """The n newest dated articles passing the filter: id, title, day, outlet, url."""
    rows = []
    for i in catalog.newest(n, flt):
        day = catalog.day(i)
        rows.append(
            {
                "article_id": catalog.article_ids[i],
                "title": catalog.titles[i],
                "date": day.isoformat() if day else None,
                "outlet": catalog.outlet(i),
                "url": catalog.urls[i],
            }
        )
    return rows
