"""Newsletter events: deliveries, bounces, human and machine opens, clicks, unsubscribes.

Model, per contact: it is eligible for every campaign sent after its signup, receives each with
its own probability, and may leave the list once (unsubscribe, spam complaint or hard bounce)
at one of its newsletters, after which nothing more is sent to it. Opens and clicks only follow
deliveries of the same campaign and come after them. Contacts behind Apple Mail Privacy
Protection add a machine open within minutes of nearly every delivery.
"""

from __future__ import annotations

import numpy as np

from audience.synth.calendar import LINKS_PER_CAMPAIGN, SALE_LINK, CampaignCalendar
from audience.synth.events import HARD_BOUNCE, SOFT_BOUNCE, EventBatch, EventKind, concat_batches
from audience.synth.population import ListExit, Population
from audience.synth.ragged import expand, run_cumsum

_SECOND = 1000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

_SEND_SPREAD_MS = 20 * _MINUTE
"""A campaign takes up to 20 minutes to go out to the whole list."""
_MACHINE_OPEN_RELIABILITY = 0.95
"""Apple Mail pre-fetches nearly every delivered message of a protected contact."""
_REOPENS_PER_OPEN = 0.15
_EXTRA_CLICKS_PER_CLICK = 0.3


def email_events(
    rng: np.random.Generator, population: Population, calendar: CampaignCalendar
) -> EventBatch:
    """All newsletter events of a chunk's contacts (not yet cut at ``as_of``)."""
    contact, campaign = _received_newsletters(rng, population, calendar)
    contact, campaign, exit_here = _cut_at_list_exit(population, contact, campaign)
    sent_ms = calendar.send_ms[campaign] + rng.integers(0, _SEND_SPREAD_MS, len(campaign))
    exit_kind = np.where(exit_here, population.list_exit[contact], ListExit.STAYS)
    # The newsletter someone unsubscribes from was delivered, so it cannot soft-bounce.
    soft = ~exit_here & (rng.random(len(contact)) < population.soft_bounce_rate[contact])
    bounced = soft | (exit_kind == ListExit.HARD_BOUNCES)
    delivered = ~bounced
    d_contact, d_campaign, d_ms = contact[delivered], campaign[delivered], sent_ms[delivered]
    return concat_batches(
        [
            _bounces(rng, contact[bounced], campaign[bounced], sent_ms[bounced], soft[bounced]),
            EventBatch.of(EventKind.DELIVERED, d_contact, d_ms, campaign=d_campaign),
            _machine_opens(rng, population, d_contact, d_campaign, d_ms),
            *_human_opens_and_clicks(rng, population, d_contact, d_campaign, d_ms),
            *_leaving_events(rng, d_contact, d_campaign, d_ms, exit_kind[delivered]),
        ]
    )


def _received_newsletters(
    rng: np.random.Generator, population: Population, calendar: CampaignCalendar
) -> tuple[np.ndarray, np.ndarray]:
    """(contact, campaign) pairs actually sent, sorted by contact then campaign."""
    first_eligible = np.searchsorted(calendar.send_ms, population.signup_ms, side="right")
    eligible = len(calendar) - first_eligible
    contact, position = expand(eligible)
    campaign = first_eligible[contact] + position
    # Senders stop mailing contacts who went quiet (a "sunset" policy), so sends fade too.
    faded = calendar.send_ms[campaign] > population.active_end_ms[contact]
    rate = population.receive_rate[contact] * np.where(faded, population.fade[contact], 1.0)
    received = rng.random(len(contact)) < rate
    return contact[received], campaign[received]


def _cut_at_list_exit(
    population: Population, contact: np.ndarray, campaign: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop what would be sent after a contact leaves; flag the newsletter it leaves at."""
    received = np.bincount(contact, minlength=population.size)
    _, position = expand(received)
    leaves = (population.list_exit != ListExit.STAYS) & (received > 0)
    exit_position = (population.exit_position * received).astype(np.int64)
    last_kept = np.where(leaves, exit_position, received - 1)
    kept = position <= last_kept[contact]
    exit_here = (leaves[contact] & (position == exit_position[contact]))[kept]
    return contact[kept], campaign[kept], exit_here


def _bounces(
    rng: np.random.Generator,
    contact: np.ndarray,
    campaign: np.ndarray,
    sent_ms: np.ndarray,
    soft: np.ndarray,
) -> EventBatch:
    """The receiving server refuses the message within seconds of the send."""
    return EventBatch.of(
        EventKind.BOUNCED,
        contact,
        sent_ms + rng.integers(1 * _SECOND, 90 * _SECOND, len(contact)),
        campaign=campaign,
        bounce=np.where(soft, SOFT_BOUNCE, HARD_BOUNCE),
    )


def _machine_opens(
    rng: np.random.Generator,
    population: Population,
    contact: np.ndarray,
    campaign: np.ndarray,
    delivered_ms: np.ndarray,
) -> EventBatch:
    prefetched = population.machine_opener[contact] & (
        rng.random(len(contact)) < _MACHINE_OPEN_RELIABILITY
    )
    count = int(prefetched.sum())
    delay = 2 * _SECOND + rng.exponential(4 * _MINUTE, count).astype(np.int64)
    return EventBatch.of(
        EventKind.OPENED,
        contact[prefetched],
        delivered_ms[prefetched] + delay,
        campaign=campaign[prefetched],
        machine_open=np.ones(count),
    )


def _human_opens_and_clicks(
    rng: np.random.Generator,
    population: Population,
    contact: np.ndarray,
    campaign: np.ndarray,
    delivered_ms: np.ndarray,
) -> list[EventBatch]:
    """A person opens a delivery (maybe again later) and may click links after the first open."""
    faded = delivered_ms > population.active_end_ms[contact]
    open_rate = population.human_open_rate[contact] * np.where(faded, population.fade[contact], 1.0)
    opened = rng.random(len(contact)) < open_rate
    contact, campaign, delivered_ms = contact[opened], campaign[opened], delivered_ms[opened]
    # Most opens come within hours, some days later.
    first_delay = np.minimum(rng.lognormal(np.log(2 * _HOUR), 1.5, len(contact)), 10 * _DAY)
    first_open_ms = delivered_ms + first_delay.astype(np.int64)

    opens = 1 + rng.poisson(_REOPENS_PER_OPEN, len(contact))
    owner, position = expand(opens)
    later = rng.exponential(_DAY, len(owner)).astype(np.int64)
    open_ms = first_open_ms[owner] + run_cumsum(np.where(position == 0, 0, later), opens)
    batches = [
        EventBatch.of(
            EventKind.OPENED,
            contact[owner],
            open_ms,
            campaign=campaign[owner],
            machine_open=np.zeros(len(owner)),
        )
    ]
    clicked = rng.random(len(contact)) < population.click_rate[contact]
    batches.append(
        _clicks(rng, population, contact[clicked], campaign[clicked], first_open_ms[clicked])
    )
    return batches


def _clicks(
    rng: np.random.Generator,
    population: Population,
    contact: np.ndarray,
    campaign: np.ndarray,
    opened_ms: np.ndarray,
) -> EventBatch:
    clicks = 1 + rng.poisson(_EXTRA_CLICKS_PER_CLICK, len(contact))
    owner, _ = expand(clicks)
    gaps = 5 * _SECOND + rng.exponential(_MINUTE, len(owner)).astype(np.int64)
    click_ms = opened_ms[owner] + run_cumsum(gaps, clicks)
    # Discount seekers go for the sale link; others spread over the editorial links.
    on_sale = rng.random(len(owner)) < population.promo_click_share[contact[owner]]
    editorial = rng.choice(
        np.array([link for link in range(LINKS_PER_CAMPAIGN) if link != SALE_LINK]), len(owner)
    )
    link = campaign[owner] * LINKS_PER_CAMPAIGN + np.where(on_sale, SALE_LINK, editorial)
    return EventBatch.of(
        EventKind.LINK_CLICKED, contact[owner], click_ms, campaign=campaign[owner], link=link
    )


def _leaving_events(
    rng: np.random.Generator,
    contact: np.ndarray,
    campaign: np.ndarray,
    delivered_ms: np.ndarray,
    exit_kind: np.ndarray,
) -> list[EventBatch]:
    """Unsubscribes (after a spam complaint too) within two days of the delivery."""
    leaving = (exit_kind == ListExit.UNSUBSCRIBES) | (exit_kind == ListExit.MARKS_AS_SPAM)
    delay = np.minimum(rng.exponential(8 * _HOUR, int(leaving.sum())), 2 * _DAY)
    left_ms = delivered_ms[leaving] + _MINUTE + delay.astype(np.int64)
    complained = exit_kind[leaving] == ListExit.MARKS_AS_SPAM
    return [
        EventBatch.of(
            EventKind.MARKED_AS_SPAM,
            contact[leaving][complained],
            left_ms[complained],
            campaign=campaign[leaving][complained],
        ),
        # The platform unsubscribes a complainer a second after the complaint.
        EventBatch.of(
            EventKind.UNSUBSCRIBED,
            contact[leaving],
            left_ms + np.where(complained, _SECOND, 0),
            campaign=campaign[leaving],
        ),
    ]
