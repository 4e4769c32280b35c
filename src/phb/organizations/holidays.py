"""Nigeria's public holidays that can be known in advance: those on fixed dates and those that follow
Western Easter. The Islamic holidays (Eid al-Fitr, Eid al-Adha, the Prophet's birthday) follow the
sighting of the moon and, like substitute Mondays for a holiday that falls on a weekend, are declared
by the Federal Government each year: an administrator adds them when they are announced."""

from __future__ import annotations

import datetime as dt

FIXED = (
    (1, 1, "New Year's Day"),
    (5, 1, "Workers' Day"),
    (6, 12, "Democracy Day"),
    (10, 1, "Independence Day"),
    (12, 25, "Christmas Day"),
    (12, 26, "Boxing Day"),
)


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus, Jones, Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 19 * l) // 433
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def nigerian_public_holidays(year: int) -> list[tuple[dt.date, str]]:
    """The public holidays of `year` in Nigeria that are known in advance, by date."""
    easter = easter_sunday(year)
    holidays = [(dt.date(year, month, day), name) for month, day, name in FIXED]
    holidays += [(easter - dt.timedelta(days=2), "Good Friday"), (easter + dt.timedelta(days=1), "Easter Monday")]
    return sorted(holidays)
