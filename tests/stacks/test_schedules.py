"""Cron and rate expressions checked as AWS's cron reference (EventBridge user guide, eb-cron-expressions)
says: its own examples are accepted, and each rule refuses what breaks it, with a message naming it."""

from __future__ import annotations

import pytest

from infra.schedules import ScheduleError, check_cron, check_schedule, rate_seconds

# The reference's example table (eb-cron-expressions, "Examples"), and its wildcard examples.
REFERENCE_EXAMPLES = [
    "cron(0 10 * * ? *)",  # 10:00 every day
    "cron(15 12 * * ? *)",  # 12:15 every day
    "cron(0 18 ? * MON-FRI *)",  # 18:00 Monday to Friday
    "cron(0 8 1 * ? *)",  # 8:00 on the first day of the month
    "cron(0/15 * * * ? *)",  # every 15 minutes
    "cron(0/10 * ? * MON-FRI *)",  # every 10 minutes, Monday to Friday
    "cron(0/5 8-17 ? * MON-FRI *)",  # every 5 minutes, 8:00 to 17:55, Monday to Friday
    "cron(0/30 20-23 ? * MON-FRI *)",
    "cron(0/30 0-2 ? * TUE-SAT *)",
    "cron(0 9 ? * 2#1 *)",  # 9:00 on the first Monday of the month
    "cron(0 5 L * ? *)",  # the last day of the month
    "cron(0 5 3W * ? *)",  # the weekday nearest the 3rd
    "cron(0 5 ? JAN,FEB,MAR L *)",
    "cron(1/10 * * * ? 2026-2030)",
]


@pytest.mark.parametrize("expression", REFERENCE_EXAMPLES)
def test_the_references_examples_are_accepted(expression):
    check_cron(expression)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0 5 * * * *)", "exactly one of them must be ?"),  # * in both
        ("cron(0 5 ? * ? *)", "exactly one of them must be ?"),  # ? in both
        ("cron(0 5 1 * MON *)", "exactly one of them must be ?"),  # values in both
        ("cron(60 5 * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
        ("cron(0 5 32 * ? *)", "day-of-month: 32 is outside 1-31"),
        ("cron(0 5 ? 13 * *)", "month: 13 is outside 1-12"),
        ("cron(0 5 ? * 8 *)", "day-of-week: 8 is outside 1-7"),
        ("cron(0 5 * * ? 1969)", "year: 1969 is outside 1970-2199"),
        ("cron(0 5 ? * mon *)", "names are written in capitals (MON)"),
        ("cron(0 5 ? * MON-XYZ *)", "day-of-week: 'XYZ' is not a value"),
        ("cron(0 5 ? * FRI-MON *)", "a range goes from the lower to the higher value"),
        ("cron(0/0 5 * * ? *)", "the step after / is a whole number of at least 1"),
        ("cron(0 5 ? * 2#6 *)", "# takes one day and its instance 1-5"),
        ("cron(0 5 ? * 3#1,6#3 *)", "# takes one day and its instance 1-5"),  # one # expression only
        ("cron(0 5 15W,L * ? *)", "day-of-month: '15W' is not a value"),  # W stands alone
        ("cron(0 5 * * L# *)", "# takes one day"),
        ("cron(0 L * * ? *)", "hours: 'L' is not a value"),  # L only in the day fields
        ("cron(0 5 * ? * *)", "month: ? is allowed only in day-of-month and day-of-week"),
        ("cron(0 5 * *)", "cron takes 6 fields"),
        ("cron(0 5 1,,2 * ? *)", "has an empty part"),
    ],
)
def test_each_rule_of_the_reference_refuses_what_breaks_it(expression, says):
    with pytest.raises(ScheduleError) as caught:
        check_cron(expression)
    assert says in str(caught.value)


def test_rates_singular_for_one_plural_above_and_a_floor():
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(6 hours)") == 6 * 3600
    assert rate_seconds("rate(2 days)") == 2 * 86400
    for bad, says in [
        ("rate(1 hours)", "write rate(1 hour)"),
        ("rate(2 hour)", "write rate(2 hours)"),
        ("rate(0 hours)", "at least 1"),
        ("rate(1 week)", "not a unit of rate"),
        ("rate(six hours)", "a rate is written rate(value unit)"),
    ]:
        with pytest.raises(ScheduleError) as caught:
            rate_seconds(bad)
        assert says in str(caught.value), bad
    with pytest.raises(ScheduleError, match="more often than every 1 hour: costly"):
        check_schedule("rate(30 minutes)", 3600, "costly")
    check_schedule("rate(1 hour)", 3600)
    with pytest.raises(ScheduleError, match="rate\\(value unit\\) or cron\\(6 fields\\)"):
        check_schedule("at(2026-01-01T00:00:00)")
