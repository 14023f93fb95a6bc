"""The claim SLA clock counts Chinese working days: public holidays off, 调休 make-up weekends on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.identity import Role
from models.lending import Bank
from xinyidai import create_app
from xinyidai.domain.working_days import WorkingCalendar, calendar_from_config, parse_dates

CHINA = WorkingCalendar()


def shanghai_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 9, 30), True),    # Wednesday before National Day
    (date(2026, 10, 1), False),   # 国庆节
    (date(2026, 10, 5), False),   # Monday inside the golden week
    (date(2026, 10, 7), False),
    (date(2026, 10, 8), True),
    (date(2026, 9, 20), True),    # Sunday worked in exchange (调休)
    (date(2026, 10, 10), True),   # Saturday worked in exchange (调休)
    (date(2026, 10, 11), False),  # an ordinary Sunday
    (date(2026, 2, 14), True),    # Saturday before the Spring Festival, worked (调休)
    (date(2026, 2, 16), False),   # 除夕
    (date(2026, 2, 20), False),
    (date(2026, 2, 23), False),   # Monday off in exchange for 28 February
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday worked (调休)
])
def test_holidays_and_make_up_days(day, working):
    assert CHINA.is_working_day(day) is working


def test_sla_across_national_day_counts_the_make_up_saturday():
    # Matched on Wednesday 30 September: 1–7 October are off; the 8th, 9th and the make-up Saturday 10th count.
    due = CHINA.add_working_days(shanghai_ten(date(2026, 9, 30)), 3)
    assert due.date() == date(2026, 10, 10)
    assert (due.hour, due.minute) == (10, 0)
    assert CHINA.working_days_between(shanghai_ten(date(2026, 9, 30)), shanghai_ten(date(2026, 10, 9))) == 2


def test_sla_across_the_spring_festival():
    # Matched on Friday 13 February 2026: Saturday the 14th is worked, then 15–23 February are off.
    start = shanghai_ten(date(2026, 2, 13))
    assert CHINA.add_working_days(start, 1).date() == date(2026, 2, 14)
    assert CHINA.add_working_days(start, 2).date() == date(2026, 2, 24)
    assert CHINA.add_working_days(start, 3).date() == date(2026, 2, 25)
    assert CHINA.working_days_between(start, shanghai_ten(date(2026, 2, 24))) == 2
    assert CHINA.add_working_days(shanghai_ten(date(2026, 2, 25)), -3).date() == date(2026, 2, 13)


def test_plain_weeks_are_monday_to_friday():
    friday = shanghai_ten(date(2026, 11, 20))
    assert CHINA.add_working_days(friday, 1).date() == date(2026, 11, 23)
    assert CHINA.working_days_between(friday, friday) == 0


def test_the_district_can_override_the_calendar():
    calendar = calendar_from_config({"XYD_EXTRA_DAYS_OFF": "2026-11-23", "XYD_EXTRA_WORKING_DAYS": "2026-11-21"})
    assert calendar.is_working_day(date(2026, 11, 21))  # a Saturday the district opens
    assert not calendar.is_working_day(date(2026, 11, 23))  # a Monday the district closes
    assert calendar.add_working_days(shanghai_ten(date(2026, 11, 20)), 2).date() == date(2026, 11, 24)


def test_a_malformed_override_names_the_setting_and_the_value():
    with pytest.raises(ValueError, match=r"XYD_EXTRA_DAYS_OFF: '2026-13-01' is not a date"):
        parse_dates("XYD_EXTRA_DAYS_OFF", "2026-10-09, 2026-13-01")
    with pytest.raises(ValueError, match="both name 2026-10-09"):
        calendar_from_config({"XYD_EXTRA_DAYS_OFF": "2026-10-09", "XYD_EXTRA_WORKING_DAYS": "2026-10-09"})


def test_the_app_refuses_to_start_with_a_malformed_override(tmp_path):
    with pytest.raises(ValueError, match="XYD_EXTRA_WORKING_DAYS"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path),
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    "XYD_EXTRA_WORKING_DAYS": "next monday"})


def test_the_pipeline_shows_the_due_date_after_the_holiday(db_session, client, login, make_user, make_product,
                                                          make_application):
    officer = make_user(Role.BANK)
    product = make_product(bank=db_session.get(Bank, officer.bank_id))
    make_application(product=product, created_at=shanghai_ten(date(2026, 9, 30)))
    login(officer)
    page = client.get("/bank/pipeline?sort=oldest").get_data(as_text=True)
    assert "2026-10-10" in page
