"""Business-hours maths of the SLA clock (S5.2, S9.1): pure, no database."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.models.enums import TicketKind
from api.services.sla import DEFAULT_POLICIES, BusinessCalendar
from api.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = 9 * 60  # business minutes in a default day (09:00–18:00)


def sh(day: str, hhmm: str) -> datetime:
    """A local Asia/Shanghai instant; 2026-11-23 is a Monday."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=SHANGHAI)


DEFAULTS = {
    "timezone": "Asia/Shanghai",
    "business_hours_start": "09:00",
    "business_hours_end": "18:00",
    "business_days": "mon,tue,wed,thu,fri",
}


def calendar(*exceptions: tuple[str, bool], **overrides) -> BusinessCalendar:
    """The default calendar (not read from the environment) with `overrides`."""
    settings = Settings(**(DEFAULTS | overrides))
    days = {date.fromisoformat(d): w for d, w in exceptions}
    return BusinessCalendar.from_settings(settings, days)


def test_same_day():
    assert calendar().add_minutes(sh("2026-11-23", "10:00"), 60) == sh("2026-11-23", "11:00")


def test_result_is_aware_utc():
    due = calendar().add_minutes(sh("2026-11-23", "10:00"), 30)
    assert due.tzinfo is UTC and due == datetime(2026, 11, 23, 2, 30, tzinfo=UTC)


def test_ends_exactly_at_closing_time():
    """A target that fills the day is due at 18:00, not the next morning."""
    assert calendar().add_minutes(sh("2026-11-23", "17:00"), 60) == sh("2026-11-23", "18:00")


def test_across_the_night():
    assert calendar().add_minutes(sh("2026-11-23", "17:30"), 60) == sh("2026-11-24", "09:30")


def test_friday_to_monday():
    assert calendar().add_minutes(sh("2026-11-27", "17:00"), 120) == sh("2026-11-30", "10:00")


def test_holiday_is_skipped():
    cal = calendar(("2026-11-30", False))
    assert cal.add_minutes(sh("2026-11-27", "17:00"), 120) == sh("2026-12-01", "10:00")
    assert cal.minutes_between(sh("2026-11-27", "17:00"), sh("2026-12-01", "10:00")) == 120


def test_working_saturday_counts():
    """调休: a Saturday declared a working day is a business day."""
    cal = calendar(("2026-11-28", True))
    assert cal.add_minutes(sh("2026-11-27", "17:00"), 120) == sh("2026-11-28", "10:00")


def test_start_outside_hours():
    cal = calendar()
    assert cal.add_minutes(sh("2026-11-23", "07:00"), 30) == sh("2026-11-23", "09:30")
    assert cal.add_minutes(sh("2026-11-23", "20:00"), 30) == sh("2026-11-24", "09:30")
    assert cal.add_minutes(sh("2026-11-28", "03:00"), 30) == sh("2026-11-30", "09:30")


def test_multi_day_target():
    """Three business days from Wednesday noon: Monday noon."""
    assert calendar().add_minutes(sh("2026-11-25", "12:00"), 3 * DAY) == sh("2026-11-30", "12:00")


def test_minutes_between():
    cal = calendar()
    assert cal.minutes_between(sh("2026-11-23", "10:00"), sh("2026-11-23", "10:45")) == 45
    assert cal.minutes_between(sh("2026-11-27", "17:00"), sh("2026-11-30", "10:00")) == 120
    assert cal.minutes_between(sh("2026-11-23", "18:30"), sh("2026-11-24", "08:00")) == 0
    assert cal.minutes_between(sh("2026-11-28", "09:00"), sh("2026-11-29", "18:00")) == 0
    assert cal.minutes_between(sh("2026-11-30", "10:00"), sh("2026-11-27", "17:00")) == -120
    # seconds below a whole minute do not count
    start = sh("2026-11-23", "10:00")
    assert cal.minutes_between(start, start + timedelta(seconds=119)) == 1


STARTS = [
    sh("2026-11-23", "09:00"),
    sh("2026-11-23", "13:17"),
    sh("2026-11-23", "23:59"),
    sh("2026-11-27", "17:59"),
    sh("2026-11-28", "12:00"),
    sh("2026-11-29", "00:00"),
]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("minutes", [1, 59, 540, 541, 1000, 7 * DAY + 13])
def test_minutes_between_inverts_add_minutes(start, minutes):
    cal = calendar(("2026-12-01", False), ("2026-12-05", True))
    due = cal.add_minutes(start, minutes)
    assert cal.minutes_between(start, due) == minutes


@pytest.mark.parametrize("start", STARTS)
def test_add_minutes_inverts_minutes_between(start):
    """For an end inside business hours, add_minutes(start, between(start, end)) == end."""
    cal = calendar()
    end = sh("2026-12-09", "15:42")
    assert cal.add_minutes(start, cal.minutes_between(start, end)) == end


def test_zero_minutes_is_the_start():
    start = sh("2026-11-28", "03:00")
    assert calendar().add_minutes(start, 0) == start


def test_long_spans_are_exact_and_fast():
    """Ten years of business minutes; whole days are skipped, not walked minute by minute."""
    cal = calendar()
    start = sh("2026-11-23", "09:00")
    weeks = 520
    began = clock.perf_counter()
    due = cal.add_minutes(start, weeks * 5 * DAY)
    # the last minute is the Friday 18:00 of the 520th week
    assert due == (sh("2026-11-27", "18:00") + timedelta(weeks=weeks - 1)).astimezone(UTC)
    assert cal.minutes_between(start, due) == weeks * 5 * DAY
    assert clock.perf_counter() - began < 1.0


def test_dst_zone_keeps_local_opening_hours():
    """New York moves to EDT on Sunday 2026-03-08: Monday still opens at 09:00 local."""
    cal = calendar(timezone="America/New_York")
    ny = ZoneInfo("America/New_York")
    friday = datetime(2026, 3, 6, 17, 0, tzinfo=ny)
    due = cal.add_minutes(friday, 120)
    assert due == datetime(2026, 3, 9, 10, 0, tzinfo=ny) == datetime(2026, 3, 9, 14, tzinfo=UTC)
    assert cal.minutes_between(friday, due) == 120


def test_dst_change_inside_business_hours_counts_real_minutes():
    """Berlin skips 02:00–03:00 on 2026-03-29: a 01:00–05:00 Sunday window lasts 3 hours."""
    cal = calendar(
        timezone="Europe/Berlin",
        business_hours_start="01:00",
        business_hours_end="05:00",
        business_days="sun",
    )
    berlin = ZoneInfo("Europe/Berlin")
    opens = datetime(2026, 3, 29, 1, 0, tzinfo=berlin)
    assert cal.minutes_between(opens, datetime(2026, 3, 29, 5, 0, tzinfo=berlin)) == 180
    assert cal.add_minutes(opens, 90) == datetime(2026, 3, 29, 3, 30, tzinfo=berlin)


def test_configured_days_and_hours():
    cal = calendar(business_days="mon,tue,wed,thu,fri,sat", business_hours_end="12:00")
    assert cal.add_minutes(sh("2026-11-27", "11:00"), 120) == sh("2026-11-28", "10:00")


def test_bad_configuration_and_input_are_refused():
    with pytest.raises(ValueError, match="unknown day"):
        calendar(business_days="mon,funday")
    with pytest.raises(ValueError, match="open before"):
        calendar(business_hours_start="18:00", business_hours_end="09:00")
    with pytest.raises(ValueError, match="naive"):
        calendar().add_minutes(datetime(2026, 11, 23, 10), 5)
    with pytest.raises(ValueError, match="negative"):
        calendar().add_minutes(sh("2026-11-23", "10:00"), -5)


def test_default_policies_cover_every_kind_and_priority():
    """S5.2: a target for every kind × priority, consistent and tighter for higher priority."""
    assert set(DEFAULT_POLICIES) == {(kind, p) for kind in TicketKind for p in (1, 2, 3, 4)}
    assert DEFAULT_POLICIES[TicketKind.complaint, 1] == (30, 60, 480)
    for (kind, level), targets in DEFAULT_POLICIES.items():
        assert 0 < targets.acknowledge <= targets.first_response <= targets.resolve
        if level > 1:
            lower = DEFAULT_POLICIES[kind, level - 1]
            assert all(a <= b for a, b in zip(lower, targets, strict=True))
    # service orders need a visit: longer to resolve than a complaint
    for kind in TicketKind:
        if kind.is_service_order:
            assert (
                DEFAULT_POLICIES[kind, 1].resolve
                > DEFAULT_POLICIES[TicketKind.complaint, 1].resolve
            )
