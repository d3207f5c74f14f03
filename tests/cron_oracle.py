"""An independent reading of cron for tests: croniter parses, and a minute-by-minute scan applies
the documented DST rule. It shares no code with cronflare/catalog/schedule.py (which walks cronsim).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

MINUTE = timedelta(minutes=1)


def _croniter_text(cron: str) -> str:
    """croniter spells "last Friday" L5 where Unix/cronsim write 5L."""
    fields = cron.split()
    dow = []
    for term in fields[4].split(","):
        dow.append(f"L{term[:-1]}" if term.endswith("L") and term[:-1].isdigit() else term)
    fields[4] = ",".join(dow)
    return " ".join(fields)


class Matcher:
    """Does a naive wall-clock minute match a Unix cron, with Vixie's OR rule for the day fields?"""

    def __init__(self, cron: str):
        it = croniter(_croniter_text(cron))
        minutes, hours, doms, months, dows = it.expanded
        self.minutes = None if minutes == ["*"] else set(minutes)
        self.hours = None if hours == ["*"] else set(hours)
        self.doms = None if doms == ["*"] else set(doms)
        self.months = None if months == ["*"] else set(months)
        self.dows = None if dows == ["*"] else {d % 7 for d in dows}
        self.nth = {k % 7: v for k, v in it.nth_weekday_of_month.items()}
        parts = cron.split()
        self.day_and = parts[2].startswith("*") or parts[4].startswith("*")
        self._days: dict[date, bool] = {}

    def _dom(self, d: date) -> bool:
        if self.doms is None:
            return True
        last = calendar.monthrange(d.year, d.month)[1]
        return d.day in self.doms or ("l" in self.doms and d.day == last)

    def _dow(self, d: date) -> bool:
        if self.dows is None:
            return True
        wd = (d.weekday() + 1) % 7  # Sunday = 0
        if wd not in self.dows:
            return False
        if wd not in self.nth:
            return True
        last = calendar.monthrange(d.year, d.month)[1]
        wanted = self.nth[wd]
        return ((d.day - 1) // 7 + 1) in wanted or ("l" in wanted and d.day + 7 > last)

    def day(self, d: date) -> bool:
        """Whether the date can hold a run at all."""
        if d not in self._days:
            ok = self.months is None or d.month in self.months
            if ok:
                dom, dow = self._dom(d), self._dow(d)
                ok = (dom and dow) if self.day_and else (dom or dow)
            self._days[d] = ok
        return self._days[d]

    def __call__(self, wall: datetime) -> bool:
        return (
            self.day(wall.date())
            and (self.hours is None or wall.hour in self.hours)
            and (self.minutes is None or wall.minute in self.minutes)
        )


def oracle_next(
    cron: str, timezone: str, after: datetime, count: int, horizon: timedelta
) -> list[datetime]:
    """Scan UTC minutes after `after`; a minute is due when its wall time matches on its first
    occurrence, or when it ends a DST gap inside which some wall time matched.
    """
    match = Matcher(cron)
    zone = ZoneInfo(timezone)
    t = after.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
    end = t + horizon
    found: list[datetime] = []
    while t < end and len(found) < count:
        local = t.astimezone(zone)
        prev = (t - MINUTE).astimezone(zone)
        wall, prev_wall = local.replace(tzinfo=None), prev.replace(tzinfo=None)
        if not (match.day(wall.date()) or match.day(prev_wall.date())):
            # No run can fall on this local date; dates change on UTC quarter hours everywhere.
            t += MINUTE * (15 - t.minute % 15)
            continue
        due = match(wall) and local.fold == 0
        w = prev_wall + MINUTE
        while not due and w < wall:  # wall times skipped by a gap
            due = match(w)
            w += MINUTE
        if due:
            found.append(t)
        t += MINUTE
    return found


def read_cloudflare(expr: str) -> str:
    """Rewrite a Cloudflare cron (weekdays 1-7, 1 = Sunday) as Unix text (0-6, 0 = Sunday)."""
    fields = expr.split()

    def shift(token: str) -> str:
        return str(int(token) - 1) if token.isdigit() else token

    dow = []
    for term in fields[4].split(","):
        if "-" in term:
            a, b = term.split("-")
            dow.append(f"{shift(a)}-{shift(b)}")
        else:
            dow.append(shift(term))
    fields[4] = ",".join(dow)
    return " ".join(fields)


def croniter_fires(cron: str, start: datetime, end: datetime) -> list[datetime]:
    """All UTC fire times in [start, end) according to croniter alone."""
    it = croniter(_croniter_text(cron), start - timedelta(seconds=1))
    out = []
    while (t := it.get_next(datetime)) < end:
        out.append(t.replace(tzinfo=UTC) if t.tzinfo is None else t)
    return out
