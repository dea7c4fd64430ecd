"""The store's newsletter calendar: two campaigns a week over the history window.

Every contact's e-mail events hang off this one global calendar, as they do for a real
newsletter: a campaign is sent on a day, to the part of the list it targets, and opens and clicks
follow the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from audience.synth.fixedwidth import DAY_MS
from audience.synth.personas import CATEGORIES

HISTORY_DAYS = 730
"""Length of the event history before ``as_of`` (campaigns and site visits), in days."""

SEND_WEEKDAYS = (1, 4)
"""Tuesday and Friday (Monday = 0)."""

STORE_URL = "https://shop.example.com"
LINKS_PER_CAMPAIGN = 4
SALE_LINK = 1
"""Position of the sale link among a campaign's links (the one discount seekers click)."""


@dataclass(frozen=True)
class CampaignCalendar:
    """Campaigns sorted by send time; campaign i owns links i*LINKS_PER_CAMPAIGN and on."""

    send_ms: np.ndarray
    """Send time, epoch milliseconds, ascending."""
    ids: pa.StringArray
    """Campaign ids such as 'cmp_20250603'."""
    link_urls: pa.StringArray
    """Tracked links, LINKS_PER_CAMPAIGN per campaign in campaign order."""

    def __len__(self) -> int:
        return len(self.send_ms)


def build_calendar(rng: np.random.Generator, as_of_ms: int) -> CampaignCalendar:
    """The campaigns sent in the HISTORY_DAYS before ``as_of`` (strictly before it)."""
    last_day = as_of_ms // DAY_MS
    days = np.arange(last_day - HISTORY_DAYS, last_day + 1)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    days = days[np.isin(weekday, SEND_WEEKDAYS)]
    # Sent between 08:00 and 12:00 UTC, on the minute, as schedulers do.
    send_minute = rng.integers(8 * 60, 12 * 60, len(days))
    send_ms = days * DAY_MS + send_minute * 60_000
    featured = rng.integers(0, len(CATEGORIES), len(days))
    sent = send_ms < as_of_ms
    send_ms, days, featured = send_ms[sent], days[sent], featured[sent]

    dates = np.datetime_as_string(days.astype("datetime64[D]"))
    ids = [f"cmp_{date.replace('-', '')}" for date in dates]
    links = [
        url
        for campaign_id, category in zip(ids, featured, strict=True)
        for url in _campaign_links(campaign_id, CATEGORIES[category])
    ]
    return CampaignCalendar(
        send_ms=send_ms.astype(np.int64), ids=pa.array(ids), link_urls=pa.array(links)
    )


def _campaign_links(campaign_id: str, featured_category: str) -> tuple[str, ...]:
    tracking = f"?utm_source=newsletter&utm_medium=email&utm_campaign={campaign_id}"
    paths = (f"/collections/{featured_category}", "/sale", "/new-arrivals", "/journal")
    return tuple(f"{STORE_URL}{path}{tracking}" for path in paths)
