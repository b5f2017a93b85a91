"""Calendar arithmetic in Europe/Amsterdam, as the law counts days.

- Weeks are calendar weeks: 8 weeks = 56 days.
- Algemene termijnenwet (Atw) art. 1 and 3: a statutory term that ends on a Saturday,
  Sunday or general recognised holiday runs to the next working day. Art. 3 lists
  New Year's Day, Easter Monday, Ascension Day, Whit Monday, both Christmas days,
  King's Day and 5 May (every year, not only lustrum years); Good Friday is equated
  with them by the Besluit van 1990. The `holidays` library supplies the movable
  feasts, Good Friday and King's Day (27 April, or 26 when 27 is a Sunday); it lists
  5 May as a public holiday only in lustrum years, so we add it every year.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
import pendulum

TIMEZONE = "Europe/Amsterdam"
_ZONE = pendulum.timezone(TIMEZONE)  # loaded once: by name it is looked up on every call (0.1 ms)

def today_in_amsterdam() -> dt.date:
    """The calendar date in Amsterdam now. Only the outermost shell calls this."""
    return pendulum.now(_ZONE).date()


def day_in_amsterdam(moment: dt.datetime) -> dt.date:
    """The calendar date in Amsterdam at an aware moment."""
    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


@lru_cache(maxsize=256)
def atw_holidays(year: int) -> frozenset[dt.date]:
    """Days the Algemene termijnenwet treats as holidays in `year`."""
    days = set(holidays.country_holidays("NL", years=year, categories=("public", "optional")))
    days.add(dt.date(year, 5, 5))  # 5 May counts every year under the Atw
    return frozenset(days)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in atw_holidays(day.year)


def next_working_day_on_or_after(day: dt.date) -> dt.date:
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def next_working_day_after(day: dt.date) -> dt.date:
    return next_working_day_on_or_after(day + dt.timedelta(days=1))


def statutory_term_end(day: dt.date) -> dt.date:
    """Where a statutory term that nominally ends on `day` really ends (Atw)."""
    return next_working_day_on_or_after(day)


def add_days(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def add_weeks(day: dt.date, weeks: int) -> dt.date:
    return day + dt.timedelta(weeks=weeks)


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months; the 31st plus one month is the last day of a shorter month."""
    return _plain(pendulum.date(day.year, day.month, day.day).add(months=months))


def add_years(day: dt.date, years: float) -> dt.date:
    """Whole or half years as pendulum counts them: 2.5 years = 2 years and 6 months."""
    whole = int(years)
    months = round((years - whole) * 12)
    return _plain(pendulum.date(day.year, day.month, day.day).add(years=whole, months=months))


def _plain(day: dt.date) -> dt.date:
    """pendulum computes; the case file stores plain dates."""
    return dt.date(day.year, day.month, day.day)


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_start(quarter: str) -> dt.date:
    year, q = quarter.split("-Q")
    return dt.date(int(year), 3 * (int(q) - 1) + 1, 1)


def next_quarter(quarter: str) -> str:
    year, q = quarter.split("-Q")
    y, n = int(year), int(q)
    return f"{y + 1}-Q1" if n == 4 else f"{y}-Q{n + 1}"
